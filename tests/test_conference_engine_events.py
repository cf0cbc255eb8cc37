"""The domain against engine behaviour: repeats, refusals, lost events, reconnects, recordings, dialects.

Sources: ../shared/fixtures/freeswitch/README.md (max-members refusal without an event, endconf,
del-member with Hangup-Cause, play-file errors, recording events), twilio-twiml-conference-noun.txt
(recordingStatusCallbackEvent, eventCallbackUrl), telnyx-texml-conference.txt, jambonz-conference-verb.txt.
"""
from dataclasses import replace

import pytest

from fsbridge.conference import commands as C
from fsbridge.conference import ids
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference.errors import DomainError
from fsbridge.conference.events import CallbackConfig
from fsbridge.conference.native import EngineSnapshot, MemberSnapshot, NativeEvent
from fsbridge.conference.state import ConferenceState
from fsbridge.callbacks.subscriptions import is_subscribed
from fsbridge.conference.testing import Harness
from fsbridge.markup.model import Conference, Hook


def names(events):
    return [e.name for e in events]


def test_repeated_engine_events_change_nothing():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    before = len(h.events)
    for native in list(h.natives):
        assert h.state.apply(native).events == ()
    h.hangup("CAa")
    h.hangup("CAb")
    n = len(h.events)
    for native in list(h.natives):
        h.feed([native])
    assert len(h.events) == n and names(h.events).count("conference-end") == 1
    assert before == 3


def test_events_of_unknown_rooms_and_members_are_ignored():
    s = ConferenceState()
    for action in sorted(N.ACTIONS):
        assert s.apply(NativeEvent(action, "CF" + "0" * 32, 1, unique_id="x", member_id=1, file="f",
                                   path="p")) .events == ()
    h = Harness()
    h.join("CAa", "r")
    sid = h.sid_of("r")
    assert h.state.apply(NativeEvent(N.MUTE_MEMBER, sid, 1, unique_id="nobody", member_id=999)).events == ()


def test_join_refused_by_the_engine_drops_the_pending_join():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    h.engine.max_members[h.sid_of("r")] = 2          # engine limit lower than the domain's
    assert h.join("CAc", "r") == []
    assert h.state.participant_of_call("CAc") is None
    assert h.state.conference_by_name(h.account_sid, "r").member_count == 2


def test_refused_first_join_leaves_no_conference():
    h = Harness()
    out = h.state.join(account_sid=h.account_sid, call_sid="CAa", unique_id="u-a",
                       conference=Conference(name="r"), dialect="twiml")
    sid = out.commands[0].room
    assert h.state.conference(sid).status == "init"
    assert h.state.apply(NativeEvent(N.JOIN_REFUSED, sid, 5, unique_id="u-a")).events == ()
    assert h.state.conference(sid) is None and h.state.conference_by_name(h.account_sid, "r") is None


def test_pending_join_hung_up_before_add_member():
    h = Harness()
    h.join("CAa", "r")
    pending = h.state.join(account_sid=h.account_sid, call_sid="CAb", unique_id=h.uid("CAb"),
                           conference=Conference(name="r"), dialect="twiml")
    assert h.state.participant_of_call("CAb").status == "connecting"
    with pytest.raises(DomainError) as err:
        h.state.set_muted(h.account_sid, h.sid_of("r"), "CAb", True)
    assert err.value.code == 21220
    h.hangup("CAb")
    assert h.state.participant_of_call("CAb") is None
    assert pending.commands and names(h.hangup("CAa")) == ["participant-leave", "conference-end"]


def test_last_leave_waits_for_a_pending_join():
    h = Harness()
    h.join("CAa", "r")
    sid = h.sid_of("r")
    pending = h.state.join(account_sid=h.account_sid, call_sid="CAb", unique_id=h.uid("CAb"),
                           conference=Conference(name="r"), dialect="twiml")
    assert names(h.hangup("CAa")) == ["participant-leave"]     # CAb is on its way: not over yet
    assert names(h.run(pending)) == ["participant-join"]
    assert h.state.conference(sid).status == "init"


