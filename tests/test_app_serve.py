"""``fsbridge serve`` and ``fsbridge call`` as a user runs them: real processes, a TOML config file, port 0,
a real app server and callback receiver in the test process; SIGTERM ends serve cleanly (exit 0) and the
callback outbox survives a restart. Source: issue #7 (serve, virtual calls, clean shutdown)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import gevent
import numpy as np
import pytest
import soundfile as sf
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from fsbridge import config
from fsbridge.local import CallbackLog, HttpApp

AC = "AC" + "5" * 32
TOKEN = "serve-token"
NUMBER = "+15550005000"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class App:
    """/voice → a conference with every status event to /cb; /cb records (signature checked) and answers
    ``self.cb_status``."""

    def __init__(self):
        self.callbacks = CallbackLog()
        self.cb_status = 204
        validator = RequestValidator(TOKEN)
        app = Flask("serve-app")

        @app.post("/voice")
        def voice():
            return Response('<Response><Dial><Conference statusCallback="/cb" statusCallbackEvent="start end '
                            'join leave">ServeRoom</Conference></Dial></Response>', mimetype="text/xml")

        @app.post("/cb")
        def cb():
            form = request.form.to_dict()
            ok = validator.validate(request.url, form, request.headers.get("X-Twilio-Signature", ""))
            if self.cb_status < 300:
                self.callbacks.add(dict(form, _valid=ok))
            return Response("", status=self.cb_status)

        self.http = HttpApp(app).start()


def write_config(tmp_path, app_url, port=0):
    path = tmp_path / "fsbridge.toml"
    path.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}

[storage]
database_url = "sqlite:///{tmp_path}/serve.sqlite"
audio_dir = "{tmp_path}/audio"
recordings_dir = "{tmp_path}/recordings"

[engine]
type = "standalone"
clock = "10"

[http]
fetch_timeout = 5

[media]
dirs = ["{tmp_path}"]

[[accounts]]
sid = "{AC}"
auth_token = "{TOKEN}"
telnyx_api_key = "KEY-serve"

[[numbers]]
number = "{NUMBER}"
voice_url = "{app_url}/voice"
""")
    return str(path)


class Serve:
    """``python -m fsbridge serve --config FILE`` in a subprocess; ``url`` read from its first stdout line."""

    def __init__(self, cfg, env=None):
        self.proc = subprocess.Popen([sys.executable, "-m", "fsbridge", "serve", "--config", cfg],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                                     env=dict(os.environ, **(env or {})))
        with gevent.Timeout(60, AssertionError("serve did not report its address")):
            line = self.proc.stdout.readline().decode()
        assert line.startswith("fsbridge serving on http://127.0.0.1:"), line
        self.url = line.split()[-1]
        self.stderr = b""

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        with gevent.Timeout(30, AssertionError("serve did not exit after SIGTERM")):
            _, self.stderr = self.proc.communicate()
        return self.proc.returncode


def test_config_file_and_environment(tmp_path):
    cfg = write_config(tmp_path, "http://127.0.0.1:9")
    s = config.load(cfg, env={"FSBRIDGE_PORT": "8123", "FSBRIDGE_ACCOUNT_SID": "AC" + "6" * 32,
                              "FSBRIDGE_AUTH_TOKEN": "t2", "FSBRIDGE_ESL": "10.0.0.5:8022"})
    assert s.port == 8123 and s.host == "127.0.0.1" and s.clock == "10"
    assert s.esl_host == "10.0.0.5" and s.esl_port == 8022
    assert s.auth_tokens() == {AC: TOKEN, "AC" + "6" * 32: "t2"}
    assert s.accounts[AC].telnyx_api_key == "KEY-serve"
    num = s.number("+1 555 000 5000")
    assert num.voice_url == "http://127.0.0.1:9/voice" and num.account == AC and num.dialect == "twiml"
    assert config.clock_speed("fast") is None and config.clock_speed("realtime") == 1.0
    with pytest.raises(config.ConfigError):
        config.load(cfg, env={"FSBRIDGE_ENGINE": "asterisk"})
    with pytest.raises(config.ConfigError, match="FSBRIDGE_ESL"):
        config.load(cfg, env={"FSBRIDGE_ESL": "10.0.0.5:esl"})
    assert config.esl_address(":8022") == ("127.0.0.1", 8022)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[numbers]]\nnumber = "1"\nvoice_url = "http://x"\naccount = "ACnope"\n')
    with pytest.raises(config.ConfigError, match="unknown account"):
        config.load(str(bad), env={})
    assert config.load(None, env={}).port == 8080        # defaults: 127.0.0.1:8080, standalone


