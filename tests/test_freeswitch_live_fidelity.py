"""Issue 17 items against a live FreeSWITCH (``freeswitch`` marker; skipped unless FSBRIDGE_TEST_ESL is set):
``<Gather>`` PIN entry with DTMF sent by the caller (``uuid_send_dtmf`` on the parked loopback a-leg: the
b-leg on fsbridge's outbound socket receives it as DTMF events), jambonz ``distributeDtmf`` (one member's
digit reaches the other caller), and call-progress callbacks of a REST dial-out (Participants create with the
official twilio SDK). Environment as tests/test_freeswitch_live_e2e.py (FSBRIDGE_TEST_ESL, _SOCKET, _NUMBER,
_CONTEXT, _DIAL); the jambonz number is FSBRIDGE_TEST_NUMBER + 1 (7201: the dialplan sends 7200-7299 to the
socket)."""
from __future__ import annotations

import json
import os
import uuid

import gevent
import pytest
from flask import Response, request
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.engines.freeswitch.transport import FsInboundESL
from fsbridge.local import CallbackLog, HttpApp, start_bridge
from test_freeswitch_live_e2e import _env, kill_legs, signed_form, tone_app

pytestmark = pytest.mark.freeswitch

AC = "AC" + "4" * 32
TOKEN = "live-fidelity-token"


class App:
    """TwiML ``/voice``: a PIN Gather (a looped tone as the prompt), ``/pin``: 1234 joins ``room``; jambonz
    ``/jvoice``: the ``jroom`` conference with distributeDtmf; every other POST is recorded as a callback."""

    def __init__(self, room: str):
        self.callbacks = CallbackLog()
        self.requests = CallbackLog()
        validator = RequestValidator(TOKEN)
        app = tone_app("live-fidelity-app")

        @app.route("/<path:name>", methods=["POST"])
        def route(name):
            form, valid = signed_form(validator)
            item = {"path": name, "form": form, "json": request.get_json(silent=True), "valid": valid}
            if name in ("jenter", "enter"):
                self.requests.add(item)
                if name == "enter":
                    return Response(json.dumps([{"verb": "play", "url": self.url + "/tone.wav", "loop": 4}]),
                                    mimetype="application/json")
                return Response(json.dumps([{
                    "verb": "conference", "name": room + "-e", "beep": False, "enterHook": "/enter",
                    "startConferenceOnEnter": item["json"]["from"] == "Boss"}]), mimetype="application/json")
            if name == "jvoice":
                self.requests.add(item)
                return Response(json.dumps([{"verb": "conference", "name": room + "-j", "beep": False,
                                             "distributeDtmf": True}]), mimetype="application/json")
            if name not in ("voice", "pin"):
                self.callbacks.add(item)
                return Response("", status=204)
            self.requests.add(item)
            r = VoiceResponse()
            if name == "voice":
                r.gather(num_digits=4, action="/pin", timeout=8).play(self.url + "/tone.wav", loop=40)
                r.hangup()
            elif form.get("Digits") == "1234":
                r.dial().conference(room, status_callback="/cb", status_callback_event="join leave", beep=False)
            else:
                r.hangup()
            return Response(str(r), mimetype="text/xml")

        self.http = HttpApp(app).start()
        self.url = self.http.url


@pytest.fixture
def live(tmp_path):
    """An in-process bridge on the live FreeSWITCH; TwiML number FSBRIDGE_TEST_NUMBER and jambonz number +1;
    yields (engine, server, app, room, call(name, number) → a-leg uuid)."""
    host, port, password, sock_host, sock_port, number, context = _env()
    room = "livefid-" + uuid.uuid4().hex[:10]
    app = App(room)
    jnumber = str(int(number) + 1)
    engine = FreeSwitchEngine(host, port, password, outbound_host=sock_host, outbound_port=sock_port,
                              command_timeout=5, reconnect_backoff=0.1, max_backoff=1)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN}, engine=engine, fetch_timeout=5.0,
                          numbers=[Number(number, AC, app.url + "/voice"),
                                   Number(jnumber, AC, app.url + "/jvoice", dialect="jambonz"),
                                   Number(str(int(number) + 2), AC, app.url + "/jenter", dialect="jambonz")])
    engine.set_call_handler(server.bridge.on_call)
    assert engine.wait_connected(10), "cannot reach FreeSWITCH's event socket at %s:%d" % (host, port)
    legs = []

    def call(name, to=number):
        a_leg = str(uuid.uuid4())
        legs.append(a_leg)
        engine.esl.bgapi("originate {origination_uuid=%s,origination_caller_id_number=%s,"
                         "origination_caller_id_name=%s}loopback/%s/%s &park()" % (a_leg, name, name, to, context))
        return a_leg

    yield engine, server, app, room, call, jnumber
    kill_legs(engine.esl, legs)
    server.stop()
    app.http.stop()


def _poll(pred, timeout=15):
    """Poll ``pred()`` every 50 ms until true (True) or ``timeout`` s (False): call steps and FreeSWITCH state
    change without an event the test could wait on."""
    with gevent.Timeout(timeout, False):
        while not pred():
            gevent.sleep(0.05)
        return True
    return False


def _call_of(server, name):
    return next((r for r in server.bridge.registry.calls() if r.from_ == name), None)


