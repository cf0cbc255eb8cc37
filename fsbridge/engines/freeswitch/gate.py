"""The FreeSWITCH engine's room bookkeeping: the wait gate (fsbridge's, not wait-mod), hold as hold + deaf
(FreeSWITCH #796), looped wait/hold media, coach relations and room limits set after the room exists, and
the events these cause that the domain must not see (the module docstring of :mod:`.engine`)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.conference.native import MemberSnapshot, NativeEvent
from fsbridge.engines.base import EngineError
from fsbridge.engines.freeswitch import render

log = logging.getLogger("fsbridge.engines.freeswitch.engine")

#: s: a looped wait/hold media is played again at most this often. Media that ends at once — a file
#: FreeSWITCH cannot open, an empty one — would otherwise be replayed as fast as ESL round trips go,
#: costing the bridge and FreeSWITCH a core (seen with the fake FreeSWITCH's instant play-file-done)
MIN_LOOP_S = 1.0
#: ``_Waiting.stale`` while a ``stop all`` is on its way (counts down as play-file-member-done events arrive)
_STOPPING = 1 << 20


@dataclass
class _Waiting:
    uid: str
    media: Tuple[str, ...]
    muted: bool
    ref: Optional[str] = None
    enter: Tuple[str, ...] = ()          # JoinMember.enter_media (jambonz enterHook after the wait)
    enter_ref: Optional[str] = None      # its file string while it plays (the gate is still closed)
    listed_muted: bool = True            # FreeSWITCH has it muted (False: a killed bridge's unmute ran)
    stale: int = 0                       # stopped plays whose ...-done is not reported (-1: a recovered gate)


class GateMixin:
    """Room bookkeeping of :class:`~.engine.FreeSwitchEngine` (its dicts are set up by the engine)."""

    min_loop_s: float = MIN_LOOP_S   # s between two plays of a looped wait/hold media, at least

    def _gate_command(self, command) -> None:
        """StartConference (open every gate of the room) or ResumeGate (:meth:`_resume_gate`)."""
        if isinstance(command, c.ResumeGate):
            self._resume_gate(command)
        else:
            self._start_conference(command.room)

    def _start_conference(self, room: str, only: Optional[int] = None) -> None:
        for key in [k for k in self._waiting if k[0] == room and only in (None, k[1])]:
            w = self._waiting.get(key)
            if w is None or w.enter_ref is not None:   # gone meanwhile (commands yield) / hearing its enter media
                continue
            wait_ref, w.ref = w.ref, None   # (no wait-media loop from here on)
            if wait_ref is not None:
                self._stop_media(key, w)
                if self._waiting.get(key) is not w:   # opened or gone while the stop was on its way
                    continue
            if w.enter:   # jambonz enterHook: played now, the gate opens at its play-file-member-done
                w.enter_ref = render.media_ref(w.enter)
                try:
                    self._api(render.api("play_member", room=room, media=w.enter_ref, member=key[1]))
                    continue
                except EngineError as exc:
                    w.enter_ref = None
                    log.warning("enter media for %s: %s", key, exc)
            self._open_gate(key, w)

    def _stop_media(self, key: Tuple[str, int], w: _Waiting) -> None:
        """Stop whatever plays to the waiting member ``key`` (``conference <room> stop all <id>``); the ends of
        the files it stopped are not reported. They are counted on ``w.stale``: set high before the command,
        as the reader may hand over a play-file-member-done before the reply ("+OK Stopped 1 files."), then
        the number stopped less those already swallowed."""
        w.stale = _STOPPING
        body = self._api(render.api("stop_member", room=key[0], member=key[1]), tolerate=True)
        w.stale = max(0, _stopped(body) - (_STOPPING - w.stale))

    def _api_quiet(self, key: Tuple[str, int], action: str, line: str) -> None:
        """Send ``line``, whose own event ``action`` the domain must not see: suppressed once — undone when
        the command failed, so that a later event of the member is not swallowed in its place."""
        self._suppress_once(key, action)
        try:
            self._api(line)
        except EngineError:
            k = (key[0], key[1], action)
            if self._suppress.get(k, 0) > 1:
                self._suppress[k] -= 1
            else:
                self._suppress.pop(k, None)
            raise

    def _gate_snapshot(self, members: List[MemberSnapshot]) -> List[MemberSnapshot]:
        """After an ESL (re)connect: ``members`` (the snapshot) with the members at the wait gate marked
        ``waiting`` — those this engine keeps waiting, and those FreeSWITCH lists deaf but not held: only the
        gate makes a member deaf without hold (hold is hold + deaf, #796), so that is a gate the bridge that
        closed it did not open (killed between conference-start and its undeaf/unmute, or while the
        conference waited). Such a member is taken back into ``self._waiting`` (its mute as yet unknown: the
        domain's :class:`~fsbridge.conference.commands.ResumeGate` tells it and opens or re-arms the gate).
        Members listed on hold are remembered as held (StartConference leaves them deaf)."""
        out = []
        for s in members:
            key = (s.room, s.member_id)
            if s.hold:
                self._held.add(key)
            w = self._waiting.get(key)
            if w is None and s.deaf and not s.hold:
                w = self._waiting[key] = _Waiting(s.unique_id, (), True, listed_muted=s.muted)
                w.stale = -1     # its wait media (if any) is the killed bridge's: stopped at ResumeGate
                log.info("member %s of %s is at a wait gate this bridge did not close", s.member_id, s.room)
            if w is not None:
                s = replace(s, waiting=True, muted=w.muted, deaf=True)
            out.append(s)
        return out

    def _resume_gate(self, cmd: c.ResumeGate) -> None:
        """:class:`~fsbridge.conference.commands.ResumeGate`: the domain's word on a gate found closed after an
        ESL reconnect or a bridge restart. Whatever plays to the member is stopped first — a killed bridge's
        wait media, or this bridge's whose end was lost while ESL was down — its end not reported. Then: the
        conference started → the gate opens (an enter media the outage cut is not played again); else the wait
        media loops again — this bridge's own, or for a recovered gate the domain's ``wait_media``."""
        key = (cmd.room, cmd.member_id)
        w = self._waiting.get(key)
        if w is None:          # opened meanwhile (a StartConference), or gone
            return
        recovered, had_enter = w.stale < 0, w.enter_ref is not None
        w.muted, w.ref = cmd.muted, None
        self._stop_media(key, w)
        if self._waiting.get(key) is not w:
            return
        w.enter_ref = None
        if cmd.started:
            if had_enter:
                self._open_gate(key, w)
            else:
                self._start_conference(cmd.room, only=cmd.member_id)
            return
        if recovered:
            w.media = tuple(cmd.wait_media)
        if w.media:
            w.ref = render.media_ref(w.media)
            self._play_wait(key)

    def _open_gate(self, key: Tuple[str, int], w: _Waiting) -> None:
        """The waiting member ``key`` is mixed: undeaf (unless held) and quiet unmute (unless joined muted)."""
        self._waiting.pop(key, None)
        room, member = key
        for _ in range(w.stale if 0 < w.stale < _STOPPING // 2 else 0):   # stopped media may still report its end
            self._suppress_once(key, n.PLAY_FILE_MEMBER_DONE)
        w.stale = 0
        # unmute before undeaf: should this bridge die in between, the member is still listed deaf without
        # hold — a gate the next bridge recognises and opens (_gate_snapshot) — never muted alone, which
        # would be indistinguishable from a participant mute
        if not w.muted and w.listed_muted:
            self._api_quiet(key, n.UNMUTE_MEMBER, render.api("unmute_quiet", room=room, member=member))
        if key not in self._held:
            self._api_quiet(key, n.UNDEAF_MEMBER, render.api("undeaf", room=room, member=member))

    def _engine_side(self, ev: NativeEvent) -> Optional[NativeEvent]:
        """Engine bookkeeping for one mapped event; returns the event to report or None (suppressed)."""
        key = (ev.room, ev.member_id)
        a = ev.action
        if a == n.ADD_MEMBER and ev.unique_id in self._pending_wait:
            cmd = self._pending_wait.pop(ev.unique_id)
            w = _Waiting(ev.unique_id, tuple(cmd.wait_media), cmd.muted, enter=tuple(cmd.enter_media))
            self._waiting[key] = w
            if w.media:
                w.ref = render.media_ref(w.media)
                self._work.put(lambda k=key: self._play_wait(k))
        if a == n.ADD_MEMBER and ev.room in self._api_max_members:
            # the room now exists: set the limit its channel variable could not (render.MIN_MAX_MEMBERS_VAR)
            line = render.api("set_max_members", room=ev.room, value=self._api_max_members.pop(ev.room))
            self._work.put(lambda line=line: self._api(line, tolerate=True))
        if a == n.ADD_MEMBER and ev.room in self._coach:
            coach, coached = self._coach[ev.room]
            if ev.member_id not in (coach, coached):
                line = render.api("relate_nospeak", room=ev.room, member=coach, other=ev.member_id)
                self._work.put(lambda line=line: self._api(line, tolerate=True))
        if a == n.DEL_MEMBER:
            self._waiting.pop(key, None)
            self._loop_started.pop(key, None)
            self._held.discard(key)
            self._hold_media.pop(key, None)
            for k in [k for k in self._suppress if k[:2] == key]:
                del self._suppress[k]
            if ev.room in self._coach and self._coach[ev.room][0] == ev.member_id:
                del self._coach[ev.room]
        if a == n.CONFERENCE_DESTROY:
            self._coach.pop(ev.room, None)
            self._api_max_members.pop(ev.room, None)
            for k in [k for k in self._file_strings if k[0] == ev.room]:
                del self._file_strings[k]
        if a == n.PLAY_FILE_MEMBER_DONE:
            w = self._waiting.get(key)
            if w is not None and w.stale > 0:   # the end of a media _stop_media stopped
                w.stale -= 1
                return None
            if w is not None and w.enter_ref is not None and ev.file == w.enter_ref:
                self._work.put(lambda k=key, w=w: self._open_gate(k, w) if self._waiting.get(k) is w else None)
                return None
            if w is not None and w.ref is not None and ev.file == w.ref:
                self._loop_again(key, self._play_wait)
                return None
            if self._hold_media.get(key) == ev.file:
                if key in self._held:  # the hold media ended: loop it (commands.HoldMember: "in a loop")
                    self._loop_again(key, self._play_hold)
                else:  # unhold stopped it (finding 17)
                    del self._hold_media[key]
                return None
        sk = (ev.room, ev.member_id, a)
        if self._suppress.get(sk):
            self._suppress[sk] -= 1
            if not self._suppress[sk]:
                del self._suppress[sk]
            return None
        if a in (n.PLAY_FILE_DONE, n.PLAY_FILE_MEMBER_DONE) and ev.file is not None:
            last = self._file_strings.pop((ev.room, ev.file), None)
            if last is not None:
                ev = replace(ev, file=last)
        return ev

    def _loop_again(self, key: Tuple[str, int], play) -> None:
        """The looped wait or hold media of ``key`` ended: ``play(key)`` again — at once when the play lasted
        :data:`MIN_LOOP_S` or longer, else when MIN_LOOP_S has passed since it started (logged once per
        member: its media ends at once)."""
        started, warned = self._loop_started.get(key, (None, False))
        left = 0.0 if started is None else self.min_loop_s - (time.monotonic() - started)
        if left <= 0:
            self._work.put(lambda: play(key))
            return
        if not warned:
            self._loop_started[key] = (started, True)
            log.warning("looped media of member %s in %s ended after %.0f ms: playing it again every %.1f s",
                        key[1], key[0], (self.min_loop_s - left) * 1000, self.min_loop_s)
        self.call_later(left, lambda: self._work.put(lambda: play(key)))

    def _looping(self, key: Tuple[str, int]) -> None:
        """A looped media of ``key`` starts now (:meth:`_loop_again` measures from here)."""
        self._loop_started[key] = (time.monotonic(), self._loop_started.get(key, (0, False))[1])

    def _play_wait(self, key: Tuple[str, int]) -> None:
        w = self._waiting.get(key)
        if w is None or w.ref is None:
            return
        self._looping(key)
        try:
            self._api(render.api("play_member", room=key[0], media=w.ref, member=key[1]))
        except EngineError as exc:
            log.warning("wait media for %s: %s", key, exc)

    def _play_hold(self, key: Tuple[str, int]) -> None:
        ref = self._hold_media.get(key)
        if ref is None or key not in self._held:
            return
        self._looping(key)
        try:
            self._api(render.api("play_member", room=key[0], media=ref, member=key[1]))
        except EngineError as exc:
            log.warning("hold media for %s: %s", key, exc)


def _stopped(body: str) -> int:
    """How many files ``conference <room> stop all <id>`` stopped ("+OK Stopped 1 files." — fixtures
    conference_lifecycle); 0 when unreadable."""
    words = body.split()
    if len(words) >= 3 and words[0] == "+OK" and words[1] == "Stopped" and words[2].isdigit():
        return int(words[2])
    return 0
