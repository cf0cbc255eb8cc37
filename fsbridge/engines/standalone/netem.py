"""A small network emulator (Linux ``tc netem`` in spirit) for RTP-like packets, for tests and benches.

Each packet sent at ``now_ms`` arrives at ``now_ms + delay_ms + jitter`` where jitter is drawn from
``distribution``: ``"uniform"`` in [0, jitter_ms] (so *max jitter* = jitter_ms), ``"normal"`` |N(0, σ=jitter_ms/2)|
capped at jitter_ms, or ``"pareto"`` (heavy tail: occasional spikes, scale jitter_ms/3, shape 2.5, capped at
10 × jitter_ms). ``loss`` drops packets (probability 0–1); ``reorder`` holds a packet back an extra
``reorder_ms`` (probability 0–1) so later packets overtake it. Deterministic for a given ``seed``.
"""
from __future__ import annotations

import heapq
from typing import Any, List, NamedTuple, Optional

import numpy as np

_BATCH = 64   # uniform draws made at once (one numpy call per 64, not one per packet)


class Packet(NamedTuple):
    """One packet: ``seq`` (int), ``timestamp_ms`` (media time of its first sample, ms), ``payload`` (int16
    ``(F,)`` frame), ``sent_ms`` and ``arrival_ms`` (ms on the emulator clock). A tuple ordered by
    (arrival, seq) — ``seq`` is unique per emulator, so payloads are never compared."""

    arrival_ms: float
    seq: int
    timestamp_ms: int
    sent_ms: float
    payload: Any = None


_new_packet = tuple.__new__


class NetEm:
    """Network emulator: ``send`` packets, ``deliver`` the ones that arrived by ``now_ms``.

    ``delay_ms``: fixed one-way delay (ms); ``jitter_ms``: jitter scale (ms, see module doc);
    ``distribution``: uniform | normal | pareto; ``loss``, ``reorder``: probabilities; ``reorder_ms``: extra
    delay of a reordered packet; ``seed``: RNG seed. Counters: ``sent``, ``lost``. Inside a
    :class:`~.engine.StandaloneEngine` a call's emulator is driven by the engine's
    :class:`~.netbank.NetBank`: the same distributions, drawn for all calls at once from the bank's
    generator (seeded from each call's ``seed`` as it attaches), not this emulator's own sequence.
    """

    def __init__(self, delay_ms: float = 30.0, jitter_ms: float = 20.0, distribution: str = "uniform",
                 loss: float = 0.0, reorder: float = 0.0, reorder_ms: float = 40.0, seed: Optional[int] = 0):
        if distribution not in ("uniform", "normal", "pareto"):
            raise ValueError(f"unknown distribution {distribution!r}")
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.distribution = distribution
        self.loss = loss
        self.reorder = reorder
        self.reorder_ms = reorder_ms
        self.seed = seed
        self._rng: Optional[np.random.Generator] = None   # made on first use (1.2 KiB: an engine's NetBank
        #                                                   draws for its calls and never needs it)
        self._heap: List[Packet] = []
        self._u = np.zeros(0)    # a batch of rng.random() doubles (float64, 512 B)
        self._ui = 0
        self._sent = 0
        self._lost = 0
        self._bank_row = None   # (NetBank, row) while an engine's NetBank draws this emulator's packets

    @property
    def rng(self) -> np.random.Generator:
        """This emulator's generator (``np.random.default_rng(seed)``), made on first use."""
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    @property
    def sent(self) -> int:
        """Packets sent (including those drawn by a :class:`~.netbank.NetBank` for this emulator)."""
        b = self._bank_row
        return self._sent + (int(b[0].sent[b[1]]) if b is not None else 0)

    @property
    def lost(self) -> int:
        """Packets lost on the emulated network."""
        b = self._bank_row
        return self._lost + (int(b[0].lost[b[1]]) if b is not None else 0)

    def sample_jitter(self) -> float:
        """One jitter draw (ms, ≥ 0)."""
        j = self.jitter_ms
        if j <= 0:
            return 0.0
        if self.distribution == "uniform":
            return j * self._random()      # = rng.uniform(0, j): the same double, drawn in batches
        if self.distribution == "normal":
            return float(min(abs(self.rng.normal(0, j / 2)), j))
        return float(min((self.rng.pareto(2.5)) * j / 3, 10 * j))

    def _random(self) -> float:
        """``rng.random()``, drawn :data:`_BATCH` at a time (the same sequence of doubles)."""
        i = self._ui
        if i >= self._u.size:
            self._u = self.rng.random(_BATCH)
            i = 0
        self._ui = i + 1
        return self._u.item(i)

    def send(self, seq: int, timestamp_ms: int, payload, now_ms: float) -> Optional[Packet]:
        """Send a packet at ``now_ms``; returns it (with its arrival time) or None if lost."""
        arrival = self.draw_arrival(now_ms)
        if arrival is None:
            return None
        p = _new_packet(Packet, (arrival, seq, timestamp_ms, now_ms, payload))   # no Python-level __new__
        heapq.heappush(self._heap, p)
        return p

    def draw_arrival(self, now_ms: float) -> Optional[float]:
        """The network's fate of one packet sent at ``now_ms``: its arrival time (ms), or None if lost
        (counted in ``sent`` / ``lost``). What :meth:`send` draws, without queueing the packet."""
        self._sent += 1
        if self.loss and self._random() < self.loss:
            self._lost += 1
            return None
        j = self.jitter_ms
        if self.distribution == "uniform" and j > 0:   # sample_jitter(), inlined for the engine's per-call path
            arrival = now_ms + self.delay_ms + j * self._random()
        else:
            arrival = now_ms + self.delay_ms + self.sample_jitter()
        if self.reorder and self._random() < self.reorder:
            arrival += self.reorder_ms
        return arrival

    def deliver(self, now_ms: float) -> List[Packet]:
        """Packets that arrived by ``now_ms``, in arrival order."""
        out = []
        while self._heap and self._heap[0].arrival_ms <= now_ms:
            out.append(heapq.heappop(self._heap))
        return out

    def deliver_into(self, push, now_ms: float) -> None:
        """``push(seq, timestamp_ms, payload, now_ms)`` for each packet arrived by ``now_ms``, in arrival order
        (:meth:`deliver` without the list: the engine's per-call path)."""
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            p = heapq.heappop(heap)
            push(p[1], p[2], p[4], now_ms)

    def idle(self) -> bool:
        """True when no packet is in flight."""
        return not self._heap
