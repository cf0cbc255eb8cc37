"""Value kinds: how one attribute's raw value (XML text or a JSON value) becomes a model value.

Each kind has ``text(s: str)`` (an XML attribute) and ``json(v: object)`` (a jambonz property) returning the
canonical value, or raising :class:`Invalid` (never anything else), which the parsers turn into a 12200
warning with the default kept — Twilio's "Schema validation warning" behaviour. Kinds hold no wire names.
:class:`Events` instead reports the words it drops; both parsers read every value through :func:`convert`,
which also turns those drops (and an over-long :class:`Text`) into warnings.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from fsbridge.wire.serialize import FALSE, TRUE, parse_bool

_INT_RE = re.compile(r"^\s*\+?(\d{1,12})\s*$")
_NUM_RE = re.compile(r"^\s*\+?(\d{1,12}(?:\.\d{1,12})?)\s*$")


class Invalid(Exception):
    """A raw value a kind does not accept; ``str(exc)`` says why (e.g. ``"'maybe' is not one of true, false"``)."""


def _short(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Bool:
    """``true``/``false`` (TwiML writes them lowercase; any case accepted) or a JSON boolean → ``bool``."""

    def text(self, s: str) -> bool:
        """XML text ``"true"``/``"false"`` (any case) → bool; anything else raises Invalid."""
        try:
            return parse_bool(s)
        except ValueError:
            raise Invalid(f"{_short(s)} is not one of {TRUE}, {FALSE}") from None

    def json(self, v: object) -> bool:
        """JSON boolean → bool; numbers and strings raise Invalid (jambonz types are strict)."""
        if isinstance(v, bool):
            return v
        raise Invalid(f"{_short(v)} is not a boolean")


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (matched case-insensitively, returned in its canonical spelling, e.g. ``onExit``)."""

    values: Tuple[str, ...]

    def text(self, s: str) -> str:
        """XML text → the canonical spelling of the matching value; raises Invalid otherwise."""
        low = s.strip().lower()
        for value in self.values:
            if value.lower() == low:
                return value
        raise Invalid(f"{_short(s)} is not one of {', '.join(self.values)}")

    def json(self, v: object) -> str:
        """JSON string → as :meth:`text`; a non-string raises Invalid."""
        if isinstance(v, str):
            return self.text(v)
        raise Invalid(f"{_short(v)} is not one of {', '.join(self.values)}")


#: HTTP method of a callback or fetch: Twilio accepts GET and POST, canonical upper case.
METHOD = Choice(("GET", "POST"))


@dataclass(frozen=True)
class Int:
    """A whole number in ``[lo, hi]`` (``hi`` None = unbounded), e.g. Twilio maxParticipants: ``Int(1, 250)``."""

    lo: int = 0
    hi: Optional[int] = None

    def _check(self, n: int, raw: object) -> int:
        if n < self.lo or (self.hi is not None and n > self.hi):
            upper = "" if self.hi is None else f"..{self.hi}"
            raise Invalid(f"{_short(raw)} is outside {self.lo}{upper or '..'}")
        return n

    def text(self, s: str) -> int:
        """XML text of 1–12 digits (optional ``+``) → int within bounds; raises Invalid otherwise."""
        m = _INT_RE.match(s)
        if not m:
            raise Invalid(f"{_short(s)} is not a whole number")
        return self._check(int(m.group(1)), s)

    def json(self, v: object) -> int:
        """JSON integer (or integral float / digit string) → int within bounds; booleans raise Invalid."""
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            if isinstance(v, str):
                return self.text(v)
            raise Invalid(f"{_short(v)} is not a whole number")
        if isinstance(v, float) and (not math.isfinite(v) or v != int(v)):
            raise Invalid(f"{_short(v)} is not a whole number")
        return self._check(int(v), v)


@dataclass(frozen=True)
class Number:
    """A finite number ≥ ``lo`` and ≤ ``hi`` → ``float`` (Twilio Pause length, jambonz endConferenceDuration)."""

    lo: float = 0.0
    hi: Optional[float] = None

    def _check(self, x: float, raw: object) -> float:
        if not math.isfinite(x) or x < self.lo or (self.hi is not None and x > self.hi):
            raise Invalid(f"{_short(raw)} is outside {self.lo:g}..{'' if self.hi is None else f'{self.hi:g}'}")
        return x

    def text(self, s: str) -> float:
        """XML text ``12`` or ``1.5`` (no sign, no exponent) → float within bounds; raises Invalid."""
        m = _NUM_RE.match(s)
        if not m:
            raise Invalid(f"{_short(s)} is not a number")
        return self._check(float(m.group(1)), s)

    def json(self, v: object) -> float:
        """JSON number (not boolean) → finite float within bounds; raises Invalid otherwise."""
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise Invalid(f"{_short(v)} is not a number")
        try:
            return self._check(float(v), v)
        except OverflowError:
            raise Invalid(f"{_short(v)} is too large") from None


