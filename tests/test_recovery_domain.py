"""Start-up reconciliation in the domain (issue 15): conferences restored from the store
(:class:`StoredConference`) meet the engine's first EngineSnapshot through ``ConferenceState.resync`` — a room
the engine no longer has ends (recordings completed, leaves, conference-end, numbered after the stored
history), a room it still has is adopted (members re-attached by CallSid, controllable, no events)."""
from datetime import datetime, timezone

from fsbridge.conference import commands as C
from fsbridge.conference import events as E
from fsbridge.conference import native as N
from fsbridge.conference.events import CallbackConfig, ParticipantView, RecordingView
from fsbridge.conference.restore import StoredConference
from fsbridge.conference.state import ConferenceState
from fsbridge.markup.model import Hook

T0 = datetime(2026, 12, 6, 21, 0, tzinfo=timezone.utc)
CB = CallbackConfig(status_callback=Hook("http://app/cb"), status_events=("start", "end", "join", "leave"))


def stored(status="in-progress", parts=("CAa", "CAb"), recordings=(), seq=7, ecoe=()):
    return StoredConference(
        sid="CF1", account_sid="AC1", friendly_name="Room", dialect="twiml", status=status, date_created=T0,
        date_updated=T0, sequence=seq, callbacks=CB, started_at=T0,
        participants=tuple(ParticipantView(call_sid=c, label=None, muted=False, hold=False,
                                           end_conference_on_exit=c in ecoe, status="connected",
                                           date_created=T0) for c in parts),
        recordings=recordings)


def test_a_room_the_engine_no_longer_has_ends_after_the_stored_history():
    st = ConferenceState(clock=lambda: T0.timestamp() + 60)
    assert st.restore([stored(recordings=(RecordingView(sid="RE1", status="in-progress", path="/r/RE1.wav"),),
                              ecoe=("CAa",))]) == ["CF1"]
    assert st.conference_by_name("AC1", "Room").status == "in-progress"
    out = st.resync(N.EngineSnapshot(timestamp_us=int(T0.timestamp() * 1e6) + 60_000_000,
                                     files=(("/r/RE1.wav", 64044, 2000),), lost_cause=N.CAUSE_CRASH))
    kinds = [(type(e).__name__, e.sequence_number) for e in out.events]
    assert kinds == [("RecordingCompleted", 8), ("ParticipantLeft", 9), ("ParticipantLeft", 10),
                     ("ConferenceEnded", 11)]
    left = [e for e in out.events if isinstance(e, E.ParticipantLeft)]
    assert [e.reason_participant_left for e in left] == ["participant_hung_up"] * 2   # no ECOE claim
    assert {e.participant_call_status for e in left} == {"completed"}
    end = out.events[-1]
    assert end.reason_conference_ended == "last-participant-left" and end.call_sid_ending_conference == "CAb"
    assert out.events[0].recording.duration_s == 2 and out.events[0].recording.file_size == 64044
    assert st.conference("CF1").status == "completed" and st.conference_by_name("AC1", "Room") is None
    assert not any(isinstance(c, C.JoinMember) for c in out.commands)


def test_a_recording_without_a_usable_file_completes_absent_and_an_empty_room_still_ends():
    st = ConferenceState()
    st.restore([stored(status="init", parts=(), recordings=(RecordingView(sid="RE1", status="in-progress",
                                                                          path="/r/none.wav"),))])
    out = st.resync(N.EngineSnapshot(timestamp_us=1_800_000_000_000_000, lost_cause=N.CAUSE_CRASH))
    assert [type(e).__name__ for e in out.events] == ["RecordingAbsent", "ConferenceEnded"]
    assert out.events[0].sequence_number == 8


def test_a_room_the_engine_still_has_is_adopted_and_controllable():
    st = ConferenceState()
    st.restore([stored()])
    snap = N.EngineSnapshot(timestamp_us=1_800_000_000_000_000, rooms=("CF1",), members=(
        N.MemberSnapshot(room="CF1", member_id=4, unique_id="uuid-a", call_sid="CAa"),
        N.MemberSnapshot(room="CF1", member_id=5, unique_id="uuid-b", call_sid="CAb", muted=True)))
    out = st.resync(snap)
    assert [type(e).__name__ for e in out.events] == ["ParticipantMuted"]   # the flag it has now
    assert out.events[0].sequence_number == 8
    cmd = st.set_muted("AC1", "CF1", "CAa", True).commands
    assert cmd == (C.MuteMember(room="CF1", member_id=4),)
    later = st.apply(N.NativeEvent(N.DEL_MEMBER, "CF1", 1_800_000_001_000_000, "uuid-a", 4,
                                   hangup_cause="NORMAL_CLEARING"))
    assert [type(e).__name__ for e in later.events] == ["ParticipantLeft"]
    assert st.conference("CF1").status == "in-progress"


def test_who_is_talking_now_is_rebuilt_after_a_gap():
    """Talk events lost while the engine was out of sight: the snapshot's ``talking`` flag starts a speaker
    (unmuted, not held) and stops one who no longer talks."""
    st = ConferenceState()
    st.restore([stored()])
    talking = N.EngineSnapshot(timestamp_us=1_800_000_000_000_000, rooms=("CF1",), members=(
        N.MemberSnapshot(room="CF1", member_id=4, unique_id="uuid-a", call_sid="CAa", talking=True),
        N.MemberSnapshot(room="CF1", member_id=5, unique_id="uuid-b", call_sid="CAb", muted=True, talking=True)))
    out = st.resync(talking)
    assert [(type(e).__name__, e.participant.call_sid) for e in out.events] == [
        ("SpeechStarted", "CAa"), ("ParticipantMuted", "CAb")]      # by member id; a muted talker does not count
    quiet = N.EngineSnapshot(timestamp_us=1_800_000_001_000_000, rooms=("CF1",), members=(
        N.MemberSnapshot(room="CF1", member_id=4, unique_id="uuid-a"),
        N.MemberSnapshot(room="CF1", member_id=5, unique_id="uuid-b", muted=True)))
    assert [type(e).__name__ for e in st.resync(quiet).events] == ["SpeechStopped"]
