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



def frame_scores(frames: np.ndarray, scratch: Optional[np.ndarray] = None) -> np.ndarray:
    """FreeSWITCH score per frame: mean |sample| (integer division), int32 ``(n,)`` for int16 ``(n, F)``.

    Stays in 16 bits: ``|x|`` of int16 wraps only for −32768, which read as uint16 is 32768 again, so the
    sum over the uint16 view is exact. ``scratch``: an int16 array of ``frames``' shape to reuse (no
    temporary per call), or None."""
    if frames.dtype != np.int16:
        return (np.abs(frames.astype(np.int32)).sum(axis=1) // frames.shape[1]).astype(np.int32)
    if scratch is None or scratch.shape != frames.shape:
        scratch = np.empty(frames.shape, np.int16)
    np.abs(frames, out=scratch)
    return (np.einsum("ij->i", scratch.view(np.uint16), dtype=np.int64) // frames.shape[1]).astype(np.int32)


class TalkDetectorBank:
    """FreeSWITCH talk detection for ``capacity`` member slots at once (vectorised numpy).

    ``energy_level``: gate threshold on the mean |sample| (int16 units; 100 ≈ −50 dBFS);
    ``hangunder``/``hangover``: frames to start/stop (5/40 = 100/800 ms at 20 ms frames);
    ``diff_level``: jump that starts at once; ``mode``: ``"energy"`` (FreeSWITCH) or ``"webrtcvad"``
    (``vad_mode`` 0–3 aggressiveness; needs ``rate`` in 8000/16000/32000/48000).
    ``auto_factor`` (energy mode, default None = off, pure FreeSWITCH): the fsbridge *auto level* for noisy
    lines (see :class:`AutoLevel`): the gate is the frame's telephone-band level against the slot's own
    tracked noise level, ``auto_factor`` noise deviations above it; talking starts on the first such
    frame (the noise estimate already rejects its peaks) and stops after ``hangover`` frames, as in
    FreeSWITCH; a frame whose FreeSWITCH score is not above ``energy_level`` never counts as speech (the
    auto level only raises the threshold). ``auto_band``: the auto level's band-pass ``(low_hz, high_hz)``
    (default 300–3400 Hz; ``ValueError`` unless 0 < low < high; high is capped at 0.9 × Nyquist).
    Measured in ``bench/talk.py`` (bench/README.md).
    """

    def __init__(self, capacity: int = 8, energy_level: int = DEFAULT_ENERGY_LEVEL, hangunder: int = HANGUNDER,
                 hangover: int = HANGOVER, diff_level: int = DIFF_LEVEL, mode: str = "energy",
                 vad_mode: int = 2, rate: int = 16000, auto_factor: Optional[float] = None,
                 auto_band: Tuple[float, float] = (300.0, 3400.0)):
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
        self._auto = (AutoLevel(auto_factor, rate, auto_band) if (auto_factor is not None and mode == "energy")
                      else None)
        self._scratch = np.zeros((0, 0), np.int16)
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
        if self._auto is not None:
            self._auto.grow(capacity)
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
        if self._auto is not None:
            self._auto.reset(slots)

    def gate(self, frames: np.ndarray, active: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Per-slot gate for one frame: returns ``(gated bool (n,), big_jump bool (n,))``."""
        if self._scratch.shape != frames.shape:
            self._scratch = np.empty(frames.shape, np.int16)
        scores = frame_scores(frames, self._scratch)
        iir = ((1.0 - SCORE_DECAY) * scores + SCORE_DECAY * self.score_iir).astype(np.int32)
        self.score_iir = np.minimum(iir, SCORE_MAX_IIR)
        if self._auto is not None:   # the auto level, never below FreeSWITCH's level
            gated, big = self._auto.gate(frames, self.talking)
            loud = scores > self.energy_level
            return gated & loud & active, big & loud & active
        if self.mode == "energy":
            level = self.energy_level
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


class AutoLevel:
    """The fsbridge auto level (``TalkDetectorBank(auto_factor=…)``), per slot, vectorised.

    FreeSWITCH gates on ``mean |sample| > energy-level`` with a fixed level (default 100), so a line whose
    noise scores above the level "talks" forever, and one set for a loud line misses a quiet talker. Here:

    * **score**: the frame's level in dB, ``20·log10(mean |y| + 1)``, of ``y`` = the frame band-passed to
      ``band`` (default the telephone band 300–3400 Hz; 4th-order Butterworth, filter state kept per slot):
      speech lives there, while much of white/pink noise, hum and music bass does not. When the band fits
      under 0.9 × a quarter of the rate (16 kHz and up) the filter runs at half the rate on the mean of
      sample pairs (halves the CPU: ≈ 2 µs instead of ≈ 4 µs per member per tick; the bench's worst-case
      F1 and latency are unchanged over seeds 1–10);
    * **noise level**: per slot, an exponential average ``mu`` of the score (dB) and of its absolute
      deviation ``dev``, updated with weight 0.03 a frame while the slot is not talking and 0.002 while it
      is (so a noise that rises during talk is learnt, slowly, and talk always ends); a fresh slot starts
      from its first frame with ``dev`` 6 dB;
    * **gate**: not talking — ``score ≥ mu + max(2 dB, factor·dev)`` (before the update), and such a frame
      starts talking at once (returned as a "big jump"); talking — ``score ≥ mu + max(1.5 dB, 1.0·dev)``
      keeps it (a closed frame counts towards the hangover).

    Tuned on seeds 1–5 of ``bench/talk.py`` (white, pink, babble, hold music at 10 dB SNR), checked on 6–10.
    """

    START_DB, KEEP_DB, KEEP_DEV = 2.0, 1.5, 1.0
    ORDER = 2
    DECIMATE = True
    RATE_IDLE, RATE_TALK, DEV0 = 0.03, 0.002, 6.0

    def __init__(self, factor: float, rate: int, band: Tuple[float, float] = (300.0, 3400.0)):
        from scipy.signal import butter
        low, high = float(band[0]), min(float(band[1]), rate / 2 * 0.9)
        if not 0 < low < high:
            raise ValueError(f"auto level band {band!r} Hz: need 0 < low < high (< 0.9 x Nyquist)")
        self.factor = float(factor)
        self.band = (low, high)
        # half rate needs pairs: a 20 ms frame (rate / 50 samples) is even iff rate % 100 == 0. The pair mean
        # is only a 2-tap low-pass (−3 dB at rate / 4): noise above rate / 4 folds into the band, attenuated
        self.decimate = bool(self.DECIMATE and rate % 100 == 0 and high <= rate / 4 * 0.9)
        fs = rate / 2 if self.decimate else rate
        self.sos = butter(self.ORDER, [low, high], btype="bandpass", fs=fs, output="sos")
        self.zi = np.zeros((self.sos.shape[0], 0, 2))
        self.mu = np.zeros(0)
        self.dev = np.zeros(0)
        self.fresh = np.zeros(0, bool)

    def grow(self, capacity: int) -> None:
        """Enlarge to ``capacity`` slots (new slots fresh)."""
        extra = capacity - self.mu.size
        if extra <= 0:
            return
        self.zi = np.concatenate([self.zi, np.zeros((self.sos.shape[0], extra, 2))], axis=1)
        self.mu = np.concatenate([self.mu, np.zeros(extra)])
        self.dev = np.concatenate([self.dev, np.full(extra, self.DEV0)])
        self.fresh = np.concatenate([self.fresh, np.ones(extra, bool)])

    def reset(self, slots) -> None:
        """Forget ``slots`` (filter state and noise estimate)."""
        self.zi[:, slots] = 0.0
        self.dev[slots] = self.DEV0
        self.fresh[slots] = True

    def scores_db(self, frames: np.ndarray) -> np.ndarray:
        """Band-passed level of each slot's frame, dB ``(n,)`` (advances the filter state)."""
        from scipy.signal import sosfilt
        if self.decimate:
            x = frames[:, 0::2].astype(np.float64)
            x += frames[:, 1::2]
            x *= 0.5
        else:
            x = frames.astype(np.float64)
        y, self.zi = sosfilt(self.sos, x, axis=1, zi=self.zi)
        return 20.0 * np.log10(np.abs(y).mean(axis=1) + 1.0)

    def gate(self, frames: np.ndarray, talking: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(gated, start_now)`` bool ``(n,)`` for this frame; updates the noise estimates."""
        x = self.scores_db(frames)
        fresh = self.fresh
        if fresh.any():
            self.mu = np.where(fresh, x, self.mu)
            self.fresh = np.zeros_like(fresh)
        d = x - self.mu
        start = ~talking & (x >= self.mu + np.maximum(self.START_DB, self.factor * self.dev))
        rate = np.where(talking, self.RATE_TALK, self.RATE_IDLE)
        self.mu = self.mu + rate * d
        self.dev = self.dev + rate * (np.abs(d) - self.dev)
        keep = talking & (x >= self.mu + np.maximum(self.KEEP_DB, self.KEEP_DEV * self.dev))
        return start | keep, start


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
