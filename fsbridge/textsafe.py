"""Keep an event whose text cannot be stored or sent as it is (#14 item 7).

Strings from tenants (labels, friendly names, URLs, custom parameters) reach the store and the callback
renderers. Markup with invalid Unicode is refused at parse time (12100), but any text that still cannot be
encoded (a lone surrogate from another path) must not make the bridge drop the event: :func:`keep` runs the
consumer, and if it raises, logs the failure loudly with a traceback, replaces every unencodable character
with U+FFFD (:func:`scrub`) and runs the consumer once more with that copy — the event is stored and called
back, its bad characters visibly replaced. A failure that scrubbing does not cure is logged at ERROR (the
event is then lost for that consumer, never silently).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Optional

REPLACEMENT = "\ufffd"


def has_bad_text(text: str) -> bool:
    """True when ``text`` holds a character UTF-8 cannot encode (a lone surrogate U+D800..U+DFFF)."""
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def clean(text: str) -> str:
    """``text`` with each unencodable character replaced by U+FFFD."""
    if not has_bad_text(text):
        return text
    return "".join(REPLACEMENT if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def scrub(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` (str, tuple/list, dict, frozen dataclass, nested) whose strings are :func:`clean`;
    the same object when nothing needed cleaning."""
    if _depth > 50:
        return value
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, (tuple, list)):
        items = [scrub(v, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, dict):
        out = {scrub(k, _depth + 1): scrub(v, _depth + 1) for k, v in value.items()}
        same = all(a is b for a, b in zip(out.keys(), value.keys())) and \
            all(out[k] is v for k, v in zip(out.keys(), value.values()))
        return value if same else out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = scrub(old, _depth + 1)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def keep(consume: Callable[[Any], Any], event: Any, what: str, log: logging.Logger) -> Optional[Any]:
    """``consume(event)``; on an exception log it (ERROR, traceback) and retry once with :func:`scrub`
    (event). Returns what ``consume`` returned, or None when both attempts failed (logged)."""
    try:
        return consume(event)
    except Exception:
        log.exception("%s failed for %s #%s", what, getattr(event, "conference_sid", "?"),
                      getattr(event, "sequence_number", "?"))
    cleaned = scrub(event)
    if cleaned is event:
        log.error("%s: event %s #%s LOST for this consumer (see the traceback above)", what,
                  getattr(event, "conference_sid", "?"), getattr(event, "sequence_number", "?"))
        return None
    try:
        result = consume(cleaned)
    except Exception:
        log.exception("%s failed again after replacing invalid text; event %s #%s LOST for this consumer", what,
                      getattr(event, "conference_sid", "?"), getattr(event, "sequence_number", "?"))
        return None
    log.error("%s: event %s #%s kept with invalid text replaced by U+FFFD", what,
              getattr(event, "conference_sid", "?"), getattr(event, "sequence_number", "?"))
    return result
