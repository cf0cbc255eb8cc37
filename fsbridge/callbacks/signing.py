"""Webhook signatures for the three dialects, plus Twilio's idempotency token.

Every header name and signing rule of a dialect lives here (and only here):

* **Twilio** ``X-Twilio-Signature``: base64(HMAC-SHA1(AuthToken, url + "".join(k + v for sorted POST params))).
  The URL is the exact one requested, port included; for GET the parameters are already in the query
  string and ``params`` is empty. Source: Twilio "Webhooks security" docs and twilio-python's
  ``request_validator.py`` (known answer: token ``12345`` → ``RSOYDt4T1cUTdK1PDd93/VVr8B8=``).
* **Twilio** ``I-Twilio-Idempotency-Token``: an opaque token, identical on every retry of one webhook so the
  receiver can de-duplicate.
* **Telnyx** ``telnyx-signature-ed25519`` + ``telnyx-timestamp``: base64(Ed25519(private key,
  f"{timestamp}|{body}")), ``timestamp`` in Unix seconds. Source: Telnyx webhook signing docs
  ("timestamp|payload").
* **jambonz** ``Jambonz-Signature: t=<unix s>,v1=<hex>``: hex(HMAC-SHA256(webhook secret,
  f"{t}.{json body}")). Source: jambonz-feature-server ``lib/utils/base-requestor.js``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Iterable, Mapping, Optional, Tuple, Union

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fsbridge.wire import JAMBONZ, TEXML

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
TWILIO_IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
TELNYX_SIGNATURE_HEADER = "telnyx-signature-ed25519"
TELNYX_TIMESTAMP_HEADER = "telnyx-timestamp"
JAMBONZ_SIGNATURE_HEADER = "Jambonz-Signature"

Params = Union[Mapping[str, object], Iterable[Tuple[str, object]], None]

_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f2b8a53-3c1e-4d0a-9a57-0b5d1f0c2e41")
_NAMESPACE_BYTES = _IDEMPOTENCY_NAMESPACE.bytes


def _pairs(params: Params):
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    out = []
    for key, value in items:
        if isinstance(value, (list, tuple)):
            out.extend((str(key), str(v)) for v in value)
        else:
            out.append((str(key), str(value)))
    return out


def twilio_signature(auth_token: str, url: str, params: Params = None) -> str:
    """Return the ``X-Twilio-Signature`` value for a request to ``url``.

    ``auth_token``: the account's AuthToken (str). ``url``: the full URL as requested (scheme, host, port,
    path, query). ``params``: the POST form parameters (mapping or (key, value) pairs; list values repeat the
    key); ``None``/empty for GET. Parameters are sorted by key (then value) and appended as key+value.
    Returns base64 of the 20-byte HMAC-SHA1 digest, e.g. ``"RSOYDt4T1cUTdK1PDd93/VVr8B8="``.
    """
    data = url + "".join(k + v for k, v in sorted(_pairs(params)))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_idempotency_token(*parts: object) -> str:
    """A stable idempotency token (UUID string) derived from ``parts`` (e.g. conference SID, sequence number,
    target kind): every retry of the same webhook carries the same token, as Twilio's does.

    The text of ``uuid.uuid5(namespace, "|".join(parts))`` (RFC 4122 §4.3: SHA-1, version 5, RFC 4122 variant),
    formatted without building a ``uuid.UUID`` (its int arithmetic was 3.5 % of a callback's CPU, issue 16)."""
    h = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "|".join(str(p) for p in parts).encode("utf-8")).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50   # version 5
    h[8] = (h[8] & 0x3F) | 0x80   # variant RFC 4122
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def telnyx_signature(private_key: Ed25519PrivateKey, timestamp: int, body: bytes) -> str:
    """Return base64(Ed25519 signature of ``b"<timestamp>|" + body``); ``timestamp`` in Unix seconds."""
    return base64.b64encode(private_key.sign(str(int(timestamp)).encode("ascii") + b"|" + body)).decode("ascii")


def telnyx_headers(private_key: Ed25519PrivateKey, timestamp: int, body: bytes) -> dict:
    """The two Telnyx signature headers for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return {
        TELNYX_SIGNATURE_HEADER: telnyx_signature(private_key, timestamp, body),
        TELNYX_TIMESTAMP_HEADER: str(int(timestamp)),
    }


def telnyx_verify(public_key: Ed25519PublicKey, timestamp: str, body: bytes, signature_b64: str) -> bool:
    """Check a Telnyx signature (what a receiver does); True when valid."""
    try:
        public_key.verify(base64.b64decode(signature_b64), str(timestamp).encode("ascii") + b"|" + body)
        return True
    except Exception:  # cryptography raises InvalidSignature; bad base64 raises binascii.Error
        return False


def load_ed25519_private_key(value: Union[str, bytes, Ed25519PrivateKey, None]) -> Optional[Ed25519PrivateKey]:
    """Accept a key object, PEM (PKCS8) text/bytes, or a base64 32-byte raw seed; None passes through."""
    if value is None or isinstance(value, Ed25519PrivateKey):
        return value
    raw = value.encode("ascii") if isinstance(value, str) else value
    if b"PRIVATE KEY" in raw:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(raw, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("telnyx private key is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))


def jambonz_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``Jambonz-Signature`` header value ``t=<timestamp>,v1=<hex HMAC-SHA256>`` over
    ``b"<timestamp>." + body`` (``body``: the exact JSON bytes sent; ``timestamp``: Unix seconds)."""
    data = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
    return f"t={int(timestamp)},v1={digest}"


def jambonz_verify(secret: str, header: str, body: bytes) -> bool:
    """Check a ``Jambonz-Signature`` header against ``body`` (what a jambonz app's SDK does)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        expected = jambonz_signature(secret, int(fields["t"]), body)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(expected, header)


def webhook_headers(dialect: str, *, url: str, body: bytes, params: Params, timestamp: int,
                    auth_token: Optional[str] = None, telnyx_key=None,
                    jambonz_secret: Optional[str] = None) -> dict:
    """The signature header(s) a webhook request of ``dialect`` carries — callbacks and voice-URL fetches alike.

    ``twiml``: X-Twilio-Signature over ``url`` + sorted POST ``params`` (None for GET), keyed by the AuthToken;
    ``texml``: telnyx-signature-ed25519 + telnyx-timestamp over ``timestamp|body`` (``telnyx_key``: an Ed25519
    key, PEM or base64 seed); ``jambonz``: Jambonz-Signature ``t=…,v1=…`` (HMAC-SHA256 of the body).
    ``timestamp``: Unix seconds. {} when the account has no secret for the dialect (sent unsigned).
    Sources: Twilio request validation; Telnyx webhook signing; jambonz webhook security.
    """
    if dialect == JAMBONZ:
        return {JAMBONZ_SIGNATURE_HEADER: jambonz_signature(jambonz_secret, timestamp, body)} if jambonz_secret else {}
    if dialect == TEXML:
        key = load_ed25519_private_key(telnyx_key)
        return telnyx_headers(key, timestamp, body) if key is not None else {}
    return {TWILIO_SIGNATURE_HEADER: twilio_signature(auth_token, url, params)} if auth_token else {}
