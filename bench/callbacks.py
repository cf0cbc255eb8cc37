"""Callback throughput, latency and CPU: standalone (enqueue → POST) and FreeSWITCH path (ESL bytes → POST).

Usage: ``python3 bench/callbacks.py [--path standalone|freeswitch] [--rates 1000,2000] [--max-rate 8000]
[--seconds 4] [--runs 3] [--db sqlite|postgresql] [--window 0.001|none] [--profile FILE]``

The app (gevent WSGI, TCP_NODELAY, port 0, its own process) stamps each callback's arrival (CLOCK_MONOTONIC).
``--path standalone``: DomainEvents at the offered rate over ``--conferences`` into
:meth:`fsbridge.callbacks.Dispatcher.enqueue` (render, group-committed outbox, HTTP); latency enqueue →
arrival; CPU = this process's minus building the events. ``--path freeswitch``: the bridge (``start_bridge``
with the real :class:`FreeSwitchEngine`: ESL transport and parsing, mapping, domain, ``Store.record``, outbox,
HTTP) in a child process; this process is the fake FreeSWITCH (tests/fakes: real TCP, event bytes rendered
from the recorded FreeSWITCH 1.10.12 transcripts): ``--members`` callers join ``--rooms`` rooms through the
outbound socket, then start/stop-talking events at the offered rate, one speech-start/-stop callback each
(talk hangover 0); latency = the event's bytes written → arrival; CPU = the child's (/proc) per callback.
Each rate runs ``--seconds``; ``--max-rate`` gives the sustained maximum (delivered/s between first and last
arrival). Every callback is checked once and in order per conference (SequenceNumber / per-member order).
Ranges over ``--runs``; ``--db postgresql`` starts a throw-away PostgreSQL (tests/pg_support.py).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict, deque  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import gevent  # noqa: E402
import requests  # noqa: E402
from stats import percentile  # noqa: E402  (bench/ is the script's directory)

AC = "AC00000000000000000000000000000001"
TOKEN = "bench-token"
NUMBER = "7200"
TICK = os.sysconf("SC_CLK_TCK")


def _receiver(port_q, rooms):
    """App process: /voice → <Dial><Conference> (room by arrival order); /cb records (key, arrival);
    GET /count → number of callbacks; GET /stats → all arrivals and {CallSid: From}; GET /reset."""
    import socket
    from urllib.parse import parse_qsl

    from gevent.pywsgi import WSGIServer

    arrivals = []
    voice = [0]
    callers = {}   # CallSid → From

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        path = environ["PATH_INFO"]
        if environ["REQUEST_METHOD"] == "GET":
            data = (str(len(arrivals)).encode() if path == "/count" else
                    json.dumps({"arrivals": arrivals, "callers": callers}).encode())
            if path == "/reset":
                del arrivals[:]
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        now = time.monotonic()
        f = dict(parse_qsl(body.decode()))
        if path == "/voice":
            callers[f.get("CallSid")] = f.get("From")
            room = "R%d" % (voice[0] % rooms)
            voice[0] += 1
            xml = ('<Response><Dial><Conference statusCallback="http://127.0.0.1:%d/cb" statusCallbackEvent='
                   '"start end join leave speaker">%s</Conference></Dial></Response>'
                   % (listener.getsockname()[1], room)).encode()
            start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
            return [xml]
        arrivals.append((f.get("ConferenceSid"), f.get("CallSid"), f.get("StatusCallbackEvent"),
                         int(f.get("SequenceNumber", 0)), f.get("Timestamp"), now))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]

    listener = socket.socket()
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    server = WSGIServer(listener, app, log=None, error_log=None)
    port_q.put(listener.getsockname()[1])
    server.serve_forever()


class App:
    """Handle on the app process (``_receiver``)."""

    def __init__(self, rooms=1):
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        self.proc = ctx.Process(target=_receiver, args=(q, rooms), daemon=True)
        self.proc.start()
        self.port = q.get(timeout=10)
        self.url = "http://127.0.0.1:%d" % self.port
        self.http = requests.Session()

    def count(self):
        return int(self.http.get(self.url + "/count", timeout=30).text)

    def wait_count(self, n, timeout):
        """Poll /count until ≥ n callbacks arrived (False after ``timeout`` s). Bench pacing, not a test."""
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                return False
            gevent.sleep(0.05)
        return True

    def take(self):
        """All arrivals so far (then forgotten): [(conference, call, event, seq, timestamp, t)], and
        {CallSid: From} of the voice requests."""
        stats = self.http.get(self.url + "/stats", timeout=60).json()
        self.http.get(self.url + "/reset", timeout=30)
        return [tuple(a) for a in stats["arrivals"]], stats["callers"]

    def stop(self):
        self.proc.terminate()


def pct(values, p):
    """The p-th percentile (0–100, nearest rank: :func:`stats.percentile`) of ``values`` (NaN when empty)."""
    return percentile(values, p, float("nan"))


def cpu_of(pid):
    """utime+stime of ``pid`` in seconds (/proc)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pace(n_total, rate, emit):
    """Call ``emit(i)`` for i in 0..n_total-1 at ``rate`` per second (bursts of what is due each wake-up)."""
    start, n = time.monotonic(), 0
    while n < n_total:
        due = min(n_total, int((time.monotonic() - start) * rate) + 1)
        while n < due:
            emit(n)
            n += 1
        gevent.sleep(max(0.0, start + n / rate - time.monotonic()) or 0.0005)
    return time.monotonic() - start


