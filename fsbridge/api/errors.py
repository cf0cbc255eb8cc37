"""Errors as Twilio's REST API returns them: HTTP status + JSON ``{code, message, more_info, status}``.

:class:`ApiError` is raised anywhere in a request; :func:`register` renders it (and Flask's own 404 / 405) as
Twilio does. :func:`from_control` converts what a :class:`fsbridge.runtime.control.ConferenceControl` raises:
a ``DomainError`` (duck-typed: ``.code``, ``.status``, ``.message``) keeps its code and status;
:class:`fsbridge.engines.base.EngineUnavailable` → 503.

Codes used (Twilio error dictionary, https://www.twilio.com/docs/errors/<code>): 20003 Authenticate (401),
20404 resource not found (404), 20004 method not allowed (405), 20503 service unavailable (503),
20500 internal error (500), 21213 From missing, 21205 invalid URL, 21220 invalid call / resource state
(sent with HTTP 409 for impossible transitions such as holding a participant who left). 21201 is the
catch-all "invalid parameter value" (malformed booleans, integers, enums, Sids, dates, a missing To) — the
same code fsbridge.conference.errors uses, fsbridge's choice inside Twilio's 21xxx validation range.
"""
from __future__ import annotations

import logging
from typing import Optional

from flask import Flask, jsonify, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from fsbridge.engines.base import EngineError, EngineUnavailable

AUTHENTICATE = 20003
METHOD_NOT_ALLOWED = 20004
NOT_FOUND = 20404
INTERNAL = 20500
UNAVAILABLE = 20503
INVALID_PARAMETER = 21201  # fsbridge.conference.errors.INVALID_PARAMETER
TO_MISSING = 21201
INVALID_URL = 21205
FROM_MISSING = 21213
INVALID_STATE = 21220

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

log = logging.getLogger("fsbridge.api")


class ApiError(Exception):
    """One REST error. ``status``: HTTP status; ``code``: Twilio error code; ``message``: human text."""

    def __init__(self, status: int, code: int, message: str, headers: Optional[dict] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        """Twilio's error JSON: ``{"code", "message", "more_info", "status"}``."""
        return {"code": self.code, "message": self.message,
                "more_info": MORE_INFO.format(code=self.code), "status": self.status}


def not_found(path: Optional[str] = None) -> ApiError:
    """20404 for ``path`` (default: the current request path), Twilio's wording."""
    return ApiError(404, NOT_FOUND, f"The requested resource {path or request.path} was not found")


def invalid(message: str, code: int = INVALID_PARAMETER) -> ApiError:
    """A 400 validation error (Twilio 21xxx)."""
    return ApiError(400, code, message)


def conflict(message: str) -> ApiError:
    """An impossible transition (409, code 21220): never a silent no-op."""
    return ApiError(409, INVALID_STATE, message)


def unauthenticated() -> ApiError:
    """401 / 20003 with the Basic challenge Twilio sends."""
    return ApiError(401, AUTHENTICATE, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})


def from_control(exc: Exception) -> Optional[ApiError]:
    """Map a ConferenceControl exception to an ApiError: a DomainError (``.code``/``.status`` ints) keeps its
    code and status; EngineUnavailable → 503 / 20503; any other EngineError → 500 / 20500. None for anything
    else (a bug: the caller re-raises it)."""
    if isinstance(exc, EngineUnavailable):   # the engine's address stays in the log (#14)
        log.warning("%s %s: engine unavailable: %s", request.method, request.path, exc)
        return ApiError(503, UNAVAILABLE, "Conference engine unavailable")
    code, status, message = (getattr(exc, "code", None), getattr(exc, "status", None),
                             getattr(exc, "message", None))
    if isinstance(code, int) and isinstance(status, int):
        return ApiError(status, code, message or str(exc))
    if isinstance(exc, EngineError):
        log.error("%s %s: engine error: %s", request.method, request.path, exc)
        return ApiError(500, INTERNAL, "Conference engine error")
    return None


def render(err: ApiError):
    """Flask response for an ApiError (Twilio JSON)."""
    resp = jsonify(err.body())
    resp.status_code = err.status
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def register(app: Flask) -> None:
    """Install the Twilio-shaped handlers on ``app`` (blueprints may override them, e.g. Telnyx)."""
    app.register_error_handler(ApiError, render)
    app.register_error_handler(NotFound, lambda e: render(not_found()))
    app.register_error_handler(
        MethodNotAllowed,
        lambda e: render(ApiError(405, METHOD_NOT_ALLOWED, f"Method not allowed: {request.method}")))
