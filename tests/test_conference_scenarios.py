"""Scenario tests of the conference domain: every example of the seeds, driven through the echo engine.

Sources: twilio-conference-events-announcement.txt (Team Meeting), twilio-twiml-conference-noun.txt
(moderated conference, customer waiting room, bridge two calls, muted joiners, record-from-start,
statusCallback from the first participant), twilio-conference-resource.txt (instances per name).
"""
import pytest

from fsbridge.callbacks.subscriptions import StatusSequence, is_subscribed
from fsbridge.conference import commands as C
from fsbridge.conference import events as ev
from fsbridge.wire import twilio as R
from fsbridge.conference.errors import DomainError
from fsbridge.conference.testing import Harness
from fsbridge.markup.model import Conference

TM = "Team Meeting"
ALL = ("start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement")


def names(events):
    return [e.name for e in events]


def test_team_meeting_2016_post():
    """Mary, Alice, Bob, Charles; start when the second joins; REST mute of all but Mary."""
    h = Harness()
    cb = dict(status_callback="/callback", status_callback_event=("start", "end", "join", "leave", "mute"))
    assert names(h.join("CAmary", TM, **cb)) == ["participant-join"]
    info = h.state.conference_by_name(h.account_sid, TM)
    assert info.status == "init" and info.member_count == 1
    first = h.join("CAalice", TM, **cb)
    assert names(first) == ["participant-join", "conference-start"]
    join = first[0]
    assert join.participant.call_sid == "CAalice" and join.participant.muted is False
    assert join.participant.start_conference_on_enter is True and join.participant.end_conference_on_exit is False
    assert join.friendly_name == TM and join.conference_sid.startswith("CF") and is_subscribed(join)
    assert h.state.conference(join.conference_sid).status == "in-progress"
    assert names(h.join("CAbob", TM, **cb)) == ["participant-join"]
    assert names(h.join("CAcharles", TM, **cb)) == ["participant-join"]
    for who in ("CAalice", "CAbob", "CAcharles"):
        [mute] = h.mute(TM, who)
        assert mute.name == "participant-mute" and mute.participant.call_sid == who and mute.participant.muted
    sid = join.conference_sid
    assert [p.muted for p in h.state.participants(sid)] == [False, True, True, True]
    for who in ("CAmary", "CAalice", "CAbob"):
        assert names(h.hangup(who)) == ["participant-leave"]
    last = h.hangup("CAcharles")
    assert names(last) == ["participant-leave", "conference-end"]
    assert last[1].reason_conference_ended == R.LAST_PARTICIPANT_LEFT
    assert last[1].call_sid_ending_conference == "CAcharles"
    assert [e.sequence_number for e in h.events] == list(range(1, len(h.events) + 1))
    assert h.state.conference(sid).status == "completed"


def test_mute_is_confirmed_by_the_engine_event():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    out = h.state.set_muted(h.account_sid, sid, "CAb", True)
    assert out.events == () and [type(c) for c in out.commands] == [C.MuteMember]
    assert h.state.participant(sid, "CAb").muted is False      # not yet: engine has not confirmed
    h.run(out)
    assert h.state.participant(sid, "CAb").muted is True
    assert h.state.set_muted(h.account_sid, sid, "CAb", True).commands == ()   # already muted
    assert names(h.mute("r", "CAb", False)) == ["participant-unmute"]


