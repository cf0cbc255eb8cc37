"""The standalone engine's 20 ms tick: callers' schedules and input audio, then per room one vectorised
N−1 mix with talk detection, overlays (hold/wait music, announcements, beeps) and recording."""
from __future__ import annotations

import logging

import numpy as np

from fsbridge.conference import native as N

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
        # 1. callers: schedules and input audio
        for call in list(self._calls.values()):
            if call.hung_up or call.start_tick is None:
                continue
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
                m.room.frames[m.slot] = f
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
        # 2. rooms
        for room in list(self._rooms.values()):
            if room.members:
                try:
                    self._mix_room(room, tick)
                except Exception:   # never let one room stop the clock for every other room
                    log.exception("room %s: mixing failed at tick %d", room.name, tick)
        self._handoff()

    def _mix_room(self, room: _Room, tick: int) -> None:
        if room.dirty:
            room.rebuild()
        frames = room.frames
        started, stopped, dur = room.talk.update(frames, room.talk_active, tick)
        out, total = mix_n_minus_1(frames, room.heard, room.gain, room.coach_of)
        hears = room.hears
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
                        mask[m.slot] = False
            out[mask] += pf.astype(np.int32)
            rec_extra = pf.astype(np.int32) if rec_extra is None else rec_extra + pf
        out[~hears] = 0
        # per-member overlays: hold / wait music replace the room; private plays are added
        for m in room.overlay_members:
            if m.hold and m.hold_media is not None:
                hf = m.hold_media.next_frame()
                if hf is not None:
                    out[m.slot] = hf
            elif m.waiting and m.wait_media is not None:
                wf = m.wait_media.next_frame()
                if wf is not None:
                    out[m.slot] = wf
            if m.plays:
                pf = m.plays[0].next_frame()
                if pf is None:
                    pl = m.plays.popleft()
                    self._emit(N.PLAY_FILE_MEMBER_DONE, room, member=m, file=pl.last)
                else:
                    out[m.slot] += pf
        mixed = clip16(out)
        for m in room.capture_members:
            m.call.heard.add(mixed[m.slot])
        # recording: the room (never wait/hold music, never coaches)
        if room.recorders and anyone_hears:
            rec = total if rec_extra is None else total + rec_extra
            rec16 = clip16(rec)
            for r in room.recorders.values():
                r.write(rec16)
        for s in started:
            m = room.slot_member[s]
            if m is not None:
                self._emit(N.START_TALKING, room, member=m)
        for s, d in zip(stopped, dur):
            m = room.slot_member[s]
            if m is not None:
                self._emit(N.STOP_TALKING, room, member=m, duration_ms=int(d),
                           extra=(("talking-duration-ms", str(int(d))),))

    def _room_play_done(self, room: _Room, rp: _RoomPlay) -> None:
        if rp in room.beeps:
            room.beeps.remove(rp)
        elif room.announcements and room.announcements[0] is rp:
            room.announcements.popleft()
            if room.announcements:
                nxt = room.announcements[0]
                self._emit(N.PLAY_FILE, room, file=nxt.playlist.refs[0])
        self._emit(N.PLAY_FILE_DONE, room, file=rp.playlist.last)
