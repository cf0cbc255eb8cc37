"""The one resync path: an engine snapshot diffed against the domain, as the native events a live stream
would have carried (model: the FreeSWITCH engine's former ``mapping.resync_events``).

:func:`reconcile` yields synthetic :class:`~fsbridge.conference.native.NativeEvent` s (``extra`` has
``("resync", "true")``) that :meth:`ConferenceState.resync` applies one by one — so the typed domain events
are exactly those of the live path. It is a generator: each step reads the domain *after* the previous
event was applied. Order (FreeSWITCH after an ESL reconnect, fixtures README):

1. connected participants the engine no longer lists → del-member (no hangup cause: the call may go on),
   by (room, member id);
2. listed participants whose flags differ → hold/unhold-member, then mute/unmute-member — mute only when
   held on neither side (a held member's mute state is unknown in FreeSWITCH ``json_list``, finding 17)
   and not at the engine's wait gate (``waiting``: that mute is the gate's; a ResumeGate command opens
   the gate if the conference started meanwhile, else re-arms the wait) —
   and stop-talking for a speaker the engine no longer reports talking (start-talking for one it reports
   talking now, unmuted and not held), by (room, member id);
3. listed members of a pending join → add-member (then their flags as in 2), in snapshot order; a listed
   member whose join outlived its conference is kicked (a command, no event).

Members of unknown rooms or with unknown channel ids are ignored (no CallSid is known for them, so no
participant can be made up), and so are the channels in ``snapshot.skip`` (their live events may postdate
the snapshot).
"""
from __future__ import annotations

from typing import Iterator

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference.native import EngineSnapshot, MemberSnapshot, NativeEvent
from fsbridge.conference.outcome import Out

MARK = (("resync", "true"),)


def _flag_events(m, snap: MemberSnapshot, now_us: int) -> Iterator[NativeEvent]:
    def native(action):
        return NativeEvent(action, snap.room, now_us, snap.unique_id, m.member_id, extra=MARK)
    was_held = m.hold     # as before this resync (the hold event below changes m)
    if m.hold != snap.hold:
        yield native(N.HOLD_MEMBER if snap.hold else N.UNHOLD_MEMBER)
    if not snap.hold and not was_held and not snap.waiting and m.muted != snap.muted:
        yield native(N.MUTE_MEMBER if snap.muted else N.UNMUTE_MEMBER)
    if m.speaking and not snap.talking:
        yield native(N.STOP_TALKING)
    elif not m.speaking and snap.talking and not snap.muted and not snap.hold and not snap.waiting:
        yield native(N.START_TALKING)   # talking now: its start was lost while the engine was out of sight


def _gate(conf, m, snap: MemberSnapshot, out: Out) -> None:
    """A member the engine holds at its wait gate (``snap.waiting``: its mute is the gate's, not a mute
    anybody asked for): the gate follows the domain — opened if the conference started meanwhile (the
    bridge that should have opened it died after conference-start), else the wait media loops again."""
    if not snap.waiting or not m.joined or conf.status == R.CONF_COMPLETED:
        return
    started = conf.status == R.CONF_IN_PROGRESS
    out.commands.append(C.ResumeGate(room=conf.sid, member_id=m.member_id, started=started, muted=m.muted,
                                     wait_media=() if started else _wait_media(m)))


def _wait_media(m) -> tuple:
    """The wait media of a waiting member whose gate outlived its bridge: Twilio's default hold music unless
    its waitUrl was "" (silence). A waitUrl document is not fetched again (the domain cannot fetch): the
    default hold music plays instead."""
    return () if m.wait_url == "" else (C.DEFAULT_HOLD_MUSIC,)


def reconcile(state, snapshot: EngineSnapshot, out: Out) -> Iterator[NativeEvent]:
    """Yield the native events that bring ``state`` (a ConferenceState) to ``snapshot``; kicks of joins
    that outlived their conference go straight to ``out.commands``."""
    now_us = snapshot.timestamp_us
    skip = set(snapshot.skip)
    listed = {(s.room, s.unique_id): s for s in snapshot.members if s.unique_id not in skip}
    live = {c.sid: c for c in state.live_conferences()}
    gone = sorted(((c.sid, m.member_id, m.unique_id) for c in live.values() for m in c.joined
                   if (c.sid, m.unique_id) not in listed and m.unique_id not in skip), key=lambda t: (t[0], t[1]))
    for room, member_id, uid in gone:
        yield NativeEvent(N.DEL_MEMBER, room, now_us, uid, member_id, extra=MARK)
    staying = sorted(((c.sid, m.member_id, m.unique_id) for c in live.values() for m in c.joined
                      if (c.sid, m.unique_id) in listed), key=lambda t: (t[0], t[1]))
    for room, _, uid in staying:
        m = state.member_of_channel(live[room], uid)
        if m is not None and m.joined:
            yield from _flag_events(m, listed[(room, uid)], now_us)
            _gate(live[room], m, listed[(room, uid)], out)
    for snap in snapshot.members:
        if snap.unique_id in skip:
            continue
        cancelled_room = state.take_cancelled_join(snap.unique_id)
        if cancelled_room is not None:     # a join that outlived its conference: remove it
            out.commands.append(C.KickMember(room=cancelled_room, member_id=snap.member_id))
            continue
        conf = live.get(snap.room)
        if conf is None or conf.status == R.CONF_COMPLETED:   # unknown, or completed by a leave above
            continue
        m = state.member_of_channel(conf, snap.unique_id)
        if m is None or m.member_id is not None:
            continue
        yield NativeEvent(N.ADD_MEMBER, snap.room, now_us, snap.unique_id, snap.member_id, extra=MARK)
        if m.joined:
            yield from _flag_events(m, snap, now_us)
            _gate(conf, m, snap, out)


def reattach(state, snapshot: EngineSnapshot) -> None:
    """Members the engine lists with a ``call_sid`` whose participant knows another channel id (restored
    from the store after a bridge restart: its placeholder is the CallSid) take the listed channel id and
    member id — the participant is adopted, no event (nothing happened to the call)."""
    for s in snapshot.members:
        if not s.call_sid or state._by_call.get(s.call_sid) != s.room:
            continue
        m = state._confs[s.room].members.get(s.call_sid)
        if m is None or m.unique_id == s.unique_id:
            continue
        if state._by_uid.get(m.unique_id) == m.call_sid:
            del state._by_uid[m.unique_id]
        m.unique_id = s.unique_id
        state._by_uid[s.unique_id] = m.call_sid
        if m.joined:
            m.member_id = s.member_id


def vanished(state, snapshot: EngineSnapshot) -> list:
    """The live conferences whose room the engine no longer has: not among ``snapshot.rooms`` nor the rooms
    of its listed members, with a connected participant or a running recording (a conference with only
    joins on their way may have no room yet), or restored from the store and not resynced yet. A
    conference with a member in ``snapshot.skip`` (live events newer than the snapshot) is never vanished."""
    rooms = set(snapshot.rooms) | {s.room for s in snapshot.members}
    skip = set(snapshot.skip)
    out = []
    for c in state.live_conferences():
        if c.sid in rooms or any(m.unique_id in skip for m in c.members.values()):
            continue
        running = any(r.status in (R.REC_IN_PROGRESS, R.REC_PAUSED) for r in c.recordings.values())
        if c.joined or running or c.sid in state._restored:
            out.append(c)
    return out


__all__ = ["reconcile", "reattach", "vanished", "MARK"]
