"""Twilio app fidelity (issue 17): API keys (item 8) and recordings as Twilio serves them (item 11), through
``fsbridge serve`` in this process (standalone engine, port 0) driven by the official ``twilio`` SDK.

Sources: Twilio API keys (``Client(api_key_sid, api_key_secret, account_sid)``: Basic ``SK…:secret``,
requests still signed with the account's AuthToken); Twilio Recording resource (2010-04-01).
"""
from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from e2e_support import AC, NUMBER, TOKEN, conference_twiml, serve_toml_head
from fsbridge.app import BridgeServer
from fsbridge.config import ConfigError, load_file

KEY, SECRET = "SK" + "5" * 32, "api-key-secret"


def _toml(tmp_path, app_url, keys=f'[{{sid = "{KEY}", secret = "{SECRET}"}}]'):
    work = tmp_path / "bridge"
    work.mkdir(exist_ok=True)
    path = tmp_path / "fsbridge.toml"
    path.write_text(serve_toml_head(work, 'fsbridge.sqlite') + f"""
[engine]
clock = "10"
[http]
fetch_timeout = 2.0
[egress]
allow = ["127.0.0.0/8"]
[[accounts]]
sid = "{AC}"
auth_token = "{TOKEN}"
api_keys = {keys}
[[numbers]]
number = "{NUMBER}"
voice_url = "{app_url}/voice"
""")
    return str(path)


@pytest.fixture
def keyed_bridge(tmp_path, app_server):
    """The bridge served from a TOML file whose account has one API key."""
    srv = BridgeServer(load_file(_toml(tmp_path, app_server.url))).start()
    yield srv
    srv.stop()


def _client(srv, username, password, account_sid=None):
    client = Client(username, password, account_sid)
    client.api.base_url = srv.base_url
    return client


def test_api_key_client_drives_the_account_and_callbacks_stay_signed_with_the_auth_token(keyed_bridge, app_server):
    app_server.twiml = lambda form: conference_twiml(form, "Keyed", statusCallbackEvent="start end join")
    client = _client(keyed_bridge, KEY, SECRET, AC)
    sid = client.api.v2010.accounts(AC).calls.create(to="silence:", from_=NUMBER, url=app_server.url + "/voice")
    assert sid.account_sid == AC
    client.api.v2010.accounts(AC).calls.create(to="tone:440", from_=NUMBER, url=app_server.url + "/voice")
    app_server.wait_event("conference-start")
    (conf,) = client.conferences.list(status="in-progress")
    assert conf.friendly_name == "Keyed" and conf.account_sid == AC
    assert len(client.conferences(conf.sid).participants.list()) == 2
    client.conferences(conf.sid).update(status="completed")
    app_server.wait_event("conference-end")
    assert all(c["valid"] for c in app_server.callbacks.items)   # signed with the AuthToken
    # the account's own AuthToken still works; a wrong secret, or a key used for another account, does not
    assert [c.sid for c in _client(keyed_bridge, AC, TOKEN).conferences.list()] == [conf.sid]
    with pytest.raises(TwilioRestException) as exc:
        _client(keyed_bridge, KEY, "wrong", AC).conferences(conf.sid).fetch()
    assert (exc.value.status, exc.value.code) == (401, 20003)
    with pytest.raises(TwilioRestException) as exc:
        _client(keyed_bridge, KEY, SECRET, "AC" + "9" * 32).conferences(conf.sid).fetch()
    assert exc.value.status == 404


def test_api_keys_must_be_well_formed(tmp_path):
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.api_keys\[0\]"):
        load_file(_toml(tmp_path, "http://127.0.0.1:9", keys='[{sid = "AC1", secret = "x"}]'))
    with pytest.raises(ConfigError, match=r"api_keys\[0\]"):
        load_file(_toml(tmp_path, "http://127.0.0.1:9", keys=f'[{{sid = "{KEY}"}}]'))


