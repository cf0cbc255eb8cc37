"""``<Gather>`` / jambonz ``gather`` with DTMF (issue 17 item 10), end to end on the standalone engine: the
PIN pattern — "enter your PIN" then ``<Dial><Conference>`` — as an app writes it with the official twilio
SDK's VoiceResponse, the digits coming from virtual callers (Calls.json ``Dtmf``); the action request is
signed and carries Twilio's ``Digits`` (jambonz: ``digits`` and ``reason``). Sources: Twilio TwiML
``<Gather>``; jambonz verb specification 0.1.13 ``gather``."""
from __future__ import annotations

import json

from flask import Response
from twilio.twiml.voice_response import VoiceResponse

from e2e_support import AC, NUMBER, SPEED, TOKEN, place
from fsbridge.config import Number
from fsbridge.local import start_bridge

JNUM = "+15550003000"
TNUM = "+15550004000"


def _pin_app(app_server, **gather):
    """TwiML numbers: ``/voice`` asks for a PIN (nested Say); ``/pin`` puts 1234 into ``pinroom``."""
    def voice(form):
        r = VoiceResponse()
        g = r.gather(action="/pin", method="POST", timeout=8, **gather)
        g.say("Please enter your PIN")
        r.say("We did not get your PIN. Goodbye.")
        return str(r)

    def pin(form):
        r = VoiceResponse()
        if form.get("Digits") == "1234":
            r.dial().conference("pinroom", status_callback="/cb", status_callback_event="join leave",
                                beep=False)
        else:
            r.say("Wrong PIN")
            r.hangup()
        return Response(str(r), mimetype="text/xml")
    app_server.twiml = voice
    app_server.routes["/pin"] = pin
    app_server.routes["/tvoice"] = lambda form: Response(voice(form), mimetype="text/xml")


def test_twiml_and_texml_pin_gather_then_conference(app_server, tmp_path):
    """numDigits=4: the right PIN joins the room, a wrong one (finishOnKey ``#`` ends it, not sent) is told so;
    no input runs the next verb and requests nothing; TeXML the same. Every action request is signed."""
    _pin_app(app_server, num_digits=4)
    srv = start_bridge(str(tmp_path / "g"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice"),
                                Number(TNUM, AC, app_server.url + "/tvoice", dialect="texml")])
    try:
        # digits only reach a Gather already running: pressed 3 engine s (0.3 s of wall time at SPEED 10) after
        # the answer, not 0.5 (50 ms: a slow /voice fetch under load lost them), with an 8 s Gather timeout
        good = place(srv, "good", "silence:", Dtmf="12@3,34@3.5", TimeLimit="30")
        app_server.wait_event("participant-join")
        wrong = place(srv, "wrong", "silence:", Dtmf="99#@3")
        silent = place(srv, "silent", "silence:")
        texml = place(srv, "texml", "silence:", to=TNUM, Dtmf="1234@3", TimeLimit="30")
        app_server.wait_event("participant-join", count=2)
        assert all(srv.bridge.wait_call(sid, 30) for sid in (wrong, silent))
        steps = {sid: " | ".join(srv.bridge.registry.get(sid).steps) for sid in (good, wrong, silent)}
    finally:
        srv.stop()
    pins = {r["form"]["CallSid"]: r for r in app_server.requests.items if r["path"] == "/pin"}
    assert set(pins) == {good, wrong, texml}
    assert pins[good]["form"]["Digits"] == "1234" and pins[wrong]["form"]["Digits"] == "99"
    assert pins[texml]["form"]["Digits"] == "1234" and "CallSidLegacy" in pins[texml]["form"]
    assert pins[good]["valid"] and pins[wrong]["valid"]   # X-Twilio-Signature (TwiML numbers)
    assert pins[good]["form"]["CallStatus"] == "in-progress" and pins[good]["form"]["To"] == NUMBER
    joins = [c["form"]["CallSid"] for c in app_server.callbacks.items
             if c["form"].get("StatusCallbackEvent") == "participant-join"]
    assert sorted(joins) == sorted([good, texml])
    assert "say 'Wrong PIN'" in steps[wrong]
    assert "We did not get your PIN" in steps[silent] and "POST " + app_server.url + "/pin" not in steps[silent]


