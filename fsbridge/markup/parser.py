"""``parse``: one fetched document (TwiML, TeXML or jambonz JSON) → :class:`~fsbridge.markup.model.Response`."""
from __future__ import annotations

from typing import Optional, Union

from fsbridge.textsafe import scrub

from . import body as _body
from .errors import DOCUMENT_PARSE_FAILURE, MarkupError
from .jambonz import parse_jambonz
from .model import DIALECTS, JAMBONZ, TEXML, Response
from .texml import TEXML_DIALECT
from .twiml import TWIML as TWIML_DIALECT
from .xmlsafe import parse_xml
from .xmlverbs import walk


def parse(body: Union[bytes, str], dialect: str, content_type: Optional[str] = None) -> Response:
    """Parse one fetched document into a :class:`Response` of verbs, with 12200 warnings attached.

    ``body``: the document, bytes or str (≤ 64 KB); ``dialect``: ``"twiml"``, ``"texml"`` or ``"jambonz"``
    (TwiML and TeXML cannot be told apart from the XML: the caller knows which API the call came in on);
    ``content_type``: the response's Content-Type header or None (its charset decodes the body).
    Raises only :class:`MarkupError`: 11750 body over 64 KB, 12300 Content-Type not of the dialect,
    12100 not well-formed / wrong root / DOCTYPE or ENTITY / not a JSON array / unknown dialect / invalid
    Unicode (bytes that are not valid in the charset, lone surrogates such as JSON ``"\ud800"``).
    Source: Twilio error dictionary and TwiML; Telnyx TeXML; jambonz webhook apps (a JSON array of verbs).
    """
    if dialect not in DIALECTS:
        raise MarkupError(DOCUMENT_PARSE_FAILURE, f"unknown dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    data = _body.as_bytes(body)
    _media, charset = _body.content_type(content_type, dialect)
    text: Union[bytes, str] = data
    if charset is not None or dialect == JAMBONZ:
        try:
            text = data.decode(charset or "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MarkupError(DOCUMENT_PARSE_FAILURE, f"document is not valid {charset or 'utf-8'}: {exc}") from None
    if dialect == JAMBONZ:
        response = parse_jambonz(text)
    else:
        response = walk(parse_xml(text), TEXML_DIALECT if dialect == TEXML else TWIML_DIALECT)
    if scrub(response) is not response:   # e.g. "\ud800" in JSON: nothing downstream could store or send it
        raise MarkupError(DOCUMENT_PARSE_FAILURE, "document contains invalid Unicode (a lone surrogate)")
    return response
