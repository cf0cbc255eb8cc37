"""The shape of a dialect's attribute table: which attribute sets which model field, through which kind.

An XML dialect (TwiML, TeXML) is an :class:`XmlDialect`: per model class (Dial, Conference, Play, ...) a
tuple of :class:`Attr` and the dialect's defaults where they differ from the model's (Twilio's). The
tables themselves live in ``twiml.py`` / ``texml.py`` — the only modules that spell attribute names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple

from fsbridge.wire.serialize import snake_case  # noqa: F401  (attribute name → model field; re-exported)


IGNORED = "-"  #: ``Attr.field`` value for attributes accepted without effect (Twilio Dial ``ringTone``)


@dataclass(frozen=True)
class Attr:
    """One attribute: ``wire`` its name in the document, ``kind`` a :mod:`~fsbridge.markup.values` kind,
    ``field`` the model field it sets (default: ``snake_case(wire)``; :data:`IGNORED` = accepted, no effect)."""

    wire: str
    kind: Any
    field: str = ""

    @property
    def target(self) -> Optional[str]:
        """The model field this attribute sets, or None when it is accepted and ignored."""
        if self.field == IGNORED:
            return None
        return self.field or snake_case(self.wire)


@dataclass(frozen=True)
class XmlDialect:
    """An XML dialect: ``name`` (model.TWIML/TEXML), ``attrs`` {model class: (Attr, ...)} and ``defaults``
    {model class: {field: value}} overriding the model's defaults (TeXML Conference trim = do-not-trim)."""

    name: str
    attrs: Mapping[type, Tuple[Attr, ...]]
    defaults: Mapping[type, Mapping[str, Any]] = field(default_factory=dict)

    def table(self, cls: type) -> Mapping[str, Attr]:
        """{wire name: Attr} for model class ``cls`` (empty when the dialect gives it no attributes)."""
        return {a.wire: a for a in self.attrs.get(cls, ())}

    def by_field(self, cls: type) -> Mapping[str, Attr]:
        """{model field: Attr} for ``cls`` — how another dialect derives its table without spelling names."""
        return {a.target: a for a in self.attrs.get(cls, ()) if a.target}
