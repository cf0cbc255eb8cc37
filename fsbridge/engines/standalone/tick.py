"""The standalone engine's 20 ms tick: callers' schedules and input audio, then talk detection and the N−1
mix of every room in one vectorised pass (:mod:`.pool`), then, only for the rooms that need it, a room-by-room
mix with coaches, gains, overlays (hold/wait music, announcements, beeps) and recording."""
from __future__ import annotations

import logging

import numpy as np

from fsbridge.conference import native as N

from .leg import NET_PENDING
from .mixer import clip16, mix_n_minus_1
from .rooms import _Room, _RoomPlay
from .sources import FRAME_MS

log = logging.getLogger("fsbridge.engines.standalone.engine")


class TickMixin:
    """The tick of :class:`StandaloneEngine` (run by its :class:`~.clock.Clock`)."""

    # ------------------------------------------------------------------------ the tick -----------
    def _tick(self) -> None:
        self._in_tick = True
        try:
            self._tick_inner()
        finally:
            self._in_tick = False
        if self._dispatcher is None:   # driven by hand (run_for/run_until): deliver after every tick
            self.flush()

    def _tick_inner(self) -> None:
        tick = self.clock.ticks
        zero = self._zero
        frames = self._pool.frames
        # 1. callers: schedules and input audio
        for call in list(self._calls.values()):
            if call.hung_up or call.start_tick is None:
                continue
            if call.hangup_after_ms is not None or call.dtmf_schedule:
                t_ms = (tick - call.start_tick) * FRAME_MS
                if call.hangup_after_ms is not None and t_ms >= call.hangup_after_ms:
                    self._hangup_call(call, "NORMAL_CLEARING")
                    continue
            while call.dtmf_schedule and call.dtmf_schedule[0][0] <= t_ms:
                _, digit = call.dtmf_schedule.popleft()
                self._emit(N.DTMF, None, call.unique_id, digits=digit,
                           extra=(("DTMF-Digit", digit), ("DTMF-Source", "RTP")))
                if call._dtmf_cb is not None:
                    cb = call._dtmf_cb
                    self._pending.append(lambda cb=cb, d=digit: cb(d))
            try:
                f = call._read_input(tick)
            except Exception:   # a broken source must not stop the clock: that caller "hangs up"
                log.exception("call %s: source failed", call.unique_id)
                self._hangup_call(call, "NORMAL_TEMPORARY_FAILURE")
                continue
            if f is None:
                if call.hangup_at_end:
                    self._hangup_call(call, "NORMAL_CLEARING")
                    continue
                f = zero
            m = call.member
            if m is not None:
                if f is not NET_PENDING:
                    frames[m.slot] = f
            else:
                out = zero
                if call._play is not None:
                    pf = call._play.next_frame()
                    if pf is None:
                        call._stop_play(True)
                    else:
                        out = pf
                if call.heard is not None:
                    call.heard.add(out)
        # 1b. networked callers: every emulated network + jitter buffer at once (netbank.py)
        self._netbank.tick(tick, frames)
        # 2. rooms: every room in one pass (pool.py), then the rooms that need more, room by room
        if self._rooms:
            self._mix_all(tick)
        self._handoff()

    def _mix_all(self, tick: int) -> None:
        pool = self._pool
        rooms = list(self._rooms.values())
        if pool.dirty:
            for room in rooms:
                if room.dirty:
                    room.rebuild()
            pool.rebuild(rooms)
        try:
            started, stopped, dur = pool.talk.update(pool.frames, pool.talk_active, tick)
            out = pool.mix()
        except Exception:   # never let the mix stop the clock
            log.exception("mixing failed at tick %d", tick)
            return
        talk = None
        if started.size or stopped.size:
            talk = {}
            row_room = pool.row_room
            for s in started.tolist():
                talk.setdefault(row_room[s], []).append((s, None))
            for s, d in zip(stopped.tolist(), dur.tolist()):
                talk.setdefault(row_room[s], []).append((s, d))
        for room in rooms:
            if room.special():
                try:
                    self._mix_room(room, out)
                except Exception:   # never let one room stop the clock for every other room
                    log.exception("room %s: mixing failed at tick %d", room.name, tick)
            if room.capture_members:
                for m in room.capture_members:
                    m.call.heard.add(out[m.slot])
            for m in room.fork_members:   # jambonz listen: what the member says and hears (never blocks)
                fork = m.call.fork
                if fork is not None:
                    fork.push(pool.frames[m.slot], out[m.slot])
            if talk is not None and room in talk:
                self._emit_talk(room, talk[room])

    def _emit_talk(self, room: _Room, items) -> None:
        members = self._pool.row_member
        for s, d in items:
            m = members[s]
            if m is None or m.room is not room:
                continue
            if d is None:
                self._emit(N.START_TALKING, room, member=m)
            else:
                self._emit(N.STOP_TALKING, room, member=m, duration_ms=int(d),
                           extra=(("talking-duration-ms", str(int(d))),))

    def _mix_room(self, room: _Room, mixed_out: np.ndarray) -> None:
        """One room with coaches, gains, plays, overlays or recordings: mixed on its own (its members'
        rows), the result written into ``mixed_out`` (the pool's output, int16 ``(rows, F)``)."""
        pool = self._pool
        rows = room.rows
        out, total = mix_n_minus_1(pool.frames[rows], pool.heard[rows], pool.gain[rows] if room.has_gain else None,
                                   room.coach_of if room.has_coach else None)
        hears = pool.hears[rows]
        anyone_hears = bool(hears.any())
        # room-level plays (announcements queue + beeps), heard by everyone who hears the room
        rec_extra = None
        plays = list(room.beeps)
        if room.announcements:
            plays.append(room.announcements[0])
        for rp in plays:
            pf = rp.playlist.next_frame()
            if pf is None:
                self._room_play_done(room, rp)
                continue
            mask = hears
            if rp.exclude:
                mask = hears.copy()
                for mid in rp.exclude:
                    m = room.members.get(mid)
                    if m is not None:
                        mask[room.local[m.slot]] = False
            out[mask] += pf.astype(np.int32)
            rec_extra = pf.astype(np.int32) if rec_extra is None else rec_extra + pf
        out[~hears] = 0
        # per-member overlays: hold / wait music replace the room; private plays are added
        for m in room.overlay_members:
            i = room.local[m.slot]
            if m.hold and m.hold_media is not None:
                hf = m.hold_media.next_frame()
                if hf is not None:
                    out[i] = hf
            elif m.waiting and m.wait_media is not None:
                wf = m.wait_media.next_frame()
                if wf is not None:
                    out[i] = wf
                elif m.entering:   # the enter media (jambonz enterHook) ended: now it is mixed
                    m.entering, m.waiting, m.wait_media = False, False, None
                    room.dirty = True
            if m.plays:
                pf = m.plays[0].next_frame()
                if pf is None:
                    pl = m.plays.popleft()
                    self._emit(N.PLAY_FILE_MEMBER_DONE, room, member=m, file=pl.last)
                else:
                    out[i] += pf
        mixed_out[rows] = clip16(out)
        # recording: the room (never wait/hold music, never coaches)
        if room.recorders and anyone_hears:
            rec = total if rec_extra is None else total + rec_extra
            rec16 = clip16(rec)
            for r in room.recorders.values():
                r.write(rec16)

    def _room_play_done(self, room: _Room, rp: _RoomPlay) -> None:
        if rp in room.beeps:
            room.beeps.remove(rp)
        elif room.announcements and room.announcements[0] is rp:
            room.announcements.popleft()
            if room.announcements:
                nxt = room.announcements[0]
                self._emit(N.PLAY_FILE, room, file=nxt.playlist.refs[0])
        self._emit(N.PLAY_FILE_DONE, room, file=rp.playlist.last)
