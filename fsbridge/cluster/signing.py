"""The internal API's request signature: HMAC-SHA256 with the cluster's shared secret over the timestamp,
a nonce, method, path (with query) and body. Headers ``X-Fsbridge-Node``, ``X-Fsbridge-Timestamp`` (Unix
seconds), ``X-Fsbridge-Nonce`` (32 hex digits, random per request) and ``X-Fsbridge-Signature`` (hex).
Verified in constant time (:func:`hmac.compare_digest`); a timestamp more than :data:`MAX_SKEW_S` away from
now is refused (a captured request cannot be replayed later), and a :class:`ReplayGuard` refuses a nonce
already accepted within that window (nor sooner).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from typing import Mapping, Optional

NODE = "X-Fsbridge-Node"
TIMESTAMP = "X-Fsbridge-Timestamp"
SIGNATURE = "X-Fsbridge-Signature"
NONCE = "X-Fsbridge-Nonce"
MAX_SKEW_S = 60.0
_NONCE_RE = re.compile(r"[0-9a-f]{32}")


class ReplayGuard:
    """The nonces accepted in the last ``2 × MAX_SKEW_S`` seconds (a signed request is valid while its
    timestamp is within ±MAX_SKEW_S of now, so no older nonce can come back valid). Memory: one entry per
    accepted request of that window. Not thread-safe beyond gevent's cooperative scheduling (no yield inside)."""

    def __init__(self, window_s: float = 2 * MAX_SKEW_S):
        self.window_s = window_s
        self._seen: set = set()
        self._order: deque = deque()   # (accepted at, nonce), oldest first

    def first_use(self, nonce: str, now: float) -> bool:
        """True (and remembered) the first time ``nonce`` is offered within the window; False after."""
        while self._order and self._order[0][0] < now - self.window_s:
            self._seen.discard(self._order.popleft()[1])
        if nonce in self._seen:
            return False
        self._seen.add(nonce)
        self._order.append((now, nonce))
        return True


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes, nonce: str = "") -> str:
    """Hex HMAC-SHA256 of ``timestamp\\nnonce\\nMETHOD\\npath\\n`` + ``body`` keyed with ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n".encode(), hashlib.sha256)
    mac.update(body or b"")
    return mac.hexdigest()


def sign(secret: str, node: str, method: str, path: str, body: bytes, now: Optional[float] = None) -> dict:
    """The four headers for a request from ``node`` (a fresh random nonce each call)."""
    ts, nonce = str(int(time.time() if now is None else now)), secrets.token_hex(16)
    return {NODE: node, TIMESTAMP: ts, NONCE: nonce, SIGNATURE: signature(secret, ts, method, path, body, nonce)}


def verify(secret: str, headers: Mapping[str, str], method: str, path: str, body: bytes,
           now: Optional[float] = None, guard: Optional[ReplayGuard] = None) -> Optional[int]:
    """None when the request is signed correctly (and, with ``guard``, its nonce not seen before); else the
    HTTP status to answer: 401 (no signature) or 403 (wrong signature, timestamp too far from now or not a
    number, nonce malformed or replayed). Never raises for hostile header values: it runs before any
    authentication."""
    sig, ts, nonce = headers.get(SIGNATURE), headers.get(TIMESTAMP), headers.get(NONCE)
    if not sig or not ts or not nonce or not headers.get(NODE):
        return 401
    now = time.time() if now is None else now
    try:
        skew = abs(now - int(ts))
    except (ValueError, OverflowError):   # not an integer, or too large for a float (a 400-digit one)
        return 403
    if not _NONCE_RE.fullmatch(str(nonce)):
        return 403
    expected = signature(secret, ts, method, path, body, nonce)
    if not hmac.compare_digest(expected.encode(), str(sig).encode()) or skew > MAX_SKEW_S:
        return 403
    if guard is not None and not guard.first_use(nonce, now):
        return 403
    return None


__all__ = ["sign", "verify", "signature", "ReplayGuard", "NODE", "TIMESTAMP", "NONCE", "SIGNATURE",
           "MAX_SKEW_S"]