# ---------------------------------------------------------------- standalone: enqueue → POST
def standalone_phase(d, app, rate, seconds, conferences, state):
    """Offer ``rate`` events/s for ``seconds`` through ``d.enqueue``; return the phase's figures."""
    from fsbridge.conference import events as ev
    from fsbridge.conference.events import CallbackConfig, ParticipantView, make
    from fsbridge.markup.model import Hook
    config = CallbackConfig(dialect="twiml", status_callback=Hook(app.url + "/cb"), status_events=("join",))
    confs = ["CF%032d" % (state["base"] + i) for i in range(conferences)]
    state["base"] += conferences
    seq = defaultdict(int)
    sent = {}
    now_dt = datetime.now(timezone.utc)
    total = int(rate * seconds)
    made = [0.0]

    def emit(n):
        c = confs[n % len(confs)]
        seq[c] += 1
        t0 = time.process_time()
        e = make(ev.PARTICIPANT_JOIN, account_sid=AC, conference_sid=c, friendly_name="bench",
                 sequence_number=seq[c], timestamp=now_dt, callbacks=config, member_count=seq[c],
                 started_at=now_dt, participant=ParticipantView(call_sid="CA%032d" % n, from_="+1555", to="+1666"))
        made[0] += time.process_time() - t0
        sent[(c, seq[c])] = time.monotonic()
        d.enqueue(e)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    pace(total, rate, emit)
    ok = d.wait_idle(120)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    arrivals, _ = app.take()
    lat = [(t - sent[(c, s)]) * 1e3 for c, _call, _e, s, _ts, t in arrivals if (c, s) in sent]
    return dict(offered=rate, events=total, delivered=len(arrivals), idle=ok,
                cpu_ms=((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) - made[0]) * 1e3 / max(1, total),
                p50=pct(lat, 50), p99=pct(lat, 99), rate_out=_rate(arrivals),
                order_ok=_in_order(arrivals, key=lambda a: a[0], seq=lambda a: a[3], want=seq))