def test_join_that_outlives_its_conference_is_kicked_without_events():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    pending = h.state.join(account_sid=h.account_sid, call_sid="CAc", unique_id=h.uid("CAc"),
                           conference=Conference(name="r"), dialect="twiml")
    h.end("r")
    assert h.run(pending) == []
    assert isinstance(h.commands[-1], C.KickMember)
    assert h.state.participant_of_call("CAc") is None


def test_call_cannot_be_in_two_conferences():
    h = Harness()
    h.join("CAa", "r")
    with pytest.raises(DomainError) as err:
        h.join("CAa", "other")
    assert err.value.code == 21220 and err.value.status == 409


def test_label_reusable_after_its_participant_left():
    h = Harness()
    h.join("CAa", "r", participant_label="agent")
    h.join("CAb", "r")
    h.hangup("CAa")
    h.join("CAc", "r", participant_label="agent")
    assert h.state.participant(h.sid_of("r"), "agent").call_sid == "CAc"


def test_kick_with_hung_up_reason_counts_as_left():
    h = Harness()
    h.join("CAa", "r")
    out = h.run(h.state.kick(h.account_sid, h.sid_of("r"), "CAa", reason=R.LEFT_PARTICIPANT_HUNG_UP))
    assert out[0].reason_participant_left == R.LEFT_PARTICIPANT_HUNG_UP
    assert out[-1].reason_conference_ended == R.LAST_PARTICIPANT_LEFT


def test_resync_after_reconnect():
    h = Harness()
    sid = h.room("r", "CAa", "CAb", "CAc")
    h.talk("CAc")
    # while disconnected: CAa vanished, CAb got muted by a caller control, CAc stopped talking
    h.engine.members[sid].pop(h.uid("CAa"))
    h.engine.flags[(sid, h.state.participant_of_call("CAb").member_id)].add("muted")
    out = h.run(h.state.resync(h.engine.snapshot()))
    assert names(out) == ["participant-leave", "participant-mute", "participant-speech-stop"]
    assert h.state.resync(h.engine.snapshot()).events == ()   # idempotent
    h.engine.members.pop(sid)
    out = h.run(h.state.resync(EngineSnapshot(h.engine.now_us)))
    assert names(out) == ["participant-leave", "participant-leave", "conference-end"]


def test_resync_adopts_a_pending_join_whose_add_member_was_lost():
    h = Harness()
    sid = h.room("r", "CAa")
    h.join_pending("CAb", "r")
    snap = h.engine.snapshot()
    snap = replace(snap, members=snap.members + (MemberSnapshot(room=sid, member_id=50, unique_id=h.uid("CAb")),))
    out = h.state.resync(snap)
    assert names(out.events) == ["participant-join", "conference-start"]
    assert h.state.participant_of_call("CAb").member_id == 50


def test_conference_destroy_closes_everything_once():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    out = h.feed([NativeEvent(N.CONFERENCE_DESTROY, sid, h.engine.now_us + 10)])
    assert names(out) == ["participant-leave", "participant-leave", "conference-end"]
    assert h.feed([NativeEvent(N.CONFERENCE_DESTROY, sid, h.engine.now_us + 20)]) == []


def test_hangup_complete_without_del_member():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    out = h.feed([NativeEvent(N.CHANNEL_HANGUP_COMPLETE, "", h.engine.now_us + 5, unique_id=h.uid("CAa"),
                              hangup_cause="NORMAL_CLEARING")])
    assert names(out) == ["participant-leave"] and out[0].participant_call_status == R.CALL_COMPLETED
    assert h.state.conference(sid).member_count == 1


def test_kicked_by_the_engine_console():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    mid = h.state.participant_of_call("CAa").member_id
    out = h.run(h.state.apply(NativeEvent(N.KICK_MEMBER, sid, h.engine.now_us, unique_id=h.uid("CAa"),
                                          member_id=mid)))
    assert out == []
    out = h.feed(h.engine.remove(sid, h.uid("CAa")))
    assert out[0].reason_participant_left == R.LEFT_PARTICIPANT_UPDATED_VIA_API


