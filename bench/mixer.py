#!/usr/bin/env python3
"""Mixer benchmark: participant-streams mixed in real time on one core, and bytes per participant.

Two measurements (both single-threaded, one process):

* ``core``   — the per-room tick the engine runs (talk detection + vectorised N−1 mix + clip to int16) on
  real speech (asterisk-core-sounds clips + espeak, each member at its own offset), rooms × members;
* ``engine`` — the whole StandaloneEngine: VirtualCallLegs reading their sources, rooms mixed, events
  queued — i.e. including the Python cost per call per tick.

"Real-time streams" = members × (20 ms / CPU time per tick) — CPU time of this process (time.process_time),
so other load on a shared machine disturbs the figure less than wall time would. Targets (issue #5): ≥ 2000 streams at
16 kHz, ≤ 64 KiB per participant. Not a test: it prints figures (see bench/README.md).

    python3 bench/mixer.py [--rooms 8] [--members 250] [--seconds 5] [--rate 16000] [--mode both]
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

from fsbridge.engines.standalone.mixer import clip16, mix_n_minus_1  # noqa: E402
from fsbridge.engines.standalone.sources import load_audio  # noqa: E402
from fsbridge.engines.standalone.talk import TalkDetectorBank  # noqa: E402

AUDIO = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "audio")
CLIPS = ["speech-a.wav", "speech-b.wav", "speech-c.wav", "speech-espeak-16k.wav"]


def speech_bank(rate: int) -> np.ndarray:
    """All clips concatenated with 1 s gaps: int16 (n_samples,)."""
    gap = np.zeros(rate, np.int16)
    return np.concatenate([np.concatenate([load_audio(os.path.join(AUDIO, c), rate), gap]) for c in CLIPS])


def bench_core(rooms: int, members: int, seconds: float, rate: int) -> dict:
    """Time the per-room tick (talk + N−1 mix + clip) on (members, rate/50) int16 frames; CPU ms per tick."""
    fl = rate // 50
    bank = speech_bank(rate)
    rng = np.random.default_rng(1)
    ticks = int(seconds * 50)
    state = []
    for _ in range(rooms):
        offs = rng.integers(0, bank.size - fl, members)
        heard = rng.random(members) > 0.1                # 10 % muted
        state.append((offs, heard, TalkDetectorBank(capacity=members), np.ones(members, np.float32),
                      np.full(members, -1, np.int64)))
    ar = np.arange(fl)
    # warm-up
    t_in = 0.0
    t0 = time.process_time()
    for k in range(ticks):
        for offs, heard, talk, gain, coach in state:
            ti = time.process_time()
            idx = (offs[:, None] + (k * fl) + ar) % bank.size
            frames = bank[idx]                            # the members' input, int16 (members, fl)
            t_in += time.process_time() - ti
            talk.update(frames, heard, k)
            out, total = mix_n_minus_1(frames, heard, gain, coach)
            clip16(out)
            clip16(total)
    dt = time.process_time() - t0
    per_tick = (dt - t_in) / ticks
    return {"per_tick_ms": per_tick * 1000, "streams": rooms * members * 0.020 / per_tick,
            "load": per_tick / 0.020 * 100, "input_ms": t_in / ticks * 1000}


def bench_engine(rooms: int, members: int, seconds: float, rate: int) -> dict:
    """Time the whole engine (VirtualCallLegs, rooms, events) per tick; tracemalloc bytes per participant."""
    import gevent
    from fsbridge.conference.commands import JoinMember
    from fsbridge.engines.standalone.clock import Clock
    from fsbridge.engines.standalone.engine import StandaloneEngine
    from fsbridge.engines.standalone.sources import ArraySource

    bank = speech_bank(rate)
    fl = rate // 50
    rng = np.random.default_rng(2)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    eng = StandaloneEngine(rate=rate, clock=Clock(speed=None), capture_heard=False)
    n = 0
    for r in range(rooms):
        for m in range(members):
            src = ArraySource(bank, fl, loop=True)
            src.position = int(rng.integers(0, bank.size // fl)) * fl
            leg = eng.create_call(f"CA{r}-{m}", src)
            gevent.spawn(leg.join, JoinMember(room=f"CF{r}", unique_id=leg.unique_id, call_sid=leg.unique_id,
                                              enter_beep=False, exit_beep=False, max_members=members))
            n += 1
    gevent.sleep(0)
    eng.run_for(0.2)
    mem = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    eng.events.clear()
    t0 = time.process_time()
    eng.run_for(seconds)
    dt = time.process_time() - t0
    per_tick = dt / (seconds * 50)
    return {"per_tick_ms": per_tick * 1000, "streams": n * 0.020 / per_tick, "load": per_tick / 0.020 * 100,
            "bytes_per_participant": mem / n}


def main() -> None:
    """Parse arguments, run, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rooms", type=int, default=8)
    ap.add_argument("--members", type=int, default=250)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--mode", choices=["core", "engine", "both"], default="both")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (shared machines are noisy)")
    a = ap.parse_args()
    n = a.rooms * a.members
    print(f"# {a.rooms} rooms x {a.members} members = {n} participants, {a.rate} Hz, 20 ms frames, "
          f"{a.seconds:g} s of audio, numpy {np.__version__}, 1 core, best of {a.repeat}")
    if a.mode in ("core", "both"):
        c = min((bench_core(a.rooms, a.members, a.seconds, a.rate) for _ in range(a.repeat)),
                key=lambda r: r["per_tick_ms"])
        print(f"core  (talk + N-1 mix + clip): {c['per_tick_ms']:.2f} ms per 20 ms tick "
              f"({c['load']:.0f} % of one core) -> {c['streams']:.0f} real-time streams "
              f"[input gather {c['input_ms']:.2f} ms/tick not counted]")
    if a.mode in ("engine", "both"):
        e = min((bench_engine(a.rooms, a.members, a.seconds, a.rate) for _ in range(a.repeat)),
                key=lambda r: r["per_tick_ms"])
        print(f"engine (calls + rooms + events): {e['per_tick_ms']:.2f} ms per 20 ms tick "
              f"({e['load']:.0f} % of one core) -> {e['streams']:.0f} real-time streams; "
              f"{e['bytes_per_participant'] / 1024:.1f} KiB per participant (tracemalloc, after join)")
    print("targets: >= 2000 streams real time at 16 kHz, <= 64 KiB per participant")


if __name__ == "__main__":
    from gevent import monkey
    monkey.patch_all()
    main()
