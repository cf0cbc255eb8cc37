"""jambonz listen on the FreeSWITCH engine (issue 17 item 4) against the fake FreeSWITCH (real TCP): with
mod_audio_fork loaded the call's outbound socket sends ``uuid_audio_fork <uuid> start <url> <mix> <rate>
'<metadata>'`` (jambonz's command, the metadata quoted so FreeSWITCH's argument splitter hands it over intact)
and ``stop`` when the member leaves; without the module the caller gets a 12200 warning naming it and the
conference goes on."""
from __future__ import annotations

import json
import re

from flask import Flask, Response

from fakes import FakeCall, FakeFreeSwitch
from fsbridge.app import BridgeServer
from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.engines.freeswitch.fork import quoted
from fsbridge.local import HttpApp, local_settings

AC = "AC" + "5" * 32
NUMBER = "7200"
UID = "11111111-0000-4000-8000-0000000000a1"
METADATA = {"note": "it's a \\ test with spaces", "n": 1}


def _stack(tmp_path, module_loaded: bool):
    fake = FakeFreeSwitch().start()
    fake.api_replies["module_exists mod_audio_fork"] = "true" if module_loaded else "false"
    plain_api = fake.api
    fake.api = lambda cmd: "+OK Success\n" if cmd.startswith("uuid_audio_fork ") else plain_api(cmd)
    app = Flask("fs-listen-app")

    @app.route("/jvoice", methods=["POST"])
    def voice():
        return Response(json.dumps([{"verb": "conference", "name": "ears", "listen": {
            "url": "wss://listener.example.com/audio?x=1", "mixType": "stereo", "sampleRate": 16000,
            "metadata": METADATA, "wsAuth": {"username": "u", "password": "p w'd"}, "passDtmf": True}}]),
            mimetype="application/json")
    http = HttpApp(app).start()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=3,
                              reconnect_backoff=0.01, talk_stop_ms=0)
    settings = local_settings(str(tmp_path / "bridge"), accounts={AC: "token"}, fetch_timeout=3.0,
                              numbers=[Number(NUMBER, AC, http.url + "/jvoice", dialect="jambonz")])
    server = BridgeServer(settings, engine=engine).start()
    engine.set_call_handler(server.bridge.on_call)
    assert engine.wait_connected(5)
    # the listen URL's host: resolved by the egress check (a public address, as a real app's would be)
    policy = server.bridge.fetcher.egress
    plain_resolve = policy._resolve
    policy._resolve = lambda host, port, *a: ([(2, 1, 6, "", ("93.184.215.14", port))]
                                              if host == "listener.example.com" else plain_resolve(host, port, *a))
    return fake, server, http


def _unquote(arg: str) -> str:
    """FreeSWITCH's cleanup_separated_string for one single-quoted argument."""
    assert arg.startswith("'") and arg.endswith("'")
    return re.sub(r"\\(.)", r"\1", arg[1:-1])


def test_with_mod_audio_fork_the_stream_is_started_and_stopped(tmp_path):
    fake, server, http = _stack(tmp_path, module_loaded=True)
    try:
        call = FakeCall(fake, "127.0.0.1", server.bridge.engine.outbound_port, uid=UID).start()
        start = call.wait_command("api uuid_audio_fork %s start" % UID, timeout=15)
        assert "api uuid_setvar %s MOD_AUDIO_BASIC_AUTH_USERNAME 'u'" % UID in call.received
        assert "api uuid_setvar %s MOD_AUDIO_BASIC_AUTH_PASSWORD %s" % (UID, quoted("p w'd")) in call.received
        head = "api uuid_audio_fork %s start wss://listener.example.com/audio?x=1 stereo 16000 " % UID
        assert start.startswith(head)
        meta = json.loads(_unquote(start[len(head):]))
        assert meta["sampleRate"] == 16000 and meta["mixType"] == "stereo" and meta["to"] == NUMBER
        assert meta["note"] == METADATA["note"] and meta["callSid"].startswith("CA")
        assert fake.wait_for(lambda: fake.find(UID) is not None, 15)
        call.dtmf("7")                                      # passDtmf: a text frame through the module
        dtmf = call.wait_command("api uuid_audio_fork %s send_text " % UID, timeout=15)
        assert json.loads(_unquote(dtmf.split(" ", 4)[4])) == {"event": "dtmf", "dtmf": "7"}
        m = fake.find(UID)
        fake.api("conference %s kick %d" % (m.room, m.id))   # the member leaves, the call is still up
        call.wait_command("api uuid_audio_fork %s stop" % UID, timeout=15)
        call.hangup()
    finally:
        server.stop()
        http.stop()
        fake.stop()
    rec = next(r for r in server.bridge.registry.calls())
    assert not [m for code, m in rec.errors if code == 12200 and "mod_audio_fork" in m]


def test_without_mod_audio_fork_a_warning_names_the_module_and_the_call_joins(tmp_path):
    fake, server, http = _stack(tmp_path, module_loaded=False)
    try:
        call = FakeCall(fake, "127.0.0.1", server.bridge.engine.outbound_port, uid=UID).start()
        call.wait_command("execute-app-name: conference", timeout=15)
        call.hangup()
        assert call.closed.wait(10)
        rec = next(r for r in server.bridge.registry.calls())
        assert rec.done.wait(10)
    finally:
        server.stop()
        http.stop()
        fake.stop()
    assert not [c for c in call.received if "uuid_audio_fork" in c]
    assert "api module_exists mod_audio_fork" in call.received
    (warning,) = [m for code, m in rec.errors if code == 12200 and "listen" in m]
    assert "mod_audio_fork is not loaded" in warning
