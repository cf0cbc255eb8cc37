"""Media references → frame sources; default hold music; Say via espeak-ng.

Media references (see :mod:`fsbridge.conference.commands`): a local file path (WAV/FLAC/MP3…),
``silence_stream://<ms>``, ``tone_stream://%(on,off,hz[,hz])…`` (FreeSWITCH teletone syntax) or
``local_stream://moh`` (the default hold music). Frames are int16 mono ``(frame_len,)`` at the
conference rate, 20 ms each.
"""
from __future__ import annotations

import functools
import glob
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf

from .sources import (ArraySource, SilenceSource, frame_len, load_audio, parse_tone_stream, render_tone, resample,
                      to_int16)

log = logging.getLogger(__name__)

MOH = "local_stream://moh"
ASTERISK_MOH_DIR = "/usr/share/asterisk/moh"
PACKAGE_AUDIO = Path(__file__).resolve().parent / "audio"
# FreeSWITCH vanilla conference profile "default": enter-sound / exit-sound.
ENTER_TONE = "tone_stream://%(200,0,500,600,700)"
EXIT_TONE = "tone_stream://%(500,0,300,200,100,50,25)"


class MediaError(Exception):
    """A media reference that cannot be played (missing file, bad tone syntax, unknown scheme)."""


def generated_moh(rate: int, seconds: float = 16.0) -> np.ndarray:
    """A gentle generated hold-music loop, int16 ``(rate*seconds,)``: a slow I–vi–IV–V arpeggio of soft
    sines (≈ −24 dBFS) with 20 ms fades. Used when no music file is available, so hold never fails."""
    notes = [261.63, 329.63, 392.00, 329.63, 220.00, 261.63, 329.63, 261.63,
             174.61, 220.00, 261.63, 220.00, 196.00, 246.94, 293.66, 246.94]
    n_note = int(rate * seconds / len(notes))
    t = np.arange(n_note) / rate
    env = np.ones(n_note)
    fade = max(1, int(0.02 * rate))
    env[:fade] = np.linspace(0, 1, fade)
    env[-fade:] = np.linspace(1, 0, fade)
    out = [np.sin(2 * np.pi * f * t) * env * 0.5 + np.sin(2 * np.pi * 2 * f * t) * env * 0.15 for f in notes]
    return np.rint(np.concatenate(out) * 32767 * 0.063).astype(np.int16)


def moh_path() -> Optional[str]:
    """The file used for ``local_stream://moh``: ``audio/moh.*`` shipped beside this module, else the
    first (sorted) ``/usr/share/asterisk/moh/*.wav`` (asterisk-moh-opsound-wav, CC BY-SA 3.0), else None."""
    for p in sorted(PACKAGE_AUDIO.glob("moh.*")):
        if p.suffix.lower() in (".wav", ".flac", ".ogg", ".mp3"):
            return str(p)
    files = sorted(glob.glob(os.path.join(ASTERISK_MOH_DIR, "*.wav")))
    preferred = [f for f in files if "simplicity" in f]
    return (preferred or files or [None])[0]


@functools.lru_cache(maxsize=8)
def moh_samples(rate: int, max_seconds: float = 120.0) -> np.ndarray:
    """Default hold music as int16 ``(n,)`` at ``rate`` Hz (at most ``max_seconds`` of the file, to
    bound memory); generated music (:func:`generated_moh`) if no file can be read. Never raises."""
    path = moh_path()
    if path:
        try:
            return load_audio(path, rate, max_seconds)
        except Exception as exc:  # pragma: no cover - depends on the host
            log.warning("hold music %s unreadable (%s): using generated music", path, exc)
    return generated_moh(rate)


@functools.lru_cache(maxsize=64)
def _tone_samples(spec: str, rate: int) -> np.ndarray:
    """:func:`render_tone`, cached and read-only: the enter/exit beeps are built again for every join and
    leave, and a leave can happen inside the engine's tick (a caller hanging up)."""
    out = render_tone(spec, rate)
    out.setflags(write=False)
    return out


def open_media(ref: str, rate: int, loop: bool = False):
    """Build a frame source (``next_frame() -> int16 (frame_len,) | None``) for a media reference.

    ``silence_stream://<ms>`` (``-1`` or empty = endless), ``tone_stream://…``, ``local_stream://moh``
    (always looped), or a file path (``file://`` prefix allowed). Raises :class:`MediaError`.
    """
    fl = frame_len(rate)
    if ref.startswith("silence_stream://"):
        arg = ref[len("silence_stream://"):].split(",")[0].strip()
        try:
            ms = int(arg) if arg else -1
        except ValueError as exc:
            raise MediaError(f"bad silence_stream {ref!r}") from exc
        return SilenceSource(None if ms < 0 else ms, fl, name=ref)
    if ref.startswith("tone_stream://"):
        try:
            return ArraySource(_tone_samples(ref, rate), fl, loop=loop, name=ref)
        except ValueError as exc:
            raise MediaError(str(exc)) from exc
    if ref.startswith("local_stream://"):
        return ArraySource(moh_samples(rate), fl, loop=True, name=ref)
    path = ref[len("file://"):] if ref.startswith("file://") else ref
    if "://" in path:
        raise MediaError(f"unsupported media reference {ref!r} (resolve URLs before the engine)")
    if not os.path.isfile(path):
        raise MediaError(f"File: {path} not found.")
    try:
        return ArraySource(load_audio(path, rate), fl, loop=loop, name=ref)
    except Exception as exc:
        raise MediaError(f"cannot read {path}: {exc}") from exc


