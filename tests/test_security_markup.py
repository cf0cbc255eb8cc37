"""#14 items 1, 7 and 8: ``<Say>`` text never becomes an espeak-ng option (markup from a served app);
invalid Unicode is 12100 at parse time in all three dialects and an event the store cannot take is kept
(U+FFFD) instead of silently dropped; credentials in URLs never reach the log of ``fsbridge serve``."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys

import pytest
import soundfile as sf
from flask import Response

from fsbridge.conference.testing import Harness
from fsbridge.markup import MarkupError, parse
from fsbridge.redact import RedactFilter, redact
from fsbridge.store import Store
from fsbridge.store.db import make_engine as make_db
from fsbridge.textsafe import keep
from e2e_support import serve_toml_head
from security_support import AC, Site, bridge, call_number, xml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_espeak = pytest.mark.skipif(not (shutil.which("espeak-ng") or shutil.which("espeak")),
                                  reason="espeak-ng is not installed")


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "fsbridge.toml"
    path.write_text('auth_token = "very secret token" ' * 300)     # spoken, this would last minutes
    return path


def _say_durations(server):
    cache = server.settings.audio_dir
    return [sf.info(os.path.join(cache, f)).duration for f in os.listdir(cache) if f.startswith("say-")]


@needs_espeak
@pytest.mark.parametrize("dialect", ["twiml", "jambonz"])
def test_say_text_is_never_an_espeak_option(tmp_path, secret, dialect):
    app = Site()
    server = bridge(tmp_path, app, dialect=dialect)
    pwned = tmp_path / "pwned.wav"
    texts = (f"-f{secret}", f"--path={tmp_path} -w {pwned}", f"-w{pwned}")
    try:
        if dialect == "twiml":
            body = "".join(f"<Say>{t}</Say>" for t in texts) + f'<Say voice="-f{secret}">x</Say>'
            app.routes["/voice"] = lambda req: xml(f"<Response>{body}<Hangup/></Response>")
        else:
            doc = json.dumps([{"verb": "say", "text": t} for t in texts] + [{"verb": "hangup"}])
            app.routes["/voice"] = lambda req: Response(doc, mimetype="application/json")
        sid = call_number(server)
        assert server.bridge.wait_call(sid, 60)
        durations = _say_durations(server)
        # each text is spoken as text (a long path: ~15 s); the file itself would last minutes
        assert len(durations) >= len(texts) and max(durations) < 40, durations
        assert not pwned.exists()
    finally:
        server.stop()
        app.stop()


BAD_UNICODE = [
    ("jambonz", '[{"verb":"conference","name":"room\\ud800"}]'),
    ("jambonz", '[{"verb":"say","text":"\\udfff"}]'),
    ("jambonz", '[{"verb":"say","text":"x","\\ud800":1}]'),
    ("jambonz", b'[{"verb":"say","text":"\xc3\x28"}]'),
    ("twiml", b"<Response><Say>\xed\xa0\x80</Say></Response>"),
    ("twiml", "<Response><Say>&#xD800;</Say></Response>"),
    ("texml", "<Response><Dial><Conference>r\ud800</Conference></Dial></Response>"),
    ("texml", b"<Response><Say>\xff\xfe</Say></Response>"),
]


@pytest.mark.parametrize("dialect,doc", BAD_UNICODE)
def test_invalid_unicode_is_12100(dialect, doc):
    with pytest.raises(MarkupError) as info:
        parse(doc, dialect)
    assert info.value.code == 12100


def test_lone_surrogate_from_a_served_jambonz_app_is_12100_and_the_bridge_goes_on(tmp_path):
    app = Site()
    server = bridge(tmp_path, app, dialect="jambonz")
    try:
        app.routes["/voice"] = lambda req: Response('[{"verb":"conference","name":"room\\ud800"}]',
                                                    mimetype="application/json")
        sid = call_number(server)
        assert server.bridge.wait_call(sid, 20)
        assert [code for code, _ in server.bridge.registry.get(sid).errors][:1] == [12100]
        ok = '[{"verb":"say","text":"ok \\ud83d\\ude00"},{"verb":"hangup"}]'     # a valid pair: fine
        app.routes["/voice"] = lambda req: Response(ok, mimetype="application/json")
        sid = call_number(server)
        assert server.bridge.wait_call(sid, 20) and server.bridge.registry.get(sid).errors == []
    finally:
        server.stop()
        app.stop()


def test_an_event_the_store_cannot_take_is_kept_with_replacement_characters(tmp_path, caplog):
    """Item 7: a surrogate that got past the parser must not lose the event: the store write fails, is
    logged, and the event is stored with U+FFFD instead (the conference is visible over REST)."""
    store = Store(make_db(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    store.create_all()
    harness = Harness()
    harness.account_sid = AC
    events = harness.join("CA" + "1" * 32, "Room\ud800")
    assert events and "\ud800" in events[0].friendly_name
    with caplog.at_level(logging.ERROR, "fsbridge.test"):
        for event in events:
            assert keep(store.record, event, "store.record", logging.getLogger("fsbridge.test")) is True
    row = store.conference(AC, events[0].conference_sid)
    assert row is not None and row.friendly_name == "Room\ufffd"
    assert "kept with invalid text replaced" in caplog.text and "store.record failed" in caplog.text
    lost = keep(lambda e: 1 / 0, events[0], "consumer", logging.getLogger("fsbridge.test"))
    assert lost is None and "LOST" in caplog.text


def test_redaction_masks_userinfo_and_credential_parameters():
    line = ("number +1 → POST https://alice:pa55@app.example/voice?token=t0k&x=1&AccessToken=a1 "
            "Authorization: Basic QUM6dG9r password=hunter2")
    out = redact(line)
    for secret_text in ("alice", "pa55", "t0k", "a1 ", "QUM6dG9r", "hunter2"):
        assert secret_text not in out, out
    assert "x=1" in out and "app.example/voice" in out
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "fetch %s", ("http://u:p@h/x",), None)
    RedactFilter().filter(record)
    assert record.getMessage() == "fetch http://***:***@h/x"


def test_serve_logs_no_credentials(tmp_path):
    """Item 8 through the entry point: ``fsbridge serve`` logs its numbers' voice URLs at INFO; the userinfo
    and the token in them are masked."""
    cfg = tmp_path / "fsbridge.toml"
    cfg.write_text(serve_toml_head(tmp_path) + f"""
[[accounts]]
sid = "{AC}"
auth_token = "tok"
[[numbers]]
number = "+15550001000"
voice_url = "https://alice:s3cretpw@app.example/voice?api_key=k3y"
""")
    proc = subprocess.Popen([sys.executable, "-m", "fsbridge", "serve", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("fsbridge serving on"), line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert "app.example/voice" in text, text
    assert "s3cretpw" not in text and "alice" not in text and "k3y" not in text, text
    assert os.stat(tmp_path / "serve.sqlite").st_mode & 0o777 == 0o600
