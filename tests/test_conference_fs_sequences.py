"""Native event sequences transcribed from the real FreeSWITCH 1.10.12 captures
(../shared/fixtures/freeswitch/moderated/endconf.summary.txt and waitmod.summary.txt), room renamed to the
ConferenceSid, fed to the domain exactly in FreeSWITCH's order (internal play-file-done, loopback b-legs'
CHANNEL_HANGUP_COMPLETE and all)."""
from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference.native import NativeEvent
from fsbridge.conference.state import ConferenceState
from fsbridge.markup.model import Conference

ACC = "AC" + "a" * 32
T0 = 1_795_300_000_000_000


def at(seconds):
    return T0 + int(seconds * 1_000_000)


def joined(state, calls):
    """Join (call_sid, uuid, Conference) triples; returns the room (ConferenceSid)."""
    rooms = {state.join(account_sid=ACC, call_sid=c, unique_id=u, conference=conf, dialect="twiml",
                        timestamp_us=T0).commands[0].room for c, u, conf in calls}
    assert len(rooms) == 1
    return rooms.pop()


def feed(state, events):
    out_events, out_cmds = [], []
    for e in events:
        o = state.apply(e)
        out_events += o.events
        out_cmds += o.commands
    return out_events, out_cmds


def test_freeswitch_endconf_sequence():
    s = ConferenceState()
    room = joined(s, [
        ("CAalice", "5d4ee6c5", Conference(name="ec", end_conference_on_exit=True)),
        ("CAbob", "fc9b93d2", Conference(name="ec")),
        ("CAcarol", "3fce5144", Conference(name="ec")),
    ])
    ev = lambda action, t, **kw: NativeEvent(action, room, at(t), **kw)   # noqa: E731
    events, cmds = feed(s, [
        ev(N.CONFERENCE_CREATE, 0.047),
        ev(N.ADD_MEMBER, 0.047, member_id=15, unique_id="5d4ee6c5", conference_size=1),
        ev(N.ADD_MEMBER, 2.075, member_id=16, unique_id="fc9b93d2", conference_size=2),
        ev(N.PLAY_FILE_DONE, 3.640, file="/usr/share/freeswitch/sounds/en/us/callie/conference/conf-alone.wav"),
        ev(N.ADD_MEMBER, 4.102, member_id=17, unique_id="3fce5144", member_type="moderator", conference_size=3),
        ev(N.PLAY_FILE_DONE, 4.263, file="tone_stream://%(200,0,500,600,700)"),
        NativeEvent(N.CHANNEL_HANGUP_COMPLETE, "", at(7.111), unique_id="48242e59", hangup_cause="NORMAL_CLEARING"),
        ev(N.DEL_MEMBER, 7.132, member_id=15, unique_id="5d4ee6c5", hangup_cause="NORMAL_CLEARING",
           conference_size=2),
        NativeEvent(N.CHANNEL_HANGUP_COMPLETE, "", at(7.132), unique_id="5d4ee6c5", hangup_cause="NORMAL_CLEARING"),
        ev(N.PLAY_FILE_DONE, 7.132, file="tone_stream://%(500,0,300,200,100,50,25)"),
        ev(N.DEL_MEMBER, 7.153, member_id=17, unique_id="3fce5144", hangup_cause="NORMAL_CLEARING",
           conference_size=1),
        NativeEvent(N.CHANNEL_HANGUP_COMPLETE, "", at(7.153), unique_id="3fce5144", hangup_cause="NORMAL_CLEARING"),
        ev(N.DEL_MEMBER, 7.153, member_id=16, unique_id="fc9b93d2", hangup_cause="NORMAL_CLEARING",
           conference_size=0),
        ev(N.CONFERENCE_DESTROY, 7.153),
        NativeEvent(N.CHANNEL_HANGUP_COMPLETE, "", at(7.153), unique_id="fc9b93d2", hangup_cause="NORMAL_CLEARING"),
    ])
    assert [(e.name, e.participant.call_sid if e.participant else None) for e in events] == [
        ("participant-join", "CAalice"), ("participant-join", "CAbob"), ("conference-start", None),
        ("participant-join", "CAcarol"), ("participant-leave", "CAalice"), ("participant-leave", "CAcarol"),
        ("participant-leave", "CAbob"), ("conference-end", None)]
    assert [e.sequence_number for e in events] == list(range(1, 9))
    assert events[2].timestamp == events[1].timestamp                       # start at Bob's add-member
    assert events[4].reason_participant_left == R.LEFT_PARTICIPANT_HUNG_UP
    assert {e.reason_participant_left for e in events[5:7]} == {R.LEFT_MODERATOR_ENDED_CONFERENCE}
    assert {e.participant_call_status for e in events[4:7]} == {R.CALL_COMPLETED}   # FS hung them up
    end = events[-1]
    assert (end.reason_conference_ended, end.call_sid_ending_conference) == (R.ECOE_LEFT, "CAalice")
    assert end.member_count == 0 and s.conference(room).status == "completed"
    # the start at Bob's add-member; again at Carol's, whose JoinMember (computed before any add-member) said
    # waiting; then the end, which the engine must tolerate after FreeSWITCH's own endconf
    assert [type(c) for c in cmds] == [C.StartConference, C.StartConference, C.EndConference]


