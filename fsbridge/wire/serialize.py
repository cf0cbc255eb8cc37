"""The wire serialisers, one of each: name case, booleans, and the date forms each dialect writes.

* Names: twilio-python keeps one lowerCamel ↔ snake_case map (``base/serialize.py``, ``twiml/__init__.py``
  ``lower_camel``); :func:`snake_case` reads lowerCamel (TwiML attributes) and UpperCamel (REST parameters),
  :func:`lower_camel` / :func:`upper_camel` are its inverses for names without acronyms.
* Booleans: ``true``/``false`` in any case, surrounding spaces ignored (Twilio REST, TwiML);
  :func:`bool_str` writes them lower case as twilio-python's ``serialize.boolean_to_string`` does.
* Dates — four forms, deliberately different, each from its source:
  :func:`rfc2822_rest` ``Fri, 08 Feb 2021 20:58:45 +0000`` (REST resources: the day zero-padded, as every
  example in ../shared/specs/twilio_api_v2010_conferences.json);
  :func:`rfc2822_callback` ``Thu, 1 Jun 2017 20:48:32 +0000`` (statusCallback ``Timestamp`` /
  ``RecordingStartTime``: day not padded, as the TwiML Conference parameter table shows);
  :func:`telnyx_time` ``2021-04-28 22:51:29.993535Z`` (Telnyx TeXML callbacks, the seed's form);
  :func:`iso_ms` ``2020-04-27T13:44:17.336Z`` (jambonz: JavaScript ``Date.toISOString()``).
Naive datetimes are taken as UTC everywhere. RFC 2822 is written here rather than with ``email.utils``
(same output, English names whatever the locale), which would pull ``socket`` into the sans-IO domain.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Optional

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(wire: str) -> str:
    """lowerCamel or UpperCamel wire name → snake_case: ``startConferenceOnEnter`` /
    ``StartConferenceOnEnter`` → ``start_conference_on_enter``; ``CallSidToCoach`` → ``call_sid_to_coach``."""
    return _CAMEL.sub(r"_\1", wire).lower()


def lower_camel(snake: str) -> str:
    """snake_case → lowerCamel (twilio-python ``lower_camel``): ``status_callback_event`` →
    ``statusCallbackEvent``."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def upper_camel(snake: str) -> str:
    """snake_case → UpperCamel (Twilio REST parameter form): ``call_sid_to_coach`` → ``CallSidToCoach``."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


TRUE = "true"
FALSE = "false"


def parse_bool(text: str) -> bool:
    """A wire boolean: ``true``/``false`` in any case, surrounding whitespace ignored → bool.
    Raises ValueError for anything else (callers turn it into their dialect's error: Twilio 400 / 12200)."""
    low = text.strip().lower()
    if low == TRUE:
        return True
    if low == FALSE:
        return False
    raise ValueError(f"{text!r} is not one of {TRUE}, {FALSE}")


def bool_str(value: bool) -> str:
    """bool → ``"true"`` / ``"false"`` (Twilio/Telnyx form fields, TwiML attributes)."""
    return TRUE if value else FALSE


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc2822(when: datetime, day: str) -> str:
    t = _utc(when)
    return (f"{_DAYS[t.weekday()]}, {day.format(t.day)} {_MONTHS[t.month - 1]} {t.year:04d} "
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000")


@lru_cache(maxsize=4096)
def rfc2822_rest(when: Optional[datetime]) -> Optional[str]:
    """REST resource dates: ``Fri, 08 Feb 2021 20:58:45 +0000`` (RFC 2822, UTC, whole seconds, day padded as
    the Twilio API specification's examples); None stays None. Memoized (bounded): dates repeat across
    renders (a participant's date_created, a page's rows) and equal instants format alike, so a hit is exact."""
    if when is None:
        return None
    return _rfc2822(when, "{:02d}")


def rfc2822_callback(when: datetime) -> str:
    """Callback dates (``Timestamp``, ``RecordingStartTime``): ``Thu, 1 Jun 2017 20:48:32 +0000`` — RFC 2822 in
    UTC with the day *not* zero-padded, exactly as Twilio's statusCallback parameter table shows it."""
    return _rfc2822(when, "{:d}")


def telnyx_time(when: datetime) -> str:
    """Telnyx TeXML callback ``Timestamp``: ``2021-04-28 22:51:29.993535Z`` (UTC, microseconds, literal Z)."""
    return _utc(when).strftime("%Y-%m-%d %H:%M:%S.%fZ")


def iso_ms(when: datetime) -> str:
    """jambonz ``time``: ``2020-04-27T13:44:17.336Z`` (JavaScript ``Date.toISOString()``: UTC, milliseconds)."""
    when = _utc(when)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
