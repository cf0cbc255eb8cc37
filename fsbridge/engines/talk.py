"""Talk debouncing shared by both engines (standalone and FreeSWITCH), so that both emit the same speaker
events: :class:`TalkDebouncer` turns raw on/off talk observations (FreeSWITCH's own start-talking /
stop-talking, or a VAD's per-frame verdicts) into debounced start/stop :class:`TalkEvent`s. The algorithm and
its API are described in :mod:`fsbridge.engines.standalone.talk` (the FreeSWITCH ``conference_loop.c``
detector that feeds it in the standalone engine).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional


@dataclass(frozen=True)
class TalkEvent:
    """A debounced talk transition: ``kind`` 'start'|'stop'; ``t_ms`` when it was decided (ms, the
    caller's clock); ``duration_ms`` for 'stop' = stop time − start time (includes the hangover)."""

    kind: str
    t_ms: int
    duration_ms: int = 0


class TalkDebouncer:
    """Engine-agnostic, time-based debouncer of raw talk observations (see the module docstring).

    ``start_ms``: an 'on' observation must persist this long before 'start' (0 = immediately);
    ``stop_ms``: an 'off' must persist this long before 'stop' (the hangover; also merges a stop and a
    quick restart). All times in ms on the caller's monotonic clock.
    """

    def __init__(self, start_ms: int = 100, stop_ms: int = 800):
        self.start_ms = start_ms
        self.stop_ms = stop_ms
        self.talking = False
        self._raw = False
        self._since: Optional[int] = None   # time the current raw state began
        self._start_t = 0

    def observe(self, on: bool, t_ms: int) -> List[TalkEvent]:
        """A raw observation at ``t_ms`` (True = talking). Returns events decided up to ``t_ms``."""
        out = self.poll(t_ms)
        if on != self._raw or self._since is None:
            self._raw = on
            self._since = t_ms
        out += self.poll(t_ms)
        return out

    def poll(self, t_ms: int) -> List[TalkEvent]:
        """Events whose delay elapsed by ``t_ms`` (call it from a timer, e.g. every 20–100 ms)."""
        if self._since is None:
            return []
        if self._raw and not self.talking and t_ms - self._since >= self.start_ms:
            self.talking = True
            self._start_t = self._since + self.start_ms
            return [TalkEvent("start", self._start_t)]
        if not self._raw and self.talking and t_ms - self._since >= self.stop_ms:
            self.talking = False
            t = self._since + self.stop_ms
            return [TalkEvent("stop", t, t - self._start_t)]
        return []

    @property
    def pending(self) -> bool:
        """True while a stop is undecided (talking, raw 'off' seen, hangover running): keep polling."""
        return self.talking and not self._raw

    def reset(self) -> None:
        """Drop all state without an event (member muted, held or gone)."""
        self.talking = False
        self._raw = False
        self._since = None
