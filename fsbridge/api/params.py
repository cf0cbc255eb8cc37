"""Parsing of request parameters (form body or query string) the way Twilio validates them.

Each helper takes the parameter's wire name from its caller (the route modules own the names) and returns the
parsed value, ``None`` when absent, or raises :class:`fsbridge.api.errors.ApiError` (400, Twilio 21xxx).
Booleans are ``true``/``false`` (any case), as twilio-python's ``serialize.boolean_to_string`` sends them.
List parameters (``StatusCallbackEvent`` …) may be repeated and/or space/comma separated.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, List, Optional

from werkzeug.datastructures import MultiDict

from fsbridge.api.errors import INVALID_URL, invalid
from fsbridge.callbacks.overrides import url_problem
from fsbridge.store.rows import DateRange
from fsbridge.wire.serialize import parse_bool

HTTP_METHODS = ("GET", "POST")
MIN_YEAR, MAX_YEAR = 1970, 9998   # date filters: a range every store backend and timedelta step can hold


def text(src: MultiDict, name: str, max_len: int = 4000) -> Optional[str]:
    """A string parameter (None when absent)."""
    v = src.get(name)
    if v is None:
        return None
    if len(v) > max_len:
        raise invalid(f"{name} is longer than {max_len} characters")
    return v


def boolean(src: MultiDict, name: str) -> Optional[bool]:
    """``true``/``false`` (any case, :func:`fsbridge.wire.serialize.parse_bool`) → bool; absent → None."""
    v = src.get(name)
    if v is None:
        return None
    try:
        return parse_bool(v)
    except ValueError:
        raise invalid(f"Invalid value for {name}: {v!r} (must be true or false)") from None


def integer(src: MultiDict, name: str, lo: Optional[int] = None, hi: Optional[int] = None) -> Optional[int]:
    """A decimal integer within [lo, hi]."""
    v = src.get(name)
    if v is None:
        return None
    raw = v.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,18}", raw):   # ASCII digits only; no "1_000", no 5000-digit numbers
        raise invalid(f"Invalid value for {name}: {v[:40]!r} (must be an integer)")
    try:
        n = int(raw)
    except ValueError:
        raise invalid(f"Invalid value for {name}: {v!r} (must be an integer)") from None
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise invalid(f"Invalid value for {name}: {n} (must be between {lo} and {hi})")
    return n


def choice(src: MultiDict, name: str, allowed: Iterable[str], case_insensitive: bool = False) -> Optional[str]:
    """One of ``allowed`` (returned in its canonical spelling)."""
    v = src.get(name)
    if v is None:
        return None
    allowed = tuple(allowed)
    for a in allowed:
        if v == a or (case_insensitive and v.lower() == a.lower()):
            return a
    raise invalid(f"Invalid value for {name}: {v!r} (must be one of {', '.join(allowed)})")


def method(src: MultiDict, name: str) -> Optional[str]:
    """HTTP method parameter: GET or POST (any case) → upper case."""
    return choice(src, name, HTTP_METHODS, case_insensitive=True)


def url(src: MultiDict, name: str) -> Optional[str]:
    """An absolute http(s) URL with a host and a valid port, at most 4000 characters, surrounding spaces
    removed (Twilio 21205 otherwise) — the check the callback dispatcher makes
    (:func:`fsbridge.callbacks.overrides.url_problem`), so a URL accepted here can be requested."""
    v = src.get(name)
    if v is None:
        return None
    v = v.strip()
    if len(v) > 4000 or url_problem(v):
        raise invalid(f"{name} is not a valid URL: {v!r}", INVALID_URL)
    return v


def sid(src: MultiDict, name: str, prefix: str) -> Optional[str]:
    """A Twilio Sid: ``prefix`` + 32 hex digits (e.g. CallSidToCoach ``CA…``)."""
    v = src.get(name)
    if v is None:
        return None
    if not is_sid(v, prefix):
        raise invalid(f"Invalid value for {name}: {v!r} (must be a {prefix} Sid)")
    return v


def is_sid(value: str, prefix: str) -> bool:
    """True when ``value`` is ``prefix`` followed by 32 hex digits."""
    return bool(re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value or ""))


def words(src: MultiDict, name: str, allowed: Optional[Iterable[str]] = None) -> Optional[List[str]]:
    """A list parameter: repeated and/or space/comma separated words, each in ``allowed`` when given."""
    raw = src.getlist(name)
    if not raw:
        return None
    out = [w for item in raw for w in re.split(r"[\s,]+", item.strip()) if w]
    if allowed is not None:
        allowed = tuple(allowed)
        bad = [w for w in out if w not in allowed]
        if bad:
            raise invalid(f"Invalid value for {name}: {' '.join(bad)} (allowed: {', '.join(allowed)})")
    return out


def date_filter(src: MultiDict, name: str) -> Optional[DateRange]:
    """Twilio's date filter family for ``name`` (e.g. DateCreated), values ``YYYY-MM-DD`` (UTC days):

    * ``name=D``  → that day;
    * ``name<=D`` (sent as key ``name<``) → on or before D;
    * ``name>=D`` (sent as key ``name>``) → on or after D.
    Several may combine (intersection). Returns a half-open :class:`DateRange` or None.
    """
    start = end = None

    def day(key: str) -> Optional[datetime]:
        v = src.get(key)
        if v is None:
            return None
        try:
            d = date.fromisoformat(v.strip()[:10])
        except ValueError:
            raise invalid(f"Invalid value for {key}: {v[:40]!r} (must be YYYY-MM-DD)") from None
        if not MIN_YEAR <= d.year <= MAX_YEAR:   # 9999-12-31 + 1 day overflowed (was a 500)
            raise invalid(f"Invalid value for {key}: {v[:40]!r} (year must be {MIN_YEAR}..{MAX_YEAR})")
        return datetime.combine(d, time(0), tzinfo=timezone.utc)

    exact, before, after = day(name), day(name + "<"), day(name + ">")
    if exact is None and before is None and after is None:
        return None
    if exact is not None:
        start, end = exact, exact + timedelta(days=1)
    if before is not None:
        b = before + timedelta(days=1)
        end = b if end is None else min(end, b)
    if after is not None:
        start = after if start is None else max(start, after)
    return DateRange(start, end)
