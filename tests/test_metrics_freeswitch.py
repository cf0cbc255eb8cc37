"""The FreeSWITCH side of /metrics and /readyz, against the fake FreeSWITCH (TCP, port 0): ESL connected,
a dropped event socket makes the bridge not ready and counts a reconnect once it is back."""
from __future__ import annotations

import pytest

from fsbridge.engines.freeswitch import FreeSwitchEngine

from console_rig import AC, TOKEN, get, scrape, value

try:   # the fakes move to tests/fakes/ with the engine split
    from fakes import FakeFreeSwitch
except ImportError:
    from fsfake import FakeFreeSwitch
try:
    from fsbridge.local import start_bridge
except ImportError:
    from fsbridge.runtime.local import start_bridge


@pytest.fixture
def stack(tmp_path):
    fake = FakeFreeSwitch().start()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=3,
                              reconnect_backoff=0.01, max_backoff=0.2)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN}, engine=engine)
    assert engine.wait_connected(5)
    yield fake, engine, server
    server.stop()
    fake.stop()


def test_esl_gauges_and_readiness_follow_the_event_socket(stack):
    fake, engine, server = stack
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
