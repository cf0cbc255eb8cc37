"""Connection overrides carried in a callback URL's fragment, and the delivery policy they produce.

Sources: Twilio "Webhooks connection overrides" (``#ct=`` connect timeout ms 100–10000, ``#rt=`` read timeout
ms 100–15000, ``#tt=`` total time ms 100–15000, ``#rc=`` retry count 0–5, ``#rp=`` retry policy
``4xx,5xx,ct,rt,all`` default ``ct``) and jambonz "Webhook and WebSocket retries" (``#rc=`` 0–5, ``#rp=`` same
classes; jambonz-feature-server lib/utils/base-requestor.js ``_shouldRetry``). The fragment is never sent to
the receiver (nor signed: receivers rebuild the URL from the request line).

Without ``rc``/``rp`` the bridge's durable default applies: retry connection failures, timeouts and 5xx with
backoff until the dispatcher's deadline. With ``rc`` (or ``rp``) the URL owner's explicit budget applies.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import FrozenSet, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import urllib3

log = logging.getLogger("fsbridge.callbacks")

CONNECT_TIMEOUT = "ct"
READ_TIMEOUT = "rt"
TOTAL_TIMEOUT = "tt"
RETRY_COUNT = "rc"
RETRY_POLICY = "rp"

#: failure classes an attempt can end in (``rp`` words) — plus FATAL, never retried
CLASS_CT = "ct"
CLASS_RT = "rt"
CLASS_4XX = "4xx"
CLASS_5XX = "5xx"
CLASS_FATAL = "fatal"
_ALL = frozenset({CLASS_CT, CLASS_RT, CLASS_4XX, CLASS_5XX})


@dataclass(frozen=True)
class DeliveryPolicy:
    """How one callback is delivered.

    ``connect_timeout_s``/``read_timeout_s``: seconds per attempt. ``max_retries``: retries after the first
    attempt, None = until ``deadline_s``. ``retry_on``: failure classes worth retrying (ct, rt, 4xx, 5xx).
    ``deadline_s``: seconds after the event was enqueued past which no retry starts.
    """

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    max_retries: Optional[int] = None
    retry_on: FrozenSet[str] = frozenset({CLASS_CT, CLASS_RT, CLASS_5XX})
    deadline_s: float = 3600.0


def _ms(value: str, lo: int, hi: int, name: str) -> Optional[float]:
    try:
        ms = int(value)
    except ValueError:
        log.warning("callback URL override %s=%r is not an integer; ignored", name, value)
        return None
    return min(max(ms, lo), hi) / 1000.0


def split_url(url: str) -> Tuple[str, str]:
    """``(url without fragment, fragment)``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")), parts.fragment


def policy_for(url: str, default: DeliveryPolicy = DeliveryPolicy()) -> Tuple[str, DeliveryPolicy]:
    """Return ``(url to request, policy)`` for a configured callback URL (fragment read and removed).

    Unknown fragment keys (Twilio's ``e``, ``sni`` …) are ignored; out-of-range values are clamped.
    """
    bare, fragment = split_url(url)
    if not fragment:
        return bare, default
    fields = dict(parse_qsl(fragment, keep_blank_values=True))
    policy = default
    if CONNECT_TIMEOUT in fields:
        v = _ms(fields[CONNECT_TIMEOUT], 100, 10000, CONNECT_TIMEOUT)
        if v is not None:
            policy = replace(policy, connect_timeout_s=v)
    if READ_TIMEOUT in fields:
        v = _ms(fields[READ_TIMEOUT], 100, 15000, READ_TIMEOUT)
        if v is not None:
            policy = replace(policy, read_timeout_s=v)
    if TOTAL_TIMEOUT in fields:
        v = _ms(fields[TOTAL_TIMEOUT], 100, 15000, TOTAL_TIMEOUT)
        if v is not None:
            policy = replace(policy, deadline_s=v)
    if RETRY_COUNT in fields or RETRY_POLICY in fields:
        rc = 0
        if RETRY_COUNT in fields:
            try:
                rc = min(abs(int(fields[RETRY_COUNT])), 5)
            except ValueError:
                log.warning("callback URL override rc=%r is not an integer; using 0", fields[RETRY_COUNT])
        words = {w.strip() for w in fields.get(RETRY_POLICY, CLASS_CT).split(",") if w.strip()}
        retry_on = _ALL if "all" in words else frozenset(words & _ALL)
        if words - _ALL - {"all"}:
            log.warning("callback URL override rp has unknown classes %s; ignored", sorted(words - _ALL - {"all"}))
        policy = replace(policy, max_retries=rc, retry_on=retry_on)
    return bare, policy


def url_problem(url: str) -> Optional[str]:
    """Why ``url`` can never be requested (None when it looks deliverable): not absolute, scheme not
    http/https, no host, bad port."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return f"malformed URL {url!r}: {exc}"
    if not parts.scheme and not parts.netloc:
        return f"relative URL {url!r}: callbacks need an absolute http(s) URL (resolve it against the document URL)"
    if parts.scheme.lower() not in ("http", "https"):
        return f"unsupported URL scheme {parts.scheme!r} in {url!r} (only http and https can be called back)"
    if not parts.hostname:
        return f"URL {url!r} has no host"
    if port == 0:
        return f"URL {url!r} has port 0"
    return None


class UrlPlans:
    """Per-URL memo of :func:`url_problem` and of :func:`policy_for` + urllib3's normalisation (percent-encode
    spaces/non-ASCII, lowercase host: what is signed is what is sent) — a conference's callbacks share one
    URL, and parsing it again per callback was ≈ 5 % of the FreeSWITCH path's CPU (issue 21). Pure functions
    of the URL (and the fixed default policy), so memoising changes no result; URLs with a ``#`` fragment are
    not memoised (their override warnings stay per callback). Bounded: cleared at ``limit`` entries."""

    def __init__(self, default: DeliveryPolicy, limit: int = 4096):
        self.default, self.limit = default, limit
        self._problems: dict = {}
        self._plans: dict = {}

    def problem(self, url: str) -> Optional[str]:
        """:func:`url_problem` of ``url`` (memoised)."""
        try:
            return self._problems[url]
        except KeyError:
            pass
        if len(self._problems) >= self.limit:
            self._problems.clear()
        problem = self._problems[url] = url_problem(url)
        return problem

    def plan(self, url: str) -> Tuple[str, DeliveryPolicy]:
        """``(normalised URL to request, policy)`` for a configured callback URL (:func:`policy_for`)."""
        hit = self._plans.get(url)
        if hit is not None:
            return hit
        target, policy = policy_for(url, self.default)
        try:
            target = urllib3.util.parse_url(target).url
        except urllib3.exceptions.LocationParseError:
            pass  # the attempt reports it
        if "#" not in url:
            if len(self._plans) >= self.limit:
                self._plans.clear()
            self._plans[url] = (target, policy)
        return target, policy
