"""Callback throughput and latency: enqueue → POST arrival at a local receiver.

Usage: ``python3 bench/callbacks.py [--rate 2000] [--seconds 5] [--conferences 100] [--dialect twiml]``

A receiver (gevent WSGI, TCP_NODELAY, separate process so its CPU is not ours) records when each callback
arrives (CLOCK_MONOTONIC, shared by all processes on Linux); this process enqueues DomainEvents at a fixed
rate spread over ``--conferences`` conferences through a real :class:`fsbridge.callbacks.Dispatcher` on a
SQLite file, then prints delivered events/s, p50/p99 enqueue→arrival latency (ms) and enqueue call cost.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gevent  # noqa: E402
import requests  # noqa: E402

from fsbridge.callbacks import jambonz as jz  # noqa: E402
from fsbridge.callbacks import twilio as tw  # noqa: E402
from fsbridge.callbacks.dispatcher import Dispatcher  # noqa: E402
from fsbridge.callbacks.http import Transport  # noqa: E402
from fsbridge.conference import events as ev  # noqa: E402
from fsbridge.egress import EgressPolicy  # noqa: E402
from fsbridge.conference.events import CallbackConfig, ParticipantView, make  # noqa: E402
from fsbridge.markup.model import Hook  # noqa: E402
from fsbridge.store.db import make_engine  # noqa: E402
from fsbridge.wire import DIALECTS, TWIML  # noqa: E402

AC = "AC00000000000000000000000000000001"


def _receiver(port_q):
    """Receiver process: POSTs record (key, monotonic arrival); GET /stats returns them as JSON."""
    from gevent import monkey as m

    m.patch_all()
    import socket
    from urllib.parse import parse_qsl

    from gevent.pywsgi import WSGIServer

    arrivals = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        if environ["REQUEST_METHOD"] == "GET":
            import resource as res

            ru = res.getrusage(res.RUSAGE_SELF)
            data = json.dumps({"arrivals": arrivals, "cpu_s": ru.ru_utime + ru.ru_stime}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        now = time.monotonic()
        if body[:1] == b"{":  # jambonz JSON: no sequence number; the bench puts it in ``members``
            f = json.loads(body)
            key = f"{f[jz.CONFERENCE_SID]}/{f[jz.MEMBERS]}"
        else:
            f = dict(parse_qsl(body.decode()))
            key = f"{f[tw.CONFERENCE_SID]}/{f[tw.SEQUENCE_NUMBER]}"
        arrivals.append((key, now))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]

    listener = socket.socket()
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    server = WSGIServer(listener, app, log=None, error_log=None)
    port_q.put(listener.getsockname()[1])
    server.serve_forever()


def pct(values, p):
    """The p-th percentile (nearest rank) of ``values``."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))]


def main(argv=None):
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=2000.0, help="events per second offered")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--conferences", type=int, default=100)
    ap.add_argument("--dialect", default=TWIML, choices=DIALECTS)
    ap.add_argument("--db", default=None, help="SQLite file (default: a temp file)")
    args = ap.parse_args(argv)

    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_receiver, args=(q,), daemon=True)
    proc.start()
    port = q.get(timeout=10)
    url = f"http://127.0.0.1:{port}/cb"

    db = args.db or os.path.join(tempfile.mkdtemp(prefix="fsbridge-bench-"), "outbox.sqlite")
    engine = make_engine(f"sqlite:///{db}")
    loopback = Transport(egress=EgressPolicy(allow=["127.0.0.0/8"]))   # the receiver is on loopback
    d = Dispatcher(engine, {AC: "bench-token"}, jambonz_secret="bench-secret", transport=loopback).start()
    config = CallbackConfig(dialect=args.dialect, status_callback=Hook(url), status_events=("join",))
    confs = [f"CF{i:032d}" for i in range(args.conferences)]
    seq = {c: 0 for c in confs}
    sent = {}
    enqueue_cost = []
    total = int(args.rate * args.seconds)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    tick = 0.005
    n = 0
    now_dt = datetime.now(timezone.utc)
    while n < total:
        due = min(total, int((time.monotonic() - start) * args.rate) + 1)
        while n < due:
            c = confs[n % len(confs)]
            seq[c] += 1
            e = make(ev.PARTICIPANT_JOIN, account_sid=AC, conference_sid=c, friendly_name="bench",
                            sequence_number=seq[c], timestamp=now_dt, callbacks=config,
                            member_count=seq[c], started_at=now_dt,
                            participant=ParticipantView(call_sid=f"CA{n:032d}", from_="+1555", to="+1666"))
            t0 = time.monotonic()
            d.enqueue(e)
            t1 = time.monotonic()
            enqueue_cost.append(t1 - t0)
            sent[f"{c}/{seq[c]}"] = t0
            n += 1
        gevent.sleep(max(0.0, start + n / args.rate - time.monotonic()) or tick / 10)
    offered_for = time.monotonic() - start
    ok = d.wait_idle(60)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_ms = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1e3
    stats = requests.get(f"http://127.0.0.1:{port}/stats", timeout=10).json()
    arrivals = stats["arrivals"]
    d.stop()
    proc.terminate()
    lat = [(t - sent[k]) * 1e3 for k, t in arrivals if k in sent]
    last = max(t for _, t in arrivals)
    print(f"dialect={args.dialect} conferences={args.conferences} offered={args.rate:.0f}/s for {args.seconds:g}s"
          f" (enqueued {n} in {offered_for:.2f}s){'' if ok else ' NOT IDLE'}")
    print(f"delivered {len(lat)}/{n}: {len(lat) / (last - start):.0f} events/s")
    print(f"enqueue->POST latency ms: p50 {pct(lat, 50):.2f}  p99 {pct(lat, 99):.2f}  max {max(lat):.2f}")
    cost = [c * 1e3 for c in enqueue_cost]
    print(f"enqueue() call ms: p50 {pct(cost, 50):.3f}  p99 {pct(cost, 99):.3f}")
    print(f"bridge-process CPU per event: {cpu_ms / max(1, n):.3f} ms (producer + render + outbox + HTTP client);"
          f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"receiver-process CPU per request: {stats['cpu_s'] * 1e3 / max(1, len(arrivals)):.3f} ms")


if __name__ == "__main__":
    main()
