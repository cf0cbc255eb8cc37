"""Greenlet switches in the bridge child of ``bench/freeswitch.py`` (``FSBENCH_SWITCHES=1``, issue 21).

``install()`` sets a ``greenlet.settrace`` hook that counts every switch into a greenlet by the function that
greenlet runs (``hub`` for gevent's hub: a switch into the hub is a greenlet parking, a switch out of it a
wake-up). The parent asks for the counts at the start and at the end of the talk phase (``switches <path>``
on the child's stdin) and prints the difference per delivered callback, by target greenlet.
"""
import json
from collections import Counter

import greenlet

COUNTS = Counter()


def _name(g):
    run = getattr(g, "_run", None) or getattr(g, "run", None)
    if type(g).__name__ == "Hub":
        return "hub"
    if run is None:
        return type(g).__name__
    fn = getattr(run, "__func__", run)
    return getattr(fn, "__qualname__", None) or repr(fn)[:60]


def install():
    """Count switches from now on (the hook costs CPU: do not compare CPU figures of traced runs)."""
    def trace(event, args):
        if event in ("switch", "throw"):
            COUNTS[_name(args[1])] += 1
    greenlet.settrace(trace)


def dump(path):
    """Write the counts so far to ``path`` (JSON)."""
    with open(path, "w") as f:
        json.dump(dict(COUNTS), f)


def report(before_path, after_path, callbacks, events):
    """Print switches per talk event and per delivered callback, by target greenlet."""
    with open(before_path) as f:
        before = Counter(json.load(f))
    with open(after_path) as f:
        after = Counter(json.load(f))
    diff = after - before
    total = sum(diff.values())
    print("greenlet switches in the talk phase: %d (%.2f per ESL talk event, %.2f per callback)"
          % (total, total / max(1, events), total / max(1, callbacks)))
    for name, n in diff.most_common(15):
        print("  %-60s %8d  %.2f/event" % (name, n, n / max(1, events)))
