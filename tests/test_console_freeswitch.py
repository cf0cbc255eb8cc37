"""The console and /metrics with the FreeSWITCH engine (the fake FreeSWITCH, TCP on port 0, speaking the
recorded 1.10.12 wire): the console lists the callers of a conference, its Mute button becomes FreeSWITCH's
``conference <room> mute <id>`` and the app's participant-mute callback; ESL gauges and /readyz follow the
event socket."""
from __future__ import annotations

import re

import pytest
import requests

from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.local import start_bridge

from console_rig import AC, TOKEN, App, get, scrape, value
from fakes import FakeCall, FakeFreeSwitch

NUMBER = "7200"  # Caller-Destination-Number of the recorded outbound call


@pytest.fixture
def stack(tmp_path):
    fake = FakeFreeSwitch().start()
    app = App()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=3,
                              reconnect_backoff=0.01, max_backoff=0.2)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN}, engine=engine,
                          numbers=[Number(NUMBER, AC, app.url + "/voice")], fetch_timeout=3.0)
    assert engine.wait_connected(5)
    yield fake, app, engine, server
    server.stop()
    app.http.stop()
    fake.stop()


def test_console_mute_reaches_freeswitch(stack):
    fake, app, engine, server = stack
    app.labels = False
    calls = [FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=f"22222222-0000-4000-8000-00000000000{i}").start()
             for i in (1, 2)]
    assert app.wait_event("conference-start")
    page = get(server, "/console/")
    sid = re.search(r'href="/console/conferences/(CF\w+)"', page.text).group(1)
    table = get(server, f"/console/conferences/{sid}/participants").text
    call_sids = re.findall(r'data-call="(CA\w+)"', table)
    assert len(call_sids) == 2
    member = fake.find(calls[0].uid)
    who = next(c for c in call_sids if server.bridge.state.participant(sid, c).member_id == member.id)
    r = requests.post(f"{server.base_url}/console/conferences/{sid}/participants/{who}/mute", auth=(AC, TOKEN),
                      headers={"X-FSBridge-Console": "1"}, timeout=10)
    assert r.status_code == 200, r.text
    assert f"api conference {sid} mute {member.id}" in fake.commands
    assert app.wait_event("participant-mute")
    assert 'class="badge muted"' in get(server, f"/console/conferences/{sid}/participants").text
    assert value(scrape(server), "fsbridge_participants_active") == 2
    for call in calls:
        call.hangup()
    assert app.wait_event("conference-end")


def test_esl_gauges_and_readiness_follow_the_event_socket(stack):
    fake, _, engine, server = stack
    up = scrape(server)
    assert value(up, "fsbridge_esl_connected") == 1 and value(up, "fsbridge_esl_reconnects") == 0
    assert value(up, "fsbridge_engine_tick_seconds_count") == 0       # FreeSWITCH mixes: no tick here
    assert get(server, "/readyz", auth=None).status_code == 200
    fake.password = "changed"            # FreeSWITCH restarted with another password: reconnects fail
    fake.drop()
    assert engine.esl.down_event.wait(5)
    down = get(server, "/readyz", auth=None)
    assert down.status_code == 503 and down.json() == {"status": "unavailable",
                                                       "checks": {"database": "ok", "engine": "unavailable"}}
    assert value(scrape(server), "fsbridge_esl_connected") == 0
    fake.password = "ClueCon"
    assert engine.esl.wait_ready(2, 10)
    back = scrape(server)
    assert value(back, "fsbridge_esl_connected") == 1 and value(back, "fsbridge_esl_reconnects") == 1
    assert get(server, "/readyz", auth=None).status_code == 200
