"""Hostile-markup corpus for all three dialects (#14 "done when"): XXE, entity expansion, depth, size,
invalid UTF-8 and lone surrogates, option injection, file:/SSRF URLs.

1. Parser level, every document: ``parse`` raises only MarkupError with the expected code, or returns verbs.
2. Served, the documents that parse: each is a real app's answer to a call on a served bridge whose tenant
   app is 127.0.0.1 and whose internal "victim" is 127.0.0.2. The call ends, the victim receives nothing,
   no local file is played or read, and the REST API keeps answering.
"""
from __future__ import annotations

import json

import pytest
from flask import Response

from fsbridge.markup import MarkupError, parse
from security_support import NUMBER, Site, bridge, call_number, rest

XML_DIALECTS = ("twiml", "texml")
LOL = ['<!ENTITY a "lol">'] + [f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                                for i in range(1, 10)]


def xml_corpus(victim: str) -> list:
    """(name, body, expected code or None for "parses") for TwiML/TeXML; ``victim``: internal base URL."""
    deep = "<Gather>" * 300 + "</Gather>" * 300
    return [
        ("xxe-file", '<!DOCTYPE R [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response><Say>&x;</Say></Response>',
         12100),
        ("xxe-ssrf", f'<!DOCTYPE R [<!ENTITY x SYSTEM "{victim}/xxe">]><Response><Say>&x;</Say></Response>', 12100),
        ("param-entity", f'<!DOCTYPE R [<!ENTITY % p SYSTEM "{victim}/dtd"> %p;]><Response/>', 12100),
        ("external-dtd", f'<!DOCTYPE Response SYSTEM "{victim}/d.dtd"><Response/>', 12100),
        ("billion-laughs", "<!DOCTYPE R [" + "".join(LOL) + "]><Response><Say>&a9;</Say></Response>", 12100),
        ("xinclude", '<Response xmlns:xi="http://www.w3.org/2001/XInclude"><Say><xi:include '
                     'href="file:///etc/passwd" parse="text"/></Say></Response>', None),
        ("deep", f"<Response>{'<x>' * 5000}{'</x>' * 5000}</Response>", 12100),
        ("deep-verbs", f"<Response>{deep}</Response>", 12100),      # libxml2 depth limit 256
        ("huge", "<Response>" + "<Pause/>" * 20000 + "</Response>", 11750),
        ("invalid-utf8", b"<Response><Say>\xc3\x28</Say></Response>", 12100),
        ("surrogate-ref", "<Response><Say>&#xDFFF;</Say></Response>", 12100),
        ("nul", "<Response><Say>a\x00b</Say></Response>", 12100),
        ("say-option", "<Response><Say>-f/etc/passwd</Say><Say voice='-f/etc/shadow'>--stdout</Say></Response>",
         None),
        ("play-file", "<Response><Play>file:///etc/passwd</Play><Play>/etc/passwd</Play></Response>", None),
        ("play-engine-ref", "<Response><Play>tone_stream://{absolute_codec_string=x}/etc/passwd</Play>"
                            "<Play>local_stream://moh</Play><Play>shell_stream:///bin/id</Play></Response>", None),
        ("play-ssrf", f"<Response><Play>{victim}/a.wav</Play><Play>http://169.254.169.254/x.wav</Play>"
                      "</Response>", None),
        ("redirect-ssrf", f"<Response><Redirect>{victim}/r</Redirect></Response>", None),
        ("redirect-file", "<Response><Redirect>file:///etc/passwd</Redirect></Response>", None),
        ("wait-ssrf", f'<Response><Dial><Conference waitUrl="{victim}/w" statusCallback="{victim}/cb" '
                      'statusCallbackEvent="start end join leave">C</Conference></Dial></Response>', None),
        ("wait-file", '<Response><Dial><Conference waitUrl="file:///etc/passwd">C2</Conference></Dial></Response>',
         None),
        ("action-ssrf", f'<Response><Dial action="http://2852039166/a" timeLimit="1"><Conference>C3</Conference>'
                        '</Dial></Response>', None),
    ]


