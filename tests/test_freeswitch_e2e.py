"""End to end through the runtime on the FreeSWITCH engine, against the fake FreeSWITCH (real TCP):
an outbound-socket call → voice URL → TwiML → the exact ``conference`` execute → recorded-shape
add-member → participant-join / conference-start callbacks; REST mute → ``conference <room> mute <id>`` →
mute-member → participant-mute; the caller hangs up → participant-leave / conference-end; ESL drop →
REST 503 → reconnect → resync reports the participant who left meanwhile."""
from __future__ import annotations

import pytest
import requests
from flask import Flask, Response, request

from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.local import CallbackLog, HttpApp, start_bridge
from fakes import FakeCall, FakeFreeSwitch

AC = "AC" + "8" * 32
TOKEN = "fs-e2e-token"
NUMBER = "7200"  # Caller-Destination-Number of the recorded outbound/basic call


class App:
    """The customer's app: /voice → TwiML; /cb records status callbacks."""

    def __init__(self):
        self.callbacks = CallbackLog()
        self.voice = CallbackLog()
        app = Flask("fs-e2e-app")

        @app.route("/<path:name>", methods=["GET", "POST"])
        def route(name):
            form = request.form.to_dict()
            if name == "cb":
                self.callbacks.add(form)
                return Response("", status=204)
            self.voice.add(form)
            return Response(
                '<Response><Dial><Conference statusCallback="%s/cb" '
                'statusCallbackEvent="start end join leave mute">Sales</Conference></Dial></Response>'
                % self.url, mimetype="text/xml")

        self.http = HttpApp(app).start()
        self.url = self.http.url

    def wait(self, event, timeout=15):
        ok = self.callbacks.wait_for(
            lambda items: any(i.get("StatusCallbackEvent") == event for i in items), timeout)
        assert ok, "no %s callback; got %r" % (event, [i.get("StatusCallbackEvent") for i in self.callbacks.items])
        return next(i for i in self.callbacks.items if i.get("StatusCallbackEvent") == event)


@pytest.fixture
def stack(tmp_path):
    fake = FakeFreeSwitch().start()
    app = App()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=3,
                              reconnect_backoff=0.01, talk_stop_ms=0)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                          numbers=[Number(NUMBER, AC, app.url + "/voice")], engine=engine, fetch_timeout=3.0)
    engine.set_call_handler(server.bridge.on_call)
    assert engine.wait_connected(5)
    yield fake, app, engine, server
    server.stop()
    app.http.stop()
    fake.stop()


def conference_arg(call):
    conf = call.wait_command("execute-app-name: conference", timeout=15)
    assert "event-lock: true" in conf
    return next(line for line in conf.split("\n") if line.startswith("execute-app-arg: "))[len("execute-app-arg: "):]


def test_outbound_calls_to_conference_callbacks_and_rest_mute(stack):
    fake, app, engine, server = stack
    first = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000001").start()
    # the voice URL got the Twilio voice parameters of the FreeSWITCH call
    assert app.voice.wait_for(lambda items: bool(items), 15)
    voice = app.voice.items[0]
    assert voice["To"] == NUMBER and voice["From"] == "1000"
    sid1 = voice["CallSid"]
    # alone in the room: it waits (Twilio starts a conference at two participants) — fsbridge's wait gate
    arg = conference_arg(first)
    room = arg.split("@")[0]
    assert room.startswith("CF") and arg == room + "@fsbridge+flags{nomoh|mute|deaf}"
    join1 = app.wait("participant-join")
    assert first.variables["hangup_after_conference"] == "false"   # set before the conference app ran
    assert join1["CallSid"] == sid1 and join1["ConferenceSid"] == room
    m1 = fake.find(first.uid)
    fake.wait_command("api conference %s play local_stream://moh %d" % (room, m1.id))  # wait music
    second = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000002").start()
    assert conference_arg(second).startswith(room + "@fsbridge")  # the domain starts it after its join
    start = app.wait("conference-start")
    assert start["ConferenceSid"] == room
    m2 = fake.find(second.uid)
    # the start rule: waiting members' music stops and they are mixed (quietly: no mute/deaf callbacks)
    for cmd in ("stop all %d" % m1.id, "undeaf %d" % m1.id, "unmute %d quiet" % m1.id):
        fake.wait_command("api conference %s %s" % (room, cmd))
    assert fake.wait_for(lambda: m1.speak and m1.hear and m2.speak and m2.hear)
    # REST mute → conference <room> mute <id> → mute-member → participant-mute
    r = requests.post("%s/2010-04-01/Accounts/%s/Conferences/%s/Participants/%s.json"
                      % (server.base_url, AC, room, sid1), data={"Muted": "true"}, auth=(AC, TOKEN), timeout=10)
    assert r.status_code == 200, r.text
    assert "api conference %s mute %d" % (room, m1.id) in fake.commands
    mute = app.wait("participant-mute")
    assert mute["CallSid"] == sid1 and mute["Muted"] == "true"
    assert [i["StatusCallbackEvent"] for i in app.callbacks.items].count("participant-mute") == 1
    # the callers hang up
    first.hangup()
    second.hangup()
    app.wait("participant-leave")
    app.wait("conference-end")
    assert first.closed.wait(10) and second.closed.wait(10)


