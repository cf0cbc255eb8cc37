"""Conference recording: mono 16-bit WAV via soundfile, pause/resume, streaming trim-silence.

Trim is done while writing: leading silent frames are never written, trailing silent frames are held in
memory and written only when non-silent audio follows (so stop() drops them). A frame is *silent* when
its peak |sample| ≤ ``silence_peak`` (default 64 ≈ −54 dBFS). Writes are batched (``flush_frames``).
"""
from __future__ import annotations

import os
from typing import List, Optional

import numpy as np
import soundfile as sf


class Recorder:
    """Records int16 frames ``(F,)`` at ``rate`` Hz to ``path`` (WAV PCM_16, mono).

    ``trim_silence``: drop leading/trailing silence (Twilio ``trim="trim-silence"``). ``paused`` frames are
    skipped (Twilio ``PauseBehavior=skip``; FreeSWITCH ``recording pause``).
    """

    def __init__(self, path: str, rate: int, trim_silence: bool = True, silence_peak: int = 64,
                 flush_frames: int = 50):
        self.path = path
        self.rate = rate
        self.trim_silence = trim_silence
        self.silence_peak = silence_peak
        self.flush_frames = flush_frames
        self.paused = False
        self.samples_written = 0
        self._started_audio = not trim_silence
        self._pending: List[np.ndarray] = []   # trailing silence held back
        self._batch: List[np.ndarray] = []
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        self._file = sf.SoundFile(path, mode="w", samplerate=rate, channels=1, subtype="PCM_16", format="WAV")

    def write(self, frame: np.ndarray) -> None:
        """Append one int16 frame ``(F,)`` (ignored while paused)."""
        if self.paused or self._file is None:
            return
        if not self.trim_silence:
            self._batch.append(frame.copy())
        else:
            silent = int(np.abs(frame.astype(np.int32)).max(initial=0)) <= self.silence_peak
            if silent:
                if self._started_audio:
                    self._pending.append(frame.copy())
            else:
                self._started_audio = True
                if self._pending:
                    self._batch.extend(self._pending)
                    self._pending = []
                self._batch.append(frame.copy())
        if len(self._batch) >= self.flush_frames:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            data = np.concatenate(self._batch)
            self._file.write(data)
            self.samples_written += data.size
            self._batch = []

    def pause(self) -> None:
        """Stop writing until :meth:`resume`."""
        self.paused = True

    def resume(self) -> None:
        """Resume writing."""
        self.paused = False

    def close(self) -> dict:
        """Finish the file (trailing silence dropped when trimming). Returns ``{"samples", "duration_ms",
        "file_size"}`` (samples written, ms = samples × 1000 / rate, bytes on disk)."""
        if self._file is not None:
            if not self.trim_silence and self._pending:
                self._batch.extend(self._pending)
            self._pending = []
            self._flush()
            self._file.close()
            self._file = None
        return {"samples": self.samples_written,
                "duration_ms": self.samples_written * 1000 // self.rate,
                "file_size": os.path.getsize(self.path) if os.path.exists(self.path) else 0}


class HeardCapture:
    """Per-participant "what I heard": collects the int16 frames ``(F,)`` sent to one call.

    ``audio()`` → int16 ``(n_samples,)``; ``save(path)`` writes a WAV. ``max_seconds`` bounds memory
    (older audio is kept; later frames are dropped once full; None = unbounded).
    """

    def __init__(self, rate: int, max_seconds: Optional[float] = 3600.0):
        self.rate = rate
        self.frames: List[np.ndarray] = []
        self.max_frames = None if max_seconds is None else int(max_seconds * 50)

    def add(self, frame: np.ndarray) -> None:
        """Append one frame (copied)."""
        if self.max_frames is None or len(self.frames) < self.max_frames:
            self.frames.append(np.array(frame, dtype=np.int16))

    def audio(self) -> np.ndarray:
        """Everything heard so far, int16 ``(n_samples,)``."""
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.int16)

    def save(self, path: str) -> str:
        """Write :meth:`audio` as a mono PCM_16 WAV; returns ``path``."""
        sf.write(path, self.audio(), self.rate, subtype="PCM_16")
        return path
