""":class:`BankedJitter`: one call's jitter buffer inside a :class:`~.netbank.NetBank`, with the read-only
statistics of :class:`~.jitter.JitterBuffer` (what ``call.jitter`` / ``call.last_jitter`` and the quality
metrics of issue 22 read). Live while its row holds that buffer; :meth:`BankedJitter.freeze` copies the
figures out when the call joins again (a new buffer) or hangs up."""
from __future__ import annotations

from typing import Dict, Optional

_INT = ("received", "played", "late", "concealed")
_FLOAT = {"jitter_ms": "jit", "jitter_max_ms": "jit_max", "transit_max_ms": "tr_max"}


def _figure(name: str, doc: str) -> property:
    """A read-only property returning figure ``name`` of the live row (or of the frozen copy)."""
    return property(lambda self: self._get(name), doc=doc)


class BankedJitter:
    """A call's jitter buffer in the bank (row ``row``); attributes as :class:`~.jitter.JitterBuffer`:
    ``size_ms``, ``frame_ms``, ``frame_len``, ``max_conceal``, ``received``, ``played``, ``late``,
    ``duplicates`` (always 0: the emulated network never duplicates), ``concealed``, ``delays_ms`` (the last
    64 buffer delays, ms), ``last_played_ts``, ``jitter_ms``, ``jitter_max_ms``, ``jitter_avg_ms``,
    ``transit_avg_ms``, ``transit_max_ms``, ``late_loss``; :meth:`empty`."""

    duplicates = 0

    def __init__(self, bank, row: int, size_ms: int, frame_ms: int, frame_len: int, max_conceal: int):
        self._bank = bank
        self._row = row
        self.size_ms = size_ms
        self.frame_ms = frame_ms
        self.frame_len = frame_len
        self.max_conceal = max_conceal
        self._frozen: Optional[Dict[str, object]] = None

    def _live(self) -> Dict[str, object]:
        b, r = self._bank, self._row
        out: Dict[str, object] = {name: int(getattr(b, name)[r]) for name in _INT}
        out.update({name: float(getattr(b, col)[r]) for name, col in _FLOAT.items()})
        out["jit_sum"], out["tr_sum"] = float(b.jit_sum[r]), float(b.tr_sum[r])
        ts = int(b.last_ts[r])
        out["last_played_ts"] = None if ts < 0 else ts
        n, h = int(b.dn[r]), b.delays.shape[1]
        if n <= h:
            out["delays_ms"] = b.delays[r, :n].tolist()
        else:
            i = n % h
            out["delays_ms"] = b.delays[r, i:].tolist() + b.delays[r, :i].tolist()
        out["empty"] = not (b.status[r] == 2).any()
        return out

    def _get(self, name: str):
        return (self._frozen if self._frozen is not None else self._live())[name]

    def freeze(self) -> None:
        """Copy the figures out of the bank (the row now serves another buffer or call)."""
        if self._frozen is None:
            self._frozen = self._live()
            self._frozen["empty"] = True
            self._bank = None

    received = _figure("received", "Packets pushed (arrived while the buffer existed), int.")
    played = _figure("played", "Packets played, int.")
    late = _figure("late", "Packets dropped because they arrived after their slot, int.")
    concealed = _figure("concealed", "Concealment frames played (last frame, halved), int.")
    jitter_ms = _figure("jitter_ms", "RFC 3550 interarrival jitter estimate now, float ms.")
    jitter_max_ms = _figure("jitter_max_ms", "Largest jitter estimate seen, float ms.")
    transit_max_ms = _figure("transit_max_ms", "Largest arrival − media timestamp, float ms.")
    last_played_ts = _figure("last_played_ts",
                             "Media timestamp (int ms) of the last packet played, None before the first.")
    delays_ms = _figure("delays_ms",
                        "Time each of the last 64 played packets waited in the buffer (float ms), oldest first.")

    @property
    def jitter_avg_ms(self) -> float:
        """Mean of the interarrival jitter estimate over the packets received (ms)."""
        n = self.received
        return self._get("jit_sum") / n if n else 0.0

    @property
    def transit_avg_ms(self) -> float:
        """Mean arrival − media timestamp over the packets received (ms): the one-way latency."""
        n = self.received
        return self._get("tr_sum") / n if n else 0.0

    @property
    def late_loss(self) -> float:
        """Fraction of received packets dropped as late (0–1)."""
        n = self.received
        return self.late / n if n else 0.0

    def empty(self) -> bool:
        """True when no packet waits in the buffer."""
        return self._get("empty")