def test_moderated_conference():
    """startConferenceOnEnter=false callers wait; the moderator (start+end) starts and ends it."""
    h = Harness()
    name = "moderated-conference-room"
    assert names(h.join("CA1", name, start_conference_on_enter=False)) == ["participant-join"]
    assert names(h.join("CA2", name, start_conference_on_enter=False)) == ["participant-join"]
    joins = [c for c in h.commands if isinstance(c, C.JoinMember)]
    assert all(j.waiting for j in joins)
    assert h.state.conference_by_name(h.account_sid, name).status == "init"
    out = h.join("CAmod", name, start_conference_on_enter=True, end_conference_on_exit=True)
    assert names(out) == ["participant-join", "conference-start"]
    assert isinstance(h.commands[-1], C.StartConference)
    assert [c for c in h.commands if isinstance(c, C.JoinMember)][-1].end_conference is True
    end = h.hangup("CAmod")
    assert names(end) == ["participant-leave"] * 3 + ["conference-end"]
    assert end[0].reason_participant_left == R.LEFT_PARTICIPANT_HUNG_UP
    assert end[0].participant_call_status == R.CALL_COMPLETED
    assert {e.reason_participant_left for e in end[1:3]} == {R.LEFT_MODERATOR_ENDED_CONFERENCE}
    assert {e.participant_call_status for e in end[1:3]} == {R.CALL_IN_PROGRESS}   # their calls continue
    assert end[-1].reason_conference_ended == R.ECOE_LEFT
    assert end[-1].call_sid_ending_conference == "CAmod"
    assert h.state.participant_of_call("CA1") is None


def test_customer_waiting_room():
    """The caller waits with music; the agent (endConferenceOnExit) starts it; agent hangs up → end."""
    h = Harness()
    room = "Customer Waiting Room"
    h.join("CAcustomer", room, beep="false")
    [join_cmd] = [c for c in h.commands if isinstance(c, C.JoinMember)]
    assert join_cmd.waiting and join_cmd.wait_media == (C.DEFAULT_HOLD_MUSIC,)
    assert (join_cmd.enter_beep, join_cmd.exit_beep) == (False, False)
    assert names(h.join("CAagent", room, beep="false", end_conference_on_exit=True)) == [
        "participant-join", "conference-start"]
    out = h.hangup("CAagent")
    assert names(out) == ["participant-leave", "participant-leave", "conference-end"]
    assert out[1].participant.call_sid == "CAcustomer"
    assert out[-1].reason_conference_ended == R.ECOE_LEFT


def test_bridge_two_calls_either_leg_ends_it():
    h = Harness()
    room = "NoMusicNoBeepRoom"
    kw = dict(beep="false", wait_url="http://your-webhook-host.com", start_conference_on_enter=True,
              end_conference_on_exit=True)
    h.join("CAa", room, **kw)
    assert names(h.join("CAb", room, **kw)) == ["participant-join", "conference-start"]
    out = h.hangup("CAb")
    assert names(out) == ["participant-leave", "participant-leave", "conference-end"]
    assert out[-1].reason_conference_ended == R.ECOE_LEFT and out[-1].call_sid_ending_conference == "CAb"
    assert out[1].reason_participant_left == R.LEFT_MODERATOR_ENDED_CONFERENCE


def test_muted_joiners():
    h = Harness()
    h.join("CAa", "SimpleRoom", muted=True)
    out = h.join("CAb", "SimpleRoom", muted=True)
    joins = [c for c in h.commands if isinstance(c, C.JoinMember)]
    assert all(j.muted for j in joins)
    assert out[0].participant.muted is True
    assert names(h.talk("CAb")) == []                     # muted: no speaker event
    assert names(h.mute("SimpleRoom", "CAb", False)) == ["participant-unmute"]
    assert names(h.talk("CAb")) == ["participant-speech-start"]


def test_end_via_api():
    h = Harness()
    sid = h.room("r", "CAa", "CAb", "CAc")
    out = h.end("r")
    assert names(out) == ["participant-leave"] * 3 + ["conference-end"]
    assert {e.reason_participant_left for e in out[:3]} == {R.LEFT_CONFERENCE_ENDED_VIA_API}
    assert out[-1].reason_conference_ended == R.CONFERENCE_ENDED_VIA_API
    assert out[-1].call_sid_ending_conference is None
    info = h.state.conference(sid)
    assert info.status == "completed" and info.reason_conference_ended == R.CONFERENCE_ENDED_VIA_API
    assert h.state.end(h.account_sid, sid).commands == ()     # idempotent


