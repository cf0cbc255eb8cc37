"""Which media URLs are allowed where (docs/security.md).

* Markup (``<Play>``, waitUrl/holdUrl/AnnounceUrl documents and audio) names media over **http(s)** only; it
  is fetched through the egress policy (:mod:`fsbridge.egress`). Synthetic engine references that touch no
  file or network (``tone_stream://``, ``silence_stream://``) pass. Local files are refused — except the
  bridge's own cache files (downloaded audio, rendered ``<Say>``), which the runtime hands itself.
* REST ``To``/``Media`` of a *virtual* call (standalone engine only) may be ``tone:``, ``silence:`` or a
  ``file:``/absolute path that lies under one of the media directories the operator configured
  (``[media] dirs``); symlinks and ``..`` are resolved before the check.

Both checks raise :class:`MediaRefused` (a ValueError) whose text names the rule, never file contents.
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Optional
from urllib.parse import unquote, urlsplit

SYNTHETIC_SCHEMES = ("tone_stream://", "silence_stream://")
# the synthetic references markup may name, in full: a tone_stream with numbers only, silence in ms
_SYNTHETIC = re.compile(r"tone_stream://(?:%\(\d{1,6}(?:,\d{1,6}){2,8}\))+(?:;loops=-?\d{1,4})?"
                        r"|silence_stream://-?\d{1,8}(?:,\d{1,5})?")
HTTP_SCHEMES = ("http", "https")
VIRTUAL_SCHEMES = ("tone:", "silence:")


class MediaRefused(ValueError):
    """A media URL the policy refuses where it was used."""


def _local_path(url: str) -> Optional[str]:
    """The local path a ``file:`` URL or absolute path names, else None."""
    if url.startswith("file:"):
        return unquote(urlsplit(url).path) or None
    if url.startswith("/"):
        return url
    return None


def is_under(path: str, dirs: Iterable[str]) -> bool:
    """True when ``path`` (symlinks and ``..`` resolved) lies inside one of ``dirs`` (resolved too)."""
    real = os.path.realpath(path)
    for d in dirs or ():
        if not d:
            continue
        root = os.path.realpath(d)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def markup_media(url: str, own_dirs: Iterable[str] = ()) -> str:
    """Classify a media URL named by markup: ``"http"`` (fetch it), ``"engine"`` (synthetic engine
    reference, use as is) or ``"local"`` (one of the bridge's own files under ``own_dirs``). Raises
    :class:`MediaRefused` for anything else (``file:``, other paths, other schemes)."""
    url = (url or "").strip()
    if url.startswith(SYNTHETIC_SCHEMES):
        if _SYNTHETIC.fullmatch(url):
            return "engine"
        raise MediaRefused("only plain tone_stream://%(on,off,hz) and silence_stream://ms references are allowed")
    path = _local_path(url)
    if path is not None:
        if is_under(path, own_dirs):
            return "local"
        raise MediaRefused("media named by markup must be an http(s) URL (local files are not played)")
    parts = urlsplit(url)
    if parts.scheme.lower() in HTTP_SCHEMES and parts.netloc:
        return "http"
    raise MediaRefused("media named by markup must be an http(s) URL")


def virtual_source(value: str, media_dirs: Iterable[str] = ()) -> None:
    """Check a REST ``To``/``Media`` value used as a virtual call's audio: ``tone:``/``silence:``, or a
    ``file:``/absolute path under ``media_dirs`` (the operator's ``[media] dirs``). Raises
    :class:`MediaRefused`."""
    v = (value or "").strip()
    if v.startswith(VIRTUAL_SCHEMES):
        return
    path = _local_path(v)
    if path is None:
        raise MediaRefused("a virtual call's audio must be tone:HZ, silence: or file:/path")
    if not is_under(path, media_dirs):
        raise MediaRefused("file: media must lie under a configured media directory ([media] dirs)")
    if os.path.exists(path) and not os.path.isfile(path):
        raise MediaRefused("file: media must name a regular audio file")
