"""fsbridge.markup: TwiML, TeXML and jambonz documents → one validated, dialect-neutral verb model.

Public surface: :func:`parse` (body → :class:`~fsbridge.markup.model.Response`), :func:`verbs_allowed_in_wait`
(the waitUrl/holdUrl/announceUrl filter), :func:`to_json` (the ``fsbridge parse`` JSON), and the model and
error types re-exported below. Nothing here does I/O. Sources: ../shared/seeds (Twilio TwiML Conference,
Telnyx TeXML Conference, jambonz conference verb) and jambonz verb specification 0.1.13.
"""
from __future__ import annotations

from .errors import MarkupError
from .model import DIALECTS, JAMBONZ, TEXML, TWIML, Conference, Dial, MarkupWarning, Response

__all__ = [
    "parse", "verbs_allowed_in_wait", "to_json", "MarkupError", "MarkupWarning", "Response", "Dial",
    "Conference", "TWIML", "TEXML", "JAMBONZ", "DIALECTS",
]

# The parsers need lxml; they load on first use so that importing the model (as the sans-IO domain does)
# never imports lxml.
_LAZY = {"parse": "parser", "to_json": "serialize", "verbs_allowed_in_wait": "wait"}


def __getattr__(name: str):
    """Load :func:`parse`, :func:`to_json` and :func:`verbs_allowed_in_wait` on first access."""
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
