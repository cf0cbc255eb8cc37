"""Domain scenarios of REST dial-outs (Twilio create Participant): the participant is ``queued`` at once,
an answered call's join adopts it, a failed dial-out is reported as participant-leave with
ReasonParticipantLeft ``participant_add_failed`` and its ParticipantCallStatus, and the start/end rules
are not disturbed. Source: twilio-twiml-conference-noun.txt (statusCallback table: ParticipantCallStatus
``no-answer busy in-progress failed canceled completed``; ReasonParticipantLeft ``… participant_add_failed``).
"""
import pytest

from fsbridge.callbacks.subscriptions import is_subscribed
from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference.errors import DomainError
from fsbridge.conference.testing import Harness
from fsbridge.markup.model import Conference

ALL = ("start", "end", "join", "leave")
CB = dict(status_callback="/cb", status_callback_event=ALL)


def names(events):
    return [e.name for e in events]


def test_queued_participant_is_visible_and_reserves_its_label():
    h = Harness()
    h.join("CAa", "room", **CB)
    assert h.dial_out("CAd", "room", to="1001", participant_label="agent", **CB) == []
    sid = h.sid_of("room")
    view = h.state.participant(sid, "agent")
    assert view.call_sid == "CAd" and view.status == R.P_QUEUED and view.member_id is None and view.to == "1001"
    assert h.state.participant_of_call("CAd").status == R.P_QUEUED
    assert [p.call_sid for p in h.state.participants(sid)] == ["CAa", "CAd"]
    assert h.state.conference(sid).member_count == 1
    with pytest.raises(DomainError) as e:
        h.join("CAx", "room", participant_label="agent", **CB)
    assert e.value.code == 16025
    with pytest.raises(DomainError) as e:
        h.dial_out("CAy", "room", participant_label="agent", **CB)
    assert e.value.code == 16025
    with pytest.raises(DomainError) as e:        # not connected yet: intents answer 21220
        h.state.set_muted(h.account_sid, sid, "agent", True)
    assert e.value.code == 21220


def test_answered_dial_out_adopts_the_queued_participant():
    h = Harness()
    h.join("CAa", "room", **CB)
    h.dial_out("CAd", "room", participant_label="agent", **CB)
    sid = h.sid_of("room")
    joined = h.join("CAd", "room", participant_label="agent", **CB)
    assert names(joined) == ["participant-join", "conference-start"]
    assert joined[0].participant.call_sid == "CAd" and joined[0].participant.label == "agent"
    assert h.state.participant(sid, "agent").status == R.P_CONNECTED
    assert h.state.conference(sid).member_count == 2
    assert [p.call_sid for p in h.state.participants(sid)] == ["CAa", "CAd"]


@pytest.mark.parametrize("status", [R.CALL_BUSY, R.CALL_NO_ANSWER, R.CALL_FAILED, R.CALL_CANCELED])
def test_failed_dial_out_is_a_participant_leave_add_failed(status):
    h = Harness()
    h.join("CAa", "room", **CB)
    h.dial_out("CAd", "room", participant_label="agent", **CB)
    sid = h.sid_of("room")
    [leave] = h.dial_out_failed("CAd", status, "USER_BUSY")
    assert leave.name == "participant-leave" and leave.participant.call_sid == "CAd"
    assert leave.reason_participant_left == R.LEFT_PARTICIPANT_ADD_FAILED == "participant_add_failed"
    assert leave.participant_call_status == status
    assert leave.participant.status == R.P_FAILED and leave.participant.label == "agent"
    assert leave.member_count == 1 and is_subscribed(leave)
    info = h.state.conference(sid)
    assert info.status == "init" and info.member_count == 1      # nothing started, nothing ended
    assert h.state.participant_of_call("CAd") is None and h.state.participant(sid, "agent") is None
    assert h.dial_out_failed("CAd", status) == []                 # reported once
    h.join("CAb", "room", participant_label="agent", **CB)       # the label is free again
    assert h.state.conference(sid).status == "in-progress"
    assert [e.sequence_number for e in h.events] == list(range(1, len(h.events) + 1))


def test_failed_dial_out_rejects_a_status_that_is_not_a_failure():
    h = Harness()
    h.dial_out("CAd", "room", **CB)
    for bad in (R.CALL_COMPLETED, R.CALL_IN_PROGRESS, "ringing"):
        with pytest.raises(DomainError) as e:
            h.dial_out_failed("CAd", bad)
        assert e.value.code == 21201
    assert h.state.participant_of_call("CAd").status == R.P_QUEUED


