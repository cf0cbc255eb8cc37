"""A 3-node standalone cluster under load (issue #18): callers arriving round-robin at three ``fsbridge
serve`` nodes on one PostgreSQL, moved to the node owning their room.

Usage: ``python3 bench/cluster.py [--callers 600] [--rooms 100] [--nodes 3] [--rest 200] [--pg URL]``

Without ``--pg`` a throw-away PostgreSQL is started (tests/pg_support.py; Debian's ``postgresql``
binaries). The tenant app (in this process, gevent WSGI) puts caller ``i`` into room ``i % rooms`` with a
``join`` statusCallback. Prints: the time from the first Calls.json POST until every participant-join
callback arrived, whether each room's callbacks arrived in SequenceNumber order, gapless, one per caller;
the owner spread; then REST p50/p99 of a participant update (Muted toggled) sent to the room's owning node
vs a non-owning node (carried over the internal API). Calls are virtual callers playing silence.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("FSBRIDGE_EGRESS_ALLOW", "127.0.0.0/8")   # the tenant app and receiver are local
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import requests  # noqa: E402
from flask import Flask, Response, request  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402

from cluster_support import AC, NUMBER, TOKEN, Node, fresh_database, node_config  # noqa: E402
from fsbridge.cluster import tables  # noqa: E402
from fsbridge.local import CallbackLog, HttpApp  # noqa: E402


def tenant_app(rooms: int):
    """The tenant's web app, served in this process: ``POST /voice`` puts caller ``c<i>`` (its From) into
    ``room-<i % rooms>`` with a ``join`` statusCallback to ``POST /cb``, which records each callback's form
    plus ``_at`` (time.monotonic() seconds). Returns ``(CallbackLog, started HttpApp)``."""
    log = CallbackLog()
    app = Flask("bench-cluster")

    @app.post("/voice")
    def voice():
        i = int(request.form.get("From", "c0")[1:])
        return Response(f'<Response><Dial><Conference beep="false" statusCallback="/cb" statusCallbackEvent="join">'
                        f'room-{i % rooms}</Conference></Dial></Response>', mimetype="text/xml")

    @app.post("/cb")
    def cb():
        log.add(dict(request.form.to_dict(), _at=time.monotonic()))
        return Response("", status=204)
    return log, HttpApp(app).start()


def pct(values, p):
    """The ``p``-th percentile (0..100, nearest rank) of ``values``, in their unit; NaN when empty."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main() -> int:
    """Run the bench (arguments in the module docstring) and print its figures; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--callers", type=int, default=600)
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--rest", type=int, default=200, help="REST updates per path (owner / non-owner)")
    ap.add_argument("--concurrency", type=int, default=30, help="Calls.json POSTs in flight")
    ap.add_argument("--pg", help="PostgreSQL URL (default: a throw-away cluster)")
    args = ap.parse_args()
    pg = None
    if args.pg:
        server = args.pg
    else:
        from pg_support import ThrowAwayCluster, pg_bindir
        pg = ThrowAwayCluster(pg_bindir())
        server = pg.start()
    url, drop = fresh_database(server)
    work = Path(tempfile.mkdtemp(prefix="fsbridge-bench-cluster-"))
    log, http = tenant_app(args.rooms)
    nodes = []
    try:
        nodes = [Node(f"n{i}", node_config(work, f"n{i}", url, http.url, timeout=10.0), work)
                 for i in range(1, args.nodes + 1)]
        nodes = [n.ready() for n in nodes]
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=args.concurrency))

        def call(i):
            node = nodes[i % len(nodes)]
            resp = session.post(f"{node.url}/2010-04-01/Accounts/{AC}/Calls.json", auth=(AC, TOKEN),
                                data={"To": NUMBER, "From": f"c{i}", "Media": "silence:"}, timeout=60)
            assert resp.status_code == 201, resp.text
            return resp.json()["sid"]

        t0 = time.monotonic()
        pool = gevent.pool.Pool(args.concurrency)
        sids = pool.map(call, range(args.callers))
        posted = time.monotonic() - t0
        ok = log.wait_for(lambda items: len(items) >= args.callers, 120)
        elapsed = max(c["_at"] for c in log.items) - t0 if log.items else float("nan")
        by_conf = {}
        for c in log.items:
            by_conf.setdefault(c["ConferenceSid"], []).append(int(c["SequenceNumber"]))
        in_order = all(seq == sorted(seq) for seq in by_conf.values())
        gapless = all(sorted(seq) == list(range(1, len(seq) + 1)) for seq in by_conf.values())
        per_room = sorted({len(seq) for seq in by_conf.values()})
        engine = create_engine(url)
        with engine.connect() as conn:
            owners = dict(conn.execute(select(tables.rooms.c.conference_sid, tables.rooms.c.node)).all())
        engine.dispose()
        spread = {n.name: sum(1 for v in owners.values() if v == n.name) for n in nodes}
        print(f"# {args.callers} callers round-robin at {len(nodes)} nodes into {args.rooms} rooms "
              f"(standalone, realtime clock, PostgreSQL {'given' if args.pg else 'throw-away'})")
        print(f"all joins delivered: {ok} ({len(log.items)} join callbacks, {len(by_conf)} conferences, "
              f"{per_room} per conference)")
        print(f"POSTs done after {posted:.2f} s; last join callback after {elapsed:.2f} s "
              f"({args.callers / elapsed:.0f} joins/s)")
        print(f"SequenceNumbers per conference: in arrival order {in_order}, gapless {gapless}")
        print(f"rooms per owner: {spread}")
        # REST: the same participant update through its owning node and through another node
        by_sid = {c["CallSid"]: c for c in log.items}
        node_by_name = {n.name: n for n in nodes}
        samples = {"owner": [], "non-owner": []}
        for k in range(args.rest):
            c = by_sid[sids[k % len(sids)]]
            owner = owners[c["ConferenceSid"]]
            other = next(n for n in nodes if n.name != owner)
            for kind, node in (("owner", node_by_name[owner]), ("non-owner", other)):
                t = time.monotonic()
                resp = session.post(f"{node.url}/2010-04-01/Accounts/{AC}/Conferences/{c['ConferenceSid']}/"
                                    f"Participants/{c['CallSid']}.json", auth=(AC, TOKEN),
                                    data={"Muted": "true" if k % 2 == 0 else "false"}, timeout=30)
                samples[kind].append((time.monotonic() - t) * 1000)
                assert resp.status_code == 200, resp.text
        for kind, ms in samples.items():
            print(f"REST participant update via {kind:9s}: p50 {statistics.median(ms):6.2f} ms  "
                  f"p99 {pct(ms, 99):6.2f} ms  (n={len(ms)})")
        print(f"added by the hop: p50 {statistics.median(samples['non-owner']) - statistics.median(samples['owner']):.2f} ms")
        print(f"load average: {os.getloadavg()[0]:.1f}")
    finally:
        for n in nodes:
            n.stop()
        http.stop()
        drop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