def _rate(arrivals):
    ts = sorted(a[-1] for a in arrivals)
    return (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 and ts[-1] > ts[0] else float("nan")


def _in_order(arrivals, key, seq, want):
    """Every key's numbers arrive exactly 1..want[key], once each, in order."""
    got = defaultdict(list)
    for a in sorted(arrivals, key=lambda a: a[-1]):
        got[key(a)].append(seq(a))
    return all(got[k] == list(range(1, n + 1)) for k, n in want.items())


def run_standalone(args, db_url):
    from fsbridge.callbacks.dispatcher import Dispatcher
    from fsbridge.callbacks.http import Transport
    from fsbridge.egress import EgressPolicy
    from fsbridge.store.db import make_engine
    app = App()
    engine = make_engine(db_url)
    d = Dispatcher(engine, {AC: TOKEN}, transport=Transport(egress=EgressPolicy(allow=["127.0.0.0/8"])),
                   group_commit_s=args.window).start()
    state = {"base": int(time.time() * 1000) % 10 ** 9 * 1000}
    out = []
    import cProfile
    profiler = cProfile.Profile() if args.profile else None
    try:
        profiler and profiler.enable()
        for rate in args.rates + [args.max_rate]:
            out.append(standalone_phase(d, app, rate, args.seconds, args.conferences, state))
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
    finally:
        d.stop()
        app.stop()
    return out


# ---------------------------------------------------------------- FreeSWITCH path: ESL bytes → POST
def serve(argv):
    """Child: the bridge on the FreeSWITCH engine (talk hangover 0); prints its outbound port, serves until
    stdin closes; ``prof`` ≠ "-": cProfile to that file."""
    host, port, workdir, voice, db_url, window, prof = argv
    from fsbridge.config import Number
    from fsbridge.engines.freeswitch import FreeSwitchEngine
    from fsbridge.local import start_bridge
    import logging
    logging.basicConfig(level=logging.WARNING, format="bridge %(levelname)s %(name)s: %(message)s")
    import cProfile
    profiler = cProfile.Profile() if prof != "-" else None
    profiler and profiler.enable()
    engine = FreeSwitchEngine(host, int(port), "ClueCon", outbound_port=0, command_timeout=5, talk_stop_ms=0)
    kw = {"database_url": db_url} if db_url != "-" else {}
    server = start_bridge(workdir, accounts={AC: TOKEN}, numbers=[Number(NUMBER, AC, voice)], engine=engine,
                          fetch_timeout=10.0, capture_heard=False,
                          dispatcher_kw={"group_commit_s": None if window == "none" else float(window)}, **kw)
    engine.set_call_handler(server.bridge.on_call)
    engine.wait_connected(10)
    print(json.dumps({"outbound_port": engine.outbound_port}), flush=True)
    gevent.get_hub().threadpool.apply(sys.stdin.read)   # until the parent closes stdin
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(prof)
    os._exit(0)


def run_freeswitch(args, db_url):
    from fakes import FakeCall, FakeFreeSwitch
    app = App(args.rooms)
    fake = FakeFreeSwitch().start()
    work = tempfile.mkdtemp(prefix="fsbench-cb-")
    child = subprocess.Popen([sys.executable, __file__, "--serve", "127.0.0.1", str(fake.port), work,
                              app.url + "/voice", db_url or "-", str(args.window), args.profile or "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    info = json.loads(child.stdout.readline())
    calls = []
    for i in range(args.members):
        call = FakeCall(fake, "127.0.0.1", info["outbound_port"], uid="b0000000-0000-4000-8000-%012d" % i)
        call.connect_reply = call.connect_reply.replace(b"Caller-Caller-ID-Number: 1000\n",
                                                        b"Caller-Caller-ID-Number: 9%06d\n" % i)
        calls.append(call.start())
    joins = args.members + args.rooms   # participant-join + conference-start
    assert app.wait_count(joins, 120), "joins: %d of %d" % (app.count(), joins)
    _, callers = app.take()
    uid_of = {sid: calls[int(frm.lstrip("+")[-6:])].uid for sid, frm in callers.items()}
    members = [fake.find(c.uid) for c in calls]
    assert all(members), "a caller is not in its room"
    gevent.sleep(0.5)   # the start rule's unmutes settle (pacing, not synchronisation)
    out = []
    for rate in args.rates + [args.max_rate]:
        out.append(talk_phase(args, app, fake, members, child.pid, rate, uid_of))
    for c in calls:
        c.hangup()
    child.stdin.close()
    child.wait(60)
    fake.stop()
    app.stop()
    return out


def talk_phase(args, app, fake, members, pid, rate, uid_of):
    """start-talking / stop-talking events, alternating per member round-robin, at ``rate``/s; each
    callback is paired with its member's event of the same word, in order (CallSid → caller → member)."""
    total = int(rate * args.seconds)
    sent = defaultdict(deque)       # (member uid, action) → write times, in order

    def emit(n):
        m = members[n % len(members)]
        m.talking = not m.talking
        action = "start-talking" if m.talking else "stop-talking"
        raw = fake.member_event(action, m)
        sent[(m.uid, action)].append(time.monotonic())
        fake.broadcast(raw)
    c0 = cpu_of(pid)
    pace(total, rate, emit)
    ok = app.wait_count(total, 120)
    cpu = cpu_of(pid) - c0
    arrivals, _ = app.take()
    word = {"participant-speech-start": "start-talking", "participant-speech-stop": "stop-talking"}
    lat, order_ok, last = [], True, {}
    for _conf, sid, event, _seq, _ts, t in sorted(arrivals, key=lambda a: a[-1]):
        action, uid = word.get(event), uid_of.get(sid)
        if action is None or uid is None or not sent[(uid, action)] or last.get(uid) == action:
            order_ok = False   # unexpected, duplicated or out of order
            continue
        last[uid] = action
        lat.append((t - sent[(uid, action)].popleft()) * 1e3)
    return dict(offered=rate, events=total, delivered=len(arrivals), idle=ok,
                cpu_ms=cpu * 1e3 / max(1, len(arrivals)), p50=pct(lat, 50), p99=pct(lat, 99),
                rate_out=_rate(arrivals), order_ok=order_ok and not any(sent.values()))


# ---------------------------------------------------------------- common
def rng(vals, fmt="%.2f"):
    """Floats ``vals`` (NaN = not measured, skipped) as "min–max" in ``fmt`` (one value if all equal; "n/a" if none)."""
    vals = [v for v in vals if v == v]
    if not vals:
        return "n/a"
    return (fmt + "–" + fmt) % (min(vals), max(vals)) if min(vals) != max(vals) else fmt % vals[0]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", choices=("standalone", "freeswitch"), default="standalone")
    ap.add_argument("--rates", default="1000,2000", help="offered events/s, comma-separated")
    ap.add_argument("--max-rate", type=float, default=8000.0, help="offered for the sustained maximum")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conferences", type=int, default=100, help="standalone: conferences the events spread over")
    ap.add_argument("--members", type=int, default=200, help="freeswitch: callers")
    ap.add_argument("--rooms", type=int, default=20, help="freeswitch: rooms")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--window", default="0.001", help="group commit window (s); 'none' = commit per event")
    ap.add_argument("--profile", default=None, help="cProfile output file (bridge side, last run)")
    args = ap.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r]
    args.window = None if args.window == "none" else float(args.window)
    cluster = None
    runs = []
    try:
        for r in range(args.runs):
            db_url = None
            if args.db == "postgresql":
                if cluster is None:
                    from pg_support import ThrowAwayCluster, pg_bindir
                    cluster = ThrowAwayCluster(pg_bindir())
                    base_url = cluster.start()
                db_url = _fresh_pg_db(base_url, r)
            else:
                db_url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="fsbench-cb-"), "fsbridge.sqlite")
            profile, args.profile = args.profile, (args.profile if r == args.runs - 1 else None)
            phases = (run_standalone if args.path == "standalone" else run_freeswitch)(args, db_url)
            args.profile = profile
            runs.append(phases)
            for ph in phases:
                print("run %d: %s" % (r + 1, json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                                         for k, v in ph.items()})), flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    print("# callbacks, %s path, %s, group commit window %s, %d runs, load average %.1f on %d CPUs"
          % (args.path, args.db, args.window, args.runs, os.getloadavg()[0], os.cpu_count()))
    for i, rate in enumerate(args.rates + [args.max_rate]):
        col = [run[i] for run in runs]
        label = "offered %5.0f/s" % rate if i < len(args.rates) else "offered %5.0f/s (max)" % rate
        print("%-24s delivered %s/s  p50 %s ms  p99 %s ms  CPU %s ms/callback  all once+in order: %s"
              % (label, rng([c["rate_out"] for c in col], "%.0f"), rng([c["p50"] for c in col], "%.1f"),
                 rng([c["p99"] for c in col], "%.1f"), rng([c["cpu_ms"] for c in col], "%.3f"),
                 all(c["order_ok"] and c["delivered"] == c["events"] for c in col)))


def _fresh_pg_db(base_url, r):
    """A new database per run on the throw-away cluster (so runs do not share outbox rows)."""
    from sqlalchemy import create_engine
    name = "bench%d_%d" % (os.getpid(), r)
    eng = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE %s" % name)
    eng.dispose()
    return base_url.replace("/postgres?", "/%s?" % name)


if __name__ == "__main__":
    main()
