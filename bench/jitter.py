#!/usr/bin/env python3
"""Jitter-buffer benchmark: added delay and late loss per Twilio jitterBufferSize, max jitter ≈ 20 ms.

A sender emits one 20 ms packet per tick (timestamp = send time) through the network emulator
(:class:`fsbridge.engines.standalone.netem.NetEm`: one-way delay ``--delay`` ms + jitter uniform in
[0, ``--jitter``] ms, i.e. max jitter 20 ms; a second scenario adds 1 % reordering by +40 ms and a third
heavy-tailed (Pareto) jitter spikes) into one :class:`~fsbridge.engines.standalone.jitter.JitterBuffer`
per size, played out on the engine's 20 ms ticks. Printed per size:

* **buffer delay**: time a played packet waited between being seen (on a tick) and played (ms, mean/max);
* **network + buffer**: playout time − send time (mean/max) — our emulated one-way path, not a phone's
  mouth-to-ear (Twilio's figures also include the access networks both ways, codecs and mixing);
* **late loss**: packets dropped because they arrived after their slot (%), and concealed frames (%).

Beside them: Twilio's published average latencies for a stream with max jitter ~20 ms (seed
twilio-twiml-conference-noun.txt). Not a test: prints a table (see bench/README.md).

``--path bank`` runs the same streams through the engine's :class:`~fsbridge.engines.standalone.netbank.NetBank`
instead (all seeds' streams as rows of one bank, advanced together per tick, its draws from the bank's generator
rather than each NetEm's own sequence): the figures must agree within sampling noise; ``both`` prints both.

    python3 bench/jitter.py [--seconds 60] [--delay 30] [--jitter 20] [--seeds 5] [--path call|bank|both]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from types import SimpleNamespace  # noqa: E402

from fsbridge.engines.standalone.jitter import SIZES, JitterBuffer  # noqa: E402
from fsbridge.engines.standalone.netbank import NetBank  # noqa: E402
from fsbridge.engines.standalone.netem import NetEm  # noqa: E402

TWILIO = {"off": "no added latency; packets with jitter <= 20 ms dropped",
          "small": "~150-200 ms avg", "medium": "~200-360 ms avg", "large": "~300-1000 ms avg"}


def run(size_ms, net: NetEm, n: int):
    """Stream ``n`` packets through ``net`` into a buffer of ``size_ms``; returns (buffer, send→playout ms list)."""
    jb = JitterBuffer(size_ms, frame_len=1, delay_history=None)
    payload = np.zeros(1, np.int16)
    e2e = []
    for k in range(n + 100):
        now = k * 20
        if k < n:
            net.send(k, now, payload, now)
        for p in net.deliver(now):
            jb.push(p.seq, p.timestamp_ms, p.payload, now)
        before = jb.played
        jb.pop(now)
        if jb.played > before:
            e2e.append(now - jb.last_played_ts)
    return jb, e2e


def run_bank(size_ms, nets, n: int):
    """The same streams, one per NetEm, as rows of one NetBank; returns [(buffer figures, send→playout ms
    list)] (the figures: the bank's jitter-buffer view with every delay, not only the last 64)."""
    bank = NetBank(frame_len=1)
    payload = np.zeros(1, np.int16)
    calls = [SimpleNamespace(network=net, start_tick=0, _source_ended=False, _net_row=None) for net in nets]
    views, e2e, delays, last, seen = [], [[] for _ in nets], [[] for _ in nets], [None] * len(nets), [0] * len(nets)
    for i, c in enumerate(calls):
        c._net_row = bank.attach(c)
        views.append(bank.new_buffer(c._net_row, size_ms, i))
    frames = np.zeros((len(nets), 1), np.int16)
    hist = bank.delays.shape[1]
    for k in range(n + 100):
        for c in calls:
            if k < n:
                bank.sf[c._net_row] = payload
            elif k == n:
                bank.src_done[c._net_row] = True
        bank.tick(k, frames)
        for i, c in enumerate(calls):
            r = c._net_row
            ts, dn = int(bank.last_ts[r]), int(bank.dn[r])
            if dn > seen[i]:
                delays[i].append(float(bank.delays[r, (dn - 1) % hist]))
                seen[i] = dn
            if ts >= 0 and ts != last[i]:
                e2e[i].append(k * 20 - ts)
                last[i] = ts
    out = [(SimpleNamespace(delays_ms=d, late=v.late, received=v.received, concealed=v.concealed, played=v.played), e)
           for v, d, e in zip(views, delays, e2e)]
    for c in calls:
        bank.release(c)
    return out


def main() -> None:
    """Parse arguments, run every scenario × size, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--delay", type=float, default=30.0, help="one-way network delay, ms")
    ap.add_argument("--jitter", type=float, default=20.0, help="max jitter, ms")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--path", choices=["call", "bank", "both"], default="call",
                    help="per-call JitterBuffer + NetEm (call), the engine's NetBank (bank), or both")
    a = ap.parse_args()
    n = int(a.seconds * 50)
    scenarios = [
        ("uniform jitter 0-%g ms" % a.jitter, dict(distribution="uniform")),
        ("uniform + 1% reordered by +40 ms", dict(distribution="uniform", reorder=0.01, reorder_ms=40)),
        ("pareto spikes (scale %g/3 ms, cap %g ms)" % (a.jitter, 10 * a.jitter), dict(distribution="pareto")),
    ]
    print(f"# {n} packets x {a.seeds} seeds per row, one-way delay {a.delay:g} ms, 20 ms ticks")
    for path in (["call", "bank"] if a.path == "both" else [a.path]):
        print(f"\n# path: {'per-call JitterBuffer + NetEm' if path == 'call' else 'NetBank (the engine)'}")
        table(path, scenarios, a, n)


def table(path: str, scenarios, a, n: int) -> None:
    """One table per scenario for ``path`` (call | bank)."""
    for title, kw in scenarios:
        print(f"\n## {title}")
        print(f"{'size':<7} {'buffer delay mean/max':>22} {'network+buffer mean/max':>24} {'late loss':>10} "
              f"{'concealed':>10}   Twilio (published)")
        for name, size in SIZES.items():
            bd, ee, late, recv, conc, played = [], [], 0, 0, 0, 0
            nets = [NetEm(delay_ms=a.delay, jitter_ms=a.jitter, seed=seed, **kw) for seed in range(a.seeds)]
            runs = ([run(size, net, n) for net in nets] if path == "call" else run_bank(size, nets, n))
            for jb, e2e in runs:
                bd += jb.delays_ms
                ee += e2e
                late += jb.late
                recv += jb.received
                conc += jb.concealed
                played += jb.played
            print(f"{name:<7} {np.mean(bd):>13.1f} / {np.max(bd):>5.0f} ms {np.mean(ee):>14.1f} / {np.max(ee):>5.0f} ms "
                  f"{100 * late / recv:>9.2f}% {100 * conc / (played + conc):>9.2f}%   {TWILIO[name]}")


if __name__ == "__main__":
    main()
