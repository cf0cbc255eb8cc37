"""Timers in engine time for the standalone engine (Twilio TwiML Dial ``timeLimit``, counted in the call's
own seconds — also when the clock runs faster than real time).

:class:`TimerClock` is the standalone engine's :class:`~fsbridge.engines.standalone.clock.Clock` plus
``call_later(seconds, fn)``: due callbacks are spawned (each in its own greenlet, never inside the mixing
code) right after the tick that reaches their time. :meth:`StandaloneEngine.call_later` (the engine contract's
timer, used by the runtime) uses it when the engine's clock is one, and a gevent timer otherwise.
"""
from __future__ import annotations

import heapq
import itertools
import math
from typing import Callable, List, Optional, Tuple

import gevent

from .clock import Clock


class TimerHandle:
    """A scheduled callback; :meth:`cancel` prevents it from running (idempotent)."""

    __slots__ = ("cancelled",)

    def __init__(self):
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback."""
        self.cancelled = True


class TimerClock(Clock):
    """A :class:`Clock` (same arguments: ``speed`` 1.0 real time / N× / None as fast as possible) with
    engine-time timers."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._timers: List[Tuple[int, int, TimerHandle, Callable[[], None]]] = []
        self._seq = itertools.count()

    def call_later(self, seconds: float, fn: Callable[[], None]) -> TimerHandle:
        """Run ``fn()`` (in a new greenlet) once ``seconds`` of engine time have passed; returns a handle."""
        due = self.ticks + max(1, int(math.ceil(float(seconds) * 1000 / self.frame_ms)))
        handle = TimerHandle()
        if len(self._timers) > 4096:   # drop cancelled timers (e.g. Dial timeLimit of calls that left early)
            self._timers = [t for t in self._timers if not t[2].cancelled]
            heapq.heapify(self._timers)
        heapq.heappush(self._timers, (due, next(self._seq), handle, fn))
        return handle

    def _fire_due(self, now_ticks: int) -> None:
        """Spawn every timer due at or before tick ``now_ticks``."""
        while self._timers and self._timers[0][0] <= now_ticks:
            _, _, handle, fn = heapq.heappop(self._timers)
            if not handle.cancelled:
                gevent.spawn(fn)

    def run(self, tick: Callable[[], None], until: Optional[Callable[[], bool]] = None,
            max_ticks: Optional[int] = None) -> None:
        """:meth:`Clock.run`, firing due timers between ticks."""

        def tick_and_fire():
            tick()
            # Clock.run counts this tick after tick() returns: timers due at ticks + 1 fire now.
            self._fire_due(self.ticks + 1)

        super().run(tick_and_fire, until, max_ticks)
