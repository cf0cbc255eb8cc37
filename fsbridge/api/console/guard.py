"""Cross-site request refusal for the whole app, added with the console.

Once an operator has logged into the console, the browser holds the account's Basic credentials for the
bridge's origin and attaches them to any request to it — also to a form another web site submits (CSRF),
which would reach the REST API's writes as well as the console's. Browsers say where a request comes from:
``Sec-Fetch-Site`` (``same-origin`` | ``same-site`` | ``cross-site`` | ``none``) and, on POST, ``Origin``.
A state-changing request (not GET/HEAD/OPTIONS) that a browser reports as made by another site is refused
403 (Twilio code 20403, "Forbidden"). API clients (SDKs, curl) send neither header and are unaffected.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from fsbridge.api.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORBIDDEN = 20403


def refuse_cross_site() -> None:
    """``before_request``: raise 403 for an unsafe request a browser made from another site."""
    if request.method in SAFE_METHODS:
        return
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    origin = request.headers.get("Origin")
    foreign_origin = origin is not None and (origin == "null" or urlsplit(origin).netloc.lower()
                                             != request.host.lower())
    if site in ("cross-site", "same-site") or foreign_origin:
        raise ApiError(403, FORBIDDEN, "Cross-site requests are refused")


def install(app) -> None:
    """Run :func:`refuse_cross_site` before every request of ``app`` (first, before authentication)."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_cross_site)