def test_gather_without_action_posts_to_the_document_url_and_action_on_empty_result(app_server, tmp_path):
    """No ``action``: the document's own URL gets ``Digits`` (Twilio's default); ``actionOnEmptyResult``
    requests the action with ``Digits=""`` when nothing was pressed; ``finishOnKey=""`` keeps ``#``."""
    seen = []

    def voice(form):
        seen.append(form)
        r = VoiceResponse()
        if "Digits" in form:
            r.say("got " + (form["Digits"] or "nothing"))
            return str(r)
        if form["From"] == "empty":
            r.gather(timeout=5, action_on_empty_result=True, action="/voice")
        else:
            r.gather(timeout=5, finish_on_key="")
        return str(r)
    app_server.twiml = voice
    srv = start_bridge(str(tmp_path / "g2"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")])
    try:
        # 3 engine s (0.3 s of wall time) after the answer, the Gather running by then (0.3: 30 ms, too tight)
        keys = place(srv, "keys", "silence:", Dtmf="5#7@3")
        empty = place(srv, "empty", "silence:")
        assert srv.bridge.wait_call(keys, 30) and srv.bridge.wait_call(empty, 30)
        steps = {sid: " | ".join(srv.bridge.registry.get(sid).steps) for sid in (keys, empty)}
    finally:
        srv.stop()
    actions = {f["From"]: f["Digits"] for f in seen if "Digits" in f}
    assert actions == {"keys": "5#7", "empty": ""}
    assert "say 'got 5#7'" in steps[keys] and "say 'got nothing'" in steps[empty]


def test_jambonz_gather_digits_and_timeout_then_conference(app_server, tmp_path):
    """jambonz gather (nested say, numDigits): the actionHook gets ``reason: dtmfDetected`` and ``digits``,
    or ``reason: timeout`` without digits; its verbs continue the call (a conference)."""
    js = lambda doc: Response(json.dumps(doc), mimetype="application/json")   # noqa: E731
    app_server.routes["/jvoice"] = lambda body: js([{
        "verb": "gather", "actionHook": "/jpin", "numDigits": 4, "timeout": 8, "input": ["digits"],
        "dtmfBargein": True, "say": {"text": "Please enter your PIN"}}])
    app_server.routes["/jpin"] = lambda body: js(
        [{"verb": "conference", "name": "jpinroom", "statusHook": "/cb-j", "statusEvents": ["join"]}]
        if body.get("digits") == "4321" else [{"verb": "hangup"}])
    srv = start_bridge(str(tmp_path / "jg"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(JNUM, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        # pressed 3 engine s (0.3 s of wall time) after the answer into the running gather (0.5: 50 ms, too tight)
        good = place(srv, "good", "silence:", to=JNUM, Dtmf="4321@3", TimeLimit="30")
        silent = place(srv, "silent", "silence:", to=JNUM)
        assert srv.bridge.wait_call(good, 30) and srv.bridge.wait_call(silent, 30)
        assert srv.dispatcher.wait_idle(10)
    finally:
        srv.stop()
    hooks = {r["json"]["call_sid"]: r["json"] for r in app_server.requests.items if r["path"] == "/jpin"}
    assert (hooks[good]["reason"], hooks[good]["digits"]) == ("dtmfDetected", "4321")
    assert hooks[silent]["reason"] == "timeout" and "digits" not in hooks[silent]
    assert hooks[good]["call_status"] == "in-progress" and hooks[good]["to"] == JNUM
    joins = [c["json"]["call_sid"] for c in app_server.callbacks.items if c["path"] == "/cb-j"]
    assert joins == [good]


def test_gather_speech_input_is_refused_with_a_warning(app_server, tmp_path):
    """``input="speech"``: warning 12200 naming speech recognition, the verb is skipped (the next verb runs);
    ``input="dtmf speech"`` collects DTMF with a warning."""
    app_server.twiml = lambda form: ('<Response><Gather input="speech" action="/pin"><Say>Speak</Say></Gather>'
                                     '<Say>next verb</Say></Response>')
    srv = start_bridge(str(tmp_path / "sp"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")])
    try:
        sid = place(srv, "talker", "silence:")
        assert srv.bridge.wait_call(sid, 30)
        rec = srv.bridge.registry.get(sid)
    finally:
        srv.stop()
    assert any(code == 12200 and "speech" in msg for code, msg in rec.errors)
    assert "say 'next verb'" in " | ".join(rec.steps) and "say 'Speak'" not in " | ".join(rec.steps)


def test_every_twilio_python_gather_keyword_parses_without_warning():
    """twilio-python's ``VoiceResponse.gather`` keywords are all known attributes (speech ones accepted without
    effect); an invalid finishOnKey or numDigits is a 12200 warning with the default kept."""
    from fsbridge.markup import parse
    r = VoiceResponse()
    r.gather(input="dtmf", action="/a", method="GET", timeout=7, speech_timeout="auto", max_speech_time=30,
             profanity_filter=True, finish_on_key="*", num_digits=6, partial_result_callback="/p",
             partial_result_callback_method="POST", language="en-GB", hints="x", barge_in=False, debug=False,
             action_on_empty_result=True, speech_model="default", enhanced=False).say("hi")
    (g,) = parse(str(r), "twiml").verbs
    assert parse(str(r), "twiml").warnings == ()
    assert (g.action, g.method, g.timeout, g.finish_on_key, g.num_digits) == ("/a", "GET", 7, "*", 6)
    assert g.action_on_empty_result is True and g.dtmf_bargein is False and len(g.prompts) == 1
    bad = parse('<Response><Gather finishOnKey="x" numDigits="0"/></Response>', "texml")
    assert [w.path for w in bad.warnings] == ["Response/Gather@finishOnKey", "Response/Gather@numDigits"]
    assert (bad.verbs[0].finish_on_key, bad.verbs[0].num_digits) == ("#", None)


def test_fsbridge_call_dtmf_answers_a_gather(app_server, tmp_path, capsys):
    """``fsbridge call --to NUMBER --dtmf 1234@3 --wait`` (the CLI against a served bridge): the virtual
    caller's digits answer the app's PIN Gather and it joins the conference."""
    import argparse

    from fsbridge.runtime import callcli
    _pin_app(app_server, num_digits=4)   # digits 0.3 s of wall time after the answer (SPEED 10), not 50 ms
    srv = start_bridge(str(tmp_path / "cli"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")])
    try:
        parser = argparse.ArgumentParser()
        callcli.add_arguments(parser)
        args = parser.parse_args(["--to", NUMBER, "--from", "cli", "--url", srv.base_url, "--account", AC,
                                  "--token", TOKEN, "--dtmf", "1234@3", "--hangup-after", "20", "--wait",
                                  "--timeout", "30"])
        assert callcli.run(args) == 0
        sid = capsys.readouterr().out.split()[0]
    finally:
        srv.stop()
    (pin,) = [r["form"] for r in app_server.requests.items if r["path"] == "/pin"]
    assert (pin["CallSid"], pin["Digits"]) == (sid, "1234")
    assert [c["form"]["CallSid"] for c in app_server.callbacks.items
            if c["form"].get("StatusCallbackEvent") == "participant-join"] == [sid]


def test_digit_collector_rules():
    """numDigits ends the input at that many digits; finishOnKey ends it without being kept (alone: no
    digits); keys after the end and non-DTMF characters are ignored; "" disables the finish key."""
    from fsbridge.runtime.tasks.gather import DigitCollector
    c = DigitCollector(4, "#")
    assert c.feed("12") and not c.finished and c.feed("345") and c.finished and c.digits == "1234"
    c = DigitCollector(None, "#")
    assert c.feed("#") and c.finished and c.digits == "" and c.presses == 1 and not c.feed("5")
    c = DigitCollector(None, "")
    assert not c.feed("x ") and c.feed("9#*") and not c.finished and c.digits == "9#*"
    c.feed("1" * 200)
    assert c.finished and len(c.digits) == 128