def test_esl_drop_503_then_reconnect_and_resync(stack):
    fake, app, engine, server = stack
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    conference_arg(call)
    join = app.wait("participant-join")
    fake.accepting = False
    fake.drop()
    assert engine.esl.down_event.wait(5)
    r = requests.post("%s/2010-04-01/Accounts/%s/Conferences/%s/Participants/%s.json"
                      % (server.base_url, AC, join["ConferenceSid"], join["CallSid"]), data={"Muted": "true"},
                      auth=(AC, TOKEN), timeout=10)
    assert r.status_code == 503
    call.hangup()  # the caller hangs up while fsbridge cannot hear FreeSWITCH's events
    fake.accepting = True
    assert engine.esl.wait_ready(2, 5)
    leave = app.wait("participant-leave")  # from the resync after the reconnect: no phantom participant
    assert leave["CallSid"] == join["CallSid"]
    app.wait("conference-end")


def test_serve_composition_builds_the_freeswitch_engine_and_outbound_server(tmp_path):
    """``fsbridge serve --engine freeswitch`` as composed by fsbridge/app.py (make_engine from the settings,
    ``engine.set_call_handler(bridge.on_call)``), against the fake FreeSWITCH."""
    fake = FakeFreeSwitch().start()
    app = App()
    from fsbridge.app import BridgeServer
    from fsbridge.local import local_settings
    settings = local_settings(str(tmp_path / "serve"), accounts={AC: TOKEN},
                              numbers=[Number(NUMBER, AC, app.url + "/voice")], engine="freeswitch",
                              esl_host="127.0.0.1", esl_port=fake.port, esl_password="ClueCon",
                              esl_allow_stock_password=True, outbound_port=0, fetch_timeout=3.0)
    server = BridgeServer(settings).start()
    try:
        engine = server.bridge.engine
        assert isinstance(engine, FreeSwitchEngine) and engine.outbound.running
        assert engine.wait_connected(5)
        call = FakeCall(fake, "127.0.0.1", engine.outbound.bound_port).start()
        assert conference_arg(call).startswith("CF")
        app.wait("participant-join")
        call.hangup()
        app.wait("participant-leave")
    finally:
        server.stop()
        app.http.stop()
        fake.stop()