def test_serve_call_cli_and_sigterm(tmp_path):
    """serve on port 0 → ``fsbridge call --wait`` places a virtual call → callbacks arrive signed → SIGTERM
    → exit 0 with the call steps and callbacks logged."""
    app = App()
    cfg = write_config(tmp_path, app.http.url)
    wav = tmp_path / "alice.wav"
    t = np.arange(int(16000 * 1.5)) / 16000
    sf.write(str(wav), (6000 * np.sin(2 * np.pi * 700 * t)).astype(np.int16), 16000)
    serve = Serve(cfg)
    try:
        out = subprocess.run([sys.executable, "-m", "fsbridge", "call", "--to", NUMBER, "--from", "Alice",
                              "--audio", str(wav), "--url", serve.url, "--account", AC, "--token", TOKEN,
                              "--wait", "--timeout", "60"], capture_output=True, cwd=REPO, timeout=90)
        assert out.returncode == 0, out.stderr.decode()
        sid, status = out.stdout.decode().split()[-2:]
        assert sid.startswith("CA") and status == "completed"
        assert app.callbacks.wait_for(
            lambda items: [c["StatusCallbackEvent"] for c in items] ==
            ["participant-join", "participant-leave", "conference-end"], 30)
        assert all(c["_valid"] and c["CallSid" if "CallSid" in c else "ConferenceSid"] for c in app.callbacks.items)
        assert app.callbacks.items[0]["CallSid"] == sid
        import requests
        conf = app.callbacks.items[0]["ConferenceSid"]
        twilio = requests.get(f"{serve.url}/2010-04-01/Accounts/{AC}/Conferences/{conf}.json", auth=(AC, TOKEN))
        assert twilio.status_code == 200 and twilio.json()["status"] == "completed"
        telnyx = requests.get(f"{serve.url}/v2/texml/Accounts/{AC}/Conferences/{conf}",
                              headers={"Authorization": "Bearer KEY-serve"})
        assert telnyx.status_code == 200, telnyx.text
    finally:
        code = serve.stop()
        app.http.stop()
    log = serve.stderr.decode()
    assert code == 0, log
    assert f"call {sid} Alice → {NUMBER}: joins conference 'ServeRoom'" in log
    assert "callback participant-join SequenceNumber 1 for CF" in log and "delivered after 1 attempt(s)" in log
    assert "fsbridge stopped" in log


def test_outbox_survives_sigterm_and_restart(tmp_path):
    """Callbacks the app refuses (503) stay in the outbox across SIGTERM; the restarted serve delivers them."""
    app = App()
    app.cb_status = 503
    cfg = write_config(tmp_path, app.http.url)
    serve = Serve(cfg)
    try:
        out = subprocess.run([sys.executable, "-m", "fsbridge", "call", "--to", NUMBER, "--from", "Bob",
                              "--audio", "tone:600", "--hangup-after", "1", "--url", serve.url,
                              "--account", AC, "--token", TOKEN, "--wait"], capture_output=True, cwd=REPO,
                             timeout=90)
        assert out.returncode == 0, out.stderr.decode()
    finally:
        assert serve.stop() == 0
    assert "failed (HTTP 503); retry" in serve.stderr.decode()
    assert app.callbacks.items == []
    app.cb_status = 204
    again = Serve(cfg)
    try:
        assert app.callbacks.wait_for(
            lambda items: [c["StatusCallbackEvent"] for c in items] ==
            ["participant-join", "participant-leave", "conference-end"], 30)
    finally:
        assert again.stop() == 0
        app.http.stop()
