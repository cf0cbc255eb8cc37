"""Join storm bench (issue #16 goal 4): N callers arrive at once in one room; how long until every join
callback has reached the app, in order, and what each join costs the bridge.

``python3 bench/storm.py [--callers 1000] [--dialect jambonz|twiml] [--runs 3]``

Server side (this process): the whole bridge in-process (:func:`fsbridge.local.start_bridge`: standalone
engine in real time, SQLite store + callback outbox in a temp dir). ``--callers`` virtual callers (silence)
dial the app's number within one engine tick (``place_call`` from as many greenlets).

App side (a child process, so its CPU is not the bridge's): a gevent WSGI server on 127.0.0.1:0 answering
the voice webhook with one conference (jambonz ``conference`` verb with ``maxParticipants`` = callers and
``statusEvents: ["join"]``, or TwiML ``<Dial><Conference statusCallbackEvent="join">`` — Twilio caps a room
at 250) and counting join callbacks. It prints one JSON line when all have arrived: seconds from the first
voice webhook to the last join callback, and whether they came in order (Twilio ``SequenceNumber``
ascending; jambonz ``time`` non-decreasing).

Printed per run: wall time first webhook → last join, order, bridge CPU ms per join (this process's CPU time
from the first call placed until the last join arrived, divided by callers).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ACCOUNT, TOKEN = "AC" + "7" * 32, "storm-token"
NUMBER = "+15550007000"


# ---------------------------------------------------------------------------------------------- app (child)
def run_app(args) -> int:
    """The customer app (child process): voice webhook + status receiver; prints its URL, then a JSON result."""
    from gevent import monkey
    monkey.patch_all()
    import gevent.event
    from gevent.pywsgi import WSGIServer
    from urllib.parse import parse_qs

    done = gevent.event.Event()
    state = {"first": None, "last": None, "joins": [], "n": args.callers}

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        now = time.monotonic()
        if path == "/voice":
            if state["first"] is None:
                state["first"] = now
            if args.dialect == "jambonz":
                doc = json.dumps([{"verb": "conference", "name": "storm", "beep": False,
                                   "maxParticipants": args.callers, "statusHook": "/status",
                                   "statusEvents": ["join"]}]).encode()
                ctype = "application/json"
            else:
                doc = (f'<Response><Dial><Conference beep="false" maxParticipants="{args.callers}" '
                       f'statusCallback="/status" statusCallbackEvent="join">storm</Conference></Dial>'
                       f'</Response>').encode()
                ctype = "text/xml"
            start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(doc)))])
            return [doc]
        if path == "/status":
            if args.dialect == "jambonz":
                event = json.loads(body)
                if event.get("event") == "join":
                    state["joins"].append(event.get("time"))
            else:
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                if form.get("StatusCallbackEvent") == "participant-join":
                    state["joins"].append(int(form["SequenceNumber"]))
            if len(state["joins"]) >= state["n"] and state["last"] is None:
                state["last"] = now
                done.set()
        start_response("204 No Content", [])
        return [b""]

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    if not done.wait(args.timeout):
        print(json.dumps({"error": f"only {len(state['joins'])} of {args.callers} joins"}), flush=True)
        return 1
    joins = state["joins"]
    print(json.dumps({"seconds": round(state["last"] - state["first"], 3),
                      "in_order": all(a <= b for a, b in zip(joins, joins[1:])),
                      "joins": len(joins)}), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------- bridge
def run_storm(args) -> dict:
    """One storm: start the app child and an in-process bridge, place the callers, wait for the result."""
    import gevent
    from fsbridge.config import Number
    from fsbridge.local import start_bridge

    child = subprocess.Popen([sys.executable, __file__, "--role", "app", "--callers", str(args.callers),
                              "--dialect", args.dialect, "--timeout", str(args.timeout)],
                             stdout=subprocess.PIPE, text=True)
    url = child.stdout.readline().strip()
    work = tempfile.mkdtemp(prefix="fsb-storm-")
    server = start_bridge(work, accounts={ACCOUNT: TOKEN}, clock="realtime", capture_heard=False,
                          numbers=[Number(NUMBER, ACCOUNT, url + "/voice", dialect=args.dialect)])
    try:
        bridge = server.bridge
        cpu0 = time.process_time()
        greenlets = [gevent.spawn(bridge.place_call, ACCOUNT, f"caller{i}", NUMBER, "silence:")
                     for i in range(args.callers)]
        line = gevent.spawn(child.stdout.readline).get(timeout=args.timeout + 5)   # gevent's cooperative pipe
        cpu = time.process_time() - cpu0
        gevent.joinall(greenlets, timeout=5)
        result = json.loads(line)
        result["bridge_cpu_ms_per_join"] = round(cpu * 1000 / args.callers, 2)
        return result
    finally:
        server.stop()
        child.kill()
        child.wait()


def main() -> int:
    """Entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("bridge", "app"), default="bridge")
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--dialect", choices=("jambonz", "twiml"), default="jambonz")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    if args.role == "app":
        return run_app(args)
    from gevent import monkey
    monkey.patch_all()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    results = [run_storm(args) for _ in range(args.runs)]
    for r in results:
        print(json.dumps(r))
    ok = [r for r in results if "seconds" in r]
    if ok:
        secs = sorted(r["seconds"] for r in ok)
        cpu = sorted(r["bridge_cpu_ms_per_join"] for r in ok)
        print(f"| {args.callers} × {args.dialect} | {secs[0]}–{secs[-1]} s | "
              f"{'in order' if all(r['in_order'] for r in ok) else 'OUT OF ORDER'} | {cpu[0]}–{cpu[-1]} ms |")
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
