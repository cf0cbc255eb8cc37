#!/usr/bin/env python3
"""What the console and the metrics cost the bridge: per domain event (the two listeners in the bridge's
event path, with N open event streams), per /metrics scrape (exposition + the outbox COUNT), and per REST
request (request timer + cross-site guard, Flask test client, with vs without). Not a test: prints figures
(docs/console.md quotes them).

    python3 bench/console.py [--events 200000] [--streams 0,10,100] [--requests 3000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gevent import monkey  # noqa: E402

monkey.patch_all()


def per_event(n: int, streams: int) -> float:
    """µs per domain event through Metrics.on_event + LiveHub.on_event with ``streams`` subscribers that
    keep up (their queues are drained as the events come)."""
    from fsbridge.api.console.live import LiveHub
    from fsbridge.conference.events import DomainEvent, ParticipantView
    from fsbridge.metrics import Metrics
    m, hub = Metrics(), LiveHub(queue_size=n + 1)
    subs = [hub.subscribe("AC1", "CF1") for _ in range(streams)]
    e = DomainEvent(name="participant-speech-start", account_sid="AC1", conference_sid="CF1", friendly_name="x",
                    sequence_number=1, timestamp=datetime.now(timezone.utc), participant=ParticipantView("CA1"))
    t0 = time.perf_counter()
    for _ in range(n):
        m.on_event(e)
        hub.on_event(e)
    dt = time.perf_counter() - t0
    del subs
    return dt / n * 1e6


def per_scrape(n: int) -> float:
    """ms per /metrics body (exposition + the outbox COUNT on a SQLite file with 10 000 finished rows)."""
    from types import SimpleNamespace

    from sqlalchemy import insert

    from fsbridge.callbacks import outbox
    from fsbridge.metrics import Metrics
    from fsbridge.store.db import make_engine
    db = make_engine("sqlite:///" + os.path.join(tempfile.mkdtemp(), "o.sqlite"))
    outbox.outbox.create(db)
    with db.begin() as conn:
        conn.execute(insert(outbox.outbox), [dict(queue_key="CF", dialect="twiml", kind="status", event_name="x",
                                                  account_sid="AC", conference_sid="CF", sequence_number=i,
                                                  method="POST", url="http://a/", state="delivered",
                                                  created_at=0.0) for i in range(10_000)])
    m = Metrics()
    conf = SimpleNamespace(status="in-progress", member_count=5)
    m.watch(bridge=SimpleNamespace(state=SimpleNamespace(conferences=lambda: [conf] * 100),
                                   engine_available=lambda: True), dispatcher=SimpleNamespace(engine=db), engine=None)
    for name in ("participant-join", "participant-leave", "participant-mute", "conference-end"):
        m.events.labels(name).inc()
    t0 = time.perf_counter()
    for _ in range(n):
        m.exposition()
    return (time.perf_counter() - t0) / n * 1e3


def per_request(n: int) -> tuple:
    """µs per GET on a trivial Flask route, without and with the timer + cross-site guard."""
    from flask import Flask

    from fsbridge.api.console import guard
    from fsbridge.metrics import Metrics

    def build(instrument: bool):
        app = Flask("bench")
        app.add_url_rule("/r", "r", lambda: "ok")
        if instrument:
            guard.install(app)
            Metrics().instrument_flask(app)
        return app.test_client()
    out = []
    for instrument in (False, True):
        client = build(instrument)
        client.get("/r")
        t0 = time.perf_counter()
        for _ in range(n):
            client.get("/r")
        out.append((time.perf_counter() - t0) / n * 1e6)
    return tuple(out)


def main() -> int:
    """Print the three figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--streams", default="0,10,100")
    p.add_argument("--requests", type=int, default=3000)
    a = p.parse_args()
    for s in (int(x) for x in a.streams.split(",")):
        print(f"per domain event, {s:>3} open streams: {per_event(a.events, s):6.1f} µs")
    print(f"per /metrics scrape (10 000 outbox rows): {per_scrape(200):6.2f} ms")
    plain, timed = per_request(a.requests)
    print(f"per request: {plain:6.1f} µs plain, {timed:6.1f} µs with timer + guard (+{timed - plain:.1f} µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
