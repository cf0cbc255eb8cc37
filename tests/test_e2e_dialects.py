"""End to end, the jambonz and TeXML dialects (split from the end-to-end suite). End to end: the bridge (in-process ``serve`` on port 0, standalone engine on a simulated clock) with a real
app server and a real callback receiver (Flask on gevent WSGI servers, port 0), driven like a user would.

Sources: ../shared/seeds/twilio-conference-events-announcement.txt (the Team Meeting), twilio-twiml-conference-
noun.txt (moderated room, customer waiting room, Dial action/hangupOnStar/timeLimit, waitUrl), Twilio error
dictionary (11200, 12100, 12200). Signatures are checked with twilio's own RequestValidator.
"""
from __future__ import annotations


from flask import Response

from fsbridge.config import Number
from fsbridge.local import start_bridge
from e2e_support import AC, SPEED, TOKEN, place, texml_bridge


# ---------------------------------------------------------------------------------------------- other dialects
def test_jambonz_conference_hooks(app_server, tmp_path):
    """A jambonz number: the call webhook is jambonz's JSON call payload; the app answers JSON verbs; the
    conference verb's enterHook is played before joining, waitHook while waiting, statusHook gets jambonz
    JSON events, actionHook is requested when the caller leaves (jambonz conference verb)."""
    import json as _json
    jnum = "+15550003000"
    srv = start_bridge(str(tmp_path / "jb"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(jnum, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        conf_verb = {"verb": "conference", "name": "jroom", "beep": False, "statusHook": "/cb-j",
                     "statusEvents": ["start", "end", "join", "leave"], "actionHook": "/jaction",
                     "enterHook": "/jenter", "waitHook": "/jwait"}
        js = lambda doc: Response(_json.dumps(doc), mimetype="application/json")
        app_server.routes["/jvoice"] = lambda body: js([{"verb": "say", "text": "hello"}, conf_verb])
        app_server.routes["/jenter"] = lambda body: js([{"verb": "say", "text": "entering"}])
        app_server.routes["/jwait"] = lambda body: js([{"verb": "pause", "length": 1}])
        app_server.routes["/jaction"] = lambda body: js([{"verb": "hangup"}])
        # TimeLimits in engine seconds (SPEED 10: 3 s / 3.3 s of wall time): J2 must join (voice, say, enter
        # hooks) while J1 is still in — seconds of slack for a loaded machine, not 0.6 s (6 / 9)
        j1 = place(srv, "J1", "silence:", to=jnum, TimeLimit="30")
        j2 = place(srv, "J2", "silence:", to=jnum, TimeLimit="33")
        assert srv.bridge.wait_call(j1, 20) and srv.bridge.wait_call(j2, 20)
        assert app_server.callbacks.wait_for(
            lambda items: any((c["json"] or {}).get("event") == "end" for c in items), 20)
        assert srv.dispatcher.wait_idle(10)
    finally:
        srv.stop()
    voice = [r for r in app_server.requests.items if r["path"] == "/jvoice"]
    assert {v["json"]["call_sid"] for v in voice} == {j1, j2}
    assert all(v["json"]["from"] in ("J1", "J2") and v["json"]["to"] == jnum and v["json"]["direction"] == "inbound"
               for v in voice)
    paths = [r["path"] for r in app_server.requests.items]
    assert paths.count("/jenter") == 2 and paths.count("/jwait") >= 1 and paths.count("/jaction") == 2
    action = next(r for r in app_server.requests.items if r["path"] == "/jaction")
    assert action["json"]["call_sid"] in (j1, j2) and "conference_sid" not in action["json"]   # CallInfo alone
    events = [c["json"]["event"] for c in app_server.callbacks.items if c["path"] == "/cb-j"]
    assert events == ["join", "start", "join", "leave", "leave", "end"]    # jambonz: start before its join
    for who in (j1, j2):
        steps = " | ".join(srv.bridge.registry.get(who).steps)
        assert "say 'hello'" in steps and "joins conference 'jroom'" in steps


def test_texml_number_parameters(app_server, tmp_path):
    """A TeXML number: Telnyx's request parameters (CallSidLegacy …) and Telnyx-style status callbacks."""
    tnum = "+15550004000"
    srv = texml_bridge(tmp_path, app_server, tnum)
    try:
        t1 = place(srv, "+15557770001", "silence:", to=tnum, TimeLimit="3")
        assert srv.bridge.wait_call(t1, 20)
        assert app_server.callbacks.wait_for(
            lambda items: any(c["form"].get("StatusCallbackEvent") == "conference-end" for c in items), 20)
    finally:
        srv.stop()
    voice = next(r for r in app_server.requests.items if r["path"] == "/tvoice")["form"]
    assert voice["CallSid"] == t1 and voice["CallSidLegacy"] == t1 and voice["To"] == tnum
    assert voice["From"] == "+15557770001" and "ApiVersion" not in voice
    cbs = [c["form"] for c in app_server.callbacks.items if c["path"] == "/cb-t"]
    assert [c["StatusCallbackEvent"] for c in cbs] == ["participant-join", "participant-leave", "conference-end"]
    assert cbs[0]["From"] == "+15557770001" and cbs[0]["To"] == tnum
