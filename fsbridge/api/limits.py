"""Request limits and last-resort error rendering for the REST app (docs/security.md).

* Bodies larger than ``max_body_bytes`` (``[http] max_body_bytes``, default 1 MiB) are answered
  ``413`` with Twilio-shaped JSON (code 20413, fsbridge's code after Twilio's 20404/20500 pattern) *before*
  they are read: a declared ``Content-Length`` is checked in ``before_request``; a chunked body is cut by
  Werkzeug's ``MAX_CONTENT_LENGTH`` while it streams.
* Any exception no route maps is logged with its traceback and answered ``500`` / 20500 with a fixed text:
  never an HTML page, never internal details. (Every tenant input is meant to be a 4xx before this.)
"""
from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from fsbridge.api.errors import INTERNAL, ApiError, render

TOO_LARGE = 20413
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

log = logging.getLogger("fsbridge.api")


def too_large(limit: int) -> ApiError:
    """413 / 20413: the request body is larger than ``limit`` bytes."""
    return ApiError(413, TOO_LARGE, f"Request body too large (limit {limit} bytes)")


def install(app: Flask, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Add the body limit and the last-resort handlers to ``app`` (error handlers registered on blueprints,
    e.g. Telnyx's, still win for their routes). The limit is read from ``app.config["MAX_CONTENT_LENGTH"]``
    on every request, so a composition root may change it later."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    def limit() -> int:
        return int(app.config.get("MAX_CONTENT_LENGTH") or max_body_bytes)

    def check_length():
        length = request.content_length
        if length is not None and length > limit():
            log.warning("%s %s: body of %d bytes refused (limit %d)", request.method, request.path, length,
                        limit())
            return render(too_large(limit()))
        return None

    app.before_request_funcs.setdefault(None, []).insert(0, check_length)
    app.register_error_handler(RequestEntityTooLarge, lambda e: render(too_large(limit())))

    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):   # Flask/Werkzeug's own 4xx (400 bad form, 415 …): keep status
            status = exc.code or 500
            if status < 500:
                return render(ApiError(status, 20000 + status, exc.name))
        log.exception("%s %s: unhandled error", request.method, request.path)
        return render(ApiError(500, INTERNAL, "Internal error"))

    app.register_error_handler(Exception, unexpected)