def test_freeswitch_waitmod_talk_before_start_and_hup_all():
    """A member talking while waiting gets no speaker event while waiting; still talking when the conference
    starts, its speech-start comes right after conference-start (issue 17) and the stop-talking after the
    start ends it; `hup all` (EndConference) → hup-member ×3, del-member ×3."""
    s = ConferenceState()
    room = joined(s, [
        ("CAalice", "724aafe7", Conference(name="wm", start_conference_on_enter=False)),
        ("CAbob", "e236660b", Conference(name="wm", start_conference_on_enter=False)),
        ("CAcarol", "1311f658", Conference(name="wm")),
    ])
    ev = lambda action, t, **kw: NativeEvent(action, room, at(t), **kw)   # noqa: E731
    events, cmds = feed(s, [
        ev(N.ADD_MEMBER, 0.049, member_id=12, unique_id="724aafe7"),
        ev(N.START_TALKING, 1.635, member_id=12, unique_id="724aafe7"),
        ev(N.ADD_MEMBER, 7.095, member_id=13, unique_id="e236660b"),
        ev(N.PLAY_FILE_DONE, 7.095, file="local_stream://moh"),
        ev(N.ADD_MEMBER, 11.128, member_id=14, unique_id="1311f658", member_type="moderator"),
        ev(N.STOP_TALKING, 13.596, member_id=12, unique_id="724aafe7", duration_ms=11960),
        ev(N.START_TALKING, 17.387, member_id=12, unique_id="724aafe7"),
    ])
    assert [e.name for e in events] == ["participant-join", "participant-join", "participant-join",
                                        "conference-start", "participant-speech-start", "participant-speech-stop",
                                        "participant-speech-start"]
    assert events[4].timestamp == events[3].timestamp and events[4].participant.call_sid == "CAalice"
    assert cmds == [C.StartConference(room=room)]
    out = s.end(ACC, room)
    assert out.commands == (C.EndConference(room=room),) and out.events == ()
    events, _ = feed(s, [
        ev(N.HUP_MEMBER, 23.646, member_id=14, unique_id="1311f658"),
        ev(N.HUP_MEMBER, 23.646, member_id=13, unique_id="e236660b"),
        ev(N.HUP_MEMBER, 23.646, member_id=12, unique_id="724aafe7"),
        ev(N.DEL_MEMBER, 23.646, member_id=12, unique_id="724aafe7"),
        ev(N.DEL_MEMBER, 23.646, member_id=13, unique_id="e236660b"),
        ev(N.DEL_MEMBER, 23.646, member_id=14, unique_id="1311f658"),
    ])
    assert [e.name for e in events] == ["participant-speech-stop", "participant-leave", "participant-leave",
                                        "participant-leave", "conference-end"]
    assert {e.reason_participant_left for e in events[1:4]} == {R.LEFT_CONFERENCE_ENDED_VIA_API}
    assert {e.participant_call_status for e in events[1:4]} == {R.CALL_IN_PROGRESS}
    assert events[-1].reason_conference_ended == R.CONFERENCE_ENDED_VIA_API
    assert events[-1].timestamp.timestamp() == at(23.646) / 1e6