def test_recording_url_as_sent_serves_audio_and_the_account_lists_recordings(keyed_bridge, app_server):
    import io
    import json
    from pathlib import Path

    import requests
    import soundfile as sf
    app_server.twiml = lambda form: conference_twiml(form, "Taped", statusCallbackEvent="start end",
                                                     record="record-from-start",
                                                     recordingStatusCallback="/cb-recording")
    client = _client(keyed_bridge, KEY, SECRET, AC)
    for media in ("tone:440", "silence:"):
        client.api.v2010.accounts(AC).calls.create(to=media, from_=NUMBER, url=app_server.url + "/voice")
    app_server.wait_event("conference-start")
    (conf,) = client.conferences.list(status="in-progress")
    client.conferences(conf.sid).update(status="completed")
    assert app_server.callbacks.wait_for(lambda items: any(
        c["path"] == "/cb-recording" and c["form"].get("RecordingStatus") == "completed" for c in items), 30)
    done = next(c["form"] for c in app_server.callbacks.items
                if c["path"] == "/cb-recording" and c["form"]["RecordingStatus"] == "completed")
    url = done["RecordingUrl"]
    bare = requests.get(url, auth=(AC, TOKEN), timeout=10)          # the URL exactly as sent
    assert bare.status_code == 200 and bare.headers["Content-Type"].startswith("audio/")
    audio, rate = sf.read(io.BytesIO(bare.content), dtype="int16")
    assert rate == 16000 and len(audio) > 0
    assert requests.get(url + ".wav", auth=(AC, TOKEN), timeout=10).content == bare.content
    mp3 = requests.get(url + ".mp3", auth=(KEY, SECRET), timeout=10)
    assert mp3.status_code == 200 and mp3.headers["Content-Type"] == "audio/mpeg"
    decoded, mp3_rate = sf.read(io.BytesIO(mp3.content), dtype="int16")
    assert mp3_rate == rate and abs(len(decoded) - len(audio)) < rate // 10
    assert requests.get(url, timeout=10).status_code == 401
    # account level: list and fetch (SDK), the audio at the account path too
    (rec,) = client.recordings.list()
    assert (rec.sid, rec.conference_sid, rec.status, rec.source) == (done["RecordingSid"], conf.sid,
                                                                     "completed", "Conference")
    fetched = client.recordings(rec.sid).fetch()
    assert fetched.uri == f"/2010-04-01/Accounts/{AC}/Recordings/{rec.sid}.json" and int(fetched.duration) >= 0
    root = f"{keyed_bridge.base_url}/2010-04-01/Accounts/{AC}/Recordings/{rec.sid}"
    assert requests.get(root, auth=(AC, TOKEN), timeout=10).content == bare.content
    assert requests.get(root + ".mp3", auth=(AC, TOKEN), timeout=10).headers["Content-Type"] == "audio/mpeg"
    body = requests.get(root + ".json", auth=(AC, TOKEN), timeout=10).json()
    spec = Path(__file__).resolve().parents[2] / "shared" / "specs" / "twilio_api_v2010_conferences.json"
    if spec.is_file():   # the account Recording has every field of the conference recording, plus its own
        schema = json.loads(spec.read_text())["components"]["schemas"]
        assert set(schema["api.v2010.account.conference.conference_recording"]["properties"]) <= set(body)
    assert {"subresource_uris", "media_url"} <= set(body)
    assert requests.get(root.replace(rec.sid, "RE" + "0" * 32) + ".json", auth=(AC, TOKEN),
                        timeout=10).status_code == 404
    assert client.recordings.list(date_created_before=__import__("datetime").date(2000, 1, 1)) == []


def test_log_names_callbacks_with_the_apps_sequence_number_and_room_also_after_restart(tmp_path, app_server,
                                                                                      caplog):
    """Issue 17 item 12: the bridge's log line for a callback carries the SequenceNumber the app got and the
    room; a bridge restarted on the same database names rows it did not enqueue the same way."""
    import logging

    from e2e_support import SPEED, place
    from fsbridge.config import Number
    from fsbridge.local import start_bridge
    caplog.set_level(logging.INFO)
    app_server.twiml = lambda form: conference_twiml(form, "Logged", statusCallbackEvent="start end join leave")
    kw = dict(accounts={AC: TOKEN}, numbers=[Number(NUMBER, AC, app_server.url + "/voice")], clock=SPEED)
    srv = start_bridge(str(tmp_path / "bridge"), **kw)
    try:
        place(srv, "A", "silence:", TimeLimit="2")
        place(srv, "B", "silence:", TimeLimit="2")
        app_server.wait_event("conference-end")
        assert srv.dispatcher.wait_idle(10)
        conf = app_server.callbacks.items[0]["form"]["ConferenceSid"]
        rows = srv.dispatcher.status(conference_sid=conf)
    finally:
        srv.stop()
    text = caplog.text
    for _, form in [(c, c["form"]) for c in app_server.callbacks.items]:
        line = f"{form['StatusCallbackEvent']} SequenceNumber {form['SequenceNumber']} for {conf} 'Logged'"
        assert f"callback {line}: delivered" in text, line
    caplog.clear()
    again = start_bridge(str(tmp_path / "bridge"), **kw)
    try:
        end_row = next(r for r in rows if r.event_name == "conference-end")
        again.bridge.callback_update(end_row.id, "delivered", 1, None)
    finally:
        again.stop()
    n = next(c["form"]["SequenceNumber"] for c in app_server.callbacks.items
             if c["form"]["StatusCallbackEvent"] == "conference-end")
    assert f"callback conference-end SequenceNumber {n} for {conf} 'Logged': delivered" in caplog.text
    assert "for ?" not in caplog.text
