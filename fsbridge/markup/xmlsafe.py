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

# "<!DOCTYPE" / "<!ENTITY" in any of the ASCII-compatible encodings, and in UTF-16 (either byte order).
_DECLARATION = re.compile(rb"<!\s*(?:doctype|entity)", re.IGNORECASE)
_DECLARATION_UTF16 = re.compile(rb"<\x00!\x00|\x00<\x00!")


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
    if _DECLARATION.search(data) or (b"\x00" in data and _DECLARATION_UTF16.search(data)):
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
