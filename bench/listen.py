"""jambonz listen on the standalone engine: what streaming costs, per stream, in CPU time.

One room of ``--members`` callers (1 kHz tones), ``--streams`` of them streaming (``--mix``, ``--rate``) to one
local receiver that reads and discards the bytes after the handshake (so the figure is the sender's side). Runs ``--seconds`` of engine time on a
simulated clock as fast as possible, twice (without and with the streams), and prints the CPU time of the
process (``time.process_time``: the engine, the senders, and the discarding receiver, all in this one process) per
engine second, and what one stream adds per 20 ms frame. Also prints frames sent/dropped. Not a test.

    python3 bench/listen.py --members 20 --streams 10 --seconds 20 --mix mixed --rate 8000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gevent import monkey

monkey.patch_all()

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import gevent  # noqa: E402

from fsbridge.conference.commands import JoinMember  # noqa: E402
from fsbridge.engines.base import AudioFork  # noqa: E402
from fsbridge.engines.standalone.clock import Clock  # noqa: E402
from fsbridge.engines.standalone.engine import StandaloneEngine  # noqa: E402
from ws_support import WsReceiver  # noqa: E402


def run(members: int, streams: int, seconds: float, mix: str, rate: int, engine_rate: int):
    """(CPU s, frames sent, frames dropped) for one run."""
    eng = StandaloneEngine(rate=engine_rate, clock=Clock(speed=None), capture_heard=False)
    legs = [eng.create_call(f"CA{i}", "tone_stream://%(1000,0,1000)", hangup_at_end=False) for i in range(members)]
    for leg in legs:
        gevent.spawn(leg.join, JoinMember(room="CF1", unique_id=leg.unique_id, call_sid=leg.unique_id,
                                          enter_beep=False, exit_beep=False))
    gevent.sleep(0)
    receiver = WsReceiver("drain")
    for leg in legs[:streams]:
        leg.start_fork(AudioFork(receiver.url, mix, rate, "{}"))
    eng.run_for(0.2)
    t0 = time.process_time()
    eng.run_for(seconds)
    cpu = time.process_time() - t0
    sent = sum(leg.fork.sent for leg in legs[:streams])
    dropped = sum(leg.fork.dropped for leg in legs[:streams])
    receiver.stop()
    return cpu, sent, dropped


def main() -> None:
    """Parse the arguments, run without and with streams, print one table row each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--streams", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--mix", default="mixed", choices=("mono", "mixed", "stereo"))
    ap.add_argument("--rate", type=int, default=8000)
    ap.add_argument("--engine-rate", type=int, default=16000)
    a = ap.parse_args()
    base, _, _ = run(a.members, 0, a.seconds, a.mix, a.rate, a.engine_rate)
    cpu, sent, dropped = run(a.members, a.streams, a.seconds, a.mix, a.rate, a.engine_rate)
    frames = a.streams * a.seconds * 50
    print(f"# {a.members} members, engine {a.engine_rate} Hz, {a.seconds:g} s engine time, "
          f"streams {a.mix} L16 at {a.rate} Hz to one local receiver; CPU time (process_time)")
    print(f"without streams: {base / a.seconds * 1000:.1f} ms CPU per engine second")
    print(f"with {a.streams} streams: {cpu / a.seconds * 1000:.1f} ms CPU per engine second; "
          f"{(cpu - base) / frames * 1e6:.0f} µs per stream per 20 ms frame (resampling + websocket framing + send); "
          f"sent {sent}/{frames:.0f} frames during the run, dropped {dropped}")


if __name__ == "__main__":
    main()
