"""Issue 17 items against the fake FreeSWITCH (real TCP, the FreeSWITCH engine through the runtime): a TeXML
number's conference-start/end carry the participant's call (item 7); the official twilio SDK with an API key
drives the account (item 8); a waiting member talking through the start is reported after conference-start
(item 1)."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from flask import Flask, Response, request
from twilio.rest import Client

from fsbridge.config import Account, Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.app import BridgeServer
from fsbridge.local import CallbackLog, HttpApp, local_settings
from fakes import FakeCall, FakeFreeSwitch

AC = "AC" + "6" * 32
TOKEN = "fs-fidelity-token"
KEY, SECRET = "SK" + "6" * 32, "fs-key-secret"
NUMBER = "7200"  # Caller-Destination-Number of the recorded outbound/basic call


def _stack(tmp_path, dialect, voice):
    fake = FakeFreeSwitch().start()
    callbacks = CallbackLog()
    app = Flask("fs-fidelity-app")

    @app.route("/<path:name>", methods=["GET", "POST"])
    def route(name):
        if name.startswith("cb"):
            callbacks.add(request.get_json(silent=True) or request.form.to_dict())
            return Response("", status=204)
        return voice(request.get_json(silent=True) or request.form.to_dict())
    http = HttpApp(app).start()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=3,
                              reconnect_backoff=0.01, talk_stop_ms=0)
    settings = local_settings(str(tmp_path / "bridge"), accounts={AC: TOKEN}, fetch_timeout=3.0,
                              numbers=[Number(NUMBER, AC, http.url + "/voice", dialect=dialect)])
    settings = replace(settings, accounts={AC: Account(AC, TOKEN, api_keys={KEY: SECRET})})
    server = BridgeServer(settings, engine=engine).start()
    engine.set_call_handler(server.bridge.on_call)
    assert engine.wait_connected(5)
    return fake, callbacks, engine, server, http


@pytest.fixture
def stack(tmp_path):
    parts = _stack(tmp_path, "texml", lambda form: Response(
        '<Response><Dial><Conference statusCallback="/cb" statusCallbackEvent="start end join leave mute '
        'speaker">Sales</Conference></Dial></Response>', mimetype="text/xml"))
    yield parts[:4]
    parts[3].stop()
    parts[4].stop()
    parts[0].stop()


def _wait(callbacks, event, count=1):
    assert callbacks.wait_for(lambda items: sum(i.get("StatusCallbackEvent") == event for i in items) >= count, 15)
    return [i for i in callbacks.items if i.get("StatusCallbackEvent") == event]


def test_texml_start_end_carry_the_call_and_an_api_key_drives_the_account(stack):
    fake, callbacks, engine, server = stack
    first = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000011").start()
    (join1,) = _wait(callbacks, "participant-join")
    second = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000012").start()
    join2 = _wait(callbacks, "participant-join", 2)[1]
    (start,) = _wait(callbacks, "conference-start")
    assert (start["CallSid"], start["CallSidLegacy"], start["From"], start["To"]) == (
        join2["CallSid"], join2["CallSid"], join2["From"], NUMBER)
    client = Client(KEY, SECRET, AC)
    client.api.base_url = server.base_url
    room = start["ConferenceSid"]
    assert client.conferences(room).participants(join1["CallSid"]).update(muted=True).muted is True
    assert f"api conference {room} mute {fake.find(first.uid).id}" in fake.commands
    second.hangup()
    _wait(callbacks, "participant-leave")
    first.hangup()
    (end,) = _wait(callbacks, "conference-end")
    assert (end["CallSid"], end["CallSidLegacy"], end["From"], end["To"]) == (
        join1["CallSid"], join1["CallSid"], join1["From"], NUMBER)
    assert first.closed.wait(10) and second.closed.wait(10)


def test_waiting_member_talking_through_the_start_gets_speech_start_after_conference_start(stack):
    fake, callbacks, engine, server = stack
    first = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000021").start()
    (join1,) = _wait(callbacks, "participant-join")
    m1 = fake.find(first.uid)
    m1.talking = True
    fake.broadcast(fake.member_event("start-talking", m1))   # talks while waiting: not reported yet
    second = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000022").start()
    _wait(callbacks, "conference-start")
    (speech,) = _wait(callbacks, "participant-speech-start")
    assert speech["CallSid"] == join1["CallSid"]
    names = [i["StatusCallbackEvent"] for i in callbacks.items]
    assert names.index("participant-speech-start") == names.index("conference-start") + 1
    m1.talking = False
    fake.broadcast(fake.member_event("stop-talking", m1))
    assert _wait(callbacks, "participant-speech-stop")[0]["CallSid"] == join1["CallSid"]
    first.hangup()
    second.hangup()
    _wait(callbacks, "conference-end")


def test_jambonz_end_conference_duration_on_freeswitch(tmp_path):
    """endConferenceDuration on the FreeSWITCH engine: the endConferenceOnExit member joins without
    FreeSWITCH's endconf flag (the domain ends the room), and the conference ends the grace after its leave."""
    import json
    calls = []

    def voice(body):
        calls.append(body)
        return Response(json.dumps([{"verb": "conference", "name": "graceful", "statusHook": "/cb-j",
                                     "statusEvents": ["start", "end", "join", "leave"],
                                     "endConferenceOnExit": len(calls) == 2, "endConferenceDuration": 1.5}]),
                        mimetype="application/json")
    fake, callbacks, engine, server, http = _stack(tmp_path, "jambonz", voice)
    try:
        guest = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000031").start()
        assert callbacks.wait_for(lambda items: any(i.get("event") == "join" for i in items), 15)
        boss = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000032").start()
        conf = boss.wait_command("execute-app-name: conference", timeout=15)
        assert "endconf" not in conf
        assert callbacks.wait_for(lambda items: sum(i.get("event") == "join" for i in items) == 2, 15)
        room = server.bridge.events[0].conference_sid
        boss.hangup()
        assert callbacks.wait_for(lambda items: any(i.get("event") == "leave" for i in items), 15)
        left_at = time.monotonic()
        assert "api conference %s hup all" % room not in fake.commands     # the guest stays for the grace
        fake.wait_command("api conference %s hup all" % room, timeout=10)
        assert time.monotonic() - left_at >= 0.5
        assert callbacks.wait_for(lambda items: any(i.get("event") == "end" for i in items), 15)
        end = next(e for e in server.bridge.events if e.name == "conference-end")
        assert end.reason_conference_ended == "participant-with-end-conference-on-exit-left"
        guest.hangup()
    finally:
        server.stop()
        http.stop()
        fake.stop()


