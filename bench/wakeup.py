"""CPU of one loopback TCP round trip, back to back and after an idle gap — what waking up costs here.

Two processes (fork): this one sends 2000 bytes and reads the 200-byte answer, with ``--gaps`` seconds of
sleep between round trips; prints this process's CPU time (``time.process_time``) per round trip, µs, as a
range over ``--runs`` runs. A paced caller is handled by a bridge that was idle, so each of its messages
pays the wake-up; a burst does not (bench/README.md § "Why a paced join costs more", issue #21).

    python3 bench/wakeup.py [--runs 3] [--gaps 0,0.001,0.01,0.05]
"""
from __future__ import annotations

import argparse
import os
import socket
import time


def echo_child(port: int) -> None:
    """Answer every message with 200 bytes until the connection closes; exits the process."""
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while c.recv(4096):
        c.sendall(b"x" * 200)
    os._exit(0)


def round_trips(s: socket.socket, gap: float, n: int) -> float:
    """CPU µs of this process per round trip over ``n`` round trips with ``gap`` s of sleep between them."""
    t0 = time.process_time()
    for _ in range(n):
        s.sendall(b"y" * 2000)
        s.recv(4096)
        if gap:
            time.sleep(gap)
    return (time.process_time() - t0) / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--gaps", default="0,0.001,0.01,0.05", help="idle gaps between round trips, seconds")
    args = p.parse_args()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    if os.fork() == 0:
        echo_child(srv.getsockname()[1])
    s, _ = srv.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("# loopback TCP round trip (2000 B out, 200 B back), CPU of the sending process, %d runs" % args.runs)
    for gap in (float(g) for g in args.gaps.split(",")):
        n = 5000 if gap == 0 else max(50, int(2 / gap) if gap < 0.01 else 200)
        xs = [round_trips(s, gap, n) for _ in range(args.runs)]
        print("gap %6.3f s   %6.1f–%.1f µs CPU per round trip" % (gap, min(xs), max(xs)))
    s.close()
    os.wait()


if __name__ == "__main__":
    main()
