"""Soak: one simulated hour (default) of conferences on the standalone engine, accelerated clock, printing
RSS, open fds, greenlets, store size and the bridge's in-memory tables over time (issue 15: memory bounded
per member; flat after warm-up). Not a test: it prints figures.

    .venv/bin/python bench/soak.py [--hours 1] [--speed 30] [--rooms 6] [--max-calls 36] [--every 300]

Workload (engine seconds): a call arrives every ``--arrival`` s into a random room (while fewer than
``--max-calls`` are up) and stays 30–300 s; its caller talks in bursts (a tone 2 s on / 3 s off); every 10 s a
random connected participant is muted or unmuted through the control API; rooms start with their 2nd caller
and end with their last. Callbacks (join leave mute start end) go to a local receiver over real HTTP and are
counted. The in-process bridge is the one ``fsbridge serve`` runs (REST, store, outbox, dispatcher).
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from flask import Flask, Response  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fsbridge.callbacks.outbox import outbox  # noqa: E402
from fsbridge.local import HttpApp, start_bridge  # noqa: E402
from fsbridge.markup import parse  # noqa: E402
from fsbridge.store import tables as t  # noqa: E402
from stats import rss_mib  # noqa: E402  (bench/ is the script's directory)

AC = "AC" + "8" * 32
TOKEN = "soak-token"


def greenlets() -> int:
    """Greenlets alive now (not dead), counted over the garbage collector's objects (slow: soak samples only)."""
    return sum(1 for o in gc.get_objects() if isinstance(o, gevent.Greenlet) and not o.dead)


def talk_file(path: str, seconds: int, rate: int = 16000) -> str:
    """``seconds`` of 2 s tone bursts every 5 s (the caller's speech)."""
    tt = np.arange(seconds * rate) / rate
    x = np.where((tt % 5) < 2, 7000 * np.sin(2 * np.pi * 600 * tt), 0).astype(np.int16)
    sf.write(path, x, rate, subtype="PCM_16")
    return "file:" + path


def main() -> int:
    """Run the soak (arguments below), printing one sample line per interval; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--speed", type=float, default=30.0, help="engine seconds per wall second")
    ap.add_argument("--rooms", type=int, default=6)
    ap.add_argument("--max-calls", type=int, default=36)
    ap.add_argument("--arrival", type=float, default=4.0, help="engine seconds between call arrivals")
    ap.add_argument("--every", type=float, default=300.0, help="engine seconds between samples")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--trace", action="store_true", help="tracemalloc: print the top growth sites after warm-up")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="fsbridge-soak-")
    counts = {"callbacks": 0}
    receiver = Flask("soak-receiver")

    @receiver.post("/cb")
    def cb():
        counts["callbacks"] += 1
        return Response("", status=204)

    rx = HttpApp(receiver).start()
    server = start_bridge(work, accounts={AC: TOKEN}, clock=str(a.speed), capture_heard=False)
    bridge, engine = server.bridge, server.bridge.engine
    source = talk_file(os.path.join(work, "talk.wav"), 320)
    docs = [parse(f'<Response><Dial><Conference statusCallback="{rx.url}/cb" statusCallbackEvent="start end join '
                  f'leave mute" beep="false">soak-{i}</Conference></Dial></Response>', "twiml")
            for i in range(a.rooms)]
    db_file = os.path.join(work, "fsbridge.sqlite")
    total = {"calls": 0, "mutes": 0, "errors": 0}

    def sim_now() -> float:
        return engine.now_us() / 1e6

    def store_mib() -> str:
        db, wal = (os.path.getsize(p) / 2 ** 20 if os.path.exists(p) else 0.0 for p in (db_file, db_file + "-wal"))
        return f"{db:6.2f}+{wal:5.2f}"

    def rows():
        with server.store.engine.connect() as conn:
            return tuple(int(conn.execute(select(func.count()).select_from(x)).scalar())
                         for x in (t.conferences, t.participants, outbox))

    def sample(t0: float) -> None:
        gc.collect()
        conf_rows, part_rows, out_rows = rows()
        print(f"{(sim_now() - t0) / 60:7.1f} {len(bridge.registry.active()):5d} {total['calls']:6d} "
              f"{rss_mib():8.1f} {len(os.listdir('/proc/self/fd')):5d} {greenlets():6d} {store_mib()} "
              f"{conf_rows:6d} {part_rows:6d} {out_rows:7d} {len(bridge.state._confs):6d} "
              f"{len(bridge.registry.calls()):6d} {counts['callbacks']:7d} {total['mutes']:5d}", flush=True)

    def muter() -> None:
        while True:
            gevent.sleep(10 / a.speed)
            live = [(c.sid, p.call_sid) for c in bridge.state.conferences() if c.status == "in-progress"
                    for p in bridge.state.participants(c.sid) if p.status == "connected"]
            if not live:
                continue
            cf, who = rnd.choice(live)
            view = bridge.state.participant(cf, who)
            try:
                bridge.update_participant(AC, cf, who, muted=not (view and view.muted))
                total["mutes"] += 1
            except Exception:
                total["errors"] += 1

    print(f"# soak: {a.hours} h simulated at {a.speed}x, {a.rooms} rooms, ≤ {a.max_calls} calls, work dir {work}")
    print("# sim_min active calls rss_MiB  fds greenl db+wal_MiB  confs  parts  outbox mem_cf mem_ca  cbacks mutes")
    t0 = sim_now()
    next_sample = t0
    warm = None
    if a.trace:
        import tracemalloc
        tracemalloc.start(8)
    g = gevent.spawn(muter)
    wall0 = time.monotonic()
    try:
        while sim_now() - t0 < a.hours * 3600:
            if sim_now() >= next_sample:
                sample(t0)
                next_sample += a.every
                if a.trace and warm is None and sim_now() - t0 >= 2 * a.every:
                    warm = tracemalloc.take_snapshot()
            if len(bridge.registry.active()) < a.max_calls:
                bridge.place_call(AC, f"Caller{total['calls']}", "soak", source, first=rnd.choice(docs),
                                  hangup_after_s=rnd.uniform(30, 300))
                total["calls"] += 1
            gevent.sleep(a.arrival / a.speed)
        sample(t0)
        if warm is not None:
            for stat in tracemalloc.take_snapshot().compare_to(warm, "traceback")[:8]:
                print("# +%.1f KiB %d blocks" % (stat.size_diff / 1024, stat.count_diff))
                for line in stat.traceback.format()[-6:]:
                    print("#    " + line)
    finally:
        g.kill()
        server.stop()
        rx.stop()
    print(f"# {total['calls']} calls, {total['mutes']} mutes ({total['errors']} refused), "
          f"{counts['callbacks']} callbacks received, {time.monotonic() - wall0:.0f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
