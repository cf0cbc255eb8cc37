"""Jitter-buffer bank: the emulated network and the jitter buffer of every networked call of one
:class:`~.engine.StandaloneEngine` in arrays, advanced for all calls at once per 20 ms tick (issue #16 goal 1,
the way :class:`~.talk.TalkDetectorBank` vectorises talk detection).

A call with a :class:`~.netem.NetEm` gets a *row*: a ring of ``R`` packet slots (slot = seq mod R; state
free / in flight / buffered, arrival time, seq, time seen) plus its jitter-buffer state (playout offset,
next timestamp, last frame, concealment run, counters, RFC 3550 jitter estimate, delay history). Per tick
(:meth:`NetBank.tick`), for every row fed by the tick loop: the packets sent this tick get their fate from
one vectorised draw (loss, jitter, reordering), the ones arrived by now are pushed (arrival order
per row: ``(arrival, seq)``, as the emulator's heap), and the frame due now is played, concealed or silent
— the semantics of :class:`~.jitter.JitterBuffer` (fixed-delay playout anchored on the first packet seen,
reordering by timestamp, late packets dropped, the last frame repeated at halved amplitude for
``max_conceal`` frames, then silence) and of :meth:`NetEm.send` (same distributions and order of effects).

Randomness: the bank's own generator, one draw per quantity for all sending rows at once; it is re-seeded
from the previous generator and the call's ``NetEm.seed`` whenever a call attaches, so a run is
deterministic for given seeds and join order — but a call no longer gets its NetEm's own sequence (the
standalone ``NetEm.send`` path still does).

Payloads are never copied: a slot holds a reference to the frame the source returned.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from .jitter import _zero_frame
from .netbank_ops import deliver, play, send
from .netbank_view import BankedJitter

FRAME_MS = 20
DISTRIBUTIONS = ("uniform", "normal", "pareto")
_H = 64          # delay history per row (JitterBuffer's default delay_history)
_f8, _i8, _b = np.float64, np.int64, np.bool_
_ROW = {   # one value per row
    "start": _i8, "size": _i8, "slot": _i8, "active": _b, "src_done": _b,             # the call
    "delay": _f8, "jscale": _f8, "jcap": _f8, "loss": _f8, "reorder": _f8, "reorder_ms": _f8,     # its NetEm
    "dist": np.int8, "sent": _i8, "lost": _i8,
    "has_off": _b, "off": _i8, "next_ts": _i8, "run": _i8, "last_ts": _i8, "last_seq": _i8,      # its buffer
    "received": _i8, "played": _i8, "late": _i8, "concealed": _i8, "dn": _i8,
    "jit": _f8, "jit_max": _f8, "has_tr": _b, "tr_prev": _f8, "jit_sum": _f8, "tr_sum": _f8, "tr_max": _f8,
}
_RING = {"status": np.int8, "arrival": _f8, "seq": _i8, "seen": np.int32}   # R slots per row
_GROW = tuple(_ROW) + tuple(_RING) + ("delays",)


class NetBank:
    """Every networked call's NetEm + jitter buffer of one engine. ``frame_len``: samples per frame.

    Use: :meth:`attach` a call (its row), :meth:`new_buffer` on every join and leave (a fresh jitter
    buffer view), every tick ``sf[row] = frame`` or ``src_done[row] = True`` for every active row (the call
    leg does it), then :meth:`tick` after the tick's call loop (fills the pool rows of members);
    :meth:`release` at hangup (the NetEm's counters written back, the view frozen, the row freed)."""

    def __init__(self, frame_len: int, ring: int = 8, max_conceal: int = 2):
        self.frame_len = frame_len
        self.max_conceal = max_conceal
        self.R = self._want_R = ring
        self.cap = 0
        self._free: List[int] = []
        self.pay = np.empty(0, object)      # cap*R frame references (slot k of row r: r*R + k)
        self.views: list = []
        self.calls: list = []
        self.sf = np.empty(0, object)       # this tick's frame per row (set by the call leg)
        self._act = np.zeros(0, np.intp)    # the active rows (fed every tick), ascending
        self._ix: object = self._act        # the same as a slice when they are 0..n-1
        self._dirty = False
        self.n_loss = self.n_reorder = self.n_dist = 0   # rows with loss / reordering / non-uniform jitter
        self.rng = np.random.default_rng(0)
        self._zero = _zero_frame(frame_len)
        self._alloc(64)

    # ------------------------------------------------------------------ rows -----------------------
    def _alloc(self, cap: int) -> None:
        old, R = self.cap, self.R
        for name in _GROW:
            if name in _ROW:
                new = np.zeros(cap, _ROW[name])
            elif name in _RING:
                new = np.zeros((cap, R), _RING[name])
            else:
                new = np.zeros((cap, _H), np.float32)
            if old:
                new[:old] = getattr(self, name)
            setattr(self, name, new)
        self.pay = np.concatenate([self.pay, np.full((cap - old) * R, None, object)])
        self.sf = np.concatenate([self.sf, np.full(cap - old, None, object)])
        self.calls += [None] * (cap - old)
        self.views += [None] * (cap - old)
        self._free.extend(range(cap - 1, old - 1, -1))
        self.cap = cap

    def _ensure_ring(self, ms: float) -> None:
        """Ask for a ring in which a packet may spend ``ms`` between send and playout, plus a tick and the
        concealment slots that may still need the last frame (grown at the next :meth:`tick`)."""
        need = self.R
        while need * FRAME_MS <= ms + 3 * FRAME_MS:   # (+ 20 ms tick + max_conceal slots of the last frame)
            need *= 2
        self._want_R = max(self._want_R, need)

    def _grow_ring(self) -> None:
        """Re-lay every used slot (by its seq; each row's last played frame too) in a ring of ``_want_R``."""
        old_R, n, need = self.R, self.cap, self._want_R
        st, ar, sq, se, pay = self.status, self.arrival, self.seq, self.seen, self.pay
        self.R = need
        self.status = np.zeros((n, need), np.int8)
        self.arrival = np.zeros((n, need))
        self.seq = np.zeros((n, need), np.int64)
        self.seen = np.zeros((n, need), np.int32)
        self.pay = np.full(n * need, None, object)
        keep = st != 0
        lr = np.flatnonzero(self.last_seq >= 0)   # and each row's last played slot (concealment)
        lk = self.last_seq[lr] % old_R
        lr, lk = lr[sq[lr, lk] == self.last_seq[lr]], lk[sq[lr, lk] == self.last_seq[lr]]
        keep[lr, lk] = True
        r, k = np.nonzero(keep)
        nk = sq[r, k] % need
        for name, src in (("status", st), ("arrival", ar), ("seq", sq), ("seen", se)):
            getattr(self, name)[r, nk] = src[r, k]
        self.pay[r * need + nk] = pay[r * old_R + k]

    def attach(self, call) -> int:
        """Give ``call`` (answered, with ``network`` a fresh NetEm) a row; returns it."""
        if not self._free:
            self._alloc(self.cap + max(64, self.cap // 4))
        r = self._free.pop()
        net = call.network
        for name in _GROW:
            a = getattr(self, name)
            a[r] = 0
        self.pay[r * self.R:(r + 1) * self.R] = None
        self.start[r] = call.start_tick
        j = float(net.jitter_ms)
        self.jcap[r] = max(0.0, {"uniform": j, "normal": j}.get(net.distribution, 10 * j))
        self.delay[r], self.jscale[r], self.loss[r] = net.delay_ms, max(j, 0.0), net.loss
        self.reorder[r], self.reorder_ms[r] = net.reorder, net.reorder_ms
        self.dist[r] = DISTRIBUTIONS.index(net.distribution)
        self._count(r, 1)
        seed = net.seed if net.seed is not None else np.random.SeedSequence().entropy
        self.rng = np.random.default_rng([int(self.rng.integers(1 << 62)), int(seed)])
        self.calls[r] = call
        net._bank_row = (self, r)
        self.views[r] = None
        return r

    def _count(self, r: int, d: int) -> None:
        self.n_loss += d * bool(self.loss[r] > 0)
        self.n_reorder += d * bool(self.reorder[r] > 0)
        self.n_dist += d * bool(self.dist[r] != 0)

    def new_buffer(self, r: int, size_ms: Optional[int], slot: int) -> BankedJitter:
        """A fresh jitter buffer on row ``r`` (every join and leave: ``slot`` is the member's pool row, -1
        outside a room): the previous view is frozen, its buffered packets dropped; packets in flight stay
        in flight. From now on the row is fed every tick (``sf[r]``, or ``src_done[r]``)."""
        old = self.views[r]
        if old is not None:
            old.freeze()
        size = int(size_ms or 0)
        self._ensure_ring(self.delay[r] + self.jcap[r] + (self.reorder_ms[r] if self.reorder[r] else 0) + size)
        st = self.status[r]
        for k in np.nonzero(st == 2)[0].tolist():
            self.pay[r * self.R + k] = None
        st[st == 2] = 0
        for name in ("has_off", "off", "next_ts", "run", "received", "played", "late", "concealed", "jit",
                     "jit_max", "has_tr", "tr_prev", "jit_sum", "tr_sum", "tr_max", "dn"):
            getattr(self, name)[r] = 0
        self.last_ts[r] = self.last_seq[r] = -1
        self.size[r] = size
        self.slot[r] = slot
        if not self.active[r]:
            self.active[r] = self._dirty = True
        v = self.views[r] = BankedJitter(self, r, size, FRAME_MS, self.frame_len, self.max_conceal)
        return v

    def left(self, call) -> None:
        """``call``'s member left its room: its row stops writing into the pool now (slot -1) — not at its
        next read, since a leave inside the tick's call loop would otherwise have this tick's frame written
        into the freed pool row, which a member joining this tick may already hold."""
        if call._net_row is not None:
            self.slot[call._net_row] = -1

    def release(self, call) -> None:
        """Hangup: write the row's counters and undrawn randoms back into the NetEm, freeze the view, free
        the row (its packets are gone with the call)."""
        r = call._net_row
        if r is None:
            return
        call._net_row = None
        v = self.views[r]
        if v is not None:
            v.freeze()
        net = call.network
        net._bank_row = None
        net._sent += int(self.sent[r])
        net._lost += int(self.lost[r])
        self._count(r, -1)
        if self.active[r]:
            self.active[r], self._dirty = False, True
        self.status[r] = 0
        self.sf[r] = None
        self.pay[r * self.R:(r + 1) * self.R] = None
        self.views[r] = self.calls[r] = None
        self._free.append(r)

    # ------------------------------------------------------------------ per tick ---------------------
    def tick(self, tick: int, frames: np.ndarray) -> None:
        """Advance every active row (each was fed this tick by its call leg: ``sf[r]`` = its source frame,
        or ``src_done[r]``): send, deliver, play; the frames of rows in a room go into ``frames`` (the
        pool's int16 ``(rows, F)`` input matrix). A row whose source ended and whose network and buffer
        drained goes inactive and its call's source is marked ended (read as None from the next tick)."""
        if self._dirty:
            act = self._act = np.flatnonzero(self.active)
            n = act.size
            self._ix = slice(0, n) if n and act[-1] == n - 1 else act
            self._dirty = False
        rows, ix = self._act, self._ix
        if not rows.size:
            return
        if self._want_R > self.R:
            self._grow_ring()
        now = (tick - self.start[ix]) * FRAME_MS
        sd = self.src_done[ix]
        if sd.any():
            sr = rows[~sd]
            if sr.size:
                send(self, sr, sr, now[~sd], self.sf[sr])
        else:   # sf keeps its references until the next tick overwrites them (send copies them out)
            send(self, rows, ix, now, self.sf[ix])
        deliver(self, rows, ix, now)
        for r in play(self, rows, ix, now, self.slot[ix], frames):
            self.active[r], self._dirty = False, True
            self.calls[r]._source_ended = True