def test_jambonz_distribute_dtmf_on_freeswitch(tmp_path):
    """distributeDtmf on the FreeSWITCH engine: a member's DTMF event → ``conference <room> dtmf <member>
    <digits>`` for each other member (not the presser)."""
    import json

    def voice(body):
        return Response(json.dumps([{"verb": "conference", "name": "keys", "distributeDtmf": True}]),
                        mimetype="application/json")
    fake, callbacks, engine, server, http = _stack(tmp_path, "jambonz", voice)
    try:
        first = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000041").start()
        first.wait_command("execute-app-name: conference", timeout=15)
        second = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000042").start()
        second.wait_command("execute-app-name: conference", timeout=15)
        joins = lambda: sum(e.name == "participant-join" for e in server.bridge.events)   # noqa: E731
        assert server.bridge.wait_until(lambda: joins() == 2, 10)
        room = fake.find(first.uid).room
        first.dtmf("5")
        fake.wait_command("api conference %s dtmf %d 5" % (room, fake.find(second.uid).id), timeout=10)
        assert not any(c.startswith("api conference %s dtmf %d" % (room, fake.find(first.uid).id))
                       for c in fake.commands)
        first.hangup()
        second.hangup()
    finally:
        server.stop()
        http.stop()
        fake.stop()


def test_gather_pin_then_conference_on_freeswitch(tmp_path):
    """<Gather> on the FreeSWITCH engine: the prompt (a nested Pause: ``playback silence_stream://``) is cut
    by the first DTMF event (``uuid_break``), the digits come from DTMF events on the outbound socket, the
    action gets ``Digits`` and its ``<Dial><Conference>`` joins the room."""
    from twilio.twiml.voice_response import VoiceResponse
    pins = []

    def voice(form):
        r = VoiceResponse()
        if "Digits" in form:
            pins.append(form)
            r.dial().conference("pinroom", status_callback="/cb", status_callback_event="join")
        else:
            r.gather(num_digits=4, timeout=3, action="/voice").pause(length=20)
        return Response(str(r), mimetype="text/xml")
    fake, callbacks, engine, server, http = _stack(tmp_path, "twiml", voice)
    try:
        uid = "11111111-0000-4000-8000-000000000051"
        call = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=uid).start()
        call.wait_command("silence_stream://20000", timeout=15)
        call.dtmf("1")
        call.wait_command("api uuid_break %s" % uid, timeout=10)
        call.wait_command("silence_stream://3000", timeout=10)   # the wait after the prompt
        for digit in "234":
            call.dtmf(digit)
        call.wait_command("execute-app-name: conference", timeout=15)
        assert _wait(callbacks, "participant-join")[0]["CallSid"] == pins[0]["CallSid"]
        assert pins[0]["Digits"] == "1234" and pins[0]["To"] == NUMBER
        call.hangup()
    finally:
        server.stop()
        http.stop()
        fake.stop()