def test_last_participant_kicked():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    assert names(h.kick("r", "CAa")) == ["participant-leave"]
    out = h.kick("r", "CAb")
    assert names(out) == ["participant-leave", "conference-end"]
    assert out[0].reason_participant_left == R.LEFT_PARTICIPANT_UPDATED_VIA_API
    assert out[0].participant_call_status == R.CALL_IN_PROGRESS
    assert out[1].reason_conference_ended == R.LAST_PARTICIPANT_KICKED


def test_end_conference_on_exit_participant_kicked():
    h = Harness()
    h.join("CAa", "r", participant_label="host", end_conference_on_exit=True)
    h.join("CAb", "r")
    out = h.kick("r", "host")
    assert names(out) == ["participant-leave", "participant-leave", "conference-end"]
    assert out[-1].reason_conference_ended == R.ECOE_KICKED
    assert out[-1].call_sid_ending_conference == "CAa"
    assert out[-1].participant_label_ending_conference == "host"


def test_alone_caller_hangs_up_before_start():
    h = Harness()
    h.join("CAa", "r")
    out = h.hangup("CAa")
    assert names(out) == ["participant-leave", "conference-end"]
    assert out[-1].reason_conference_ended == R.LAST_PARTICIPANT_LEFT


def test_new_instance_after_completion():
    h = Harness()
    h.join("CAa", "r")
    first = h.sid_of("r")
    h.hangup("CAa")
    assert h.state.conference_by_name(h.account_sid, "r") is None
    h.join("CAb", "r")
    second = h.sid_of("r")
    assert second != first and h.state.conference(first).status == "completed"
    assert h.events[-1].sequence_number == 1                 # numbering restarts per instance


def test_names_are_namespaced_per_account():
    h = Harness()
    h.join("CAa", "r")
    other = h.state.join(account_sid="AC" + "2" * 32, call_sid="CAx", unique_id="u-x",
                         conference=Conference(name="r"), dialect="twiml")
    assert other.commands[0].room != h.sid_of("r")


def test_duplicate_label_is_16025_and_the_call_is_not_added():
    h = Harness()
    h.join("CAa", "r", participant_label="alice")
    with pytest.raises(DomainError) as err:
        h.join("CAb", "r", participant_label="alice")
    assert err.value.code == 16025 and err.value.status in (400, 409)
    assert h.state.participant_of_call("CAb") is None
    assert h.state.participant(h.sid_of("r"), "alice").call_sid == "CAa"


def test_bad_coach_is_13240():
    h = Harness()
    h.join("CAa", "r")
    with pytest.raises(DomainError) as err:
        h.join("CAcoach", "r", coach="CAnobody")
    assert err.value.code == 13240


def test_coach_heard_only_by_the_coached():
    h = Harness()
    h.join("CAagent", "r")
    h.join("CAcustomer", "r")
    out = h.join("CAsup", "r", coach="CAagent")
    assert out[0].participant.coaching and out[0].participant.call_sid_to_coach == "CAagent"
    coach_cmds = [c for c in h.commands if isinstance(c, C.SetCoach)]
    agent = h.state.participant_of_call("CAagent")
    sup = h.state.participant_of_call("CAsup")
    assert coach_cmds == [C.SetCoach(room=h.sid_of("r"), coach_member_id=sup.member_id,
                                     coached_member_id=agent.member_id)]


def test_max_participants_refuses_the_join():
    h = Harness()
    h.join("CAa", "r", max_participants=2)
    h.join("CAb", "r", max_participants=2)
    with pytest.raises(DomainError) as err:
        h.join("CAc", "r", max_participants=2)
    assert err.value.code == 16020
    assert h.state.conference_by_name(h.account_sid, "r").member_count == 2


