"""jambonz ``listen`` nested in the ``conference`` verb: the JSON object → a frozen :class:`Listen`.

Sources: jambonz verb specification 0.1.13 (``#listen``: url required; mixType mono|stereo|mixed; sampleRate;
metadata object; wsAuth {username, password}; passDtmf; maxLength …) and jambonz-feature-server
``lib/tasks/listen.js`` (defaults mixType ``mono``, sampleRate 8000; bidirectional audio on unless disabled).

The URL is tenant input that ends up in a FreeSWITCH command and in a websocket connection: only absolute
``ws://``/``wss://`` URLs with a host, no whitespace, quotes, backslashes or control characters, at most
:data:`MAX_URL` characters. The egress policy (which addresses may be reached) is checked by the runtime when
the stream starts, on the resolved address. Every problem is a 12200 warning through ``warn``: a bad URL drops
the listen (the conference goes on without streaming), a bad optional value falls back to jambonz's default.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Callable, Optional, Tuple
from urllib.parse import urlsplit

from fsbridge.wire import jambonz as jb

#: sample rates a stream may ask for (mod_audio_fork accepts multiples of 8000 Hz; jambonz documents these)
SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000, 64000)
#: longest accepted URL (mod_audio_fork keeps host ≤ 512 and path ≤ 4096 bytes)
MAX_URL = 2048
#: longest JSON text of the app's metadata (mod_audio_fork's initial metadata buffer is 8192 bytes; the call
#: info the runtime adds takes the rest)
MAX_METADATA = 6144
WS_SCHEMES = ("ws", "wss")
_BAD_URL_CHARS = re.compile(r"[\s'\"\\\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Listen:
    """A conference member's audio streamed to a websocket (jambonz ``listen``).

    ``url``: ``ws://`` or ``wss://``; ``mix_type``: ``mono`` (the caller's audio), ``mixed`` (caller and what it
    hears, one channel), ``stereo`` (left the caller, right what it hears); ``sample_rate``: Hz of the L16
    frames; ``metadata``: the app's object as compact JSON text (merged into the first text frame);
    ``ws_auth``: ``(username, password)`` for HTTP Basic auth on the websocket handshake, or None;
    ``pass_dtmf``: the caller's digits are sent as text frames; ``max_length``: seconds after which streaming
    stops (None = until the member leaves)."""

    url: str
    mix_type: str = jb.DEFAULT_MIX_TYPE
    sample_rate: int = jb.DEFAULT_SAMPLE_RATE
    metadata: str = "{}"
    ws_auth: Optional[Tuple[str, str]] = None
    pass_dtmf: bool = False
    max_length: Optional[float] = None


def url_problem(url: object) -> Optional[str]:
    """Why ``url`` cannot be a listen URL (None when it can): not a string, too long, forbidden characters,
    a scheme other than ws/wss, no host, a bad port."""
    if not isinstance(url, str) or not url.strip():
        return "url is not a non-empty string"
    url = url.strip()
    if len(url) > MAX_URL:
        return f"url is longer than {MAX_URL} characters"
    if _BAD_URL_CHARS.search(url):
        return "url contains whitespace, quotes, backslashes or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"url is not a valid URL ({exc})"
    if parts.scheme.lower() not in WS_SCHEMES:
        return "url must be a ws:// or wss:// URL"
    if not parts.hostname or port == 0:
        return "url has no host (or port 0)"
    return None


def _auth(raw: object) -> Tuple[str, str]:
    if not isinstance(raw, dict) or set(raw) - {jb.AUTH_USERNAME, jb.AUTH_PASSWORD}:
        raise ValueError("must be an object with username and password")
    user, password = raw.get(jb.AUTH_USERNAME), raw.get(jb.AUTH_PASSWORD)
    if not isinstance(user, str) or not isinstance(password, str) or not user:
        raise ValueError("username and password must be strings")
    if ":" in user or _CONTROL.search(user) or _CONTROL.search(password):
        raise ValueError("username/password contain ':' or control characters")
    return user, password


def _metadata(raw: object) -> str:
    if not isinstance(raw, dict):
        raise ValueError("must be an object")
    text = json.dumps(raw, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    if len(text) > MAX_METADATA:
        raise ValueError(f"is longer than {MAX_METADATA} characters as JSON")
    return text


def _max_length(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw <= 0:
        raise ValueError("must be a number of seconds > 0")
    return float(raw)


def _choice(values):
    """A checker: ``raw`` equal to one of ``values`` (not a boolean) → that value as listed (JSON ``16000.0``
    → the int ``16000``); anything else raises ValueError."""
    def check(raw):
        if isinstance(raw, bool) or raw not in values:
            raise ValueError(f"must be one of {', '.join(map(str, values))}")
        return values[values.index(raw)]
    return check


def _bool(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise ValueError("must be a boolean")
    return raw


#: optional properties: jambonz name → (Listen field, checker raising ValueError)
_FIELDS = {
    jb.LISTEN_MIX_TYPE: ("mix_type", _choice(jb.MIX_TYPES)),
    jb.LISTEN_SAMPLE_RATE: ("sample_rate", _choice(SAMPLE_RATES)),
    jb.LISTEN_METADATA: ("metadata", _metadata),
    jb.LISTEN_WS_AUTH: ("ws_auth", _auth),
    jb.LISTEN_PASS_DTMF: ("pass_dtmf", _bool),
    jb.LISTEN_MAX_LENGTH: ("max_length", _max_length),
}


def parse_listen(raw: dict, warn: Callable[[str], None]) -> Optional[Listen]:
    """The ``listen`` object of a jambonz conference verb → :class:`Listen`, or None (warned) when its URL is
    unusable. ``warn(message)`` receives every 12200 warning; never raises."""
    problem = url_problem(raw.get(jb.LISTEN_URL))
    if problem:
        warn(f"listen {problem}; the conference audio is not streamed")
        return None
    values = {"url": raw[jb.LISTEN_URL].strip()}
    for prop, value in raw.items():
        if prop == jb.LISTEN_URL or prop in jb.LISTEN_IGNORED:
            continue
        if prop in _FIELDS:
            name, check = _FIELDS[prop]
            try:
                values[name] = check(value)
            except ValueError as exc:
                warn(f"listen {prop} {exc}; default used")
        elif prop == jb.LISTEN_BIDIRECTIONAL:
            if isinstance(value, dict) and value.get(jb.LISTEN_ENABLED) is True:
                warn("listen bidirectionalAudio is not supported: the stream is listen-only")
        elif prop in jb.LISTEN_UNSUPPORTED:
            warn(f"listen {prop} is not supported inside a conference; ignored")
        else:
            warn(f"unknown listen property {prop!r} ignored")
    return Listen(**values)
