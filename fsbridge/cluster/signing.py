"""The internal API's request signature: HMAC-SHA256 with the cluster's shared secret over the timestamp,
method, path (with query) and body. Headers ``X-Fsbridge-Node``, ``X-Fsbridge-Timestamp`` (Unix seconds) and
``X-Fsbridge-Signature`` (hex). Verified in constant time (:func:`hmac.compare_digest`); a timestamp more
than :data:`MAX_SKEW_S` away from now is refused (a captured request cannot be replayed later).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Mapping, Optional

NODE = "X-Fsbridge-Node"
TIMESTAMP = "X-Fsbridge-Timestamp"
SIGNATURE = "X-Fsbridge-Signature"
MAX_SKEW_S = 60.0


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``timestamp\\nMETHOD\\npath\\n`` + ``body`` keyed with ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{method.upper()}\n{path}\n".encode(), hashlib.sha256)
    mac.update(body or b"")
    return mac.hexdigest()


def sign(secret: str, node: str, method: str, path: str, body: bytes, now: Optional[float] = None) -> dict:
    """The three headers for a request from ``node``."""
    ts = str(int(time.time() if now is None else now))
    return {NODE: node, TIMESTAMP: ts, SIGNATURE: signature(secret, ts, method, path, body)}


def verify(secret: str, headers: Mapping[str, str], method: str, path: str, body: bytes,
           now: Optional[float] = None) -> Optional[int]:
    """None when the request is signed correctly; else the HTTP status to answer: 401 (no signature) or
    403 (wrong signature, or timestamp too far from now, or not a number). Never raises for hostile header
    values: it runs before any authentication."""
    sig, ts = headers.get(SIGNATURE), headers.get(TIMESTAMP)
    if not sig or not ts or not headers.get(NODE):
        return 401
    try:
        skew = abs((time.time() if now is None else now) - int(ts))
    except (ValueError, OverflowError):   # not an integer, or too large for a float (a 400-digit one)
        return 403
    expected = signature(secret, ts, method, path, body)
    if not hmac.compare_digest(expected.encode(), str(sig).encode()) or skew > MAX_SKEW_S:
        return 403
    return None


__all__ = ["sign", "verify", "signature", "NODE", "TIMESTAMP", "SIGNATURE", "MAX_SKEW_S"]