@dataclass(frozen=True)
class Text:
    """Any string, whitespace-stripped. ``empty``: what an empty value means (None = absent, ``""`` = kept,
    e.g. Twilio ``waitUrl=""`` = no wait music). ``warn_over``: length above which a warning is raised but the
    value kept (Twilio participantLabel ≤ 128: the domain layer rejects). ``pattern``: optional full-match regex."""

    empty: Optional[str] = None
    warn_over: Optional[int] = None
    pattern: Optional[str] = None

    def text(self, s: str) -> Optional[str]:
        """XML text → stripped string (``empty`` when blank); a pattern mismatch raises Invalid."""
        value = s.strip()
        if not value:
            return self.empty
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise Invalid(f"{_short(s)} does not match {self.pattern}")
        return value

    def json(self, v: object) -> Optional[str]:
        """JSON string → as :meth:`text`; a non-string raises Invalid."""
        if isinstance(v, str):
            return self.text(v)
        raise Invalid(f"{_short(v)} is not a string")

    def too_long(self, value: Optional[str]) -> bool:
        """True when ``value`` is longer than ``warn_over`` (the caller warns and keeps it)."""
        return self.warn_over is not None and value is not None and len(value) > self.warn_over


@dataclass(frozen=True)
class Events:
    """A set of event words: TwiML/TeXML a space-separated attribute, jambonz an array of strings.

    ``allowed``: canonical words; ``aliases``: other spellings → canonical (jambonz ``stop-talking`` →
    ``end-talking``). ``text_with_rejects`` / ``json_with_rejects`` return the known words as a tuple in
    document order without duplicates, and the unknown ones dropped; :func:`convert` warns about those and
    raises :class:`Invalid` when *every* word is unknown (Twilio: the default is used).
    """

    allowed: Tuple[str, ...]
    aliases: Tuple[Tuple[str, str], ...] = ()

    def _collect(self, words) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        canon = {w.lower(): w for w in self.allowed}
        canon.update({a.lower(): c for a, c in self.aliases})
        kept, rejected = [], []
        for word in words:
            hit = canon.get(word.lower()) if isinstance(word, str) else None
            if hit is None:
                rejected.append(word if isinstance(word, str) else _short(word))
            elif hit not in kept:
                kept.append(hit)
        return tuple(kept), tuple(rejected)

    def text_with_rejects(self, s: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """``"start end bogus"`` → ``(("start", "end"), ("bogus",))``; commas are read as spaces."""
        return self._collect(s.replace(",", " ").split())

    def json_with_rejects(self, v: object) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """``["start", "stop-talking"]`` → ``(("start", "end-talking"), ())``; a non-array raises Invalid."""
        if not isinstance(v, list):
            raise Invalid(f"{_short(v)} is not an array")
        return self._collect(v)


def convert(kind: Any, raw: object, name: str, from_json: bool, warn: Callable[[str], None]) -> Any:
    """``raw`` (an XML attribute's text, or a JSON value when ``from_json``) through ``kind`` → model value.

    ``name``: the attribute/property as written, for messages. What is kept despite a problem is reported
    through ``warn(message)`` (Twilio 12200 "Schema validation warning"): :class:`Events` words dropped as
    unknown, a :class:`Text` longer than its ``warn_over``. Raises :class:`Invalid` (the caller warns and
    keeps the default) as the kind does, and for Events when no word is known.
    """
    if isinstance(kind, Events):
        kept, rejected = kind.json_with_rejects(raw) if from_json else kind.text_with_rejects(raw)
        if rejected:
            warn(f"{name}: unknown value(s) {' '.join(map(str, rejected))!r} ignored")
            if not kept:
                raise Invalid(f"none of {_short(raw)} is one of {' '.join(kind.allowed)}")
        return kept
    value = kind.json(raw) if from_json else kind.text(raw)
    if isinstance(kind, Text) and kind.too_long(value):
        warn(f"{name} is longer than {kind.warn_over} characters")
    return value
