"""Hostile documents: XXE, billion laughs, oversized bodies (issue #2 §4; OWASP XXE prevention)."""
import re

import pytest

from fsbridge.markup import MarkupError, parse, xmlsafe
from fsbridge.markup.errors import MAX_BODY_BYTES

XXE_FILE = """<?xml version="1.0"?>
<!DOCTYPE Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Response><Dial><Conference>&xxe;</Conference></Dial></Response>"""

XXE_PARAMETER = """<?xml version="1.0"?>
<!DOCTYPE Response [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<Response/>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE Response SYSTEM "http://127.0.0.1:9/twiml.dtd">
<Response/>"""

LOL = ['<!ENTITY lol "lol">'] + [
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)]
BILLION_LAUGHS = ("<?xml version=\"1.0\"?>\n<!DOCTYPE Response [\n" + "\n".join(LOL) + "\n]>\n"
                  "<Response><Dial><Conference>&lol9;</Conference></Dial></Response>")

PLAIN_DOCTYPE = "<!DOCTYPE Response><Response><Hangup/></Response>"

HOSTILE = [XXE_FILE, XXE_PARAMETER, EXTERNAL_DTD, BILLION_LAUGHS, PLAIN_DOCTYPE]


@pytest.mark.parametrize("dialect", ["twiml", "texml"])
@pytest.mark.parametrize("body", HOSTILE, ids=["xxe", "parameter-entity", "external-dtd", "billion-laughs",
                                                "doctype"])
def test_dtd_and_entities_rejected_12100(body, dialect):
    with pytest.raises(MarkupError) as exc:
        parse(body, dialect)
    assert exc.value.code == 12100


@pytest.mark.parametrize("body", HOSTILE[:4])
def test_rejected_even_as_utf16(body):
    data = body.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    with pytest.raises(MarkupError) as exc:
        parse(data, "twiml")
    assert exc.value.code == 12100


@pytest.mark.parametrize("body", HOSTILE, ids=["xxe", "parameter-entity", "external-dtd", "billion-laughs",
                                                "doctype"])
def test_second_line_of_defence_without_the_byte_scan(body, monkeypatch):
    """Even if the byte pre-scan missed a declaration, lxml's settings plus the post-parse DOCTYPE check refuse it."""
    monkeypatch.setattr(xmlsafe, "_DECLARATION", re.compile(rb"(?!)"))
    with pytest.raises(MarkupError) as exc:
        parse(body, "twiml")
    assert exc.value.code == 12100


def test_undeclared_entity_is_not_well_formed():
    with pytest.raises(MarkupError) as exc:
        parse("<Response><Say>&nbsp;</Say></Response>", "twiml")
    assert exc.value.code == 12100


def _sized(total: int) -> bytes:
    head, tail = b"<Response><Say>", b"</Say></Response>"
    return head + b"a" * (total - len(head) - len(tail)) + tail


@pytest.mark.parametrize("dialect", ["twiml", "texml"])
def test_body_of_exactly_64k_parses_and_one_byte_more_is_11750(dialect):
    assert len(parse(_sized(MAX_BODY_BYTES), dialect).verbs[0].text) > 65000
    with pytest.raises(MarkupError) as exc:
        parse(_sized(MAX_BODY_BYTES + 1), dialect)
    assert exc.value.code == 11750


def test_size_counts_utf8_bytes_of_a_str_body():
    body = '[{"verb": "say", "text": "' + "é" * (MAX_BODY_BYTES // 2) + '"}]'  # < 64 K chars, > 64 KB
    assert len(body) < MAX_BODY_BYTES
    with pytest.raises(MarkupError) as exc:
        parse(body, "jambonz")
    assert exc.value.code == 11750


def test_deep_nesting_is_12100_not_recursion_error():
    with pytest.raises(MarkupError) as exc:
        parse("<Response>" + "<a>" * 5000 + "</a>" * 5000 + "</Response>", "twiml")
    assert exc.value.code == 12100
    with pytest.raises(MarkupError) as exc:
        parse("[" * 30000 + "]" * 30000, "jambonz")
    assert exc.value.code == 12100


def test_utf16_document_with_comment_and_cdata_is_fine():
    body = '<?xml version="1.0" encoding="UTF-16"?><!-- hi --><Response><Say><![CDATA[a<b]]></Say></Response>'
    assert parse(body.encode("utf-16"), "twiml").verbs[0].text == "a<b"