def test_rest_create_participant_dials_out_and_joins(stack):
    """Twilio create Participant → ``bgapi originate … &socket(…)`` → BACKGROUND_JOB +OK → the answered
    call arrives on the outbound socket with its CallSid → joins the room → participant-join."""
    import re
    fake, app, engine, server = stack
    first = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    room = conference_arg(first).split("@")[0]
    app.wait("participant-join")
    r = requests.post("%s/2010-04-01/Accounts/%s/Conferences/%s/Participants.json" % (server.base_url, AC, room),
                      data={"From": "+15550001000", "To": "1001", "Label": "agent"}, auth=(AC, TOKEN), timeout=10)
    assert r.status_code in (200, 201), r.text
    call_sid = r.json()["call_sid"]
    cmd = fake.wait_command("bgapi originate ")
    assert "fsbridge_call_sid=%s" % call_sid in cmd and "}user/1001 '&socket(127.0.0.1:%d async full)'" % (
        engine.outbound_port) in cmd
    uid = re.search(r"origination_uuid=([0-9a-f-]+)", cmd).group(1)
    # FreeSWITCH answered (BACKGROUND_JOB +OK <uuid>) and connects the call to the outbound socket
    callee = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=uid,
                      variables=(("variable_fsbridge_call_sid", call_sid),)).start()
    assert conference_arg(callee).startswith(room + "@fsbridge")
    assert app.callbacks.wait_for(lambda items: any(
        i.get("StatusCallbackEvent") == "participant-join" and i.get("CallSid") == call_sid for i in items), 15)
    app.wait("conference-start")
    first.hangup()
    callee.hangup()
    app.wait("conference-end")


def test_rest_dial_out_busy_is_reported_as_participant_add_failed(stack):
    """FreeSWITCH answers the ``bgapi originate`` with BACKGROUND_JOB ``-ERR USER_BUSY``: the participant
    created queued (201, GET finds it) gets participant-leave with ReasonParticipantLeft
    participant_add_failed and ParticipantCallStatus busy; it never counted as a member."""
    fake, app, engine, server = stack
    fake.bgapi_results["originate "] = "-ERR USER_BUSY\n"
    first = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    room = conference_arg(first).split("@")[0]
    app.wait("participant-join")
    base = "%s/2010-04-01/Accounts/%s/Conferences/%s/Participants" % (server.base_url, AC, room)
    r = requests.post(base + ".json", data={"From": "+15550001000", "To": "1001", "Label": "agent"},
                      auth=(AC, TOKEN), timeout=10)
    assert r.status_code == 201 and r.json()["status"] == "queued", r.text
    call_sid = r.json()["call_sid"]
    assert "fsbridge_call_sid=%s" % call_sid in fake.wait_command("bgapi originate ")
    leave = app.wait("participant-leave")
    assert leave["CallSid"] == call_sid and leave["ParticipantLabel"] == "agent"
    assert leave["ReasonParticipantLeft"] == "participant_add_failed"
    assert leave["ParticipantCallStatus"] == "busy"
    part = requests.get(base + "/%s.json" % call_sid, auth=(AC, TOKEN), timeout=10)
    assert part.status_code == 200 and part.json()["status"] == "failed", part.text
    info = server.bridge.state.conference(room)
    assert info.status == "init" and info.member_count == 1          # the caller alone, still waiting
    assert [e["StatusCallbackEvent"] for e in app.callbacks.items] == ["participant-join", "participant-leave"]
    first.hangup()
    end = app.wait("conference-end")
    assert end["CallSidEndingConference"] != call_sid


def test_rest_dial_out_label_is_reserved_while_queued(stack):
    """No BACKGROUND_JOB yet (FreeSWITCH still dialling): the participant is queued, GET by its label finds
    it, and another create with the same Label is refused with 16025."""
    fake, app, engine, server = stack
    fake.bgapi_results["originate "] = None      # the originate result never comes during the test
    first = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    room = conference_arg(first).split("@")[0]
    app.wait("participant-join")
    base = "%s/2010-04-01/Accounts/%s/Conferences/%s/Participants" % (server.base_url, AC, room)
    data = {"From": "+15550001000", "To": "1001", "Label": "agent"}
    r = requests.post(base + ".json", data=data, auth=(AC, TOKEN), timeout=10)
    assert r.status_code == 201, r.text
    fetched = requests.get(base + "/agent.json", auth=(AC, TOKEN), timeout=10)
    assert fetched.status_code == 200 and fetched.json()["status"] == "queued"
    assert fetched.json()["call_sid"] == r.json()["call_sid"]
    again = requests.post(base + ".json", data=dict(data, To="1002"), auth=(AC, TOKEN), timeout=10)
    assert again.status_code == 409 and again.json()["code"] == 16025, again.text
    first.hangup()