def test_status_callback_from_first_participant_only():
    h = Harness()
    h.join("CAa", "r", status_callback="https://a/cb", status_callback_event=("join",), region="ie1")
    out = h.join("CAb", "r", status_callback="https://b/cb", status_callback_event=("start",), region="us1")
    assert out[0].callbacks.status_callback.url == "https://a/cb"
    assert [is_subscribed(e) for e in out] == [True, False]       # join subscribed, start not (recorded anyway)
    assert h.state.conference(out[0].conference_sid).region == "ie1"


def test_record_from_start_and_recording_callbacks():
    h = Harness(recordings_dir="/rec")
    kw = dict(record="record-from-start", recording_status_callback="/rs",
              recording_status_callback_event=("in-progress", "completed"))
    h.join("CAa", "LoveTwilio", **kw)
    assert not any(isinstance(c, C.StartRecording) for c in h.commands)   # wait music is never recorded
    out = h.join("CAb", "LoveTwilio", **kw)
    assert names(out) == ["participant-join", "conference-start", "recording-in-progress"]
    [start] = [c for c in h.commands if isinstance(c, C.StartRecording)]
    rec_sid = out[-1].recording.sid
    assert start.path == f"/rec/{rec_sid}.wav" and start.trim_silence is True and rec_sid.startswith("RE")
    h.engine.advance(6)
    h.hangup("CAa")
    out = h.hangup("CAb")
    # recordingStatusCallback given: no conference-record-end
    assert names(out) == ["participant-leave", "conference-end", "recording-completed"]
    done = out[2]
    assert done.recording.duration_s == 6 and done.recording.file_size > 0 and is_subscribed(done)


def test_speaker_events():
    h = Harness()
    h.join("CAa", "r", status_callback="/cb", status_callback_event=ALL)
    assert names(h.talk("CAa")) == []          # not started: nobody is mixed
    # still talking when the conference starts: reported right after conference-start (issue 17)
    assert names(h.join("CAb", "r"))[-2:] == ["conference-start", "participant-speech-start"]
    assert names(h.talk("CAa")) == []          # repeated by the engine
    assert names(h.talk("CAa", False)) == ["participant-speech-stop"]
    h.talk("CAb")
    # muting a talker: FreeSWITCH sends no stop-talking; the domain closes the speech first
    assert names(h.mute("r", "CAb")) == ["participant-speech-stop", "participant-mute"]


def test_hold_and_unhold():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    out = h.hold("r", "CAb")
    assert names(out) == ["participant-hold"] and out[0].participant.hold
    assert isinstance(h.commands[-1], C.HoldMember)
    assert names(h.talk("CAb")) == []
    assert names(h.hold("r", "CAb", False)) == ["participant-unhold"]


def test_announcements():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    out = h.run(h.state.announce(h.account_sid, sid, "https://x/a.mp3", ("/tmp/a.wav",)))
    assert names(out) == ["announcement-end"] and out[0].announce_url == "https://x/a.mp3"
    out = h.run(h.state.announce(h.account_sid, sid, "https://x/b.mp3", ("/tmp/b.wav",), who="CAb"))
    assert names(out) == ["announcement-end"] and out[0].participant.call_sid == "CAb"
    h.engine.fail_media.add("/tmp/missing.wav")
    out = h.run(h.state.announce(h.account_sid, sid, "https://x/c.mp3", ("/tmp/missing.wav",)))
    assert names(out) == ["announcement-fail"] and out[0].reason_announcement_failed


def test_modify_emits_participant_modify():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    out = h.run(h.state.modify(h.account_sid, sid, "CAa", beep_on_exit=False, end_conference_on_exit=True))
    assert names(out) == ["participant-modify"]
    assert out[0].participant.end_conference_on_exit and out[0].participant.beep == "onEnter"
    assert h.state.modify(h.account_sid, sid, "CAa", end_conference_on_exit=True).events == ()
    end = h.hangup("CAa")
    assert end[-1].reason_conference_ended == R.ECOE_LEFT