def test_recording_pause_resume_stop():
    h = Harness()
    kw = dict(record="record-from-start", trim="do-not-trim", event_callback_url="https://x/ec")
    h.join("CAa", "r", **kw)
    h.join("CAb", "r", **kw)
    sid = h.sid_of("r")
    [rec_sid] = h.state.conference(sid).recording_sids
    start = [c for c in h.commands if isinstance(c, C.StartRecording)][0]
    assert start.trim_silence is False
    assert h.state.recordings(sid)[0].status == "in-progress"
    h.run(h.state.update_recording(h.account_sid, sid, rec_sid, "paused"))
    assert h.state.recording(rec_sid) == (sid, h.state.recordings(sid)[0])
    assert h.state.recordings(sid)[0].status == "paused"
    assert h.state.update_recording(h.account_sid, sid, rec_sid, "paused").commands == ()
    h.run(h.state.update_recording(h.account_sid, sid, rec_sid, "in-progress"))
    h.engine.advance(3)
    out = h.run(h.state.update_recording(h.account_sid, sid, rec_sid, "stopped"))
    assert names(out) == ["recording-completed", "conference-record-end"]
    assert out[0].recording.duration_s == 3 and is_subscribed(out[0]) is False   # no recordingStatusCallback
    assert is_subscribed(out[1]) is True                                          # deprecated eventCallbackUrl
    with pytest.raises(DomainError) as err:
        h.state.update_recording(h.account_sid, sid, rec_sid, "in-progress")
    assert err.value.code == 21220
    with pytest.raises(DomainError) as err:
        h.state.update_recording(h.account_sid, sid, "RE" + "0" * 32, "paused")
    assert err.value.code == 20404
    with pytest.raises(DomainError):
        h.state.update_recording(h.account_sid, sid, rec_sid, "bogus")
    assert names(h.end("r"))[-1] == "conference-end"                         # no second stop


def test_empty_recording_is_absent():
    h = Harness()
    kw = dict(record="record-from-start", recording_status_callback="/rs",
              recording_status_callback_event=("absent",))
    h.join("CAa", "r", **kw)
    h.join("CAb", "r", **kw)
    sid = h.sid_of("r")
    [rec] = h.state.recordings(sid)
    out = h.state.apply(NativeEvent(N.STOP_RECORDING, sid, h.engine.now_us + 1, path=rec.path, duration_ms=0,
                                    file_size=0))
    assert names(out.events) == ["recording-absent"] and is_subscribed(out.events[0])


@pytest.mark.parametrize("dialect,words,subscribed", [
    ("twiml", ("start", "end", "join", "leave", "mute", "speaker"),
     ["conference-start", "participant-join", "participant-mute", "participant-speech-start",
      "participant-speech-stop"]),
    ("texml", ("start", "end", "join", "leave", "speaker", "mute"),
     ["conference-start", "participant-join", "participant-speech-start", "participant-speech-stop"]),
    ("jambonz", ("start", "join", "start-talking"),
     ["conference-start", "participant-join", "participant-speech-start"]),
    ("jambonz", ("end-talking",), ["participant-speech-stop"]),
])
def test_subscriptions_per_dialect(dialect, words, subscribed):
    cfg = CallbackConfig(dialect=dialect, status_callback=Hook("/cb"), status_events=words)
    all_names = ["conference-start", "participant-join", "participant-mute", "participant-hold",
                 "participant-modify", "participant-speech-start", "participant-speech-stop", "announcement-end"]
    assert [n for n in all_names if is_subscribed(n, cfg)] == subscribed
    assert not is_subscribed("conference-start", CallbackConfig(dialect=dialect, status_events=words))


