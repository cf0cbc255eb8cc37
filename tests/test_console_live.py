"""LiveHub (the console's listener on the bridge's event stream): talking state, timelines, per-account
fan-out with bounded queues, and shutdown ending open event streams cleanly."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import gevent
import pytest
import requests

from fsbridge.api.console.live import LiveHub
from console_rig import AC, TOKEN, App, meeting, start


def ev(name, conf="CF1", call="CA1", account="AC1", seq=1):
    return SimpleNamespace(name=name, conference_sid=conf, account_sid=account, sequence_number=seq,
                           timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc),
                           participant=SimpleNamespace(call_sid=call, label="Ann") if call else None)


def test_talking_timeline_and_scoped_fanout():
    hub = LiveHub(keep_conferences=2, queue_size=2)
    mine, other_conf, other_account = hub.subscribe("AC1", "CF1"), hub.subscribe("AC1", "CF2"), hub.subscribe("AC2")
    hub.on_event(ev("participant-join"))
    hub.on_event(ev("participant-speech-start", seq=2))
    assert hub.talking("CF1") == {"CA1"}
    hub.on_event(ev("participant-speech-stop", seq=3))
    assert hub.talking("CF1") == set()
    assert [e.event for e in hub.timeline("CF1")] == ["participant-join", "participant-speech-start",
                                                    "participant-speech-stop"]
    assert mine.get(0)["event"] == "participant-join" and mine.dropped == 1     # bounded: a slow page loses
    assert other_conf.get(0) is None and other_account.get(0) is None           # scoped by conference/account
    hub.on_event(ev("participant-join", conf="CF2"))
    hub.on_event(ev("participant-join", conf="CF3"))
    assert hub.timeline("CF1") == [] and len(hub.timeline("CF3")) == 1          # the oldest conference is dropped
    hub.close()
    with pytest.raises(StopIteration):
        while True:
            mine.get(0)


def test_stopping_the_server_ends_open_event_streams(tmp_path):
    app = App()
    server = start(tmp_path, app, clock="10")
    try:
        _, _, sid = meeting(server, tmp_path)
        stream = requests.get(f"{server.base_url}/console/conferences/{sid}/events", auth=(AC, TOKEN),
                              stream=True, timeout=10)
        lines = stream.iter_lines(decode_unicode=True)
        first = next(line for line in lines if line.startswith("data: "))
        assert json.loads(first[6:])["event"] == "snapshot"
        reader = gevent.spawn(lambda: list(lines))   # reads to the end of the response
    finally:
        server.stop()
        app.http.stop()
    reader.join(10)
    assert reader.successful(), reader.exception   # a clean end of the chunked body, not a reset connection
