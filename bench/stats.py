"""Small measurement helpers shared by the bench scripts (bench/ is each script's directory on sys.path)."""

import math
import resource


def percentile(values, p, empty=None):
    """The ``p``-th percentile (0–100) of ``values`` by nearest rank (the ⌈p/100·n⌉-th smallest), in the
    values' unit; ``empty`` (None unless given, e.g. NaN) when ``values`` is empty."""
    if not values:
        return empty
    s = sorted(values)
    return s[max(0, min(len(s), math.ceil(p * len(s) / 100.0)) - 1)]


def rss_mib(pid="self") -> float:
    """VmRSS of process ``pid`` (default this one) in MiB, from /proc/<pid>/status; 0.0 without that line.
    Raises OSError once the process has exited — except for ``self`` where /proc is missing, which gives
    the peak ru_maxrss instead."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        if pid != "self":
            raise
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return 0.0
