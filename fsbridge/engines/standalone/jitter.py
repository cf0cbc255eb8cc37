"""Per-participant jitter buffer (Twilio ``jitterBufferSize``: off / small 20 / medium 40 / large 60 ms).

Fixed-delay playout: the first packet seen fixes the schedule — a packet with media timestamp ``ts`` is
played at ``ts + offset`` where ``offset = first_seen_ms + size_ms − first_ts``. Each ``pop(now)`` plays the
frame due now:

* present → played (packets that arrived out of order are reordered by timestamp);
* missing → **concealed**: the last frame repeated, its amplitude halved each frame, for up to ``max_conceal`` frames
  (packet-loss concealment), then silence;
* a packet arriving after its slot was played is **late** and dropped; duplicates are dropped.

``size_ms=None`` or 0 (``off``) adds no delay: a packet is played the tick it is first seen, so any packet
delayed more than the first one is late and dropped (Twilio: "packets with relatively low jitter (≤20 ms)
will be completely dropped, but Twilio will add no extra latency").
"""
from __future__ import annotations

from collections import deque
from typing import Deque, Dict, Optional

import numpy as np

SIZES = {"off": None, "small": 20, "medium": 40, "large": 60}
_ZEROS: Dict[int, np.ndarray] = {}


def _zero_frame(frame_len: int) -> np.ndarray:
    """A read-only int16 frame of silence, shared by every buffer of that frame length."""
    z = _ZEROS.get(frame_len)
    if z is None:
        z = _ZEROS[frame_len] = np.zeros(frame_len, np.int16)
        z.setflags(write=False)
    return z


class JitterBuffer:
    """Jitter buffer for one participant.

    ``size_ms``: None/0 (off), 20, 40, 60 (any multiple of ``frame_ms`` works); ``frame_ms``: 20;
    ``frame_len``: samples per frame (320 at 16 kHz); ``max_conceal``: frames of concealment before silence.
    Stats: ``received``, ``played``, ``late``, ``duplicates``, ``concealed``, ``delays_ms`` (time each played
    packet spent in the buffer, ms: the last ``delay_history`` of them, all when None — a long call's
    history would otherwise grow without bound), ``last_played_ts``. Arrival quality (issue 22, Insights
    metrics): ``jitter_ms`` (RFC 3550 interarrival jitter estimate, ms: J += (|D| − J)/16 over the transit
    differences D), ``jitter_max_ms``, ``jitter_avg_ms`` (mean of the estimate over the packets),
    ``transit_avg_ms`` / ``transit_max_ms`` (arrival − media timestamp: the one-way network latency, ms).
    """

    def __init__(self, size_ms: Optional[int], frame_ms: int = 20, frame_len: int = 320, max_conceal: int = 2,
                 max_packets: int = 200, delay_history: Optional[int] = 64):
        self.size_ms = int(size_ms or 0)
        self.frame_ms = frame_ms
        self.frame_len = frame_len
        self.max_conceal = max_conceal
        self.max_packets = max_packets
        self._packets: Dict[int, tuple] = {}
        self._offset: Optional[int] = None
        self._next_ts: Optional[int] = None
        self._last: Optional[np.ndarray] = None
        self._conceal_run = 0
        self._zero = _zero_frame(frame_len)
        self.received = self.played = self.late = self.duplicates = self.concealed = 0
        self.delays_ms: Deque[float] = deque(maxlen=delay_history)
        self.last_played_ts: Optional[int] = None   # media timestamp (ms) of the last packet played
        self.jitter_ms = self.jitter_max_ms = 0.0
        self._transit: Optional[float] = None
        self._jitter_sum = self._transit_sum = self.transit_max_ms = 0.0

    def push(self, seq: int, timestamp_ms: int, payload: np.ndarray, now_ms: float) -> bool:
        """A packet seen at ``now_ms``; False if dropped (late or duplicate)."""
        self.received += 1
        transit = now_ms - timestamp_ms   # RFC 3550 §6.4.1 interarrival jitter (issue 22 quality metrics)
        if self._transit is not None:
            self.jitter_ms += (abs(transit - self._transit) - self.jitter_ms) / 16.0
            if self.jitter_ms > self.jitter_max_ms:
                self.jitter_max_ms = self.jitter_ms
        self._transit = transit
        self._jitter_sum += self.jitter_ms
        self._transit_sum += transit
        if transit > self.transit_max_ms:
            self.transit_max_ms = transit
        if self._offset is None:
            self._offset = int(now_ms) + self.size_ms - timestamp_ms
            self._next_ts = timestamp_ms
        if timestamp_ms < self._next_ts:
            self.late += 1
            return False
        if timestamp_ms in self._packets:
            self.duplicates += 1
            return False
        if len(self._packets) >= self.max_packets:   # far too early / stuck: drop the oldest
            del self._packets[min(self._packets)]
        self._packets[timestamp_ms] = (payload, now_ms)
        return True

    def pop(self, now_ms: float) -> np.ndarray:
        """The int16 frame ``(frame_len,)`` due at ``now_ms`` (payload, concealment or silence)."""
        if self._offset is None or self._next_ts + self._offset > now_ms:
            return self._zero
        ts = self._next_ts
        if ts + self.frame_ms + self._offset > now_ms:   # the usual case: exactly one slot due
            item = self._packets.pop(ts, None)
            if item is not None:
                self._next_ts = ts + self.frame_ms
                self.played += 1
                self.delays_ms.append(now_ms - item[1])
                self.last_played_ts = ts
                self._last = out = item[0]
                self._conceal_run = 0
                return out
        out = self._zero
        # Otherwise: a lost slot, or ticks were skipped (catch up).
        while self._next_ts + self._offset <= now_ms:
            ts = self._next_ts
            self._next_ts += self.frame_ms
            item = self._packets.pop(ts, None)
            if item is not None:
                out = item[0]
                self.played += 1
                self.delays_ms.append(now_ms - item[1])
                self.last_played_ts = ts
                self._last = out
                self._conceal_run = 0
            elif self._last is not None and self._conceal_run < self.max_conceal:
                self._conceal_run += 1
                self.concealed += 1
                out = (self._last.astype(np.int32) >> self._conceal_run).astype(np.int16)
            else:
                out = self._zero
        return out

    def empty(self) -> bool:
        """True when no packet waits in the buffer."""
        return not self._packets

    @property
    def jitter_avg_ms(self) -> float:
        """Mean of the interarrival jitter estimate over the packets received (ms)."""
        return self._jitter_sum / self.received if self.received else 0.0

    @property
    def transit_avg_ms(self) -> float:
        """Mean arrival − media timestamp over the packets received (ms): the one-way latency."""
        return self._transit_sum / self.received if self.received else 0.0

    @property
    def late_loss(self) -> float:
        """Fraction of received packets dropped as late (0–1)."""
        return self.late / self.received if self.received else 0.0
