"""Talk detection (start-talking / stop-talking), as FreeSWITCH mod_conference does it, plus webrtcvad.

FreeSWITCH 1.10 ``conference_loop.c`` ``conference_loop_input`` (per member, per 20 ms frame):

* ``score`` = mean |sample| of the frame (``energy / samples``); ``score_iir`` = 0.2·score + 0.8·score_iir
  (``SCORE_DECAY`` 0.8; FreeSWITCH uses it for the floor, we expose it too);
* gate open when ``score > energy_level`` (profile ``energy-level``, default 100);
* gate open: ``hangover_hits`` −1 (floor 0); if ``score − energy_level ≥ diff_level`` (400) or
  ``++hangunder_hits ≥ hangunder`` (5) → counters reset, and if not talking → **start-talking**;
* gate closed: ``hangunder_hits`` −1 (floor 0); if talking and ``++hangover_hits ≥ hangover`` (40) →
  counters reset, **stop-talking** (FreeSWITCH adds ``talking-duration-ms``);
* nothing is computed for a member that cannot speak (muted) — our engine also skips held members; the
  state is reset without an event (FreeSWITCH: muting a talker emits no stop-talking, fixture note 21).

Three interfaces over one algorithm:

* :class:`TalkDetectorBank` — vectorised over all member slots of a room (the standalone engine);
* :class:`FsTalkDetector` — one member, frame by frame (``update(frame) -> TalkEvent | None``);
* :class:`~fsbridge.engines.talk.TalkDebouncer` (in ``engines/talk.py``, shared) — engine-agnostic, **time based**: feed raw on/off observations (e.g. FreeSWITCH's
  own start-talking/stop-talking events, or a VAD's per-frame verdicts) and get debounced start/stop
  events, so both engines emit the same speaker events. API::

      d = TalkDebouncer(start_ms=0, stop_ms=300)   # FreeSWITCH events are already debounced 5/40 frames
      d.observe(True, t_ms)   -> [TalkEvent('start', t_ms, 0)] once 'on' held start_ms
      d.observe(False, t_ms)  -> [] (a stop is pending until stop_ms of continuous 'off')
      d.poll(t_ms)            -> [TalkEvent('stop', t, duration_ms)] when the hangover elapsed
      d.pending               -> True while a stop is undecided (keep calling poll)
      d.reset()               -> forget state without events (mute / hold / leave)

  ``t_ms`` is any monotonic millisecond clock (FreeSWITCH ``Event-Date-Timestamp``/1000 works).
  A stop followed by a start within ``stop_ms`` is merged (no stop, no second start).

``webrtcvad`` mode (package ``webrtcvad-wheels``): the gate is ``Vad(mode).is_speech(frame)`` instead of the
energy test; the 5/40 frame debounce is the same.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from fsbridge.engines.talk import TalkDebouncer, TalkEvent  # noqa: F401 - shared with the FreeSWITCH engine

SCORE_DECAY = 0.8          # conference_loop.c SCORE_DECAY
SCORE_MAX_IIR = 25000      # mod_conference.h SCORE_MAX_IIR
DEFAULT_ENERGY_LEVEL = 100  # vanilla conference.conf.xml energy-level
HANGUNDER = 5              # gated frames before start-talking
HANGOVER = 40              # closed frames before stop-talking
DIFF_LEVEL = 400           # score - energy_level that starts talking at once



def frame_scores(frames: np.ndarray) -> np.ndarray:
    """FreeSWITCH score per frame: mean |sample| (integer division), int32 ``(n,)`` for int16 ``(n, F)``."""
    return (np.abs(frames.astype(np.int32)).sum(axis=1) // frames.shape[1]).astype(np.int32)


class TalkDetectorBank:
    """FreeSWITCH talk detection for ``capacity`` member slots at once (vectorised numpy).

    ``energy_level``: gate threshold on the mean |sample| (int16 units; 100 ≈ −50 dBFS);
    ``hangunder``/``hangover``: frames to start/stop (5/40 = 100/800 ms at 20 ms frames);
    ``diff_level``: jump that starts at once; ``mode``: ``"energy"`` (FreeSWITCH) or ``"webrtcvad"``
    (``vad_mode`` 0–3 aggressiveness; needs ``rate`` in 8000/16000/32000/48000).
    ``auto_factor`` (energy mode, default None = off, pure FreeSWITCH): an fsbridge extension for noisy
    lines — each slot's threshold becomes ``max(energy_level, auto_factor × noise floor)``, the floor being
    a per-slot running minimum of the score that falls at once and rises 0.2 % a frame (≈ 10 %/s).
    """

    def __init__(self, capacity: int = 8, energy_level: int = DEFAULT_ENERGY_LEVEL, hangunder: int = HANGUNDER,
                 hangover: int = HANGOVER, diff_level: int = DIFF_LEVEL, mode: str = "energy",
                 vad_mode: int = 2, rate: int = 16000, auto_factor: Optional[float] = None):
        self.energy_level = energy_level
        self.auto_factor = auto_factor
        self.hangunder = hangunder
        self.hangover = hangover
        self.diff_level = diff_level
        self.mode = mode
        self.rate = rate
        self._vads: List = []
        self.vad_mode = vad_mode
        if mode not in ("energy", "webrtcvad"):
            raise ValueError(f"unknown talk detection mode {mode!r}")
        if mode == "webrtcvad":
            import webrtcvad  # noqa: F401  (fail early if missing)
        self.capacity = 0
        self.score_iir = np.zeros(0, np.int32)
        self.under = np.zeros(0, np.int32)
        self.over = np.zeros(0, np.int32)
        self.talking = np.zeros(0, bool)
        self.start_frame = np.zeros(0, np.int64)
        self.floor = np.zeros(0, np.float64)
        self.grow(capacity)

    def grow(self, capacity: int) -> None:
        """Enlarge to ``capacity`` slots (state of existing slots kept)."""
        if capacity <= self.capacity:
            return
        extra = capacity - self.capacity
        self.score_iir = np.concatenate([self.score_iir, np.zeros(extra, np.int32)])
        self.under = np.concatenate([self.under, np.zeros(extra, np.int32)])
        self.over = np.concatenate([self.over, np.zeros(extra, np.int32)])
        self.talking = np.concatenate([self.talking, np.zeros(extra, bool)])
        self.start_frame = np.concatenate([self.start_frame, np.zeros(extra, np.int64)])
        self.floor = np.concatenate([self.floor, np.full(extra, -1.0)])
        if self.mode == "webrtcvad":
            import webrtcvad
            self._vads += [webrtcvad.Vad(self.vad_mode) for _ in range(extra)]
        self.capacity = capacity

    def reset(self, slots) -> None:
        """Forget the state of ``slots`` (int index or array) without any event (mute/hold/leave)."""
        self.score_iir[slots] = 0
        self.under[slots] = 0
        self.over[slots] = 0
        self.talking[slots] = False
        self.floor[slots] = -1.0

    def thresholds(self, scores: np.ndarray) -> np.ndarray:
        """Per-slot energy thresholds for this frame (``energy_level``, or the auto level; updates the floor)."""
        if self.auto_factor is None:
            return np.full(scores.shape, self.energy_level)
        fresh = self.floor < 0
        self.floor = np.where(fresh | (scores < self.floor), scores, self.floor * 1.002)
        return np.maximum(self.energy_level, (self.auto_factor * self.floor).astype(np.int64))

    def gate(self, frames: np.ndarray, active: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Per-slot gate for one frame: returns ``(gated bool (n,), big_jump bool (n,))``."""
        scores = frame_scores(frames)
        iir = ((1.0 - SCORE_DECAY) * scores + SCORE_DECAY * self.score_iir).astype(np.int32)
        self.score_iir = np.minimum(iir, SCORE_MAX_IIR)
        if self.mode == "energy":
            level = self.thresholds(scores)
            gated = scores > level
            big = gated & ((scores - level) >= self.diff_level)
            return gated & active, big & active
        gated = np.zeros(frames.shape[0], bool)
        for i in np.flatnonzero(active):
            gated[i] = self._vads[i].is_speech(frames[i].tobytes(), self.rate)
        return gated, np.zeros_like(gated)

    def update(self, frames: np.ndarray, active: np.ndarray, frame_index: int,
               frame_ms: int = 20) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Process one frame for every slot.

        ``frames`` int16 ``(capacity, F)``; ``active`` bool ``(capacity,)`` (a member that can speak and
        is not held; inactive slots are reset silently); ``frame_index``: the engine tick (for durations).
        Returns ``(started, stopped, duration_ms)``: slot indices (int arrays) that started/stopped
        talking on this frame, and the talk duration (ms) of each stopped slot.
        """
        inactive = ~active & (self.talking | (self.under > 0) | (self.over > 0))
        if inactive.any():
            self.reset(inactive)
        gated, big = self.gate(frames, active)
        closed = active & ~gated
        # gate open
        self.over = np.where(gated, np.maximum(self.over - 1, 0), self.over)
        self.under = np.where(gated, self.under + 1, self.under)
        fire = gated & (big | (self.under >= self.hangunder))
        self.under[fire] = 0
        self.over[fire] = 0
        started = np.flatnonzero(fire & ~self.talking)
        self.talking[started] = True
        self.start_frame[started] = frame_index
        # gate closed
        self.under = np.where(closed, np.maximum(self.under - 1, 0), self.under)
        self.over = np.where(closed & self.talking, self.over + 1, self.over)
        stop = closed & self.talking & (self.over >= self.hangover)
        stopped = np.flatnonzero(stop)
        self.over[stopped] = 0
        self.under[stopped] = 0
        self.talking[stopped] = False
        dur = ((frame_index - self.start_frame[stopped]) * frame_ms).astype(np.int64)
        return started, stopped, dur


class FsTalkDetector:
    """One member's FreeSWITCH talk detector, frame by frame (same algorithm as :class:`TalkDetectorBank`).

    ``update(frame int16 (F,), can_speak=True) -> TalkEvent | None`` with ``t_ms`` = frame count × 20.
    """

    def __init__(self, **kw):
        self.bank = TalkDetectorBank(capacity=1, **kw)
        self.frames = 0

    @property
    def talking(self) -> bool:
        """True while the member is considered talking."""
        return bool(self.bank.talking[0])

    def update(self, frame: np.ndarray, can_speak: bool = True) -> Optional[TalkEvent]:
        """Feed one frame; returns the start/stop event decided on it, if any."""
        self.frames += 1
        started, stopped, dur = self.bank.update(frame[None, :], np.array([can_speak]), self.frames)
        if started.size:
            return TalkEvent("start", self.frames * 20)
        if stopped.size:
            return TalkEvent("stop", self.frames * 20, int(dur[0]))
        return None
