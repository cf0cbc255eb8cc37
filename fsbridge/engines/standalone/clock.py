"""The engine clock: 20 ms ticks, real time or simulated, one code path.

Engine time is always **tick-counted**: ``now_ms = ticks × frame_ms`` and
``epoch_us = start_epoch_us + now_ms × 1000``. Only the *pacing* differs:

* ``Clock(speed=1.0)`` — real time: tick k is run at wall time ``t0 + k × 20 ms`` (absolute deadlines,
  so there is no drift: a late tick is followed by shorter sleeps, never by a shifted schedule);
* ``Clock(speed=N)`` — simulated N× faster than real time (deadlines ``t0 + k × 20 ms / N``);
* ``Clock(speed=None)`` — simulated as fast as possible (``gevent.sleep(0)`` between ticks so other
  greenlets — call scripts, HTTP — still run).

A late loop (machine overloaded) catches up by skipping the waits, never by dropping ticks.

Simulated clocks can be **held**: while ``hold()`` is in force (``with clock.held(): ...``), the loop does not
tick (it polls every ``hold_poll_s`` of wall time) — e.g. while the runtime waits for a TwiML fetch, so a
fast clock does not run a caller's audio out meanwhile. After a hold the schedule restarts from the current
wall time. A real-time clock (``speed == 1.0``) ignores holds.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import gevent


class Clock:
    """Tick source for :class:`~fsbridge.engines.standalone.engine.StandaloneEngine`.

    ``speed``: 1.0 real time, N > 0 simulated N× real time, None as fast as possible.
    ``frame_ms``: tick length (ms, default 20). ``start_epoch``: epoch seconds of tick 0 (default:
    ``time.time()`` at construction) — a simulated clock reports ``start_epoch + simulated time``.
    """

    def __init__(self, speed: Optional[float] = 1.0, frame_ms: int = 20, start_epoch: Optional[float] = None):
        if speed is not None and speed <= 0:
            raise ValueError("speed must be > 0 or None")
        self.speed = speed
        self.frame_ms = frame_ms
        self.start_epoch_us = int((time.time() if start_epoch is None else start_epoch) * 1_000_000)
        self.ticks = 0
        self._running = False
        self._holds = 0
        self.hold_poll_s = 0.002

    def hold(self) -> None:
        """Stop simulated time from advancing until the matching :meth:`release` (nestable)."""
        self._holds += 1

    def release(self) -> None:
        """Undo one :meth:`hold`."""
        self._holds = max(0, self._holds - 1)

    @contextmanager
    def held(self) -> Iterator[None]:
        """``with clock.held(): ...`` — simulated time stands still inside the block."""
        self.hold()
        try:
            yield
        finally:
            self.release()

    @property
    def now_ms(self) -> int:
        """Engine time since tick 0, ms."""
        return self.ticks * self.frame_ms

    @property
    def now_s(self) -> float:
        """Engine time since tick 0, seconds."""
        return self.ticks * self.frame_ms / 1000.0

    def epoch_us(self) -> int:
        """Engine time as µs since the Unix epoch (FreeSWITCH ``Event-Date-Timestamp``)."""
        return self.start_epoch_us + self.ticks * self.frame_ms * 1000

    def run(self, tick: Callable[[], None], until: Optional[Callable[[], bool]] = None,
            max_ticks: Optional[int] = None) -> None:
        """Call ``tick()`` once per frame until :meth:`stop`, ``until()`` is true or ``max_ticks`` ran.
        Each call advances :attr:`ticks` by one after ``tick()`` returns."""
        self._running = True
        period = None if self.speed is None else self.frame_ms / 1000.0 / self.speed
        t0 = time.monotonic()
        k = 0
        while self._running and (max_ticks is None or k < max_ticks):
            if until is not None and until():
                break
            if self._holds and self.speed != 1.0:
                while self._holds and self._running:
                    gevent.sleep(self.hold_poll_s)
                t0, k0 = time.monotonic(), k   # restart the schedule after the hold
                if period is not None:
                    t0 -= k0 * period
                continue
            tick()
            self.ticks += 1
            k += 1
            if period is None:
                gevent.sleep(0)
            else:
                delay = t0 + k * period - time.monotonic()
                gevent.sleep(delay if delay > 0 else 0)
        self._running = False

    def stop(self) -> None:
        """Make :meth:`run` return after the current tick."""
        self._running = False


def RealClock(**kw) -> Clock:
    """A real-time clock (``Clock(speed=1.0)``)."""
    return Clock(speed=1.0, **kw)


def SimClock(speed: Optional[float] = None, **kw) -> Clock:
    """A simulated clock: ``speed`` × real time, or as fast as possible when None (tests)."""
    return Clock(speed=speed, **kw)
