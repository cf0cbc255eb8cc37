"""Resolve what markup asks to hear into engine media references (see :mod:`fsbridge.conference.commands`).

* ``<Play>`` URLs: ``http(s)://`` audio is downloaded once (through the egress policy) into the cache directory
  and played as a local file (Twilio caches GET media the same way); synthetic engine references
  (``tone_stream://``, ``silence_stream://``) pass through; local files only when they are this resolver's own
  cache files (:mod:`fsbridge.media_policy`: markup never plays ``file:`` or host paths). The cache is bounded
  (``max_bytes``; least recently used files go first).
* ``<Say>``: rendered by the engine (:meth:`fsbridge.engines.base.Engine.render_say`: espeak-ng, cached).
* ``<Pause length=s>``: ``silence_stream://<ms>``.
"""
from __future__ import annotations

import hashlib
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional
from urllib.parse import unquote, urlsplit

import gevent.lock

from fsbridge import media_policy
from fsbridge.runtime.fetch import INVALID_URL, FetchError, Fetcher

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


class MediaResolver:
    """Turns Play URLs / Say text into local media references, caching downloads and renders in
    ``cache_dir`` (created on demand). ``fetcher``: the runtime's :class:`Fetcher`;
    ``say(text, voice, language, out_dir) -> path``: the Say renderer (the engine's ``render_say``; None:
    Say plays silence); ``max_bytes``: bound of the cache directory (bytes; LRU eviction after each new file)."""

    def __init__(self, cache_dir: str, fetcher: Optional[Fetcher] = None,
                 say: Optional[Callable[[str, str, str, str], str]] = None, max_bytes: int = 512 * 1024 * 1024):
        self.cache_dir = Path(cache_dir)
        self._say = say
        self.max_bytes = max_bytes
        self.fetcher = fetcher or Fetcher()
        self._locks: dict = {}   # cache key → [Semaphore, holders + waiters]

    @contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        """One lock per cache key, held while someone renders/downloads that media: concurrent calls do it
        once. The entry is dropped when its last holder/waiter leaves (a long-running serve stays bounded)."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [gevent.lock.Semaphore(), 0]
        entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]

    def _cache_file(self, key: str, ext: str) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir / (hashlib.sha1(key.encode("utf-8")).hexdigest()[:20] + ext)

    def play(self, url: str) -> str:
        """Engine reference for a ``<Play>`` URL; downloads http(s) audio. Raises FetchError on failure, and
        11100 for a URL :func:`fsbridge.media_policy.markup_media` refuses (``file:``, host paths, other
        schemes)."""
        url = url.strip()
        try:
            kind = media_policy.markup_media(url, (str(self.cache_dir),))
        except media_policy.MediaRefused as exc:
            log.warning("<Play> %.200s refused: %s", url, exc)
            raise FetchError(INVALID_URL, str(exc), url) from None
        if kind == "engine":
            return url
        if kind == "local":
            return local_path(url) or url
        with self._lock("play|" + url):
            return self._download(url)

    def _download(self, url: str) -> str:
        ext = os.path.splitext(urlsplit(url).path)[1].lower()
        if ext not in (".wav", ".mp3", ".flac", ".ogg"):
            ext = ""
        for candidate_ext in ([ext] if ext else [".wav", ".mp3", ".flac", ".ogg"]):
            cached = self._cache_file(url, candidate_ext)
            if cached.exists():
                try:
                    os.utime(cached)          # most recently used: evicted last
                except OSError:
                    pass
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
        self.evict(keep=target)
        return str(target)

    def evict(self, keep: Optional[Path] = None) -> int:
        """Delete least recently used cache files until the directory holds at most ``max_bytes``; ``keep``
        (the file just written) stays. Returns the number of files deleted."""
        try:
            entries = [(st.st_mtime, st.st_size, p) for p in self.cache_dir.iterdir()
                       if p.is_file() and (st := p.stat())]
        except OSError:
            return 0
        total = sum(size for _, size, _ in entries)
        deleted = 0
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            if keep is not None and path == keep:
                continue
            try:
                path.unlink()
                total -= size
                deleted += 1
            except OSError:
                pass
        if deleted:
            log.info("audio cache %s: %d least recently used file(s) evicted (bound %d bytes)",
                     self.cache_dir, deleted, self.max_bytes)
        return deleted

    def say(self, text: str, voice: str = "man", language: str = "en-US") -> str:
        """Engine reference for ``<Say>`` (Twilio TwiML ``<Say voice language>``): the engine's rendering
        (:meth:`~fsbridge.engines.base.Engine.render_say`: a WAV, espeak-ng voice/language mapping, cached by
        content hash in ``cache_dir``, silence when espeak-ng is missing), or 1 s of silence if that fails."""
        with self._lock(f"say|{voice}|{language}|{text}"):
            try:
                if self._say is None:
                    raise RuntimeError("no Say renderer")
                return self._say(text, voice, language, str(self.cache_dir))
            except Exception as exc:
                log.warning("<Say> %r could not be rendered: %s", text[:40], exc)
                return silence(1)
