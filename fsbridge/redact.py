"""Keep credentials out of the logs (#14 item 8).

Tenants put credentials into URLs (``https://user:pw@app.example/voice``, ``?token=…``); the bridge logs URLs
at INFO (numbers, fetches, callbacks). :class:`RedactFilter` rewrites every log line that passes a handler:

* URL userinfo → ``***:***@`` (``https://***:***@app.example/voice``);
* values of query/form parameters whose name looks like a credential (``token``, ``secret``, ``password``,
  ``passwd``, ``pwd``, ``auth``, ``signature``, ``sig``, ``key``, ``credential``, ``AccessToken`` …) → ``***``;
* ``Authorization: Basic …`` / ``Bearer …`` values → ``***``.

The message (with its arguments), the formatted traceback and the stack text are rewritten. The entry points
call :func:`install` once logging is configured; it puts the filter on every handler of the root logger (a
filter on a handler sees records of every logger).
"""
from __future__ import annotations

import logging
import re
from typing import Optional

MASK = "***"

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,20}://)[^/\s?#@'\"<>]+@")
_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&;,\s])(?:[A-Za-z0-9_.\-]*(?:token|secret|passw(?:or)?d|pwd|auth|signature|sig|api[_-]?key|"
    r"access[_-]?key|credential)[A-Za-z0-9_.\-]*|key)=)[^&\s#'\"<>,;]*")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(basic|bearer|digest)\s+)?[^\s,'\"}]+")


def redact(text: str) -> str:
    """``text`` with URL userinfo, credential-like parameter values and Authorization values masked."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + ":" + MASK + "@", text)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + ((m.group(2) + " ") if m.group(2) else "") + MASK, text)
    return text


class RedactFilter(logging.Filter):
    """A handler filter that masks credentials in the whole record (message, traceback, stack)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:   # noqa: BLE001 - a bad format string: leave it to the formatter's own error path
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger: Optional[logging.Logger] = None) -> RedactFilter:
    """Put one :class:`RedactFilter` on every handler of ``logger`` (default: the root logger); idempotent.
    Returns the filter."""
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        for f in handler.filters:
            if isinstance(f, RedactFilter):
                break
        else:
            handler.addFilter(_FILTER)
    return _FILTER


_FILTER = RedactFilter()
