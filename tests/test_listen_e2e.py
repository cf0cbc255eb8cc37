"""jambonz listen end to end on the standalone engine (issue 17 item 4): a served jambonz app whose conference
verb carries ``listen``; the call's audio reaches a real websocket server (port 0) as jambonz sends it — the
metadata text frame (sampleRate, mixType, the call, the app's metadata), then L16 frames in which the other
caller's tone is heard. The URL goes through the egress policy; bad values are 12200 warnings, never a crash."""
from __future__ import annotations

import json

import numpy as np
from flask import Response

from e2e_support import AC, SPEED, TOKEN, place
from fsbridge.config import Number
from fsbridge.local import start_bridge
from ws_support import WsReceiver

JNUM = "+15550003000"


def _bridge(tmp_path, app_server, listen_for, **kw):
    """A bridge whose jambonz number joins room ``ears``; the caller named ``listener`` gets ``listen_for``."""
    app_server.routes["/jvoice"] = lambda body: Response(json.dumps([dict(
        {"verb": "conference", "name": "ears", "beep": False},
        **({"listen": listen_for} if body["from"] == "listener" else {}))]), mimetype="application/json")
    return start_bridge(str(tmp_path / "listen"), accounts={AC: TOKEN}, clock=SPEED,
                        numbers=[Number(JNUM, AC, app_server.url + "/jvoice", dialect="jambonz")], **kw)


def _warnings(srv, sid):
    return [m for code, m in srv.bridge.registry.get(sid).errors if code == 12200]


def test_listen_streams_the_conference_mix_to_the_apps_websocket(app_server, tmp_path):
    receiver = WsReceiver()
    srv = _bridge(tmp_path, app_server, {"url": receiver.url, "mixType": "mixed", "sampleRate": 8000,
                                         "metadata": {"room": "ears", "mixType": "kept-from-app"}})
    try:
        listener = place(srv, "listener", "silence:", to=JNUM, TimeLimit="6")
        talker = place(srv, "talker", "tone:1000", to=JNUM, TimeLimit="6")
        assert srv.bridge.wait_call(listener, 30) and srv.bridge.wait_call(talker, 30)
        assert receiver.closed.wait(10)       # the member left: the stream closed
    finally:
        srv.stop()
        receiver.stop()
    kind, text = receiver.messages[0]
    meta = json.loads(text)
    assert kind == "text"
    assert (meta["callSid"], meta["from"], meta["to"], meta["accountSid"]) == (listener, "listener", JNUM, AC)
    assert (meta["sampleRate"], meta["room"], meta["mixType"]) == (8000, "ears", "kept-from-app")   # app's win
    assert meta["direction"] == "inbound" and meta["callStatus"] == "in-progress"
    assert {k for k, _ in receiver.messages[1:]} == {"bytes"}
    audio = receiver.audio()
    assert len(audio) > 8000                  # more than a second of 8 kHz audio
    spec = np.abs(np.fft.rfft(audio.astype(float))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / 8000)
    assert spec[np.abs(freqs - 1000) < 50].sum() > 0.8 * spec.sum()    # the talker's tone, as the room mix
    assert not _warnings(srv, listener)


def test_a_refused_or_bad_listen_url_is_a_warning_and_the_call_goes_on(app_server, tmp_path):
    """127.0.0.2 is denied by the operator's egress settings: nothing connects, the listener gets a 12200
    warning naming the egress policy and still joins; an http:// URL is a markup warning."""
    denied = WsReceiver(host="127.0.0.2")
    srv = _bridge(tmp_path, app_server, {"url": denied.url}, egress_deny=("127.0.0.2/32",))
    try:
        sid = place(srv, "listener", "silence:", to=JNUM, TimeLimit="2")
        assert srv.bridge.wait_call(sid, 30)
        app_server.routes["/jvoice"] = lambda body: Response(json.dumps([{
            "verb": "conference", "name": "ears", "listen": {"url": "http://example.com/x", "mixType": "loud"}}]),
            mimetype="application/json")
        bad = place(srv, "other", "silence:", to=JNUM, TimeLimit="2")
        assert srv.bridge.wait_call(bad, 30)
    finally:
        srv.stop()
        denied.stop()
    assert denied.requests == []
    (warning,) = _warnings(srv, sid)
    assert "egress policy" in warning and "127.0.0.2" not in warning   # the address stays in the log
    assert any("joins conference" in step for step in srv.bridge.registry.get(sid).steps)
    assert any("ws:// or wss://" in w for w in _warnings(srv, bad))
    assert any("joins conference" in step for step in srv.bridge.registry.get(bad).steps)


def test_pass_dtmf_sends_digits_as_text_frames_and_max_length_ends_the_stream(app_server, tmp_path):
    """passDtmf: each digit the caller presses is a ``{"event": "dtmf", "dtmf": d}`` text frame (listen.js);
    maxLength 3: the stream closes 3 s (engine time) after it started, while the call stays in the room."""
    receiver = WsReceiver()
    srv = _bridge(tmp_path, app_server, {"url": receiver.url, "passDtmf": True, "maxLength": 3})
    try:
        # pressed 2.5 engine s (0.25 s of wall time) after the answer: the stream (3 s long) must be open by
        # then — 1 (0.1 s) left a slow /jvoice fetch or WebSocket connect under load no slack
        sid = place(srv, "listener", "silence:", to=JNUM, Dtmf="5#@2.5", TimeLimit="8")
        assert receiver.closed.wait(30)
        assert srv.bridge.wait_call(sid, 30)
    finally:
        srv.stop()
        receiver.stop()
    texts = [json.loads(d) for k, d in receiver.messages if k == "text"]
    assert texts[0]["mixType"] == "mono" and texts[0]["sampleRate"] == 8000   # listen.js defaults
    assert texts[1:] == [{"event": "dtmf", "dtmf": "5"}, {"event": "dtmf", "dtmf": "#"}]
    frames = sum(k == "bytes" for k, _ in receiver.messages)
    assert 50 <= frames <= 3 * 50 + 2        # about 3 s of 20 ms frames, not the call's 8 s
