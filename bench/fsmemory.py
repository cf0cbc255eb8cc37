"""What a bridge process holds (bench/freeswitch.py, ``FSBENCH_CENSUS=1``; issue 21 item 4): live objects by
type, greenlets alive, the containers reachable from the server, and the allocators' own figures (glibc
``mallinfo2``, pymalloc's arenas, RSS split from ``/proc/self/status``) — to tell a leak (objects and
containers grow with every storm) from an allocator high-water mark (arenas held, objects back to idle)."""
import os
import sys
from collections import deque

import gevent


def take_census(root):
    """What the bridge holds (item 4): live objects by type (after gc), greenlets alive, and the size of every
    dict/list/set/deque reachable from ``root`` in ≤ 4 attribute hops (name → len)."""
    import gc
    from collections import Counter
    import greenlet
    gc.collect()
    objs = gc.get_objects()
    types = Counter(type(o).__name__ for o in objs)
    types["<greenlets alive>"] = sum(1 for o in objs if isinstance(o, greenlet.greenlet) and not o.dead)
    sizes, seen = {}, set()

    def walk(obj, path, depth):
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if isinstance(obj, (dict, list, set, deque, frozenset)):
            sizes[path] = len(obj)
            return
        mod = type(obj).__module__ or ""
        if not mod.startswith("fsbridge") or not hasattr(obj, "__dict__"):
            return
        for k, v in vars(obj).items():
            walk(v, path + "." + k, depth + 1)
    walk(root, "server", 0)
    types.update(heap_stats())
    return types, sizes


def heap_stats():
    """The allocators' view (MB): glibc ``mallinfo2`` (main-arena heap ``arena`` + ``hblkhd`` mmapped, of which
    ``uordblks`` in use and ``fordblks`` free but kept) and pymalloc's arenas (``sys._debugmallocstats``)."""
    import ctypes
    import re
    import tempfile as tf

    class MallInfo2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                    "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    mi = libc.mallinfo2()
    out = {"<glibc %s MB>" % f: getattr(mi, f) / 2 ** 20 for f in ("arena", "hblkhd", "uordblks", "fordblks")}
    with open("/proc/self/status") as f:   # RSS split: anonymous (heaps, stacks) / file-backed / shared memory
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem"):
                out["<%s MB>" % key] = int(value.split()[0]) / 1024
            elif key == "Threads":
                out["<threads>"] = int(value)
    with tf.TemporaryFile("w+") as f:   # _debugmallocstats writes to the C stderr
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read()
    for label, key in (("arenas allocated current", "<pymalloc arenas now>"),
                       ("arenas highwater mark", "<pymalloc arenas highwater>")):
        m = re.search(r"# %s\s*=\s*([\d,]+)" % label, text)
        if m:
            out[key] = int(m.group(1).replace(",", ""))
    m = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    if m:
        out["<pymalloc MB in blocks>"] = int(m.group(1).replace(",", "")) / 2 ** 20
    return out


def print_census(first, last):
    """Growth between two censuses on stderr: object types and containers that grew."""
    (t0, s0), (t1, s1) = first, last
    grown = sorted(((t1[k] - t0.get(k, 0), k) for k in t1 if not k.startswith("<") and t1[k] - t0.get(k, 0) > 20),
                   reverse=True)
    print("census: objects by type grown since the first snapshot:", file=sys.stderr)
    for d, k in grown[:25]:
        print("  %+7d %s (now %d)" % (d, k, t1[k]), file=sys.stderr)
    print("  greenlets alive: %d → %d" % (t0["<greenlets alive>"], t1["<greenlets alive>"]), file=sys.stderr)
    for k in sorted(k for k in t1 if k.startswith("<") and k != "<greenlets alive>"):
        print("  %s: %.1f → %.1f" % (k, t0.get(k, 0), t1[k]), file=sys.stderr)
    print("census: containers that grew:", file=sys.stderr)
    for k in sorted(s1):
        if s1[k] > s0.get(k, 0):
            print("  %s: %d → %d" % (k, s0.get(k, 0), s1[k]), file=sys.stderr)
    sys.stderr.flush()


class Snapshots:
    """The child's side: ``command("trim")`` → ``malloc_trim(0)`` (glibc hands freed pages back);
    ``command("snap")`` → with ``FSBENCH_CENSUS`` a census, with ``FSBENCH_TRACEMALLOC=<frames>`` a tracemalloc
    snapshot (tracing starts here), each compared with the first and printed on stderr (``FSBENCH_TOP`` rows)."""

    def __init__(self, server):
        self.server, self.snaps, self.census = server, [], []
        if os.environ.get("FSBENCH_TRACEMALLOC"):
            import tracemalloc
            tracemalloc.start(int(os.environ["FSBENCH_TRACEMALLOC"]))

    def command(self, line):
        """Run one command line from the parent (unknown lines are ignored)."""
        if line == "trim":
            import ctypes
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        if line == "snap" and os.environ.get("FSBENCH_CENSUS"):
            self.census.append(take_census(self.server))
            if len(self.census) >= 2:
                print_census(self.census[0], self.census[-1])
        if line == "snap" and os.environ.get("FSBENCH_TRACEMALLOC"):
            import gc
            import tracemalloc
            gc.collect()
            self.snaps.append(tracemalloc.take_snapshot())
            if len(self.snaps) >= 2:
                top = self.snaps[-1].compare_to(self.snaps[0], "traceback")
                print("tracemalloc: %+.1f KiB since the first snapshot; top growth:"
                      % (sum(t.size_diff for t in top) / 1024), file=sys.stderr)
                for t in top[:int(os.environ.get("FSBENCH_TOP", "12"))]:
                    print("  %+8.1f KiB %+6d blocks  %s" % (t.size_diff / 1024, t.count_diff,
                          " <- ".join("%s:%d" % (f.filename.rsplit("/", 2)[-1], f.lineno)
                                      for f in list(t.traceback)[:5])), file=sys.stderr)
                sys.stderr.flush()


def repeat_storms(args, app, fake, info, child, out, rss):
    """The parent's side of ``--storms N``: join + hang up ``args.calls`` fake callers N-1 more times in the same
    bridge; ``out["rss_stormK"]`` (MB, ``rss()``) after each and ``out["rss_stormK_trimmed"]`` after a trim. A
    leak grows with every storm, an allocator high-water mark does not."""
    from fakes import FakeCall
    for storm in range(1, args.storms):
        more = []
        for i in range(args.calls):
            call = FakeCall(fake, "127.0.0.1", info["outbound_port"], uid="b%07d-0000-4000-8000-%012d" % (storm, i))
            call.connect_reply = call.connect_reply.replace(b"Caller-Caller-ID-Number: 1000\n",
                                                            b"Caller-Caller-ID-Number: 8%02d%04d\n" % (storm, i))
            more.append(call.start())
        assert app.wait("participant-join", args.calls * (storm + 1), args.timeout), "storm %d joins" % storm
        app.wait("conference-start", args.rooms * (storm + 1), 30)
        for c in more:
            c.hangup()
        app.wait("conference-end", args.rooms * (storm + 1), 60)
        for c in more:
            c.closed.wait(10)
        gevent.sleep(1.0)  # outbox drains and greenlets exit before the RSS reading (not synchronisation)
        out["rss_storm%d" % (storm + 1)] = rss()
        child.stdin.write(b"trim\n")
        child.stdin.flush()
        gevent.sleep(0.5)  # the child trims (not synchronisation of the measured work)
        out["rss_storm%d_trimmed" % (storm + 1)] = rss()
