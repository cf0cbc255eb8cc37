"""bench/rest.py's CPU accounting: where the bridge's CPU goes per REST request.

:func:`install_split` — server mode (``bench/rest.py``, ``--control bridge``): the bridge process's CPU by
greenlet and two timed store calls, live totals; :func:`run_inproc` — ``bench/rest.py inproc``: the Flask
app called directly, CPU per call. Moved out of bench/rest.py unchanged (module length).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

ACCOUNT, TOKEN = "AC" + "5" * 32, "bench-token"   # the bench's one account (bench/rest.py too)


def install_split(server) -> dict:
    """Where the bridge process's CPU goes, per request (seconds, live totals):

    * by greenlet (``greenlet.settrace``: at every switch the CPU since the last switch is charged to the
      greenlet switched away from), grouped by what the greenlet runs — ``rest`` = the WSGI server's
      connection greenlets (HTTP parsing, Flask, auth, the participant lookup, the domain write and the engine
      command, the JSON response; not the confirming event), ``engine events`` = the bridge's pump applying
      engine events (domain, ``Store.record``, the outbox insert, listeners), ``callbacks`` = the
      dispatcher's delivery, ``hub`` = gevent's loop (socket readiness, timers, engine ticks);
    * within those, two parts that never switch greenlets, timed directly: the store's participant read
      (REST) and ``Store.record`` (engine events)."""
    import greenlet
    totals = {"store_participant_read": 0.0, "store_record": 0.0}
    by = {}
    last = [time.process_time()]
    from gevent import get_hub
    hub = get_hub()

    def kind(g) -> str:
        if g is hub:
            return "hub"
        run = getattr(g, "_run", None) or getattr(g, "run", None)
        name = getattr(run, "__qualname__", "") or type(g).__name__
        module = getattr(run, "__module__", "") or ""
        if module.startswith("gevent.baseserver") or "pywsgi" in module or "NoDelay" in name:
            return "rest"
        if "fsbridge.runtime" in module:
            return "engine events"
        if "fsbridge.callbacks" in module:
            return "callbacks"
        if g.parent is None:
            return "main"
        return f"other ({module}.{name})"

    def trace(event, args):
        if event in ("switch", "throw"):
            now = time.process_time()
            k = kind(args[0])
            by[k] = by.get(k, 0.0) + now - last[0]
            last[0] = now

    def wrap(obj, name, key):
        fn = getattr(obj, name)

        def timed(*a, **kw):
            t0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                totals[key] += time.process_time() - t0
        setattr(obj, name, timed)

    wrap(server.store, "participant", "store_participant_read")
    wrap(server.store, "record", "store_record")
    greenlet.settrace(trace)
    totals["by_greenlet"] = by
    return totals


def run_inproc(args) -> int:
    """``inproc`` mode: the same bridge, the Flask app called directly (no HTTP server, no client process),
    each operation ``--calls-per-rep`` times per repetition, ``--reps`` repetitions; prints the **minimum**
    CPU per call over the repetitions (the least-disturbed figure on a shared machine), split by greenlet for
    the update: the request's own greenlet (parse, auth, lookup, domain write, engine command, JSON) and the
    pump applying the confirming engine event (domain, ``Store.record``, listeners; no callback configured)."""
    from gevent import monkey
    monkey.patch_all()
    import base64
    import gc
    import io
    import logging

    import greenlet
    import requests
    from gevent import get_hub

    from fsbridge.app import BridgeServer
    from fsbridge.config import Account, Settings
    logging.basicConfig(level=logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="fsbridge-bench-rest-")
    settings = Settings(host="127.0.0.1", port=0, database_url=f"sqlite:///{tmp}/fsbridge.sqlite",
                        audio_dir=f"{tmp}/audio", recordings_dir=f"{tmp}/rec", clock="realtime",
                        accounts={ACCOUNT: Account(ACCOUNT, TOKEN)})
    server = BridgeServer(settings).start()
    try:
        root = f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT}"
        calls = [requests.post(f"{root}/Conferences/bench-room/Participants.json", auth=(ACCOUNT, TOKEN),
                               data={"From": f"+1555000{i:04d}", "To": "silence:", "Beep": "false"}
                               ).json()["call_sid"] for i in range(args.participants)]
        bridge = server.bridge
        if not bridge.wait_until(lambda: all(bridge.state.participant_of_call(c) is not None for c in calls),
                                 timeout=10):
            raise SystemExit("participants did not join")
        conf = requests.get(f"{root}/Conferences.json", auth=(ACCOUNT, TOKEN)).json()["conferences"][0]["sid"]
        auth = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        base_path = f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/{conf}"
        muted = {c: False for c in calls}

        def environ(op, i):
            env = {"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                   "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": auth,
                   "wsgi.errors": sys.stderr, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
            c = calls[i % len(calls)]
            if op == "update":
                muted[c] = not muted[c]
                body = b"Muted=" + (b"true" if muted[c] else b"false")
                env.update({"REQUEST_METHOD": "POST", "PATH_INFO": f"{base_path}/Participants/{c}.json",
                            "CONTENT_TYPE": "application/x-www-form-urlencoded",
                            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)})
            elif op == "get":
                env["PATH_INFO"] = f"{base_path}/Participants/{c}.json"
            elif op == "list":
                env.update(PATH_INFO=f"{base_path}/Participants.json", QUERY_STRING=f"PageSize={args.page_size}")
            else:
                env["PATH_INFO"] = f"{base_path}.json"
            return env

        statuses = []
        app = server.app

        def start_response(status, headers, exc_info=None):
            statuses.append(status)

        me, hub = greenlet.getcurrent(), get_hub()
        by = {}
        last = [0.0]

        def trace(event, gs):
            if event in ("switch", "throw"):
                now = time.process_time()
                k = "request" if gs[0] is me else ("hub" if gs[0] is hub else
                                                   getattr(getattr(gs[0], "_run", None), "__qualname__", "other"))
                by[k] = by.get(k, 0.0) + now - last[0]
                last[0] = now

        gc.collect()
        gc.freeze()
        out = {}
        for op in ("get", "list", "conference", "update"):
            best = None
            for _ in range(args.reps):
                for i in range(20):   # warm
                    b"".join(app(environ(op, i), start_response))
                by.clear()
                t0 = last[0] = time.process_time()
                greenlet.settrace(trace)
                for i in range(args.calls_per_rep):
                    b"".join(app(environ(op, i), start_response))
                greenlet.settrace(None)
                now = time.process_time()
                by["request"] = by.get("request", 0.0) + now - last[0]
                total = now - t0
                if best is None or total < best[0]:
                    best = (total, dict(by))
            assert all(s.startswith("200") for s in statuses), set(statuses)
            n = args.calls_per_rep
            out[op] = {"cpu_ms_per_call": round(best[0] * 1000 / n, 3),
                       "by_greenlet": {k: round(v * 1000 / n, 3) for k, v in sorted(best[1].items(),
                                                                                key=lambda kv: -kv[1])}}
        out["load_average"] = os.getloadavg()[0]
        print(json.dumps(out, indent=2))
    finally:
        server.stop()
    return 0
