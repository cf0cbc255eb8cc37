#!/usr/bin/env python3
"""Mixer benchmark: CPU per member per 20 ms tick of the whole standalone engine, by room shape.

For each room shape (rooms × members) a :class:`StandaloneEngine` on a simulated clock mixes real speech
(the asterisk-core-sounds clips + espeak in ``tests/fixtures/audio``, each caller at its own offset, looping)
for ``--seconds`` of audio: every caller's source is read, talk detection runs, every room is mixed N−1,
clipped, and events are queued — the whole engine, not a kernel. Reported per shape, as the range
(min–max) over ``--repeat`` runs:

* **CPU µs per member per tick** — CPU time of this process (``time.process_time``, so other load on a
  shared machine disturbs it less than wall time) / ticks / members;
* **member-streams per core** — 20 ms / (CPU per member per tick);
* **KiB per member** — tracemalloc: bytes allocated by joining the members and running 0.2 s, / members.

``--jitter`` adds the per-call network path (``NetEm`` with 30 ms delay, 0–20 ms uniform jitter) and a
40 ms jitter buffer per call — inside the engine all calls' networks and buffers are one
:class:`~fsbridge.engines.standalone.netbank.NetBank`, advanced for every call at once per tick.
FreeSWITCH's own conference (mod_conference, 16 kHz, measured on this machine, issue #16) costs 20–45 µs
per member per tick, median 29. Goal (issue #16): ≤ 3 µs per member in every shape, ≤ 16 KiB per member.
Not a test: it prints figures (see bench/README.md).

``--interleave N`` instead times, per shape, an engine without and one with jitter buffers alternately for
N slices of 10 ticks each (CPU time per slice) and prints min / median per member and tick: on a loaded
shared machine the minimum of short slices shows the code's cost, one long run mostly the neighbours'.

    python3 bench/mixer.py [--shapes 200x3,100x5,50x10,10x50,1x250,1x2000] [--seconds 2] [--repeat 3]
                           [--rate 16000] [--jitter both|off|on] [--interleave 25]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fsbridge.engines.standalone.sources import load_audio  # noqa: E402

AUDIO = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "audio")
CLIPS = ["speech-a.wav", "speech-b.wav", "speech-c.wav", "speech-espeak-16k.wav"]
SHAPES = "200x3,100x5,50x10,10x50,1x250,1x2000"
FREESWITCH_US = "20–45 (median 29)"


def speech_bank(rate: int) -> np.ndarray:
    """All clips concatenated with 1 s gaps: int16 (n_samples,)."""
    gap = np.zeros(rate, np.int16)
    return np.concatenate([np.concatenate([load_audio(os.path.join(AUDIO, c), rate), gap]) for c in CLIPS])


def build_engine(rooms: int, members: int, rate: int, jitter: bool, seed: int, bank: np.ndarray):
    """An engine with ``rooms`` × ``members`` callers speaking ``bank`` (each at its own offset, looping),
    joined and run 0.2 s; returns (engine, members)."""
    import gevent
    from fsbridge.conference.commands import JoinMember
    from fsbridge.engines.standalone.clock import Clock
    from fsbridge.engines.standalone.engine import StandaloneEngine
    from fsbridge.engines.standalone.netem import NetEm
    from fsbridge.engines.standalone.sources import ArraySource

    fl = rate // 50
    rng = np.random.default_rng(seed)
    eng = StandaloneEngine(rate=rate, clock=Clock(speed=None), capture_heard=False)
    n = 0
    for r in range(rooms):
        for m in range(members):
            src = ArraySource(bank, fl, loop=True)
            src.position = int(rng.integers(0, bank.size // fl)) * fl
            net = NetEm(delay_ms=30, jitter_ms=20, seed=n) if jitter else None
            leg = eng.create_call(f"CA{r}-{m}", src, network=net)
            gevent.spawn(leg.join, JoinMember(room=f"CF{r}", unique_id=leg.unique_id, call_sid=leg.unique_id,
                                              enter_beep=False, exit_beep=False, max_members=members,
                                              jitter_buffer_ms=40 if jitter else None))
            n += 1
    gevent.sleep(0)
    eng.run_for(0.2)
    return eng, n


def interleaved(rooms: int, members: int, rate: int, slices: int) -> dict:
    """Off and on (jitter buffers) engines timed alternately, ``slices`` × 10 ticks each; µs per member and
    tick per slice, {False: [...], True: [...]}."""
    bank = speech_bank(rate)
    engines = {j: build_engine(rooms, members, rate, j, 0, bank) for j in (False, True)}
    out = {False: [], True: []}
    gc.collect()
    for _ in range(slices):
        for j, (eng, n) in engines.items():
            t0 = time.process_time()
            eng.run_for(0.2)
            out[j].append((time.process_time() - t0) / 10 / n * 1e6)
            eng.events.clear()
    return out


def bench_engine(rooms: int, members: int, seconds: float, rate: int, jitter: bool, seed: int) -> dict:
    """One run: the whole engine per tick; returns CPU µs per member per tick and KiB per member."""
    bank = speech_bank(rate)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    eng, n = build_engine(rooms, members, rate, jitter, seed, bank)
    mem = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    eng.events.clear()
    gc.collect()
    t0 = time.process_time()
    eng.run_for(seconds)
    dt = time.process_time() - t0
    per_tick = dt / (seconds * 50)
    return {"us": per_tick / n * 1e6, "kib": mem / n / 1024}


def rng_fmt(vals, fmt="{:.2f}") -> str:
    """'lo–hi' of a list of numbers."""
    lo, hi = min(vals), max(vals)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}–{fmt.format(hi)}"


def main() -> None:
    """Parse arguments, run every shape ``--repeat`` times, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default=SHAPES, help="comma-separated ROOMSxMEMBERS")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jitter", choices=["off", "on", "both"], default="both")
    ap.add_argument("--interleave", type=int, default=0, metavar="N",
                    help="time off/on engines alternately in N slices of 10 ticks (min / median)")
    a = ap.parse_args()
    if a.interleave:
        print(f"# whole StandaloneEngine, {a.rate} Hz, off / 40 ms jitter buffers timed alternately, "
              f"{a.interleave} slices x 10 ticks, CPU µs per member per tick, min / median")
        for shape in a.shapes.split(","):
            rooms, members = (int(x) for x in shape.lower().split("x"))
            r = interleaved(rooms, members, a.rate, a.interleave)
            print(f"{shape:>9}  off {min(r[False]):5.2f} / {float(np.median(r[False])):5.2f}   "
                  f"40 ms {min(r[True]):5.2f} / {float(np.median(r[True])):5.2f}", flush=True)
        return
    modes = {"off": [False], "on": [True], "both": [False, True]}[a.jitter]
    print(f"# whole StandaloneEngine, {a.rate} Hz, 20 ms ticks, {a.seconds:g} s of audio per run, "
          f"{a.repeat} runs, numpy {np.__version__}, 1 core, CPU time (process_time)")
    print(f"{'shape':>9} {'jitter buf':>10} {'µs/member/tick':>15} {'streams/core':>14} {'KiB/member':>11} "
          f"{'FreeSWITCH µs':>18}")
    for jit in modes:
        for shape in a.shapes.split(","):
            rooms, members = (int(x) for x in shape.lower().split("x"))
            runs = [bench_engine(rooms, members, a.seconds, a.rate, jit, seed=k) for k in range(a.repeat)]
            us = [r["us"] for r in runs]
            streams = [20000 / u for u in us]
            print(f"{shape:>9} {'40 ms' if jit else 'off':>10} {rng_fmt(us):>15} "
                  f"{rng_fmt(sorted(streams), '{:.0f}'):>14} {rng_fmt([r['kib'] for r in runs], '{:.1f}'):>11} "
                  f"{FREESWITCH_US:>18}", flush=True)
    print("goal (issue #16): <= 3 µs per member per tick in every shape (>= 6000 streams/core), "
          "<= 16 KiB per member")


if __name__ == "__main__":
    from gevent import monkey
    monkey.patch_all()
    main()