def test_unknown_conference_or_participant_is_20404():
    h = Harness()
    h.join("CAa", "r")
    with pytest.raises(DomainError) as err:
        h.state.set_muted(h.account_sid, "CF" + "f" * 32, "CAa", True)
    assert (err.value.code, err.value.status) == (20404, 404)
    with pytest.raises(DomainError) as err:
        h.state.set_muted(h.account_sid, h.sid_of("r"), "CAzzz", True)
    assert err.value.code == 20404
    with pytest.raises(DomainError):
        h.state.set_muted("AC" + "9" * 32, h.sid_of("r"), "CAa", True)   # another account's conference


def test_jambonz_speak_only_to_a_member_tag():
    h = Harness()
    h.join("CAagent", "r", dialect="jambonz", participant_label="agent")
    h.join("CAcaller", "r", dialect="jambonz")
    out = h.join("CAsup", "r", dialect="jambonz", speak_only_to="agent")
    assert out[0].participant.coaching and out[0].participant.call_sid_to_coach == "CAagent"
    assert isinstance(h.commands[-1], C.SetCoach)
    with pytest.raises(DomainError) as err:
        h.join("CAx", "r", dialect="jambonz", speak_only_to="nobody")
    assert err.value.code == 13240


def test_status_callback_sequence_numbers_have_no_gaps():
    """The statusCallback sees SequenceNumber 1..N: recording events (their own URL) and unsubscribed
    events (speaker here) keep the history ordinal but take no statusCallback number."""
    h = Harness(recordings_dir="/rec")
    kw = dict(status_callback="/cb", status_callback_event=("start", "end", "join", "leave"),
              record="record-from-start", recording_status_callback="/rs",
              recording_status_callback_event=("in-progress", "completed"))
    h.join("CAa", "seq", **kw)
    h.join("CAb", "seq", **kw)
    h.talk("CAa")
    h.talk("CAa", False)
    h.hangup("CAa")
    h.hangup("CAb")
    assert [e.sequence_number for e in h.events] == list(range(1, len(h.events) + 1))
    counter = StatusSequence()
    numbers = [(e, counter.take(e)) for e in h.events]
    sent = [e for e, n in numbers if n is not None]
    assert names(sent) == ["participant-join", "participant-join", "conference-start", "participant-leave",
                           "participant-leave", "conference-end"]
    assert [n for _, n in numbers if n is not None] == list(range(1, len(sent) + 1))
    unnumbered = {e.name for e, n in numbers if n is None}
    assert unnumbered == {"recording-in-progress", "recording-completed", "participant-speech-start",
                          "participant-speech-stop"}


def test_join_computed_before_the_start_is_started_when_it_lands_after_it():
    """Two joins in flight: C's JoinMember says ``waiting`` (computed while the room had not started) but
    reaches the engine after the start. Its add-member must re-issue StartConference, else C would hear
    the wait music for ever."""
    h = Harness()
    h.join("CAa", "race")
    c_join = h.state.join(account_sid=h.account_sid, call_sid="CAc", unique_id=h.uid("CAc"),
                          conference=Conference(name="race"), dialect="twiml",
                          timestamp_us=h.engine.now_us)         # computed now, executed later
    [cmd] = c_join.commands
    assert isinstance(cmd, C.JoinMember) and cmd.waiting
    assert names(h.join("CAb", "race")) == ["participant-join", "conference-start"]
    starts = sum(isinstance(c, C.StartConference) for c in h.commands)
    late = h.run(c_join)                                        # C's add-member arrives after the start
    assert names(late) == ["participant-join"]                  # no second conference-start
    assert sum(isinstance(c, C.StartConference) for c in h.commands) == starts + 1
    # a join computed after the start is not waiting and needs nothing more
    d_join = h.state.join(account_sid=h.account_sid, call_sid="CAd", unique_id=h.uid("CAd"),
                          conference=Conference(name="race"), dialect="twiml", timestamp_us=h.engine.now_us)
    assert not d_join.commands[0].waiting
    h.run(d_join)
    assert sum(isinstance(c, C.StartConference) for c in h.commands) == starts + 1

