"""Checks on a fetched body before any parsing: its size and its Content-Type.

Source: Twilio error dictionary — 11750 "TwiML response body too large" (limit 64 KB), 12300 "Invalid
Content-Type". Audio responses (a waitUrl returning an MP3) are the runtime's business and never reach here.
"""
from __future__ import annotations

import codecs
from typing import Optional, Tuple, Union

from .errors import DOCUMENT_PARSE_FAILURE, INVALID_CONTENT_TYPE, MAX_BODY_BYTES, RESPONSE_TOO_LARGE, MarkupError
from .model import JAMBONZ

_XML_TYPES = frozenset({"text/xml", "application/xml", "text/html", "text/plain"})
_JSON_TYPES = frozenset({"application/json", "text/json", "text/plain"})


def as_bytes(body: Union[bytes, bytearray, memoryview, str]) -> bytes:
    """``body`` as bytes (``str`` encoded as UTF-8), refusing one over :data:`MAX_BODY_BYTES`.

    Raises MarkupError(11750) for a body larger than 64 KB (65536 bytes is still accepted), and
    MarkupError(12100) for a body that is neither bytes nor str.
    """
    if isinstance(body, str):
        data = body.encode("utf-8", "surrogatepass")
    elif isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
    else:
        raise MarkupError(DOCUMENT_PARSE_FAILURE, f"document must be bytes or str, not {type(body).__name__}")
    if len(data) > MAX_BODY_BYTES:
        raise MarkupError(RESPONSE_TOO_LARGE, f"response body is {len(data)} bytes; the limit is {MAX_BODY_BYTES}")
    return data


def content_type(value: Optional[str], dialect: str) -> Tuple[Optional[str], Optional[str]]:
    """A Content-Type header → ``(media type, charset)`` checked against ``dialect``; ``(None, None)`` for None.

    XML dialects accept text/xml, application/xml, text/html, text/plain and any ``+xml`` type (as Twilio
    does); jambonz accepts application/json, text/json, text/plain and ``+json``. Raises MarkupError(12300)
    for another type or an unknown charset.
    """
    if value is None or not value.strip():
        return None, None
    parts = value.split(";")
    media = parts[0].strip().lower()
    charset = None
    for param in parts[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip('"').strip("'") or None
    if dialect == JAMBONZ:
        ok = media in _JSON_TYPES or media.endswith("+json")
    else:
        ok = media in _XML_TYPES or media.endswith("+xml")
    if not ok:
        raise MarkupError(INVALID_CONTENT_TYPE, f"Content-Type {media!r} is not a {dialect} document")
    if charset is not None:
        try:
            charset = codecs.lookup(charset).name
        except LookupError:
            raise MarkupError(INVALID_CONTENT_TYPE, f"unknown charset {charset!r}") from None
    return media, charset
