"""What a renderer produces and the dispatcher sends: one HTTP request for one domain event.

A :class:`CallbackRequest` is unsigned: signatures depend on the send time (Telnyx, jambonz) and on
secrets the renderers never see, so the dispatcher signs each attempt (:mod:`fsbridge.callbacks.signing`).
``url`` keeps any connection-override fragment (``#rc=2&ct=1000``); the fragment is read and stripped by the
dispatcher (:mod:`fsbridge.callbacks.overrides`) and never reaches the receiver.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Tuple
from urllib.parse import quote_plus, urlsplit, urlunsplit

from fsbridge.wire.jambonz import STOP_TALKING

#: target kinds: the conference statusCallback / statusHook, the recordingStatusCallback, the eventCallbackUrl
KIND_STATUS = "status"
KIND_RECORDING = "recording"
KIND_EVENT = "event"

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class RenderSettings:
    """Renderer settings.

    ``base_url``: the bridge's public base URL, no trailing slash (``https://bridge.example.com``); recording
    URLs in callbacks are ``base_url`` + the dialect's REST path of the recording. ``jambonz_stop_talking``:
    the event name sent to jambonz apps when a participant stops talking — ``"stop-talking"`` is what
    jambonz-feature-server really sends (lib/tasks/conference.js); its docs say ``"end-talking"``.
    """

    base_url: str = "http://127.0.0.1:8080"
    jambonz_stop_talking: str = STOP_TALKING


@dataclass(frozen=True)
class CallbackRequest:
    """One callback HTTP request, ready to sign and send.

    ``method``: ``"GET"``/``"POST"``. ``url``: absolute URL as configured (for GET the parameters are already
    in its query string; any ``#fragment`` is still there). ``params``: the form/query parameters as ordered
    (name, value) pairs — what Twilio's signature is computed over for POST (empty for GET and JSON).
    ``body``: the exact bytes to POST (b"" for GET). ``content_type``: None for GET.
    ``headers``: extra static headers (e.g. the idempotency token). ``dialect``: twiml|texml|jambonz;
    ``kind``: status|recording|event. ``event_name``: the DomainEvent name it renders.
    """

    dialect: str
    kind: str
    event_name: str
    account_sid: str
    conference_sid: str
    sequence_number: int
    method: str
    url: str
    params: Tuple[Tuple[str, str], ...] = ()
    body: bytes = b""
    content_type: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()
    username: Optional[str] = None
    password: Optional[str] = None


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*\Z").match   # what quote_plus leaves as it is


def _quote(x) -> str:
    if x.__class__ is not str:
        if isinstance(x, (bytes, bytearray)):
            return quote_plus(x)
        x = str(x)
    return x if _UNRESERVED(x) else quote_plus(x)


def urlencode(pairs) -> str:
    """``urllib.parse.urlencode(pairs)`` for (name, value) pairs, byte for byte, without its per-character
    cost for the names and values that need no escaping (most of a callback's: SIDs, numbers, event words)."""
    return "&".join(_quote(k) + "=" + _quote(v) for k, v in pairs)


def form_request(
    *,
    dialect: str,
    kind: str,
    event,
    hook_url: str,
    method: str,
    params,
    headers=(),
    username=None,
    password=None,
) -> CallbackRequest:
    """Build a form-encoded POST, or a GET with ``params`` appended to the URL's query string.

    ``params``: ordered (name, value) pairs of str. ``method``: GET, else POST (None → POST). The fragment of
    ``hook_url`` is preserved at the end.
    """
    method = "GET" if (method or "POST").upper() == "GET" else "POST"
    pairs = tuple((k, v) for k, v in params)
    url, body, content_type = hook_url, urlencode(pairs).encode("ascii"), FORM
    if method == "GET":
        parts = urlsplit(hook_url)
        query = "&".join(q for q in (parts.query, urlencode(pairs)) if q)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
        pairs, body, content_type = (), b"", None
    return CallbackRequest(
        dialect=dialect, kind=kind, event_name=event.name, account_sid=event.account_sid,
        conference_sid=event.conference_sid, sequence_number=event.sequence_number, method=method,
        url=url, params=pairs, body=body, content_type=content_type, headers=tuple(headers),
        username=username, password=password,
    )
