"""The one hardened XML parser every XML dialect (TwiML, TeXML) goes through.

lxml with entity resolution, DTD loading, network access and huge trees off; any DOCTYPE or ENTITY
declaration is refused before and after parsing, so XXE and "billion laughs" documents are rejected, never
expanded. Every failure is :class:`~fsbridge.markup.errors.MarkupError` 12100 (Twilio "Document parse
failure").
"""
from __future__ import annotations

import re
from typing import Optional, Union

from lxml import etree

from .errors import DOCUMENT_PARSE_FAILURE, MarkupError

# "<!DOCTYPE" / "<!ENTITY" in any ASCII-compatible encoding; UTF-16/32 bodies are decoded and scanned too.
_DECLARATION = re.compile(rb"<!\s*(?:doctype|entity)", re.IGNORECASE)
_DECLARATION_TEXT = re.compile(r"<!\s*(?:doctype|entity)", re.IGNORECASE)
_WIDE = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def _declares_dtd(data: bytes) -> bool:
    if _DECLARATION.search(data):
        return True
    if b"\x00" in data:
        return any(_DECLARATION_TEXT.search(data.decode(enc, "ignore")) for enc in _WIDE)
    return False


def _parser(encoding: Optional[str]) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding=encoding,
    )


def parse_xml(body: Union[bytes, str]) -> etree._Element:
    """Parse ``body`` into its root element, refusing DTDs and entities.

    ``body``: the document — bytes are decoded as their XML declaration / BOM says (UTF-8 by default);
    a ``str`` (already decoded, e.g. with a Content-Type charset) is read as such, any declaration overridden.
    Raises MarkupError(12100) when the body is not well-formed XML, declares a DOCTYPE/ENTITY, names an
    unknown encoding, or nests deeper than libxml2's default limit. Source: OWASP XXE prevention for lxml.
    """
    encoding: Optional[str] = None
    if isinstance(body, str):
        data, encoding = body.encode("utf-8", "surrogatepass"), "utf-8"
    else:
        data = body
    if _declares_dtd(data):
        raise MarkupError(DOCUMENT_PARSE_FAILURE, "DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = etree.fromstring(data, parser=_parser(encoding))
    except (etree.LxmlError, ValueError, LookupError, UnicodeError) as exc:
        raise MarkupError(DOCUMENT_PARSE_FAILURE, f"document is not well-formed XML: {exc}") from None
    if root is None:
        raise MarkupError(DOCUMENT_PARSE_FAILURE, "document is empty")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MarkupError(DOCUMENT_PARSE_FAILURE, "DOCTYPE and ENTITY declarations are not allowed")
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise MarkupError(DOCUMENT_PARSE_FAILURE, "entity references are not allowed")
    return root
