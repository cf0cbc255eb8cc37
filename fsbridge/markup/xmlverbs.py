"""The walker shared by the XML dialects: ``<Response>`` element tree + an :class:`XmlDialect` → Response.

Element structure (which verbs exist, that ``<Conference>`` sits in ``<Dial>``, where text goes) is the same
for TwiML and TeXML and lives here; attribute names and defaults come from the dialect's table. Twilio's
rules: a root other than ``<Response>`` is error 12100; an unknown verb, noun or attribute, or an invalid
value, is warning 12200 and is skipped / replaced by its default, and the call goes on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from lxml import etree

from .errors import DOCUMENT_PARSE_FAILURE, SCHEMA_VALIDATION_WARNING, MarkupError
from .model import Conference, Dial, Gather, Hangup, MarkupWarning, Pause, Play, Redirect, Response, Say, Verb
from .schema import XmlDialect
from .values import Invalid, convert

ROOT = "Response"
#: Verbs fsbridge runs, by element name.
VERBS = {"Dial": Dial, "Play": Play, "Say": Say, "Pause": Pause, "Redirect": Redirect, "Hangup": Hangup,
         "Gather": Gather}
#: What <Gather> may nest (Twilio: Say, Play, Pause).
GATHER_NESTED = frozenset({"Say", "Play", "Pause"})
NOUN = "Conference"
#: Valid TwiML that fsbridge does not run (reported as "not supported" rather than "unknown").
UNSUPPORTED_VERBS = frozenset({
    "Record", "Enqueue", "Leave", "Reject", "Sms", "Message", "Connect", "Refer", "Pay", "Prompt",
    "Start", "Stop", "Echo", "Queue", "Siprec", "Stream", "Transcription", "Dequeue", "Hold", "Unhold",
    "Bridge", "Transfer", "Forward", "Suppression", "AI",
})
UNSUPPORTED_NOUNS = frozenset({"Number", "Client", "Sip", "Queue", "Application", "WhatsApp"})


def _child_paths(parent: etree._Element, path: str):
    """(child, XPath-style path) pairs: ``Response/Say``, then ``Response/Say[2]`` for the second <Say>."""
    seen: Dict[str, int] = {}
    for child in parent:
        seen[child.tag] = seen.get(child.tag, 0) + 1
        yield child, f"{path}/{child.tag}" + (f"[{seen[child.tag]}]" if seen[child.tag] > 1 else "")


@dataclass
class _Walk:
    dialect: XmlDialect
    warnings: List[MarkupWarning] = field(default_factory=list)

    def warn(self, message: str, path: str) -> None:
        self.warnings.append(MarkupWarning(SCHEMA_VALIDATION_WARNING, message, path))

    # -- attributes -------------------------------------------------------------------------------
    def attributes(self, el: etree._Element, cls: type, path: str) -> Dict[str, Any]:
        table = self.dialect.table(cls)
        values: Dict[str, Any] = dict(self.dialect.defaults.get(cls, {}))
        for name, raw in el.attrib.items():
            where = f"{path}@{name}"
            attr = table.get(name)
            if attr is None:
                self.warn(f"unknown attribute {name!r} on <{el.tag}> ignored", where)
                continue
            if attr.target is None:
                continue
            try:
                values[attr.target] = convert(attr.kind, raw, name, False, lambda m: self.warn(m, where))
            except Invalid as exc:
                self.warn(f"invalid {name}: {exc}; default used", where)
        return values

    # -- structure --------------------------------------------------------------------------------
    def text_only(self, el: etree._Element, path: str) -> str:
        """Element text with child elements reported (Play, Redirect, Conference take text only)."""
        for child in el:
            self.warn(f"unexpected <{child.tag}> inside <{el.tag}> ignored", f"{path}/{child.tag}")
        return (el.text or "").strip()

    def no_content(self, el: etree._Element, path: str) -> None:
        """Child elements and text reported (Hangup and Pause are empty elements)."""
        if self.text_only(el, path):
            self.warn(f"text inside <{el.tag}> ignored", path)

    def verb(self, el: etree._Element, path: str) -> Optional[Verb]:
        cls = VERBS.get(el.tag)
        if cls is None:
            what = "not supported" if el.tag in UNSUPPORTED_VERBS else "unknown"
            self.warn(f"<{el.tag}> is {what}; skipped", path)
            return None
        if cls is Dial:
            return self.dial(el, path)
        if cls is Gather:
            return self.gather(el, path)
        kwargs = self.attributes(el, cls, path)
        if cls is Hangup:
            self.no_content(el, path)
            return Hangup()
        if cls is Pause:
            self.no_content(el, path)
            return Pause(**kwargs)
        if cls is Say:
            text = " ".join("".join(el.itertext()).split())  # SSML children keep their text
            if not text:
                self.warn("<Say> has no text; skipped", path)
                return None
            return Say(text=text, **kwargs)
        url = self.text_only(el, path)
        if cls is Play and (url or kwargs.get("digits")):
            return Play(url=url, **kwargs)
        if cls is Redirect and url:
            return Redirect(url=url, **kwargs)
        self.warn(f"<{el.tag}> has no URL; skipped", path)
        return None

    def gather(self, el: etree._Element, path: str) -> Optional[Gather]:
        """<Gather> with its nested Say/Play/Pause; other children are 12200 and ignored. Speech input is not
        supported: ``input="dtmf speech"`` runs as DTMF with a warning, ``input="speech"`` skips the verb."""
        kwargs = self.attributes(el, Gather, path)
        if (el.text or "").strip():
            self.warn("text inside <Gather> ignored", path)
        prompts = []
        for child, child_path in _child_paths(el, path):
            if (child.tail or "").strip():
                self.warn("text inside <Gather> ignored", path)
            if child.tag not in GATHER_NESTED:
                self.warn(f"<{child.tag}> is not allowed in <Gather>; ignored", child_path)
                continue
            verb = self.verb(child, child_path)
            if verb is not None:
                prompts.append(verb)
        words = kwargs.get("input", ("dtmf",))
        if "speech" in words:
            if "dtmf" not in words:
                self.warn("<Gather input=\"speech\"> is not supported (speech recognition); skipped", f"{path}@input")
                return None
            self.warn("speech input is not supported; <Gather> collects DTMF only", f"{path}@input")
        kwargs["input"] = ("dtmf",)
        return Gather(prompts=tuple(prompts), **kwargs)

    def dial(self, el: etree._Element, path: str) -> Optional[Dial]:
        kwargs = self.attributes(el, Dial, path)
        conference: Optional[Conference] = None
        if (el.text or "").strip():
            self.warn("<Dial> with a number is not supported; the number is ignored", path)
        for child, child_path in _child_paths(el, path):
            if (child.tail or "").strip():
                self.warn("text inside <Dial> ignored", path)
            if child.tag != NOUN:
                what = "not supported" if child.tag in UNSUPPORTED_NOUNS else "unknown"
                self.warn(f"<{child.tag}> in <Dial> is {what}; ignored", child_path)
            elif conference is not None:
                self.warn("only one <Conference> per <Dial>; the others are ignored", child_path)
            else:
                conference = self.conference(child, child_path)
        if conference is None:
            self.warn("<Dial> without a usable <Conference> is not supported; skipped", path)
            return None
        return Dial(conference=conference, **kwargs)

    def conference(self, el: etree._Element, path: str) -> Optional[Conference]:
        kwargs = self.attributes(el, Conference, path)
        name = self.text_only(el, path)
        if not name:
            self.warn("<Conference> has no room name", path)
            return None
        return Conference(name=name, **kwargs)


def walk(root: etree._Element, dialect: XmlDialect) -> Response:
    """Root element of a hardened-parsed document → :class:`Response` in ``dialect``.

    Raises MarkupError(12100) when the root element is not ``<Response>``; everything else is a
    12200 warning on ``Response.warnings``. Source: Twilio TwiML; Telnyx TeXML (same shape).
    """
    if root.tag != ROOT:
        raise MarkupError(DOCUMENT_PARSE_FAILURE, f"root element must be <{ROOT}>, not <{root.tag}>")
    state = _Walk(dialect)
    state.attributes(root, Response, ROOT)  # <Response> takes no attributes: each one is reported
    if (root.text or "").strip():
        state.warn(f"text inside <{ROOT}> ignored", ROOT)
    verbs: List[Verb] = []
    for child, path in _child_paths(root, ROOT):
        if (child.tail or "").strip():
            state.warn(f"text inside <{ROOT}> ignored", ROOT)
        verb = state.verb(child, path)
        if verb is not None:
            verbs.append(verb)
    return Response(verbs=tuple(verbs), dialect=dialect.name, warnings=tuple(state.warnings))
