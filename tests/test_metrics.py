"""/metrics, /healthz, /readyz of an in-process bridge: counters move with a real conference (scraped and
parsed with prometheus_client's own text parser); probes need no credentials and name no account."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from console_rig import AC, get, meeting, scrape, start, value
from console_rig import app, server  # noqa: F401  (pytest fixtures)


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def test_counters_move_with_a_conference(server, app, tmp_path):
    before = scrape(server)
    assert value(before, "fsbridge_conferences_active") == 0
    assert value(before, "fsbridge_events_total", event="participant-join") == 0
    bridge = server.bridge
    ann, ben, sid = meeting(server, tmp_path, total_s=60, on_s=1.0, off_s=1.0)
    assert bridge.wait_until(lambda: sum(e.name == "participant-speech-start" for e in bridge.events) >= 2, 20)
    during = scrape(server)
    assert value(during, "fsbridge_conferences_active") == 1
    assert value(during, "fsbridge_participants_active") == 2
    assert value(during, "fsbridge_engine_available") == 1
    assert value(during, "fsbridge_events_total", event="participant-speech-start") >= 2
    bridge.end_conference(AC, sid)
    assert bridge.wait_call(ann.call_sid, 30) and bridge.wait_call(ben.call_sid, 30)
    assert server.dispatcher.wait_idle(10)
    after = scrape(server)
    assert value(after, "fsbridge_events_total", event="participant-join") == 2
    assert value(after, "fsbridge_events_total", event="conference-end") == 1
    assert value(after, "fsbridge_events_total", event="participant-speech-start") >= 2
    assert value(after, "fsbridge_conferences_active") == 0
    assert value(after, "fsbridge_participants_active") == 0
    delivered = value(after, "fsbridge_callbacks_total", outcome="delivered")
    assert delivered == len(app.callbacks.items) > 0
    assert value(after, "fsbridge_callback_responses_total", code="204") == delivered
    assert value(after, "fsbridge_callback_delivery_seconds_count") == delivered
    assert value(after, "fsbridge_callback_outbox_depth") == 0
    assert value(after, "fsbridge_engine_tick_seconds_count") > 100     # 50 ticks per engine second
    assert value(after, "fsbridge_http_request_seconds_count", route="/metrics", method="GET", status="200") >= 2
    assert total(after, "fsbridge_http_request_seconds_count") > total(before, "fsbridge_http_request_seconds_count")
    assert AC not in get(server, "/metrics", auth=None).text


def test_rest_latency_by_route_and_status(tmp_path, app):
    server = start(tmp_path, app, clock="fast")
    try:
        assert get(server, f"/2010-04-01/Accounts/{AC}/Conferences.json").status_code == 200
        assert get(server, f"/2010-04-01/Accounts/{AC}/Conferences.json", auth=None).status_code == 401
        s = scrape(server)
        route = "/2010-04-01/Accounts/<AccountSid>/Conferences.json"
        assert value(s, "fsbridge_http_request_seconds_count", route=route, method="GET", status="200") == 1
        assert value(s, "fsbridge_http_request_seconds_count", route=route, method="GET", status="401") == 1
        assert get(server, "/nowhere").status_code == 404
        assert value(scrape(server), "fsbridge_http_request_seconds_count", route="<unmatched>", method="GET",
                     status="404") == 1
    finally:
        server.stop()


def test_health_and_readiness(server):
    h = get(server, "/healthz", auth=None)
    assert h.status_code == 200 and h.text == "ok\n"
    r = get(server, "/readyz", auth=None)
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "engine": "ok"}}
    server.bridge.engine_available = lambda: False      # engine unreachable (as FreeSWITCH with ESL down)
    r = get(server, "/readyz", auth=None)
    assert r.status_code == 503 and r.json()["checks"] == {"database": "ok", "engine": "unavailable"}
    server.store.engine.dispose()
    server.store.engine.pool.connect = None               # the database cannot be reached any more
    r = get(server, "/readyz", auth=None)
    assert r.status_code == 503 and r.json()["checks"]["database"] == "unavailable"


def test_grafana_dashboard_uses_only_exposed_metrics(tmp_path):
    """Every ``fsbridge_*`` series the dashboard in docs/ queries is one /metrics exposes (FreeSWITCH
    gauges included: an engine object with an ESL connection)."""
    import json
    import pathlib
    import re
    from types import SimpleNamespace

    from flask import Flask

    from fsbridge.callbacks import outbox
    from fsbridge.metrics import Metrics
    from fsbridge.store.db import make_engine
    db = make_engine(f"sqlite:///{tmp_path / 'o.sqlite'}")
    outbox.outbox.create(db)
    m = Metrics()
    conf = SimpleNamespace(status="in-progress", member_count=2)
    bridge = SimpleNamespace(state=SimpleNamespace(conferences=lambda: [conf]), engine_available=lambda: True)
    m.watch(bridge=bridge, dispatcher=SimpleNamespace(engine=db), esl=SimpleNamespace(is_up=True, connections=3))
    m.timed_tick(lambda: None)()
    m.on_event(SimpleNamespace(name="participant-join"))
    m.callback_update(1, "retrying", 1, "HTTP 503")
    m.callback_update(1, "delivered", 2, None)
    m.wrap_transport(SimpleNamespace(request=lambda *a: 200)).request("POST", "http://x/")
    app = Flask("t")
    app.add_url_rule("/r", "r", lambda: "ok")
    m.instrument_flask(app)
    app.test_client().get("/r")
    exposed = {s.name for fam in text_string_to_metric_families(m.exposition().decode()) for s in fam.samples}
    assert {"fsbridge_esl_connected", "fsbridge_esl_reconnects"} <= exposed
    dashboard = pathlib.Path(__file__).resolve().parent.parent / "docs" / "grafana-fsbridge.json"
    used = set(re.findall(r"fsbridge_[a-z_]+", json.dumps(json.loads(dashboard.read_text())["panels"])))
    assert used and used <= exposed, used - exposed


def test_labelled_children_are_memoised_and_count_as_labels_does():
    from fsbridge.metrics import Metrics
    m = Metrics()
    for _ in range(3):
        m.on_event(type("E", (), {"name": "participant-join"})())
    m.callback_update(1, "delivered", 1, None)
    assert m.child(m.events, "participant-join") is m.events.labels("participant-join")
    assert m.registry.get_sample_value("fsbridge_events_total", {"event": "participant-join"}) == 3
    assert m.registry.get_sample_value("fsbridge_callbacks_total", {"outcome": "delivered"}) == 1
    for i in range(1100):   # a bounded memo: label values beyond it still count
        m.child(m.callback_responses, str(i)).inc()
    assert len(m._children) <= 1000
    assert m.registry.get_sample_value("fsbridge_callback_responses_total", {"code": "1099"}) == 1
