"""Audio sources for the standalone engine: files, tones, silence, live queues, playlists.

Everything here produces **20 ms frames of mono int16 PCM** at the conference rate (8000, 16000 or
48000 Hz → 160, 320 or 960 samples a frame). A *frame source* is any object with
``next_frame() -> Optional[np.ndarray]`` (int16, shape ``(frame_len,)``; ``None`` = the source ended).

File I/O is libsndfile via ``soundfile`` (WAV, FLAC, OGG and — libsndfile ≥ 1.1 — MP3); resampling is
``scipy.signal.resample_poly`` (scipy is a declared dependency, setup.cfg).
"""
from __future__ import annotations

import collections
import functools
import math
import os
import re
from typing import Deque, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

FRAME_MS = 20
RATES = (8000, 16000, 48000)


def frame_len(rate: int, frame_ms: int = FRAME_MS) -> int:
    """Samples per frame: ``rate`` (Hz) × ``frame_ms`` (ms) / 1000, e.g. 320 at 16 kHz / 20 ms."""
    return rate * frame_ms // 1000


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample a 1-D float signal from ``src_rate`` to ``dst_rate`` (Hz) with a polyphase FIR
    (``scipy.signal.resample_poly``, up/down = the reduced rate ratio).
    Returns float32 of length ``ceil(len(x) * dst_rate / src_rate)``.
    """
    x = np.asarray(x, dtype=np.float32)
    if src_rate == dst_rate or x.size == 0:
        return x
    g = math.gcd(src_rate, dst_rate)
    return resample_poly(x, dst_rate // g, src_rate // g).astype(np.float32)


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16 (×32767, rounded, clipped)."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, rate: int, mtime: float, max_seconds: Optional[float] = None) -> np.ndarray:
    frames = -1 if max_seconds is None else int(max_seconds * sf.info(path).samplerate)
    data, file_rate = sf.read(path, frames=frames, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    out = to_int16(resample(mono, file_rate, rate))
    out.setflags(write=False)
    return out


def load_audio(path: str, rate: int, max_seconds: Optional[float] = None) -> np.ndarray:
    """Read an audio file (any libsndfile format: WAV/FLAC/OGG/MP3), down-mix to mono, resample to
    ``rate`` Hz; only its first ``max_seconds`` (s) when given. Returns a read-only int16 array
    ``(n_samples,)``. Cached per (path, rate, mtime, max_seconds).
    Raises ``FileNotFoundError`` / ``RuntimeError`` (soundfile) when unreadable."""
    return _load_cached(str(path), int(rate), os.path.getmtime(path), max_seconds)


# ---------------------------------------------------------------------------------------------- tones

_SEG = re.compile(r"%\(([^)]*)\)")


def parse_tone_stream(spec: str) -> Tuple[List[Tuple[int, int, Tuple[float, ...]]], int, float]:
    """Parse FreeSWITCH teletone syntax (``tone_stream://`` prefix optional).

    ``%(on_ms,off_ms,hz[,hz...])`` segments separated by ``;``; ``L=<n>`` repeats the whole pattern n
    times (FreeSWITCH ``L=``; ``-1`` = forever is capped at 1000); ``v=<dB>`` sets the level (dBFS,
    default −7 as in libteletone). Frequencies in one segment sound together (summed).
    Returns ``(segments, loops, volume_db)``; raises ``ValueError`` on syntax errors.
    Source: FreeSWITCH libteletone ``teletone_run`` / mod_tone_stream.
    """
    body = spec[len("tone_stream://"):] if spec.startswith("tone_stream://") else spec
    loops, vol = 1, -7.0
    segs: List[Tuple[int, int, Tuple[float, ...]]] = []
    for part in [p.strip() for p in body.split(";") if p.strip()]:
        if part.startswith("%("):
            m = _SEG.fullmatch(part)
            if not m:
                raise ValueError(f"bad tone segment {part!r}")
            vals = [v.strip() for v in m.group(1).split(",") if v.strip()]
            if len(vals) < 2:
                raise ValueError(f"tone segment needs on,off[,hz...]: {part!r}")
            on, off = int(float(vals[0])), int(float(vals[1]))
            if on < 0 or off < 0:
                raise ValueError(f"negative duration in {part!r}")
            segs.append((on, off, tuple(float(f) for f in vals[2:])))
        elif part.lower().startswith("l="):
            loops = int(part[2:])
            loops = 1000 if loops < 0 else max(1, loops)
        elif part.lower().startswith("v="):
            vol = float(part[2:])
        else:
            # Unknown teletone directives (w=, d=, >, <) are accepted and ignored.
            continue
    if not segs:
        raise ValueError(f"no tone segment in {spec!r}")
    return segs, loops, vol


def render_tone(spec: str, rate: int) -> np.ndarray:
    """Render a ``tone_stream://`` spec (see :func:`parse_tone_stream`) to int16 ``(n_samples,)`` at
    ``rate`` Hz: each segment = ``on_ms`` of the summed sines (total peak = ``v`` dBFS), ``off_ms`` of
    silence; the pattern repeated ``L`` times. A segment without frequencies is silence."""
    segs, loops, vol = parse_tone_stream(spec)
    amp = 32767.0 * (10.0 ** (vol / 20.0))
    parts = []
    for on, off, freqs in segs:
        n_on, n_off = rate * on // 1000, rate * off // 1000
        t = np.arange(n_on, dtype=np.float64) / rate
        tone = np.zeros(n_on)
        for f in freqs:
            tone += np.sin(2 * np.pi * f * t)
        if freqs:
            tone *= amp / len(freqs)
        parts.append(tone)
        parts.append(np.zeros(n_off))
    one = np.concatenate(parts) if parts else np.zeros(0)
    return np.clip(np.rint(np.tile(one, loops)), -32768, 32767).astype(np.int16)


# -------------------------------------------------------------------------------------------- sources

class ArraySource:
    """Frames from an int16 array ``(n_samples,)``: ``frame_len`` samples per ``next_frame()``; the
    last frame is zero-padded; ``loop=True`` restarts at the end (never ends). ``position`` = samples
    consumed. ``name`` is the media reference it came from (reported in play-file-done)."""

    def __init__(self, samples: np.ndarray, frame_len: int, loop: bool = False, name: str = ""):
        self.samples = np.asarray(samples, dtype=np.int16)
        self.frame_len = frame_len
        self.loop = loop
        self.name = name
        self.position = 0

    def next_frame(self) -> Optional[np.ndarray]:
        """The next int16 frame ``(frame_len,)`` or None when finished."""
        n, fl = self.samples.size, self.frame_len
        if self.position >= n:
            if not self.loop or n == 0:
                return None
            self.position = 0
        end = self.position + fl
        if end <= n:
            out = self.samples[self.position:end]
            self.position = end
            return out
        out = np.zeros(fl, dtype=np.int16)
        out[: n - self.position] = self.samples[self.position:]
        self.position = n  # a looping source restarts at the next frame
        return out

    def rewind(self) -> None:
        """Start again from the first sample (a looping :class:`Playlist` replays its items)."""
        self.position = 0


class SilenceSource:
    """``ms`` milliseconds of digital silence (zeros) in frames of ``frame_len``; ``ms=None`` = endless."""

    def __init__(self, ms: Optional[int], frame_len: int, frame_ms: int = FRAME_MS, name: str = ""):
        self.frames = None if ms is None else max(0, -(-int(ms) // frame_ms))
        self.remaining = self.frames
        self.frame = np.zeros(frame_len, dtype=np.int16)
        self.name = name

    def rewind(self) -> None:
        """Start again: ``ms`` of silence to come (a looping :class:`Playlist` replays its items)."""
        self.remaining = self.frames

    def next_frame(self) -> Optional[np.ndarray]:
        """A zero frame, or None after ``ms`` (rounded up to whole frames)."""
        if self.remaining is None:
            return self.frame
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        return self.frame


class QueueSource:
    """A live source: push int16 frames ``(frame_len,)`` (or any length: re-chunked) with :meth:`push`;
    ``next_frame`` returns silence while the queue is empty and None once :meth:`close` was called and
    the queue drained."""

    def __init__(self, frame_len: int, name: str = "live"):
        self.frame_len = frame_len
        self.name = name
        self._q: Deque[np.ndarray] = collections.deque()
        self._pending = np.zeros(0, dtype=np.int16)
        self._closed = False
        self._zero = np.zeros(frame_len, dtype=np.int16)

    def push(self, samples: np.ndarray) -> None:
        """Append int16 samples (any length); they are cut into frames of ``frame_len``."""
        buf = np.concatenate([self._pending, np.asarray(samples, dtype=np.int16)])
        n = buf.size // self.frame_len * self.frame_len
        for i in range(0, n, self.frame_len):
            self._q.append(buf[i:i + self.frame_len])
        self._pending = buf[n:]

    def close(self) -> None:
        """No more audio: the source ends when the queue is drained (a partial frame is zero-padded)."""
        if self._pending.size:
            last = np.zeros(self.frame_len, dtype=np.int16)
            last[: self._pending.size] = self._pending
            self._q.append(last)
            self._pending = np.zeros(0, dtype=np.int16)
        self._closed = True

    def next_frame(self) -> Optional[np.ndarray]:
        """Next queued frame; silence when empty and open; None when closed and empty."""
        if self._q:
            return self._q.popleft()
        return None if self._closed else self._zero


class Playlist:
    """Plays frame sources made from media references one after another (``loop=True``: forever).

    ``opener(ref) -> frame source`` builds each item (see :func:`fsbridge.engines.standalone.media.open_media`);
    every item is opened here, when the playlist is built (the command that asks for it), so file decoding
    and resampling never happen inside the engine's 20 ms tick; a looping playlist ``rewind()``s its
    sources. ``current`` is the reference playing now; ``last`` the last item of the list (what
    play-file-done reports, per the PlayMedia contract). An item that cannot be opened is skipped
    (``errors`` lists it as ``(ref, message)``).
    """

    def __init__(self, refs: Sequence[str], opener, loop: bool = False):
        self.refs = list(refs)
        self.loop = loop
        self.current: Optional[str] = None
        self.last = self.refs[-1] if self.refs else ""
        self.errors: List[Tuple[str, str]] = []
        self._items: List[Tuple[str, object]] = []
        for ref in self.refs:
            try:
                self._items.append((ref, opener(ref)))
            except Exception as exc:  # unreadable media: skip it, like a failed FreeSWITCH playback
                self.errors.append((ref, str(exc)))
        self.index = 0
        self.finished = not self._items

    def next_frame(self) -> Optional[np.ndarray]:
        """The next frame of the playlist, or None when all items played (never for ``loop``, unless
        every item is empty)."""
        restarted = False
        while not self.finished:
            if self.index >= len(self._items):
                if not self.loop or restarted:
                    self.finished = True
                    break
                for _, src in self._items:
                    src.rewind()
                self.index = 0
                restarted = True
            ref, src = self._items[self.index]
            self.current = ref
            frame = src.next_frame()
            if frame is not None:
                return frame
            self.index += 1
        return None

