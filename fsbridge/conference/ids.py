"""Twilio-form identifiers: a two-letter prefix + 32 lowercase hex digits.

AccountSid ``AC…``, ConferenceSid ``CF…``, CallSid ``CA…``, RecordingSid ``RE…`` (Twilio resource SIDs).
"""
from __future__ import annotations

import re
import uuid

ACCOUNT = "AC"
CONFERENCE = "CF"
CALL = "CA"
RECORDING = "RE"

_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def new_sid(prefix: str) -> str:
    """A fresh random SID, e.g. ``new_sid("CF")`` → ``"CF" + 32 hex``. Raises ValueError on a bad prefix."""
    if not re.fullmatch(r"[A-Z]{2}", prefix):
        raise ValueError(f"bad SID prefix {prefix!r}")
    return prefix + uuid.uuid4().hex


def is_sid(value: object, prefix: str | None = None) -> bool:
    """True when ``value`` is a SID (with ``prefix`` when given): two capitals + 32 lowercase hex."""
    return isinstance(value, str) and bool(_SID.match(value)) and (prefix is None or value[:2] == prefix)