def test_call_progress_of_a_dial_out_on_freeswitch(tmp_path):
    """Participants create (official SDK) with StatusCallbackEvent on the FreeSWITCH engine: initiated at the
    ``bgapi originate``, ringing at the channel's CHANNEL_PROGRESS, answered when the call reaches the
    outbound socket, completed (CallDuration) at its hangup; a dial-out answered ``-ERR USER_BUSY`` reports
    initiated then completed with CallStatus busy."""
    import re

    from fakes.esl import plain_event
    from twilio.twiml.voice_response import VoiceResponse
    progress = CallbackLog()

    def voice(form):
        if "CallbackSource" in form:
            progress.add(form)
            return Response("", status=204)
        r = VoiceResponse()
        r.dial().conference("Sales", status_callback="/cb", status_callback_event="join leave")
        return Response(str(r), mimetype="text/xml")
    fake, callbacks, engine, server, http = _stack(tmp_path, "twiml", voice)
    try:
        fake.bgapi_results["originate "] = None          # still dialling: no BACKGROUND_JOB yet
        first = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000061").start()
        (join,) = _wait(callbacks, "participant-join")
        client = Client(AC, TOKEN)
        client.api.base_url = server.base_url
        events = ["initiated", "ringing", "answered", "completed"]
        p = client.conferences(join["ConferenceSid"]).participants.create(
            from_="+15550001000", to="1001", status_callback=http.url + "/progress", status_callback_event=events)
        uid = re.search(r"origination_uuid=([0-9a-f-]+)", fake.wait_command("bgapi originate ")).group(1)
        fake.broadcast(plain_event([("Event-Name", "CHANNEL_PROGRESS"), ("Unique-ID", uid),
                                    ("Channel-Call-State", "RINGING")]))
        assert progress.wait_for(lambda items: len(items) == 2, 15)
        callee = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=uid,
                          variables=(("variable_fsbridge_call_sid", p.call_sid),)).start()
        _wait(callbacks, "participant-join", 2)
        callee.hangup()
        assert progress.wait_for(lambda items: len(items) == 4, 15)
        fake.bgapi_results["originate "] = "-ERR USER_BUSY\n"
        busy = client.conferences(join["ConferenceSid"]).participants.create(
            from_="+15550001000", to="1002", status_callback=http.url + "/progress", status_callback_event=events)
        assert progress.wait_for(lambda items: len(items) == 6, 15)
        first.hangup()
    finally:
        server.stop()
        http.stop()
        fake.stop()
    mine = [f for f in progress.items if f["CallSid"] == p.call_sid]
    assert [f["CallStatus"] for f in mine] == ["initiated", "ringing", "in-progress", "completed"]
    assert [f["SequenceNumber"] for f in mine] == ["0", "1", "2", "3"] and "CallDuration" in mine[3]
    assert [f["CallStatus"] for f in progress.items if f["CallSid"] == busy.call_sid] == ["initiated", "busy"]