def test_live_gather_pin_then_conference(live):
    """The caller hears the looped prompt, presses 1-2-3-4 (RFC 2833-style DTMF over loopback): the prompt
    stops (uuid_break), /pin gets Digits=1234 (signed) and its <Dial><Conference> joins the room."""
    engine, server, app, room, call, _ = live
    a_leg = call("Alice")
    assert _poll(lambda: (_call_of(server, "Alice") is not None
                          and any(s.startswith("gather") for s in _call_of(server, "Alice").steps)))
    gevent.sleep(0.5)   # the prompt is playing (nothing to wait on: FreeSWITCH is simply playing)
    assert engine.esl.api("uuid_send_dtmf %s 1234" % a_leg).startswith("+OK")
    assert app.callbacks.wait_for(lambda items: any(i["form"].get("StatusCallbackEvent") == "participant-join"
                                                    for i in items), 20)
    (pin,) = [r for r in app.requests.items if r["path"] == "pin"]
    assert pin["form"]["Digits"] == "1234" and pin["valid"]
    rec = _call_of(server, "Alice")
    assert "gather: 4 digit(s)" in rec.steps
    body = engine.esl.api("conference %s json_list" % rec.conference_sid)
    assert body.strip().startswith("[") and "Alice" in body


def test_live_jambonz_distribute_dtmf(live):
    """distributeDtmf: Alice's digit (DTMF event of her member) is sent to Bob with ``conference … dtmf``:
    Bob's phone (the parked a-leg) receives it; Alice's own phone does not."""
    engine, server, app, room, call, jnumber = live
    host, port, password = _env()[:3]
    seen = []
    listener = FsInboundESL(host, port, password)
    listener.connect()
    listener.register_handle("DTMF", lambda ev: seen.append((ev.headers.get("Unique-ID"),
                                                             ev.headers.get("DTMF-Digit"))))
    listener.subscribe("event plain DTMF")
    try:
        alice, bob = call("Alice", jnumber), call("Bob", jnumber)
        assert server.bridge.wait_until(lambda: sum(e.name == "participant-join" for e in server.bridge.events)
                                        == 2, 20)
        assert engine.esl.api("uuid_send_dtmf %s 5" % alice).startswith("+OK")
        assert _poll(lambda: (bob, "5") in seen), seen
        assert (alice, "5") not in seen
    finally:
        listener.stop()


def test_live_call_progress_of_a_rest_dial_out(live):
    """Participants create (official SDK) with every StatusCallbackEvent to FSBRIDGE_TEST_DIAL: initiated,
    ringing, in-progress, then (kicked: its document ends) completed with CallDuration; numbered 0..3, signed."""
    engine, server, app, room, call, _ = live
    a_leg = call("Alice")
    assert _poll(lambda: (_call_of(server, "Alice") is not None
                          and any(s.startswith("gather") for s in _call_of(server, "Alice").steps)))
    gevent.sleep(0.5)
    engine.esl.api("uuid_send_dtmf %s 1234" % a_leg)
    assert app.callbacks.wait_for(lambda items: any(i["form"].get("StatusCallbackEvent") == "participant-join"
                                                    for i in items), 20)
    cf = _call_of(server, "Alice").conference_sid
    client = Client(AC, TOKEN)
    client.api.base_url = server.base_url
    p = client.conferences(cf).participants.create(
        from_="7000", to=os.environ.get("FSBRIDGE_TEST_DIAL", "loopback/9664/default"), label="dialled",
        status_callback=app.url + "/progress", status_callback_event=["initiated", "ringing", "answered",
                                                                      "completed"])
    assert app.callbacks.wait_for(lambda items: any(i["form"].get("StatusCallbackEvent") == "participant-join"
                                                    and i["form"].get("CallSid") == p.call_sid for i in items), 20)
    gevent.sleep(1.2)   # in the room a little over a second: CallDuration ≥ 1 (nothing to wait on)
    client.conferences(cf).participants(p.call_sid).delete()
    assert app.callbacks.wait_for(lambda items: sum(i["path"] == "progress" for i in items) == 4, 20)
    got = [i for i in app.callbacks.items if i["path"] == "progress"]
    forms = [i["form"] for i in got]
    assert [f["CallStatus"] for f in forms] == ["initiated", "ringing", "in-progress", "completed"]
    assert [f["SequenceNumber"] for f in forms] == ["0", "1", "2", "3"] and all(i["valid"] for i in got)
    assert {f["CallSid"] for f in forms} == {p.call_sid} and int(forms[3]["CallDuration"]) >= 1
    assert all(f["CallbackSource"] == "call-progress-events" for f in forms)


def test_live_jambonz_enter_hook_after_the_wait(live):
    """enterHook on FreeSWITCH: the waiting guest is still gated (deaf) when the boss starts the conference,
    hears the enter media as a member play, and is mixed (can_hear, can_speak) once FreeSWITCH reports its
    play-file-member-done."""
    from test_freeswitch_live_e2e import members, wait_fs
    engine, server, app, room, call, jnumber = live
    enumber = str(int(jnumber) + 1)
    call("Guest", enumber)
    assert server.bridge.wait_until(lambda: any(e.name == "participant-join" for e in server.bridge.events), 20)
    cf = next(e for e in server.bridge.events if e.name == "participant-join").conference_sid
    assert wait_fs(engine, cf, lambda m: "Guest" in m and not m["Guest"]["can_hear"])
    call("Boss", enumber)
    assert server.bridge.wait_until(lambda: any(e.name == "conference-start" for e in server.bridge.events), 20)
    assert not members(engine, cf)["Guest"]["can_hear"]   # hearing the 2 s enter media, not the room yet
    assert wait_fs(engine, cf, lambda m: m.get("Guest", {}).get("can_hear") and m["Guest"]["can_speak"]), \
        members(engine, cf)
    assert len([r for r in app.requests.items if r["path"] == "enter"]) == 2