def test_jambonz_status_hook_and_texml_join():
    h = Harness()
    out = h.join("CAa", "r", dialect="jambonz", status_hook=Hook("https://j/status", "GET"),
                 status_callback_event=("join",))
    assert out[0].callbacks.status_callback == Hook("https://j/status", "GET") and is_subscribed(out[0])
    assert out[0].callbacks.dialect == "jambonz"
    h.join("CAt", "tx", dialect="texml", from_="sip:a@x", to="+1213")
    out = h.join("CAu", "tx", dialect="texml")
    assert out[0].callbacks.dialect == "texml" and h.state.participant_of_call("CAt").from_ == "sip:a@x"


def test_from_to_carried_for_telnyx():
    s = ConferenceState()
    s.join(account_sid="AC" + "1" * 32, call_sid="CAa", unique_id="u", conference=Conference(name="r"),
           dialect="texml", from_="sip:a@example.com", to="+12132045020")
    view = s.participant_of_call("CAa")
    assert (view.from_, view.to, view.status) == ("sip:a@example.com", "+12132045020", "connecting")


def test_join_validation():
    s = ConferenceState()
    base = dict(account_sid="AC" + "1" * 32, call_sid="CAa", unique_id="u", dialect="twiml")
    with pytest.raises(DomainError) as err:
        s.join(conference=Conference(name="r", participant_label="x" * 129), **base)
    assert err.value.code == 21201 and err.value.status == 400
    with pytest.raises(DomainError):
        s.join(conference=Conference(name=""), **base)
    with pytest.raises(DomainError):
        s.join(conference=Conference(name="r"), **{**base, "dialect": "vxml"})


def test_join_command_fields():
    h = Harness()
    h.join("CAa", "r", jitter_buffer_size="small", beep="onExit", max_participants=10)
    h.join("CAb", "r", jitter_buffer_size="off", beep="onEnter", wait_url="")
    a, b = [c for c in h.commands if isinstance(c, C.JoinMember)]
    assert (a.jitter_buffer_ms, a.enter_beep, a.exit_beep, a.max_members) == (20, False, True, 10)
    assert (b.jitter_buffer_ms, b.enter_beep, b.exit_beep, b.max_members) == (None, True, False, 10)
    assert a.room == b.room == h.sid_of("r") and a.unique_id == h.uid("CAa") and a.call_sid == "CAa"


def test_sids():
    sid = ids.new_sid("CF")
    assert ids.is_sid(sid, "CF") and len(sid) == 34 and not ids.is_sid(sid, "CA")
    assert not ids.is_sid("CF" + "G" * 32)
    with pytest.raises(ValueError):
        ids.new_sid("cf")
    s = ConferenceState()
    out = s.join(account_sid="AC" + "1" * 32, call_sid="CAa", unique_id="u", conference=Conference(name="r"),
                 dialect="twiml")
    assert ids.is_sid(out.commands[0].room, "CF")


def test_timestamps_are_the_engines():
    h = Harness()
    h.join("CAa", "r")
    out = h.join("CAb", "r")
    native = [n for n in h.natives if n.action == N.ADD_MEMBER][-1]
    assert out[0].timestamp.timestamp() == pytest.approx(native.timestamp_us / 1e6)
    assert out[0].timestamp.tzinfo is not None
    assert out[1].started_at == out[1].timestamp


def test_start_recording_on_demand():
    h = Harness(recordings_dir="rec")
    h.join("CAa", "r")
    sid = h.sid_of("r")
    with pytest.raises(DomainError) as err:
        h.state.start_recording(h.account_sid, sid)          # not started: wait music is never recorded
    assert err.value.code == 21220
    h.join("CAb", "r")
    out = h.run(h.state.start_recording(h.account_sid, sid, trim_silence=False))
    [rec_sid] = h.state.conference(sid).recording_sids
    assert names(out) == ["recording-in-progress"] and out[0].recording.sid == rec_sid
    assert h.commands[-1] == C.StartRecording(room=sid, path=f"rec/{rec_sid}.wav", trim_silence=False)
    with pytest.raises(DomainError):
        h.state.start_recording(h.account_sid, sid)          # one at a time
    h.engine.advance(2)
    out = h.end("r")
    assert names(out)[0] == "recording-completed" and names(out)[-1] == "conference-end"