def test_conference_of_only_a_failed_dial_out_ends_without_start():
    """Its ConferenceSid was answered to the API and participant-leave was sent for it: the instance ends
    (conference-end, last-participant-left), never starts, and the name gets a new instance."""
    h = Harness()
    h.dial_out("CAd", "room", participant_label="agent", **CB)
    sid = h.sid_of("room")
    assert h.state.conference(sid).status == "init"
    out = h.dial_out_failed("CAd", R.CALL_NO_ANSWER, "NO_ANSWER")
    assert names(out) == ["participant-leave", "conference-end"]
    end = out[1]
    assert end.reason_conference_ended == R.LAST_PARTICIPANT_LEFT and end.call_sid_ending_conference == "CAd"
    assert h.state.conference(sid).status == "completed"
    assert h.state.conference_by_name(h.account_sid, "room") is None
    h.join("CAa", "room", **CB)
    assert h.sid_of("room") != sid


def test_refused_joins_alone_still_leave_no_trace():
    h = Harness()
    h.state.join(account_sid=h.account_sid, call_sid="CAr", unique_id=h.uid("CAr"),
                 conference=Conference(name="q"),
                 dialect="twiml")
    sid = h.sid_of("q")
    assert h.feed([h.engine.native(N.JOIN_REFUSED, sid, unique_id=h.uid("CAr"))]) == []
    assert h.state.conference(sid) is None


def test_queued_dial_out_keeps_the_conference_until_it_resolves():
    """Like a join on its way: the last member leaving while a dial-out rings does not end the conference;
    the dial-out failing then ends it (reason from the last real leave)."""
    h = Harness()
    h.join("CAa", "room", **CB)
    h.dial_out("CAd", "room", **CB)
    assert names(h.hangup("CAa")) == ["participant-leave"]
    sid = h.sid_of("room")
    out = h.dial_out_failed("CAd", R.CALL_BUSY, "USER_BUSY")
    assert names(out) == ["participant-leave", "conference-end"]
    assert out[1].call_sid_ending_conference == "CAa" and h.state.conference(sid).status == "completed"


def test_ending_the_conference_cancels_queued_dial_outs_and_refuses_their_late_join():
    h = Harness()
    h.join("CAa", "room", **CB)
    h.join("CAb", "room", **CB)
    h.dial_out("CAd", "room", **CB)
    sid = h.sid_of("room")
    out = h.end("room")
    assert names(out) == ["participant-leave"] * 3 + ["conference-end"]
    assert out[0].participant.call_sid == "CAd" and out[0].participant_call_status == R.CALL_CANCELED
    assert out[0].reason_participant_left == R.LEFT_PARTICIPANT_ADD_FAILED
    with pytest.raises(DomainError) as e:          # the dial-out answers after the end: no new instance
        h.join("CAd", "room", **CB)
    assert e.value.code == 21220
    assert h.state.conference_by_name(h.account_sid, "room") is None and h.state.conference(sid).status == "completed"
    h.dial_out("CAe", "room", **CB)                # a new instance; its dial-out cancelled by the end …
    h.end("room")
    assert h.dial_out_failed("CAe", R.CALL_NO_ANSWER) == []   # … then not answered: nothing more to say
    assert names(h.join("CAe", "room", **CB)) == ["participant-join"]   # the CallSid is free again


def test_answered_dial_out_hanging_up_before_the_room_took_it():
    h = Harness()
    h.join("CAa", "room", **CB)
    h.dial_out("CAd", "room", **CB)
    out = h.state.join(account_sid=h.account_sid, call_sid="CAd", unique_id=h.uid("CAd"),
                       conference=Conference(name="room", **CB), dialect="twiml")
    assert h.state.participant_of_call("CAd").status == R.P_CONNECTING
    del out   # the JoinMember never reaches the engine: the callee hangs up first
    [leave] = h.feed([h.engine.native(N.CHANNEL_HANGUP_COMPLETE, "", unique_id=h.uid("CAd"),
                                      hangup_cause="NORMAL_CLEARING")])
    assert leave.name == "participant-leave" and leave.reason_participant_left == R.LEFT_PARTICIPANT_ADD_FAILED
    assert leave.participant_call_status == R.CALL_COMPLETED and leave.member_count == 1


def test_queued_dial_outs_take_seats():
    h = Harness()
    h.join("CAa", "room", max_participants=2, **CB)
    h.dial_out("CAd", "room", **CB)
    with pytest.raises(DomainError) as e:
        h.dial_out("CAe", "room", **CB)
    assert e.value.code == 16020
    assert names(h.join("CAd", "room", **CB)) == ["participant-join", "conference-start"]   # its own seat


def test_a_dialled_out_coach_stops_coaching_when_its_coached_participant_leaves():
    """A REST dial-out (queued) answered into a ``<Conference coach=…>``: when the coached participant leaves,
    the coach coaches nobody (SetCoach with no coached member) — as for a coach that dialled in."""
    h = Harness()
    h.join("CAagent", "r")
    h.join("CAcaller", "r")
    h.dial_out("CAsup", "r")
    h.join("CAsup", "r", coach="CAagent")
    sup = h.state.participant_of_call("CAsup")
    assert sup.coaching
    h.hangup("CAagent")
    assert h.commands[-1] == C.SetCoach(room=h.sid_of("r"), coach_member_id=sup.member_id, coached_member_id=None)
    assert not h.state.participant_of_call("CAsup").coaching
