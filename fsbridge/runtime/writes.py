"""REST writes of the bridge (:class:`WritesMixin` of :class:`~fsbridge.runtime.core.BridgeCore`): a domain
intent, its engine commands, and the wait (bounded) for the engine's confirming events; and the per-target
ordering of those commands sent outside the domain lock (issue 21).

A REST write decides its commands under the bridge's domain lock, then sends them to the engine — one ESL
``api`` round trip each on FreeSWITCH — *after* releasing it, so writes to different participants no longer
queue behind each other's FreeSWITCH replies. Writes to the same target must still reach the engine in the
order the domain decided them (mute then unmute of one member): :meth:`CommandOrder.enter`, called under the
domain lock, hands out a :class:`Turn` that waits for the previous turns on the same targets (room, member id;
room-level commands: member None).
"""
from __future__ import annotations

import logging
import time
from typing import Dict, Iterable, Optional, Tuple

import gevent.event

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.conference.state import Outcome
from fsbridge.engines.base import EngineUnavailable

log = logging.getLogger("fsbridge.runtime.bridge")

#: command type → the native action that confirms it (None member = room-level)
_CONFIRMS = {
    C.MuteMember: N.MUTE_MEMBER,
    C.UnmuteMember: N.UNMUTE_MEMBER,
    C.HoldMember: N.HOLD_MEMBER,
    C.UnholdMember: N.UNHOLD_MEMBER,
    C.KickMember: N.DEL_MEMBER,
    C.EndConference: N.CONFERENCE_DESTROY,
    C.StartRecording: N.START_RECORDING,
    C.PauseRecording: N.PAUSE_RECORDING,
    C.ResumeRecording: N.RESUME_RECORDING,
    C.StopRecording: N.STOP_RECORDING,
}

Target = Tuple[Optional[str], Optional[int]]


class Turn:
    """One write's place in line: :meth:`wait` until earlier writes to its targets were sent, then send,
    then :meth:`done` (always, also on failure)."""

    def __init__(self, order: "CommandOrder", targets, before, mine: gevent.event.Event):
        self._order, self._targets, self._before, self._mine = order, targets, before, mine

    def wait(self, timeout: Optional[float] = None) -> None:
        """Block until every earlier turn on the same targets is done (each waited at most ``timeout`` s)."""
        for ev in self._before:
            ev.wait(timeout)

    def done(self) -> None:
        """Let the next turn on these targets go (idempotent)."""
        self._mine.set()
        for t in self._targets:
            if self._order._last.get(t) is self._mine:
                del self._order._last[t]


class CommandOrder:
    """FIFO per target of the writes whose commands are on their way to the engine."""

    def __init__(self):
        self._last: Dict[Target, gevent.event.Event] = {}

    def enter(self, commands: Iterable) -> Turn:
        """A turn for ``commands`` (objects with ``room`` and optionally ``member_id``); call under the domain
        lock, so turns follow the domain's order."""
        targets = {(getattr(c, "room", None), getattr(c, "member_id", None)) for c in commands}
        before = [self._last[t] for t in targets if t in self._last]
        mine = gevent.event.Event()
        for t in targets:
            self._last[t] = mine
        return Turn(self, targets, before, mine)

    def __len__(self) -> int:
        return len(self._last)


class WritesMixin:
    """Confirmations and REST intents (state: ``_waiters``, ``_order``, ``_lock``, set up by BridgeCore)."""

    # ------------------------------------------------------------------ confirmations
    def _expect(self, cmd) -> Optional[Tuple[tuple, gevent.event.Event]]:
        action = _CONFIRMS.get(type(cmd))
        if action is None:
            return None
        key = (cmd.room, action, getattr(cmd, "member_id", None))
        ev = gevent.event.Event()
        self._waiters.setdefault(key, []).append(ev)
        return key, ev

    def _resolve(self, event) -> None:
        for key in ((event.room, event.action, event.member_id), (event.room, event.action, None)):
            for w in self._waiters.pop(key, ()):
                w.set()
        if event.action == N.CONFERENCE_DESTROY:   # an ended room confirms everything still waited on in it
            for key in [k for k in self._waiters if k[0] == event.room]:
                for w in self._waiters.pop(key, ()):
                    w.set()

    def _intent(self, fn, *args, **kw) -> Outcome:
        """Run a domain intent, send its commands, wait (bounded) for the confirming engine events.

        The intent and its events run under the domain lock; the commands are sent after it is released
        (issue 21: a FreeSWITCH ``api`` round trip per command no longer holds every other write and every
        engine event up), in the domain's order per target (:mod:`.ordering`)."""
        if not self.engine_available():
            raise EngineUnavailable("the engine is not reachable")
        with self._lock:
            outcome = fn(*args, **kw)
            waiters = [w for w in (self._expect(c) for c in outcome.commands) if w is not None]
            self._publish(outcome.events)
            turn = self._order.enter(outcome.commands) if outcome.commands else None
        if turn is not None:
            try:
                turn.wait(self.confirm_timeout_s)
                self._execute(outcome.commands, raise_unavailable=True)
            except EngineUnavailable:
                self._drop_waiters(waiters)
                raise
            finally:
                turn.done()
        deadline = time.monotonic() + self.confirm_timeout_s
        for _, w in waiters:
            if not w.wait(max(0.0, deadline - time.monotonic())):
                log.warning("%s: no confirming engine event within %.1f s", getattr(fn, "__name__", fn),
                            self.confirm_timeout_s)
                break
        self._drop_waiters(waiters)
        return outcome

    def _drop_waiters(self, waiters) -> None:
        """Forget ``waiters`` ((key, event) pairs from :meth:`_expect`): only their own keys are visited, not
        every write's in flight (issue 21)."""
        for key, w in waiters:
            pending = self._waiters.get(key)
            if pending is None:   # resolved: _resolve popped the key
                continue
            pending[:] = [x for x in pending if x is not w]
            if not pending:
                del self._waiters[key]



__all__ = ["CommandOrder", "Turn", "WritesMixin"]
