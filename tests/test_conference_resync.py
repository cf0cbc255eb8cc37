"""The one resync path (``ConferenceState.resync(EngineSnapshot)``): the events must be those the
FreeSWITCH engine's reconnect produced through ``mapping.resync_events`` — vanished members leave (the
call may go on: ``in-progress``), hold/mute differences are adopted (mute only when held on neither side,
fixtures README finding 17), lost add-members join — plus a speaker no longer talking stops.
"""
from dataclasses import replace

from fsbridge.conference import commands as C
from fsbridge.wire import twilio as R
from fsbridge.conference.native import EngineSnapshot, MemberSnapshot
from fsbridge.conference.testing import Harness


def names(events):
    return [e.name for e in events]


def snap_with(h, sid, call_sid, **flags):
    """The engine's snapshot with ``call_sid``'s member flags replaced."""
    snap = h.engine.snapshot()
    uid = h.uid(call_sid)
    return replace(snap, members=tuple(replace(m, **flags) if (m.room, m.unique_id) == (sid, uid) else m
                                       for m in snap.members))


def test_vanished_members_leave_in_member_order_with_the_call_still_up():
    h = Harness()
    sid = h.room("r", "CAa", "CAb", "CAc")
    h.engine.members[sid].pop(h.uid("CAc"))
    h.engine.members[sid].pop(h.uid("CAa"))
    out = h.run(h.state.resync(h.engine.snapshot()))
    assert names(out) == ["participant-leave", "participant-leave"]
    assert [e.participant.call_sid for e in out] == ["CAa", "CAc"]     # by member id, not snapshot order
    assert {e.participant_call_status for e in out} == {R.CALL_IN_PROGRESS}
    assert {e.reason_participant_left for e in out} == {R.LEFT_PARTICIPANT_HUNG_UP}
    assert out[-1].member_count == 1 and h.state.conference(sid).status == R.CONF_IN_PROGRESS


def test_hold_is_adopted_and_a_held_members_mute_is_not_compared():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    # json_list shows CAb held (and, as FreeSWITCH does for held members, a meaningless mute flag)
    out = h.run(h.state.resync(snap_with(h, sid, "CAb", hold=True, muted=True)))
    assert names(out) == ["participant-hold"]
    view = h.state.participant_of_call("CAb")
    assert view.hold and not view.muted
    # still held on the domain side: the mute flag is still not compared
    assert h.state.resync(snap_with(h, sid, "CAb", hold=True, muted=False)).events == ()
    out = h.run(h.state.resync(snap_with(h, sid, "CAb", hold=False, muted=True)))
    assert names(out) == ["participant-unhold"]          # mute compared again from the next resync on
    out = h.run(h.state.resync(snap_with(h, sid, "CAb", hold=False, muted=True)))
    assert names(out) == ["participant-mute"]


def test_a_speaker_no_longer_talking_stops_and_a_talking_one_continues():
    h = Harness()
    h.join("CAa", "r")
    h.join("CAb", "r")
    sid = h.sid_of("r")
    h.talk("CAa")
    assert h.state.resync(snap_with(h, sid, "CAa", talking=True)).events == ()
    out = h.run(h.state.resync(h.engine.snapshot()))
    assert names(out) == ["participant-speech-stop"] and out[0].participant.call_sid == "CAa"


def test_rooms_are_reconciled_in_room_order_and_unknown_members_are_ignored():
    h = Harness()
    for c, room in (("CAa", "one"), ("CAb", "one"), ("CAc", "two"), ("CAd", "two")):
        h.join(c, room)
    one, two = h.sid_of("one"), h.sid_of("two")
    h.engine.members[two].pop(h.uid("CAd"))
    h.engine.members[one].pop(h.uid("CAb"))
    snap = h.engine.snapshot()
    snap = replace(snap, members=snap.members + (MemberSnapshot(room=one, member_id=99, unique_id="stranger"),
                                                 MemberSnapshot(room="CFnone", member_id=1, unique_id="x")))
    out = h.run(h.state.resync(snap))
    assert [(e.name, e.conference_sid) for e in out] == sorted(
        [("participant-leave", one), ("participant-leave", two)], key=lambda t: t[1])
    assert h.state.participant_of_call("CAa") is not None and h.state.participant_of_call("CAc") is not None


