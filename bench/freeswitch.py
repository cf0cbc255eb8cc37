"""The FreeSWITCH path's own cost (issue 21): the real FreeSwitchEngine + runtime + store + outbox + HTTP
callbacks, driven by the fake FreeSWITCH (tests/fakes: real TCP, recorded event shapes).

Usage: ``python3 bench/freeswitch.py [--calls 200] [--rooms 20] [--talk-rounds 3] [--updates 400]
[--rate 200] [--runs 3] [--profile out.prof]``

Layout: the bridge (``start_bridge`` with a :class:`FreeSwitchEngine`, SQLite store, callback outbox) runs
in a child process (``--serve``), so its CPU (``/proc/PID/stat`` utime+stime) is the bridge's alone; this
process runs the fake FreeSWITCH (inbound ESL + one FakeCall per caller on the bridge's outbound socket),
the customer's app (``/voice`` → ``<Dial><Conference>``, ``/cb`` records arrival times) and the REST client.

Phases per run: **joins** (``--calls`` callers arrive at once through the outbound socket, spread over
``--rooms`` rooms; until every participant-join callback arrived), **talk** (start-talking/stop-talking
for every member, ``--talk-rounds`` rounds, paced at ``--talk-rate`` events/s; until every
participant-speech-start callback arrived), **rest** (``--updates`` REST mute/unmute at ``--rate`` req/s,
each confirmed by FreeSWITCH's mute-member/unmute-member event; until every participant-mute/unmute
callback arrived), **hangup** (every caller hangs up; until every conference-end callback; RSS before the
joins and after). Printed: bridge CPU per joining call, per callback (talk phase: CPU / callbacks
delivered), per REST update; REST latency p50/p99; added latency = the fake's start-talking event written
→ the callback's arrival at the receiver (p50/p99; includes two loopback hops), and each as a range over runs.
The statusCallbacks go to a receiver process of their own (``--receiver inline``: to the app in this process,
whose own queueing then counts). ``FSBENCH_TRACE=1``: stage timestamps of every speech-start in the bridge
(bench/cbtrace.py) and a table of where the latency went.
``--profile FILE`` runs the bridge under cProfile and writes FILE (last run; with ``--profile-joins``
the join phase alone). ``--storms N`` (fake only)
repeats the join + hangup storm N-1 more times in the same bridge and prints RSS after each (memory: a leak
grows with every storm, an allocator high-water mark does not). Environment: ``FSBENCH_TRACEMALLOC=<frames>``
(tracemalloc in the bridge, growth from idle to the end printed on stderr; slows the bridge ~5×),
``FSBENCH_CENSUS=1`` (objects by type, greenlets alive and containers reachable from the server that grew).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict, deque  # noqa: E402
from urllib.parse import parse_qsl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
sys.path.insert(0, HERE)

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.lock  # noqa: E402
import requests  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from stats import rss_mib  # noqa: E402  (bench/ is the script's directory)
from callbacks import rng  # noqa: E402  (NaN = not measured in this mode)

AC = "AC" + "9" * 32
TOKEN = "bench-token"
NUMBER = "7200"
TICK = os.sysconf("SC_CLK_TCK")


def serve(argv):
    """Child: the bridge on the FreeSWITCH engine; prints one JSON line with its ports, then serves."""
    host, port, password, workdir, voice, out_port, prof = argv
    from fsbridge.config import Number
    from fsbridge.engines.freeswitch import FreeSwitchEngine
    from fsbridge.local import start_bridge
    import logging
    logging.basicConfig(level=logging.WARNING, format="bridge %(levelname)s %(name)s: %(message)s")
    profiler = None
    if prof != "-":
        import cProfile
        profiler = cProfile.Profile()
        if not (os.environ.get("FSBENCH_PROFILE_JOINS") or os.environ.get("FSBENCH_PROFILE_REST")):
            profiler.enable()
    if os.environ.get("FSBENCH_TRACE"):
        import cbtrace
        cbtrace.install()
    if os.environ.get("FSBENCH_SWITCHES"):   # greenlet switches per talk event (bench/switches.py)
        import switches
        switches.install()
    engine = FreeSwitchEngine(host, int(port), password, outbound_port=int(out_port), command_timeout=5)
    server = start_bridge(workdir, accounts={AC: TOKEN}, numbers=[Number(NUMBER, AC, voice)], engine=engine,
                          fetch_timeout=10.0, capture_heard=False)  # as `fsbridge serve`
    engine.set_call_handler(server.bridge.on_call)
    engine.wait_connected(10)
    print(json.dumps({"outbound_port": engine.outbound_port, "base_url": server.base_url}), flush=True)
    if not os.environ.get("FSBENCH_NO_GC_FREEZE"):
        import gc   # as `fsbridge serve` (app.py): start-up objects out of the collector's sight
        gc.collect()
        gc.freeze()
    import fsmemory
    snapshots = fsmemory.Snapshots(server)
    while True:  # the parent writes "snap"/"trim" lines (fsmemory.Snapshots) and closes stdin to stop us
        line = gevent.get_hub().threadpool.apply(sys.stdin.readline)
        if not line:
            break
        if line.startswith("trace "):   # FSBENCH_TRACE: stage stamps of the talk callbacks (bench/cbtrace.py)
            import cbtrace
            cbtrace.dump(line.split(" ", 1)[1].strip())
            print("traced", flush=True)
            continue
        if line.startswith("switches "):   # FSBENCH_SWITCHES: the switch counts so far (bench/switches.py)
            import switches
            switches.dump(line.split(" ", 1)[1].strip())
            print("counted", flush=True)
            continue
        if line.strip() in ("prof-on", "prof-off"):   # --profile-joins: the join phase alone
            if profiler is not None:
                profiler.enable() if line.strip() == "prof-on" else profiler.disable()
            continue
        snapshots.command(line.strip())
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(prof)
    os._exit(0)


def receive(argv):
    """Child ``--receive``: the statusCallback receiver alone in its own process (issue 21 defines the added
    latency up to the POST leaving the bridge: a receiver sharing a hub with the fake FreeSWITCH and the REST
    client answers late, and the bridge's per-conference ordering waits for each answer). Answers 204 at
    once (TCP_NODELAY) and streams one JSON line per callback to stdout: ``[monotonic arrival, event,
    CallSid, ConferenceSid]``."""
    import socket
    out = []
    flushing = gevent.event.Event()

    def flusher():
        while True:
            flushing.wait()
            flushing.clear()
            lines, out[:] = "".join(out), []
            sys.stdout.write(lines)
            sys.stdout.flush()

    def wsgi(environ, start_response):
        now = time.monotonic()
        form = dict(parse_qsl(environ["wsgi.input"].read().decode()))
        start_response("204 No Content", [])
        out.append(json.dumps([now, form.get("StatusCallbackEvent"), form.get("CallSid"),
                               form.get("ConferenceSid")]) + "\n")
        flushing.set()
        return [b""]

    class Server(WSGIServer):
        def handle(self, sock, address):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return WSGIServer.handle(self, sock, address)

    server = Server(("127.0.0.1", 0), wsgi, log=None, error_log=None)
    server.start()
    gevent.spawn(flusher)
    print(json.dumps({"port": server.server_port}), flush=True)
    gevent.get_hub().threadpool.apply(sys.stdin.read)   # until the parent closes stdin
    os._exit(0)


class App:
    """The customer's app: /voice → a conference (room by arrival order), /cb records (form, arrival).
    ``separate``: the statusCallbacks go to a receiver process of their own (:func:`receive`), whose arrival
    stamps land in ``cbs`` the same way."""

    def __init__(self, rooms, separate=False):
        self.rooms, self.count = rooms, 0
        self.voice = {}                     # From → CallSid
        self.cbs = []                       # (monotonic arrival, form)
        self.by_event = defaultdict(int)
        self.changed = gevent.event.Event()
        self.server = WSGIServer(("127.0.0.1", 0), self.wsgi, log=None, error_log=None)
        self.server.start()
        self.url = "http://127.0.0.1:%d" % self.server.server_port
        self.cb_url, self.receiver = self.url + "/cb", None
        if separate:
            self.receiver = subprocess.Popen([sys.executable, __file__, "--receive"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE)
            self.cb_url = "http://127.0.0.1:%d/cb" % json.loads(self.receiver.stdout.readline())["port"]
            gevent.spawn(self._collect)

    def _collect(self):
        for line in self.receiver.stdout:
            t, event, call_sid, conf_sid = json.loads(line)
            self.cbs.append((t, {"StatusCallbackEvent": event, "CallSid": call_sid, "ConferenceSid": conf_sid}))
            self.by_event[event] += 1
            self.changed.set()

    def stop(self):
        """Stop the app's server (and the receiver process)."""
        self.server.stop()
        if self.receiver is not None:
            self.receiver.stdin.close()
            self.receiver.wait(10)

    def wsgi(self, environ, start_response):
        now = time.monotonic()
        form = dict(parse_qsl(environ["wsgi.input"].read().decode()))
        if environ["PATH_INFO"] == "/cb":
            self.cbs.append((now, form))
            self.by_event[form.get("StatusCallbackEvent")] += 1
            self.changed.set()
            start_response("204 No Content", [])
            return [b""]
        self.voice[form.get("From")] = form.get("CallSid")
        room = "R%d" % (self.count % self.rooms)
        self.count += 1
        body = ('<Response><Dial><Conference statusCallback="%s" statusCallbackEvent="start end join leave '
                'mute speaker">%s</Conference></Dial></Response>' % (self.cb_url, room)).encode()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]

    def wait(self, event, count, timeout):
        """Block until ``count`` callbacks ``event`` arrived (False after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while self.by_event[event] < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            self.changed.wait(min(left, 1.0))
        return True


def cpu_s(pid):
    """utime+stime of ``pid`` in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pct(xs, q):
    """The ``q``-quantile (0–1, rank ⌊q·n⌋) of ``xs`` in seconds, returned in ms (NaN when ``xs`` is empty)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


class LiveCalls:
    """Callers on a live FreeSWITCH (``FSBRIDGE_TEST_ESL=host:port:password``): ``originate`` loopback calls
    to 7200 (freeswitch-conf's dialplan → ``socket`` FSBRIDGE_TEST_SOCKET), each with its own caller number and
    A-leg uuid (hung up with ``uuid_kill``, never ``hupall``: the FreeSWITCH is shared)."""

    def __init__(self, spec):
        from greenswitch import InboundESL
        host, port, password = spec.split(":", 2)
        self.esl = InboundESL(host, int(port), password)
        self.esl.connect()
        self.uids = []

    def place(self, i):
        """Originate caller ``i`` (uuid b1000000-…-<i>, caller id 9<i:06d>) to NUMBER over loopback; bgapi,
        so it returns before FreeSWITCH has placed it."""
        uid = "b1000000-0000-4000-8000-%012d" % i
        self.uids.append(uid)
        self.esl.send("bgapi originate {origination_uuid=%s,origination_caller_id_number=9%06d}"
                      "loopback/%s/default &park()" % (uid, i, NUMBER))

    def hangup_all(self):
        """``uuid_kill`` (bgapi) every call this object placed — never ``hupall``: the FreeSWITCH is shared."""
        for uid in self.uids:
            self.esl.send("bgapi uuid_kill %s" % uid)


def one_run(args, prof):
    """One measured run (live FreeSWITCH when ``--live`` and FSBRIDGE_TEST_ESL, else the fake and a child
    bridge; ``prof``: cProfile output path, "-" for none) → {figure name: value} as printed by :func:`main`."""
    live = os.environ.get("FSBRIDGE_TEST_ESL") if args.live else None
    app = App(args.rooms, separate=args.receiver == "process")
    work = tempfile.mkdtemp(prefix="fsbench-")
    if live:
        host, port, password = live.split(":", 2)
        return live_run(args, prof, app, work, host, port, password)
    from fakes import FakeCall, FakeFreeSwitch
    fake = FakeFreeSwitch()
    fake.auto_play_done = not args.no_play_done
    fake.start()
    child = subprocess.Popen([sys.executable, __file__, "--serve", "127.0.0.1", str(fake.port), "ClueCon", work,
                              app.url + "/voice", "0", prof], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    info = json.loads(child.stdout.readline())
    pid, out = child.pid, {}
    gevent.sleep(0.5)  # let the child's start-up CPU settle before the first reading (not synchronisation)
    out["rss_idle"] = rss_mib(pid)
    child.stdin.write(b"snap\n")
    child.stdin.flush()
    # -- joins
    _prof_phase(child, "prof-on")
    c0 = cpu_s(pid)
    calls = []
    for i in range(args.calls):
        call = FakeCall(fake, "127.0.0.1", info["outbound_port"], uid="b0000000-0000-4000-8000-%012d" % i)
        call.connect_reply = call.connect_reply.replace(b"Caller-Caller-ID-Number: 1000\n",
                                                        b"Caller-Caller-ID-Number: 9%06d\n" % i)
        calls.append(call.start())
        if args.join_rate > 0:
            gevent.sleep(1.0 / args.join_rate)   # load pacing (--join-rate), as the live run's originates
    assert app.wait("participant-join", args.calls, args.timeout), "joins: %d of %d, voice %d, cbs %r" % (
        app.by_event["participant-join"], args.calls, len(app.voice), [c.received for c in calls[:2]])
    app.wait("conference-start", args.rooms, 30)
    out["join_ms"] = (cpu_s(pid) - c0) * 1000 / args.calls
    _prof_phase(child, "prof-off")
    if os.environ.get("FSBENCH_TRACEMALLOC") or os.environ.get("FSBENCH_CENSUS"):
        child.stdin.write(b"snap\n")   # every call in its room: what a live call holds
        child.stdin.flush()
    sid_of = {c.uid: app.voice["9%06d" % i] for i, c in enumerate(calls)}
    members = [fake.find(c.uid) for c in calls]
    # -- talk
    gevent.sleep(0.5)  # the start rule's unmutes settle (load pacing)
    sent, written = defaultdict(deque), defaultdict(list)   # written: after the fake's sendall (--trace)
    _switches(child, work, "before")
    n0, c0 = len(app.cbs), cpu_s(pid)
    gap = 1.0 / args.talk_rate
    for _ in range(args.talk_rounds):
        for state in (True, False):
            for m in members:
                m.talking = state
                raw = fake.member_event("start-talking" if state else "stop-talking", m)
                if state:
                    sent[sid_of[m.uid]].append(time.monotonic())
                fake.broadcast(raw)
                if state:
                    written[sid_of[m.uid]].append(time.monotonic())
                gevent.sleep(gap)
    want = args.talk_rounds * len(members)
    app.wait("participant-speech-start", want, 60)
    app.wait("participant-speech-stop", want, 60)
    delivered = len(app.cbs) - n0
    out["cb_ms"] = (cpu_s(pid) - c0) * 1000 / max(1, delivered)
    out["talk_cbs"] = delivered
    if _switches(child, work, "after"):
        import switches
        switches.report(os.path.join(work, "sw-before.json"), os.path.join(work, "sw-after.json"), delivered,
                        2 * want)
    if os.environ.get("FSBENCH_TRACE"):
        trace_report(child, work, sent, written, app.cbs[n0:], {c.uid: sid_of[c.uid] for c in calls})
    lat = []
    for t, form in app.cbs[n0:]:
        if form.get("StatusCallbackEvent") == "participant-speech-start" and sent[form["CallSid"]]:
            lat.append(t - sent[form["CallSid"]].popleft())
    out["added_p50"], out["added_p99"] = pct(lat, 0.5), pct(lat, 0.99)
    # -- REST mute/unmute
    room_of = {sid_of[c.uid]: members[i].room for i, c in enumerate(calls)}
    _prof_phase(child, "prof-on", "FSBENCH_PROFILE_REST")
    rest_phase(args, app, info, pid, [sid_of[c.uid] for c in calls], room_of, out)
    _prof_phase(child, "prof-off", "FSBENCH_PROFILE_REST")
    # -- hangup
    for c in calls:
        c.hangup()
    app.wait("conference-end", args.rooms, 60)
    for c in calls:
        c.closed.wait(10)
    gevent.sleep(1.0)  # outbox drains and greenlets exit before the RSS reading (not synchronisation)
    out["rss_after"] = rss_mib(pid)
    child.stdin.write(b"trim\n")
    child.stdin.flush()
    gevent.sleep(0.5)  # the child trims (not synchronisation of the measured work)
    out["rss_trimmed"] = rss_mib(pid)
    if args.storms > 1:
        import fsmemory
        fsmemory.repeat_storms(args, app, fake, info, child, out, lambda: rss_mib(pid))
    child.stdin.write(b"snap\n")
    child.stdin.flush()
    child.stdin.close()
    child.wait(30)
    fake.stop()
    app.stop()
    return out


def trace_report(child, work, sent, written, cbs, sid_of):
    """FSBENCH_TRACE=1: ask the child for its stage stamps (bench/cbtrace.py) and print where the time went."""
    import cbtrace
    path = os.path.join(work, "trace.json")
    child.stdin.write(("trace %s\n" % path).encode())
    child.stdin.flush()
    child.stdout.readline()
    arrived = defaultdict(list)
    for t, form in cbs:
        if form.get("StatusCallbackEvent") == "participant-speech-start":
            arrived[form["CallSid"]].append(t)
    cbtrace.report(path, {k: list(v) for k, v in sent.items()}, written, arrived, sid_of, pct)


def _switches(child, work, tag):
    """FSBENCH_SWITCHES=1: have the child write its greenlet switch counts to ``work/sw-<tag>.json``."""
    if not os.environ.get("FSBENCH_SWITCHES"):
        return False
    child.stdin.write(("switches %s\n" % os.path.join(work, "sw-%s.json" % tag)).encode())
    child.stdin.flush()
    child.stdout.readline()
    return True


def _prof_phase(child, command, env="FSBENCH_PROFILE_JOINS"):
    """``--profile-joins`` (FSBENCH_PROFILE_JOINS set) or FSBENCH_PROFILE_REST=1 (the REST phase alone): tell
    the child to start/stop its profiler."""
    if os.environ.get(env):
        child.stdin.write(command.encode() + b"\n")
        child.stdin.flush()


def _pyspy(pid):
    """FSBENCH_PYSPY=FILE: sample the bridge with py-spy (``--gil``, raw folded stacks) for the REST phase."""
    out = os.environ.get("FSBENCH_PYSPY")
    if not out:
        return None
    spy = subprocess.Popen(["py-spy", "record", "--gil", "-r", "500", "-f", "raw", "-o", out, "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gevent.sleep(1.0)   # py-spy attaches (not synchronisation of the measured work)
    return spy


def _pyspy_stop(spy):
    if spy is not None:
        import signal
        spy.send_signal(signal.SIGINT)
        spy.wait(30)


def _served(sess, base_url):
    """The bridge's /metrics histogram of POST participant updates: {bucket upper bound s: count} (None
    when not served)."""
    try:
        text = sess.get(base_url + "/metrics", timeout=10).text
    except requests.RequestException:
        return None
    out = defaultdict(float)
    for line in text.splitlines():
        if line.startswith("fsbridge_http_request_seconds_bucket{") and "Participants/<CallSid>" in line \
                and 'method="POST"' in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float(le)] += float(line.rsplit(" ", 1)[1])
    return out


def drive(sess, base_url, sids, room_of, rate, updates):
    """REST mute/unmute toggles at ``rate`` req/s round-robin over ``sids`` → (latencies s from each request's
    due time, {True: mutes asked, False: unmutes asked})."""
    rest_lat, muted, asked = [], {}, defaultdict(int)
    t_start = time.monotonic()
    turns = defaultdict(gevent.lock.Semaphore)

    def update(k):
        sid, due = sids[k % len(sids)], t_start + k / rate
        # one request per participant at a time: a later toggle sent on another connection could otherwise
        # overtake an earlier one (a reordering by the client, not the bridge's doing); the wait for the
        # turn counts in the latency, which runs from the request's due time (no coordinated omission)
        with turns[sid]:
            muted[sid] = not muted.get(sid, False)
            asked[muted[sid]] += 1
            r = sess.post("%s/2010-04-01/Accounts/%s/Conferences/%s/Participants/%s.json"
                          % (base_url, AC, room_of[sid], sid),
                          data={"Muted": "true" if muted[sid] else "false"}, auth=(AC, TOKEN), timeout=30)
        rest_lat.append(time.monotonic() - due)
        assert r.status_code == 200, r.text
    pool = []
    for k in range(updates):
        gevent.sleep(max(0.0, t_start + k / rate - time.monotonic()))
        pool.append(gevent.spawn(update, k))
    gevent.joinall(pool, raise_error=True)
    return rest_lat, asked


def rest_client():
    """``--rest-client``: :func:`drive` in this process, arguments as JSON on stdin, result as JSON on stdout."""
    base_url, sids, room_of, rate, updates = json.loads(sys.stdin.read())
    rest_lat, asked = drive(requests.Session(), base_url, sids, room_of, rate, updates)
    print(json.dumps([rest_lat, [asked[True], asked[False]]]))


def rest_phase(args, app, info, pid, sids, room_of, out):
    """REST mute/unmute at ``args.rate`` req/s round-robin over ``sids``; fills out[rest_*]."""
    sess = requests.Session()
    served0 = _served(sess, info["base_url"])
    p0 = cpu_s(os.getpid())
    spy = _pyspy(pid)
    m0, u0, c0 = app.by_event["participant-mute"], app.by_event["participant-unmute"], cpu_s(pid)
    if args.client_process:   # the REST client in its own process: not sharing a hub with the fake and the app
        client = subprocess.Popen([sys.executable, __file__, "--rest-client"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        result, _ = client.communicate(json.dumps([info["base_url"], sids, room_of, args.rate,
                                                   args.updates]).encode())
        rest_lat, asked_list = json.loads(result)
        asked = {True: asked_list[0], False: asked_list[1]}
    else:
        rest_lat, asked = drive(sess, info["base_url"], sids, room_of, args.rate, args.updates)
    out["rest_confirmed"] = float(app.wait("participant-mute", m0 + asked[True], 10)
                                  and app.wait("participant-unmute", u0 + asked[False], 10))
    out["rest_callbacks_missing"] = float(asked[True] + asked[False] - (app.by_event["participant-mute"] - m0)
                                          - (app.by_event["participant-unmute"] - u0))
    out["rest_ms"] = (cpu_s(pid) - c0) * 1000 / args.updates
    _pyspy_stop(spy)
    out["rest_parent_ms"] = (cpu_s(os.getpid()) - p0) * 1000 / args.updates
    served = _served(sess, info["base_url"])
    if served and served0 is not None:   # inside the bridge: Flask's before_request → after_request
        n = {le: served[le] - served0.get(le, 0) for le in served}
        total = max(n.values()) or 1
        out["rest_in_bridge_le10"] = 100.0 * n.get(0.01, 0) / total
        out["rest_in_bridge_p99_le"] = min((le for le in n if n[le] >= 0.99 * total), default=float("nan")) * 1000
    out["rest_p50"], out["rest_p99"] = pct(rest_lat, 0.5), pct(rest_lat, 0.99)


def live_socket_port():
    """The outbound-socket port the live FreeSWITCH's dialplan dials: FSBRIDGE_TEST_SOCKET (host:port) as the
    live tests use it, else 8084 (freeswitch-conf's default)."""
    return os.environ.get("FSBRIDGE_TEST_SOCKET", "127.0.0.1:8084").rsplit(":", 1)[1]


def live_run(args, prof, app, work, host, port, password):
    """One run against a live FreeSWITCH: joins and REST (no talk phase: loopback calls carry no speech)."""
    child = subprocess.Popen([sys.executable, __file__, "--serve", host, port, password, work,
                              app.url + "/voice", str(args.socket_port), prof], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    info = json.loads(child.stdout.readline())
    pid, out = child.pid, {}
    gevent.sleep(0.5)  # start-up CPU settles (not synchronisation)
    out["rss_idle"] = rss_mib(pid)
    calls = LiveCalls("%s:%s:%s" % (host, port, password))
    _prof_phase(child, "prof-on")
    c0 = cpu_s(pid)
    for i in range(args.calls):
        calls.place(i)
        # FreeSWITCH's sessions-per-second limit (switch.conf.xml: 30) refuses faster; a loopback call is two
        # sessions (the -a and -b legs), so 12 calls/s stay below it
        gevent.sleep(1.0 / 12)
    ok = app.wait("participant-join", args.calls, args.timeout)
    out["join_ms"] = (cpu_s(pid) - c0) * 1000 / max(1, app.by_event["participant-join"])
    out["joined"] = app.by_event["participant-join"]
    _prof_phase(child, "prof-off")
    joins = [f for _, f in app.cbs if f.get("StatusCallbackEvent") == "participant-join"]
    room_of = {f["CallSid"]: f["ConferenceSid"] for f in joins}
    gevent.sleep(0.5)  # the start rule's unmutes settle (load pacing)
    if ok:
        rest_phase(args, app, info, pid, list(room_of), room_of, out)
    calls.hangup_all()
    app.wait("conference-end", args.rooms, 60)
    gevent.sleep(2.0)  # sockets close and the outbox drains before the RSS reading (not synchronisation)
    out["rss_after"] = rss_mib(pid)
    child.stdin.write(b"trim\n")
    child.stdin.flush()
    gevent.sleep(0.5)  # the child trims (not synchronisation of the measured work)
    out["rss_trimmed"] = rss_mib(pid)
    child.stdin.close()
    child.wait(30)
    app.stop()
    return out


def main():
    """``--serve …``: the child bridge (:func:`serve`); otherwise the bench (arguments below) printing its
    figures per run; returns the exit status."""
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--receive":
        return receive(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--rest-client":
        return rest_client()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rooms", type=int, default=20)
    p.add_argument("--talk-rounds", type=int, default=3)
    p.add_argument("--talk-rate", type=float, default=400.0, help="talk events/s")
    p.add_argument("--join-rate", type=float, default=0.0,
                   help="fake: callers arriving per second (0: all at once); the live run paces 12/s")
    p.add_argument("--no-play-done", action="store_true",
                   help="fake: a played file never ends (as a long hold-music file) instead of at once")
    p.add_argument("--updates", type=int, default=400)
    p.add_argument("--rate", type=float, default=200.0, help="REST req/s")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--client-process", action="store_true",
                   help="send the REST requests from a process of their own (not the fake FreeSWITCH's)")
    p.add_argument("--storms", type=int, default=1,
                   help="fake only: after the phases, join+hang up --calls callers again N-1 times in the same "
                        "bridge; RSS after each (rss_stormN)")
    p.add_argument("--profile", default="-")
    p.add_argument("--profile-joins", action="store_true", help="with --profile: profile the join phase only")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--receiver", choices=("process", "inline"), default="process",
                   help="statusCallbacks to a receiver process of their own (default), or to the app in this "
                        "process (which also runs the fake FreeSWITCH and the REST client: its own queueing "
                        "then counts in the added latency)")
    p.add_argument("--live", action="store_true", help="against FSBRIDGE_TEST_ESL (binds --socket-port)")
    p.add_argument("--socket-port", type=int, default=int(live_socket_port()),
                   help="--live: the outbound-socket port that FreeSWITCH's dialplan calls (default: the port of "
                        "FSBRIDGE_TEST_SOCKET, else 8084)")
    a = p.parse_args()
    if a.profile_joins:
        os.environ["FSBENCH_PROFILE_JOINS"] = "1"   # read by the child (serve) and _prof_phase
    runs = []
    for r in range(a.runs):
        runs.append(one_run(a, a.profile if r == a.runs - 1 else "-"))
        print("run %d: %s" % (r + 1, json.dumps({k: round(v, 3) for k, v in runs[-1].items()})), flush=True)
    keys = ("join_ms", "cb_ms", "talk_cbs", "rest_ms", "rest_p50", "rest_p99", "added_p50", "added_p99",
            "rss_idle", "rss_after", "rss_trimmed", "rest_callbacks_missing", "rest_parent_ms", "rest_in_bridge_le10",
            "rest_in_bridge_p99_le")
    col = {k: [x.get(k, float("nan")) for x in runs] for k in keys}
    print("# FreeSWITCH path on the %s FreeSWITCH: %d callers in %d rooms, %d talk rounds, %d REST updates at "
          "%.0f/s, %d runs (load average %.1f)" % ("live" if a.live else "fake", a.calls, a.rooms, a.talk_rounds, a.updates, a.rate, a.runs,
                                                  os.getloadavg()[0]))
    print("CPU per joining call      %s ms   (target ≤ 3)" % rng(col["join_ms"]))
    print("CPU per callback (talk)   %s ms   (target ≤ 0.5; %s callbacks/run)" % (rng(col["cb_ms"]),
                                                                                 rng(col["talk_cbs"], "%d")))
    print("CPU per REST update       %s ms   (target ≤ 1)" % rng(col["rest_ms"]))
    print("REST latency p50 / p99    %s / %s ms (target p99 ≤ 10 at 200 req/s; from each request's due time)"
          % (rng(col["rest_p50"], "%.1f"), rng(col["rest_p99"], "%.1f")))
    print("REST in the bridge (Flask) %s %% within 10 ms, p99 ≤ %s ms (histogram bucket); bench process CPU "
          "per update %s ms (fake FreeSWITCH + client + app)" % (rng(col["rest_in_bridge_le10"], "%.1f"),
                                                              rng(col["rest_in_bridge_p99_le"], "%.1f"),
                                                              rng(col["rest_parent_ms"])))
    print("REST mute/unmute callbacks missing  %s of %d" % (rng(col["rest_callbacks_missing"], "%d"), a.updates))
    print("added latency p50 / p99   %s / %s ms (target p99 ≤ 5; event written → callback arrived at the %s)"
          % (rng(col["added_p50"], "%.1f"), rng(col["added_p99"], "%.1f"),
             "receiver process" if a.receiver == "process" else "app in the bench's process"))
    print("RSS idle → after hangup   %s → %s MB (%s MB after malloc_trim)" % (
        rng(col["rss_idle"], "%.0f"), rng(col["rss_after"], "%.0f"), rng(col["rss_trimmed"], "%.0f")))
    if a.storms > 1:
        print("RSS after storms 2..%d     %s MB (after malloc_trim: %s MB)" % (a.storms, " → ".join(
            rng([x.get("rss_storm%d" % k, float("nan")) for x in runs], "%.0f") for k in range(2, a.storms + 1)),
            " → ".join(rng([x.get("rss_storm%d_trimmed" % k, float("nan")) for x in runs], "%.0f")
                       for k in range(2, a.storms + 1))))


if __name__ == "__main__":
    main()
