"""Resolve what markup asks to hear into engine media references (see :mod:`fsbridge.conference.commands`).

* ``<Play>`` URLs: ``http(s)://`` audio is downloaded once into the cache directory and played as a local file
  (Twilio caches GET media the same way); ``file:`` URLs and absolute paths are local files; engine references
  (``tone_stream://``, ``silence_stream://``, ``local_stream://``) pass through.
* ``<Say>``: rendered to a WAV with espeak-ng (the standalone engine's ``render_say`` helper when it has one,
  otherwise :func:`render_say_espeak`); cached by (text, voice, language).
* ``<Pause length=s>``: ``silence_stream://<ms>``.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlsplit

from fsbridge.runtime.fetch import Fetcher

log = logging.getLogger("fsbridge.runtime.media")

ENGINE_SCHEMES = ("tone_stream://", "silence_stream://", "local_stream://")
_AUDIO_EXT = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/mpeg": ".mp3",
              "audio/mp3": ".mp3", "audio/flac": ".flac", "audio/ogg": ".ogg"}


def silence(seconds: float) -> str:
    """Engine reference for ``seconds`` of silence (Twilio ``<Pause>``): ``silence_stream://<ms>``."""
    return f"silence_stream://{max(0, int(round(float(seconds) * 1000)))}"


def local_path(url: str) -> Optional[str]:
    """The local file a ``file:`` URL or absolute path names, else None."""
    if url.startswith("file:"):
        parts = urlsplit(url)
        return unquote(parts.path) if parts.path else None
    if url.startswith("/"):
        return url
    return None


def _espeak_voice(voice: str, language: str) -> str:
    lang = (language or "en-US").lower()
    if lang in ("en-us", "en"):
        lang = "en-us"
    elif lang == "en-gb":
        lang = "en-gb"
    female = (voice or "").lower() in ("woman", "alice") or (voice or "").lower().startswith("polly.joanna")
    return lang + ("+f3" if female else "")


def render_say_espeak(text: str, path: str, voice: str = "man", language: str = "en-US") -> bool:
    """Render ``text`` to the WAV file ``path`` with espeak-ng (voice ``man``/``woman``/``alice`` → espeak voice
    ``<lang>`` / ``<lang>+f3``). Returns False (and logs a warning) when espeak-ng is missing or fails."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if not exe:
        log.warning("espeak-ng is not installed: <Say> plays silence")
        return False
    try:
        subprocess.run([exe, "-w", path, "-v", _espeak_voice(voice, language), text], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        return True
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng failed for %r: %s", text[:40], exc)
        return False


class MediaResolver:
    """Turns Play URLs / Say text into local media references, caching downloads and renders in
    ``cache_dir`` (created on demand). ``fetcher``: the runtime's :class:`Fetcher`; ``rate``: Say WAV rate (Hz)."""

    def __init__(self, cache_dir: str, fetcher: Optional[Fetcher] = None, rate: int = 16000):
        self.cache_dir = Path(cache_dir)
        self.rate = rate
        self.fetcher = fetcher or Fetcher()
        self._locks: dict = {}

    def _lock(self, key: str):
        """One lock per cache key: concurrent calls render/download the same media once."""
        import gevent.lock
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = gevent.lock.Semaphore()
        return lock

    def _cache_file(self, key: str, ext: str) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir / (hashlib.sha1(key.encode("utf-8")).hexdigest()[:20] + ext)

    def play(self, url: str) -> str:
        """Engine reference for a ``<Play>`` URL; downloads http(s) audio (raises FetchError on failure)."""
        url = url.strip()
        if url.startswith(ENGINE_SCHEMES):
            return url
        path = local_path(url)
        if path is not None:
            return path
        with self._lock("play|" + url):
            return self._download(url)

    def _download(self, url: str) -> str:
        ext = os.path.splitext(urlsplit(url).path)[1].lower()
        if ext not in (".wav", ".mp3", ".flac", ".ogg"):
            ext = ""
        for candidate_ext in ([ext] if ext else [".wav", ".mp3", ".flac", ".ogg"]):
            cached = self._cache_file(url, candidate_ext)
            if cached.exists():
                return str(cached)
        fetched = self.fetcher.fetch_media(url)
        return self.store_audio(url, fetched.body, fetched.content_type, ext)

    def store_audio(self, key: str, body: bytes, content_type: str = "", ext: str = "") -> str:
        """Write downloaded audio ``body`` into the cache under ``key``; returns the local path."""
        ext = ext or _AUDIO_EXT.get(content_type, ".wav")
        target = self._cache_file(key, ext)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(body)
        os.replace(tmp, target)
        return str(target)

    def say(self, text: str, voice: str = "man", language: str = "en-US") -> str:
        """Engine reference for ``<Say>``: a cached espeak-ng WAV (the standalone engine's ``render_say``, at
        ``rate`` Hz, when importable; else :func:`render_say_espeak`), or 1 s of silence if it cannot render."""
        with self._lock(f"say|{voice}|{language}|{text}"):
            return self._say(text, voice, language)

    def _say(self, text: str, voice: str, language: str) -> str:
        espeak_voice = _espeak_voice(voice, language)
        try:
            from fsbridge.engines.standalone.media import render_say
        except ImportError:
            render_say = None
        if render_say is not None:
            try:
                return render_say(text, voice=espeak_voice, language="", rate=self.rate,
                                  out_dir=str(self.cache_dir))
            except Exception as exc:  # the helper's own failure: fall back to espeak-ng directly
                log.warning("render_say failed: %s", exc)
        target = self._cache_file(f"say|{voice}|{language}|{text}", ".wav")
        if target.exists():
            return str(target)
        tmp = str(target) + ".part.wav"
        if not render_say_espeak(text, tmp, voice, language):
            return silence(1)
        os.replace(tmp, target)
        return str(target)

    @staticmethod
    def pause(seconds: float) -> str:
        """Engine reference for ``<Pause length=seconds>``."""
        return silence(seconds)