def test_a_join_that_outlived_its_conference_is_kicked_and_an_empty_snapshot_ends_all():
    h = Harness()
    sid = h.room("r", "CAa")
    h.join_pending("CAb", "r")
    h.run(h.state.end(h.account_sid, sid))                  # CAb's join is cancelled
    snap = EngineSnapshot(h.engine.now_us, members=(MemberSnapshot(room=sid, member_id=7, unique_id=h.uid("CAb")),))
    out = h.state.resync(snap)
    assert out.events == () and out.commands == (C.KickMember(room=sid, member_id=7),)
    h.join("CAc", "s")
    h.join("CAd", "s")
    out = h.run(h.state.resync(EngineSnapshot(h.engine.now_us + 1)))
    assert names(out) == ["participant-leave", "participant-leave", "conference-end"]
    assert out[-1].reason_conference_ended == R.LAST_PARTICIPANT_LEFT


def test_channels_whose_live_events_postdate_the_snapshot_are_left_alone():
    h = Harness()
    sid = h.room("r", "CAa", "CAb", "CAc")
    # json_list ran before CAc's add-member was mapped (CAc missing) and CAb was muted after it (not muted)
    h.run(h.state.set_muted(h.account_sid, sid, "CAb", True))
    snap = h.engine.snapshot()
    snap = replace(snap, members=tuple(replace(m, muted=False) for m in snap.members if m.unique_id != h.uid("CAc")),
                   skip=(h.uid("CAb"), h.uid("CAc")))
    assert h.state.resync(snap).events == ()
    assert h.state.participant_of_call("CAb").muted and h.state.participant_of_call("CAc").member_id is not None
    out = h.run(h.state.resync(replace(snap, skip=())))
    assert names(out) == ["participant-leave", "participant-unmute"]


def test_a_member_at_the_wait_gate_is_no_mute_and_the_gate_follows_the_conference():
    """``waiting`` members (the engine's gate: mute+deaf, not a mute anybody asked for, issue 15): no
    participant-mute; ResumeGate opens the gate of a started conference (with the domain's mute) and re-arms
    the wait of one still waiting (its wait media; silence for waitUrl="")."""
    h = Harness()
    h.join("CAw", "wait", start_conference_on_enter=False)
    h.join("CAs", "wait2", start_conference_on_enter=False, wait_url="")
    h.join("CAa", "r")
    h.join("CAm", "r")
    h.mute("r", "CAm")
    rs, ws, ws2 = h.sid_of("r"), h.sid_of("wait"), h.sid_of("wait2")
    snap = h.engine.snapshot()
    gated = {h.uid(c) for c in ("CAa", "CAm", "CAw", "CAs")}
    snap = replace(snap, members=tuple(replace(m, waiting=True, muted=True, deaf=True) if m.unique_id in gated
                                       else m for m in snap.members))
    out = h.state.resync(snap)
    assert out.events == ()
    mid = {c: h.state.participant_of_call(c).member_id for c in ("CAa", "CAm", "CAw", "CAs")}
    assert sorted(out.commands, key=lambda c: (c.room, c.member_id)) == sorted([
        C.ResumeGate(room=rs, member_id=mid["CAa"], started=True, muted=False, wait_media=()),
        C.ResumeGate(room=rs, member_id=mid["CAm"], started=True, muted=True, wait_media=()),
        C.ResumeGate(room=ws, member_id=mid["CAw"], started=False, muted=False,
                     wait_media=(C.DEFAULT_HOLD_MUSIC,)),
        C.ResumeGate(room=ws2, member_id=mid["CAs"], started=False, muted=False, wait_media=()),
    ], key=lambda c: (c.room, c.member_id))
    assert not h.state.participant_of_call("CAa").muted and h.state.participant_of_call("CAm").muted


def test_without_the_waiting_mark_the_same_flags_are_a_mute():
    """The mark is what tells the gate from a mute: unmarked, a listed mute is adopted (participant-mute)."""
    h = Harness()
    h.join("CAa", "r")
    out = h.run(h.state.resync(snap_with(h, h.sid_of("r"), "CAa", muted=True, deaf=True)))
    assert names(out) == ["participant-mute"]
    assert not any(isinstance(c, C.ResumeGate) for c in h.commands)
