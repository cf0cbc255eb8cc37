"""REST latency bench: Twilio ``POST …/Participants/{CallSid}.json Muted=…`` on the standalone engine.

``python3 bench/rest.py [--rate 500] [--seconds 10] [--participants 10] [--control bridge|fake]
[--op update|get|list|conference] [--status-callback] [--profile OUT]`` — over HTTP (below);
``python3 bench/rest.py inproc [--reps 5] [--calls-per-rep 400]`` — the Flask app called directly, the
minimum CPU per call over the repetitions, the update split by greenlet (``rest_cpu.run_inproc``).

Server side (this process): the whole bridge in-process (:class:`fsbridge.app.BridgeServer`: standalone
engine in real time, SQLite store + callback outbox in a temp dir, REST API on gevent's WSGI server at
127.0.0.1:0). ``--participants`` virtual callees (``To=silence:``) are dialled into one conference through the
REST API itself. ``--control fake`` serves the same API over tests/fixtures/api/fake_control.py instead (no
engine: the store/HTTP cost alone). The API is served with TCP_NODELAY (:func:`fsbridge.api.server_class`,
BridgeServer's own server); ``--plain-wsgi`` (bridge) serves it on a plain ``gevent.pywsgi.WSGIServer``
instead, to show what Nagle's algorithm costs.

Client side (a child process, so it does not share the server's CPU): an open-loop load generator —
request *i* is due at ``t0 + i / rate`` whatever happened before — each participant's ``Muted`` toggled in
turn (every request is a real change the engine must confirm), over keep-alive connections. Latency is
measured two ways: **service** (request written → response read) and **from schedule** (due time →
response read; includes any queueing a slow server causes, i.e. no coordinated omission). The first second
is warm-up and not counted. The server process's CPU time over the run gives ``server_cpu_ms_per_request``
(everything the bridge process spends — API, domain, engine ticks, store, outbox — divided by the requests)
and ``server_cpu_busy`` (CPU seconds per wall second; ≥ 1 means one core is saturated). Prints a JSON summary (milliseconds) and a Markdown row for bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from rest_cpu import ACCOUNT, TOKEN, install_split, run_inproc   # bench/ is the script's directory
from stats import percentile


# ---------------------------------------------------------------------------------------------- client
def run_client(args) -> int:
    """The load generator (child process). Prints one JSON line of results.

    Lean on purpose (a Python client costs CPU on the same machine): requests are pre-encoded bytes sent on
    raw keep-alive sockets, responses read by Content-Length; ``--connections`` worker greenlets take the
    scheduled requests from a queue (a request waits there when every connection is busy — that wait counts
    in the from-schedule latency)."""
    from gevent import monkey
    monkey.patch_all()
    import base64
    import socket
    import gevent
    import gevent.queue
    from urllib.parse import urlparse

    from fsbridge.wire import twilio as tw
    from fsbridge.wire.serialize import bool_str

    u = urlparse(args.url)
    calls = args.calls.split(",")
    auth = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()

    def encode(call_sid: str, muted: bool) -> bytes:
        body = f"{tw.MUTED}={bool_str(muted)}".encode()
        path = f"{u.path.rstrip('/')}/{tw.API_VERSION}/Accounts/{ACCOUNT}/Conferences/{args.conference}" \
               f"/Participants/{call_sid}.json"
        head = (f"POST {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nAuthorization: {auth}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    def encode_get(path: str) -> bytes:
        head = (f"GET {u.path.rstrip('/')}/{tw.API_VERSION}/Accounts/{ACCOUNT}/{path} HTTP/1.1\r\n"
                f"Host: {u.hostname}:{u.port}\r\nAuthorization: {auth}\r\n\r\n")
        return head.encode()

    requests_ = {(c, m): encode(c, m) for c in calls for m in (True, False)}
    reads = {"get": [encode_get(f"Conferences/{args.conference}/Participants/{c}.json") for c in calls],
             "list": [encode_get(f"Conferences/{args.conference}/Participants.json?PageSize={args.page_size}")],
             "conference": [encode_get(f"Conferences/{args.conference}.json")]}.get(args.op)
    muted = {c: False for c in calls}
    queue: gevent.queue.Queue = gevent.queue.Queue()
    results = []   # (due_s, service_s, from_schedule_s, status)

    def connect():
        sock = socket.create_connection((u.hostname, u.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def exchange(sock, payload: bytes) -> int:
        sock.sendall(payload)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        return status

    def worker():
        sock = connect()
        while True:
            item = queue.get()
            if item is None:
                sock.close()
                return
            due, payload = item
            sent = time.perf_counter()
            try:
                status = exchange(sock, payload)
            except (OSError, ValueError):
                sock.close()
                sock = connect()
                status = 0
            done = time.perf_counter()
            results.append((due, done - sent, done - due, status))

    workers = [gevent.spawn(worker) for _ in range(args.connections)]
    n = int(args.rate * args.seconds)
    t0 = time.perf_counter() + 0.2
    for i in range(n):
        due = t0 + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)   # pacing the open-loop schedule (not synchronisation)
        if reads is not None:
            queue.put((due, reads[i % len(reads)]))
            continue
        call_sid = calls[i % len(calls)]
        muted[call_sid] = not muted[call_sid]
        queue.put((due, requests_[(call_sid, muted[call_sid])]))
    for _ in workers:
        queue.put(None)
    gevent.joinall(workers)
    warm = t0 + 1.0
    kept = [r for r in results if r[0] >= warm]
    ok = [r for r in kept if r[3] == 200]
    service = [r[1] * 1000 for r in ok]
    sched = [r[2] * 1000 for r in ok]
    span = (max(r[0] for r in kept) - warm) if kept else 0
    print(json.dumps({
        "requests": len(kept), "ok": len(ok), "errors": len(kept) - len(ok),
        "offered_rate": args.rate, "achieved_rate": round(len(kept) / span, 1) if span else None,
        "service_ms": {"p50": percentile(service, 50), "p90": percentile(service, 90),
                       "p99": percentile(service, 99), "max": max(service) if service else None},
        "from_schedule_ms": {"p50": percentile(sched, 50), "p99": percentile(sched, 99),
                             "max": max(sched) if sched else None},
    }))
    return 0


# -------------------------------------------------------------------------------------------- receiver
def run_receiver(args) -> int:
    """The status-callback receiver (child process, so its CPU is not the bridge's): answers every request
    204 on keep-alive connections; prints its port, then (when stdin closes) the count of POSTs received."""
    from gevent import monkey
    monkey.patch_all()
    import gevent
    from gevent.pywsgi import WSGIServer
    got = [0]

    def app(environ, start_response):
        environ["wsgi.input"].read()
        got[0] += 1
        start_response("204 No Content", [])
        return [b""]

    http = WSGIServer(("127.0.0.1", 0), app, log=None)
    http.start()
    print(http.server_port, flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()   # until the parent closes stdin
    print(got[0], flush=True)
    return 0


# ---------------------------------------------------------------------------------------------- server
def run_server(args) -> int:
    """Start the bridge (or the fake-control API), dial participants, run the client, print results."""
    from gevent import monkey
    monkey.patch_all()
    import logging
    import gevent.subprocess
    import requests

    logging.basicConfig(level=logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="fsbridge-bench-rest-")
    auth = (ACCOUNT, TOKEN)
    if args.control == "bridge":
        from fsbridge.app import BridgeServer
        from fsbridge.config import Account, Settings
        settings = Settings(host="127.0.0.1", port=0, database_url=f"sqlite:///{tmp}/fsbridge.sqlite",
                            audio_dir=f"{tmp}/audio", recordings_dir=f"{tmp}/rec", clock="realtime",
                            accounts={ACCOUNT: Account(ACCOUNT, TOKEN)}, egress_allow=("127.0.0.0/8",))
        server = BridgeServer(settings).start()
        base, stop = server.base_url, server.stop
        if args.plain_wsgi:
            # BridgeServer serves with TCP_NODELAY; serve the same app on a plain pywsgi.WSGIServer instead
            # (Nagle on: +40 ms per keep-alive request), everything else unchanged.
            from gevent.pywsgi import WSGIServer
            server.http.stop()
            http = WSGIServer(("127.0.0.1", 0), server.app, log=None)
            http.start()
            base = f"http://127.0.0.1:{http.server_port}"

            def stop(http=http, server=server):
                http.stop()
                server.stop()
    else:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
        from fixtures.api.fake_control import FakeControl
        from fsbridge.api import create_app, serve
        from fsbridge.store import Store
        from fsbridge.store.db import make_engine
        store = Store(make_engine(f"sqlite:///{tmp}/fsbridge.sqlite"))
        store.create_all()
        http = serve(create_app(store, FakeControl(store), {ACCOUNT: TOKEN}), "127.0.0.1", 0)
        base, stop = f"http://127.0.0.1:{http.server_port}", http.stop
    try:
        root = f"{base}/2010-04-01/Accounts/{ACCOUNT}"
        calls, conference = [], None
        dial = {"To": "silence:", "Beep": "false"}
        receiver = None
        if args.status_callback:
            # every mute/unmute then also costs a participant-mute/unmute callback (outbox + POST)
            receiver = gevent.subprocess.Popen([sys.executable, os.path.abspath(__file__), "receiver"],
                                               stdin=gevent.subprocess.PIPE, stdout=gevent.subprocess.PIPE,
                                               text=True)
            dial.update(ConferenceStatusCallback=f"http://127.0.0.1:{receiver.stdout.readline().strip()}/cb",
                        ConferenceStatusCallbackEvent="mute")
        for i in range(args.participants):
            r = requests.post(f"{root}/Conferences/bench-room/Participants.json", auth=auth,
                              data={"From": f"+1555000{i:04d}", **dial})
            r.raise_for_status()
            calls.append(r.json()["call_sid"])
            conference = r.json()["conference_sid"] or conference
        if args.control == "bridge":
            bridge = server.bridge
            joined = bridge.wait_until(lambda: all(bridge.state.participant_of_call(c) is not None
                                                   for c in calls), timeout=10)
            if not joined:
                raise SystemExit("participants did not join")
            conference = requests.get(f"{root}/Conferences.json", auth=auth).json()["conferences"][0]["sid"]
        if args.pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
            os.sched_setaffinity(0, {0})   # the bridge on CPU 0, the client on CPU 1
        if args.gc_freeze:
            import gc
            gc.collect()
            gc.freeze()   # startup objects out of the collector's way (see bench/README.md "REST")
        cmd = [sys.executable, os.path.abspath(__file__), "client", "--url", base, "--rate", str(args.rate),
               "--seconds", str(args.seconds), "--calls", ",".join(calls), "--conference", conference,
               "--connections", str(args.connections), "--op", args.op, "--page-size", str(args.page_size)]
        # idle baseline: the bridge's own CPU (engine ticks, timers) with no requests, over the same wall time,
        # subtracted below so that "marginal" is what the requests cost
        cpu0 = time.process_time()
        gevent.sleep(args.seconds)   # measuring the idle process (not synchronisation)
        idle_cpu_per_s = (time.process_time() - cpu0) / args.seconds
        split = install_split(server) if args.control == "bridge" else None
        prof = None
        if args.profile:
            import cProfile
            prof = cProfile.Profile()
            prof.enable()
        if args.pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
            cmd = ["taskset", "-c", "1"] + cmd
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        out = gevent.subprocess.check_output(cmd, text=True)
        server_cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
        if prof is not None:
            prof.disable()
            prof.dump_stats(args.profile)
        drained = None
        if receiver is not None:   # the last callbacks delivered (the outbox drained), then the receiver's count
            drained = server.dispatcher.wait_idle(30) if args.control == "bridge" else True
            received, _ = receiver.communicate("")
        result = json.loads(out.strip().splitlines()[-1])
        n_req = max(1, args.rate * args.seconds)
        result.update(control=args.control, op=args.op, participants=args.participants, cpu=os.cpu_count(),
                      status_callback=bool(args.status_callback), load_average=os.getloadavg()[0],
                      server_cpu_ms_per_request=round(server_cpu_s * 1000 / n_req, 3),
                      idle_cpu_busy=round(idle_cpu_per_s, 3),
                      marginal_cpu_ms_per_request=round((server_cpu_s - idle_cpu_per_s * wall_s) * 1000 / n_req, 3),
                      server_cpu_busy=round(server_cpu_s / wall_s, 2))
        if receiver is not None:
            result["callbacks_received"] = int(received.strip() or 0)
            result["callbacks_drained"] = drained   # False: the 30 s wait ran out (the count is short)
        if split is not None:   # where the CPU went, per request (see rest_cpu.install_split)
            import greenlet
            greenlet.settrace(None)
            by = split.pop("by_greenlet")
            result["split_cpu_ms_per_request"] = {k: round(v * 1000 / n_req, 3) for k, v in split.items()}
            result["by_greenlet_cpu_ms_per_request"] = {k: round(v * 1000 / n_req, 3)
                                                        for k, v in sorted(by.items(), key=lambda kv: -kv[1])}
        print(json.dumps(result, indent=2))
        s, f = result["service_ms"], result["from_schedule_ms"]
        label = args.control + f" {args.op}" + (" +callback" if args.status_callback else "") + (" (plain pywsgi)" if args.plain_wsgi else "") + (" pinned" if args.pin else "") + (" gc.freeze" if args.gc_freeze else "")
        print(f"| {label} | {args.rate} | {result['achieved_rate']} | {result['ok']}/{result['requests']} "
              f"| {s['p50']:.2f} | {s['p99']:.2f} | {f['p99']:.2f} | {s['max']:.1f} "
              f"| {result['server_cpu_ms_per_request']:.3f} | {result['marginal_cpu_ms_per_request']:.3f} |")
    finally:
        stop()
    return 0


def main(argv=None) -> int:
    """CLI entry (see module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", nargs="?", default="server", choices=("server", "client", "receiver", "inproc"))
    p.add_argument("--rate", type=float, default=500.0, help="offered requests per second")
    p.add_argument("--seconds", type=float, default=10.0, help="load duration (the first second is warm-up)")
    p.add_argument("--participants", type=int, default=10)
    p.add_argument("--connections", type=int, default=32, help="client keep-alive connections")
    p.add_argument("--control", choices=("bridge", "fake"), default="bridge")
    p.add_argument("--plain-wsgi", action="store_true",
                   help="bridge: serve on a plain pywsgi server (no TCP_NODELAY) instead of BridgeServer's own")
    p.add_argument("--gc-freeze", action="store_true",
                   help="gc.freeze() once the bridge is up (a full collection otherwise stalls the hub ~100 ms)")
    p.add_argument("--pin", action="store_true", help="pin the bridge to CPU 0 and the client to CPU 1")
    p.add_argument("--op", choices=("update", "get", "list", "conference"), default="update",
                   help="update: POST Muted toggles; get: GET participant; list: GET Participants.json page; "
                        "conference: GET conference")
    p.add_argument("--page-size", type=int, default=50, help="--op list: PageSize")
    p.add_argument("--status-callback", action="store_true",
                   help="participants get a ConferenceStatusCallback (event mute) to a receiver process: each "
                        "update then also costs its callback (outbox + POST)")
    p.add_argument("--reps", type=int, default=5, help="inproc: repetitions (the minimum is reported)")
    p.add_argument("--calls-per-rep", type=int, default=400, help="inproc: calls per operation and repetition")
    p.add_argument("--profile", metavar="OUT", help="cProfile the bridge process during the load (pstats file)")
    p.add_argument("--url")
    p.add_argument("--calls")
    p.add_argument("--conference")
    args = p.parse_args(argv)
    return {"client": run_client, "receiver": run_receiver, "inproc": run_inproc}.get(args.mode, run_server)(args)


if __name__ == "__main__":
    sys.exit(main())