def jambonz_corpus(victim: str) -> list:
    """(name, body, expected code or None) for jambonz JSON."""
    return [
        ("not-array", '{"verb":"say"}', 12100),
        ("nan", '[{"verb":"pause","length":NaN}]', 12100),
        ("deep", "[" * 100000 + "]" * 100000, 11750),
        ("deep-small", "[" * 5000 + "]" * 5000, 12100),
        ("huge", json.dumps([{"verb": "pause", "length": 1}] * 6000), 11750),
        ("invalid-utf8", b'[{"verb":"say","text":"\xff"}]', 12100),
        ("surrogate", '[{"verb":"say","text":"\\ud800"}]', 12100),
        ("surrogate-key", '[{"verb":"say","text":"x","\\udc00":1}]', 12100),
        ("say-option", '[{"verb":"say","text":"-f/etc/passwd"},{"verb":"say","text":"--stdout"}]', None),
        ("play-file", '[{"verb":"play","url":"file:///etc/passwd"},{"verb":"play","url":"/etc/passwd"}]', None),
        ("play-ssrf", json.dumps([{"verb": "play", "url": victim + "/a.wav"},
                                  {"verb": "play", "url": "http://169.254.169.254/x"}]), None),
        ("redirect-ssrf", json.dumps([{"verb": "redirect", "actionHook": victim + "/r"}]), None),
        ("conference-ssrf", json.dumps([{"verb": "conference", "name": "J", "waitHook": victim + "/w",
                                         "statusHook": victim + "/cb",
                                         "statusEvents": ["start", "end", "join", "leave"]}]), None),
        ("conference-file", json.dumps([{"verb": "conference", "name": "J2", "waitHook": "file:///etc/passwd"}]),
         None),
    ]


def corpus(dialect: str, victim: str = "http://127.0.0.2:9") -> list:
    return jambonz_corpus(victim) if dialect == "jambonz" else xml_corpus(victim)


CASES = [(d, name) for d in ("twiml", "texml", "jambonz") for name, _, _ in corpus(d)]


@pytest.mark.parametrize("dialect,name", CASES, ids=[f"{d}-{n}" for d, n in CASES])
def test_parser_answers_every_hostile_document_with_a_markup_code(dialect, name):
    body, expected = next((b, e) for n, b, e in corpus(dialect) if n == name)
    try:
        response = parse(body, dialect)
    except MarkupError as exc:
        assert expected is not None and exc.code == expected, (exc.code, exc.message[:200])
        return
    assert expected is None, f"{name} parsed, expected {expected}"
    assert "passwd" not in repr(response) or name in ("say-option", "play-file", "redirect-file", "wait-file",
                                                       "conference-file", "xinclude", "play-engine-ref"), \
        repr(response)[:300]
    assert "root:" not in repr(response)          # nothing was read from /etc/passwd


@pytest.mark.parametrize("dialect", ["twiml", "texml", "jambonz"])
def test_served_hostile_documents_reach_nothing_internal(tmp_path, dialect):
    app, victim = Site("127.0.0.1"), Site("127.0.0.2")
    server = bridge(tmp_path, app, dialect=dialect)
    try:
        docs = [(n, b) for n, b, e in corpus(dialect, victim.url) if e is None]
        mimetype = "application/json" if dialect == "jambonz" else "text/xml"
        for name, body in docs:
            app.routes["/voice"] = lambda req, body=body: Response(body, mimetype=mimetype)
            sid = call_number(server, NUMBER, TimeLimit="3")
            assert server.bridge.wait_call(sid, 30), name
            assert victim.paths() == [], (name, victim.paths())
        listed = rest(server, "Calls.json", method="GET", params={"PageSize": "100"})
        assert listed.status_code == 200 and len(listed.json()["calls"]) == len(docs)
        played = [e for c in server.bridge.registry.calls() for e in c.errors if "passwd" in e[1]]
        assert all(code in (11100, 11205, 11200, 12100) for code, _ in played), played
    finally:
        server.stop()
        app.stop()
        victim.stop()