def check_media(ref: str) -> None:
    """Raise :class:`MediaError` if ``ref`` cannot be played (file missing, bad syntax); cheap."""
    if ref.startswith(("local_stream://", "silence_stream://")):
        return
    if ref.startswith("tone_stream://"):
        try:
            parse_tone_stream(ref)
        except ValueError as exc:
            raise MediaError(str(exc)) from exc
        return
    path = ref[len("file://"):] if ref.startswith("file://") else ref
    if "://" in path or not os.path.isfile(path):
        raise MediaError(f"File: {path} not found.")


@functools.lru_cache(maxsize=2)
def _espeak_languages(exe: str) -> frozenset:
    try:
        out = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=10).stdout
        return frozenset(line.split()[1].lower() for line in out.splitlines()[1:] if len(line.split()) > 1)
    except Exception:
        return frozenset()


def espeak_voice(voice: str = "", language: str = "", available: Optional[frozenset] = None) -> str:
    """Map a Twilio/Telnyx/jambonz voice + language to an espeak-ng voice name.

    ``language`` (BCP-47, e.g. ``en-US``, ``de-DE``, ``fr-FR``) picks the espeak language: exact match,
    else the primary subtag (``de``), else ``en-us``. ``voice``: Twilio ``man`` → default (male) variant;
    ``woman``/``alice``/``Polly.*``/``Google.*``/other cloud names → the ``+f3`` female variant; a
    plain espeak voice name (``en-gb``, ``de+m3``) is used as is when no language is given.
    """
    langs = available if available is not None else frozenset()
    v = (voice or "").strip()
    lang = (language or "").strip().lower()
    if not lang and v and v.lower() not in ("man", "woman", "alice") and "." not in v:
        return v                                   # already an espeak voice
    if not lang:
        lang = "en-us"
    if langs and lang not in langs:
        primary = lang.split("-")[0]
        lang = primary if primary in langs else ("en-us" if "en-us" in langs else lang)
    female = v.lower() in ("woman", "alice") or "." in v or v.lower().startswith(("polly", "google"))
    return lang + ("+f3" if female else "")


def _safe_voice(voice: str) -> str:
    """An espeak-ng voice name from markup, made inert: letters, digits, ``+-_.`` only, never a leading
    ``-`` (so it cannot read as an option); anything else → ``en-us``."""
    v = voice or ""
    if v.startswith("-") or not v or len(v) > 40 or any(not (ch.isalnum() or ch in "+-_.") for ch in v):
        return "en-us"
    return v


def render_say(text: str, voice: str = "en-us", language: str = "", rate: int = 16000,
               out_dir: Optional[str] = None) -> str:
    """Synthesise ``text`` with espeak-ng to a mono 16-bit WAV at ``rate`` Hz and return its path.

    ``voice``: an espeak-ng voice (``en-us``, ``en-gb``, ``de+m3``) or a Twilio voice (``man``, ``woman``,
    ``alice``, ``Polly.Joanna`` …); ``language`` (BCP-47, ``en-GB``, ``de-DE``) wins for the language — see
    :func:`espeak_voice`. Files are cached by content hash in
    ``out_dir`` (default: ``$TMPDIR/fsbridge-say``). If espeak-ng is not installed or fails, logs a clear
    WARNING and returns a WAV of silence (≈ 60 ms per character, ≥ 0.5 s) so the call flow continues.
    """
    out_dir = out_dir or os.path.join(tempfile.gettempdir(), "fsbridge-say")
    os.makedirs(out_dir, exist_ok=True)
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    v = espeak_voice(voice, language, _espeak_languages(exe) if exe else frozenset())
    key = hashlib.sha1(f"{v}|{rate}|{text}|{bool(exe)}".encode()).hexdigest()[:16]
    path = os.path.join(out_dir, f"say-{key}.wav")
    if os.path.exists(path):
        return path
    if exe:
        raw = path + ".raw.wav"
        try:
            # The text goes on stdin, never as an argument: "-f/path" must not become an option (#14).
            subprocess.run([exe, "-b", "1", "-v", _safe_voice(v), "-w", raw, "--stdin"], input=text.encode("utf-8"),
                           check=True, capture_output=True, timeout=60)
            data, r = sf.read(raw, dtype="float32", always_2d=True)
            sf.write(path, to_int16(resample(data.mean(axis=1), r, rate)), rate, subtype="PCM_16")
            os.unlink(raw)
            return path
        except Exception as exc:
            log.warning("espeak-ng failed for voice %r (%s): Say renders silence", v, exc)
    else:
        log.warning("espeak-ng is not installed (apt-get install espeak-ng): Say renders silence for %r",
                    text[:60])
    n = int(rate * max(0.5, 0.06 * len(text)))
    sf.write(path, np.zeros(n, dtype=np.int16), rate, subtype="PCM_16")
    return path
