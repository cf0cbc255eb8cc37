"""The per-tick passes of :class:`~.netbank.NetBank` over all fed rows at once: :func:`send` (the network's
fate of this tick's packets), :func:`deliver` (arrived packets into the jitter buffers) and :func:`play`
(the frame due now). Semantics: :meth:`~.netem.NetEm.send`, :meth:`~.jitter.JitterBuffer.push` and
:meth:`~.jitter.JitterBuffer.pop` — same arithmetic in the same order, so the figures are the same."""
from __future__ import annotations

import numpy as np

FRAME_MS = 20
_LOW = 3   # a packet draws at most 3 doubles (loss, jitter, reorder)


def send(b, sr: np.ndarray, now: np.ndarray) -> None:
    """Rows ``sr`` (unique) send their packet of this tick (``now``: int64 ms since answer per row; its
    payload was stored by :meth:`NetBank.feed`): lost, or in flight until ``arrival``."""
    R = b.R
    seq = now // FRAME_MS
    k = seq % R
    occ = b.status[sr, k] != 0
    if occ.any():   # a packet older than the ring (cannot happen with the ring sized at attach): gone
        b.status[sr[occ], k[occ]] = 0
    uni = b.uniform[sr]
    if not uni.all():   # normal / pareto jitter: through the row's NetEm, one Python call per packet
        for r, t, s, kk in zip(sr[~uni].tolist(), now[~uni].tolist(), seq[~uni].tolist(), k[~uni].tolist()):
            a = b.nets[r].draw_arrival(t)
            if a is not None:
                b.status[r, kk], b.arrival[r, kk], b.seq[r, kk] = 1, a, s
        sr, now, seq, k = sr[uni], now[uni], seq[uni], k[uni]
        if not sr.size:
            return
    U = b.U
    p = b.up[sr]
    loss = b.loss[sr]
    hl = loss > 0
    lost = hl & (U[sr, p] < loss)
    live = ~lost
    p = p + hl
    j = b.jscale[sr]
    hj = j > 0
    ju = U[sr, p]
    p = p + (hj & live)
    arr = now + b.delay[sr] + np.where(hj, j * ju, 0.0)     # NetEm.send: now + delay + j * random()
    reo = b.reorder[sr]
    hr = (reo > 0) & live
    ru = U[sr, p]
    p = p + hr
    re = hr & (ru < reo)
    if re.any():
        arr[re] += b.reorder_ms[sr[re]]
    b.up[sr] = p
    b.sent[sr] += 1
    low = p > U.shape[1] - _LOW
    if low.any():
        refill(b, sr[low])
    if lost.any():
        b.lost[sr] += lost
        sr, k, seq, arr = sr[live], k[live], seq[live], arr[live]
    b.status[sr, k] = 1
    b.arrival[sr, k] = arr
    b.seq[sr, k] = seq


def refill(b, rows: np.ndarray) -> None:
    """Rows whose window of pre-drawn doubles runs low: the unused ones moved to the front, the rest drawn
    from the row's NetEm generator (the same sequence of doubles as ``NetEm._random``; every ≥ 20 ticks)."""
    U = b.U
    for r in rows.tolist():
        q = int(b.up[r])
        rest = U[r, q:].copy()
        U[r, :rest.size] = rest
        U[r, rest.size:] = b.nets[r].rng.random(q)
        b.up[r] = 0


def deliver(b, rows: np.ndarray, now: np.ndarray) -> None:
    """Push the packets arrived by ``now`` (per row) into the rows' jitter buffers, in ``(arrival, seq)``
    order per row: RFC 3550 jitter + transit stats, playout anchored on the first packet, late dropped."""
    st = b.status[rows]
    m = st == 1
    if not m.any():
        return
    m &= b.arrival[rows] <= now[:, None]
    ri, k = np.nonzero(m)
    n = ri.size
    if not n:
        return
    r = rows[ri]
    t = now[ri]
    sq = b.seq[r, k]
    multi = n > 1 and bool((ri[1:] == ri[:-1]).any())
    if multi:
        o = np.lexsort((sq, b.arrival[r, k], ri))
        ri, k, r, t, sq = ri[o], k[o], r[o], t[o], sq[o]
        idx = np.arange(n)
        first = np.empty(n, np.bool_)
        first[0] = True
        np.not_equal(ri[1:], ri[:-1], out=first[1:])
        rank = idx - np.maximum.accumulate(np.where(first, idx, 0))
        b.received += np.bincount(r, minlength=b.cap)
        rounds = [rank == q for q in range(int(rank.max()) + 1)]
    else:
        rank = None
        b.received[r] += 1
        rounds = [slice(None)]
    ts = sq * FRAME_MS
    tr = (t - ts).astype(np.float64)
    for sel in rounds:   # the jitter estimate is a recurrence: one round per packet rank within a row
        rr, x = r[sel], tr[sel]
        J = b.jit[rr]
        J = np.where(b.has_tr[rr], J + (np.abs(x - b.tr_prev[rr]) - J) / 16.0, J)
        b.jit[rr] = J
        b.jit_max[rr] = np.maximum(b.jit_max[rr], J)
        b.has_tr[rr] = True
        b.tr_prev[rr] = x
        b.jit_sum[rr] += J
        b.tr_sum[rr] += x
        b.tr_max[rr] = np.maximum(b.tr_max[rr], x)
    first = rounds[0]
    r0 = r[first]
    need = ~b.has_off[r0]
    if need.any():   # the first packet seen fixes the playout schedule
        rn = r0[need]
        b.off[rn] = t[first][need] + b.size[rn] - ts[first][need]
        b.next_ts[rn] = ts[first][need]
        b.has_off[rn] = True
    late = ts < b.next_ts[r]
    if late.any():
        b.late += np.bincount(r[late], minlength=b.cap)
        b.status[r[late], k[late]] = 0
        ok = ~late
        r, k, t = r[ok], k[ok], t[ok]
    b.status[r, k] = 2
    b.seen[r, k] = t


def copy_rows(b, frames: np.ndarray, slots: list, objs: list) -> None:
    """``frames[s] = f`` for each pair — the one per-call step of the bank: through memoryviews of the
    rows (cheaper than numpy's setitem), numpy's setitem for a frame that is not plain int16 ``(F,)``."""
    mv = b.row_views(frames)
    try:
        for s, f in zip(slots, objs):
            mv[s][:] = f.data
    except (ValueError, TypeError, NotImplementedError):
        for s, f in zip(slots, objs):
            frames[s] = f


def _conceal(b, r: int):
    """Row ``r``'s slot due now is missing: its last frame at halved amplitude (up to max_conceal), else
    silence (JitterBuffer.pop's loss concealment)."""
    lf = b.last[r]
    run = int(b.run[r])
    if lf is not None and run < b.max_conceal:
        run += 1
        b.run[r] = run
        b.concealed[r] += 1
        return (lf.astype(np.int32) >> run).astype(np.int16)
    return b._zero


def _play_slot(b, r: int, ts: int, now: int):
    """Play row ``r``'s slot ``ts`` (present → its frame, else concealment); advances next_ts."""
    b.next_ts[r] = ts + FRAME_MS
    s = ts // FRAME_MS
    kk = s % b.R
    if b.status[r, kk] == 2 and b.seq[r, kk] == s:
        i = r * b.R + kk
        f = b.pay[i]
        b.pay[i] = None
        b.status[r, kk] = 0
        b.played[r] += 1
        b.delays[r, b.dn[r] % b.delays.shape[1]] = now - b.seen[r, kk]
        b.dn[r] += 1
        b.last_ts[r] = ts
        b.last[r] = f
        b.run[r] = 0
        return f
    return _conceal(b, r)


def play(b, rows: np.ndarray, now: np.ndarray, slots: np.ndarray, frames: np.ndarray) -> None:
    """The frame due now per row (played / concealed / silence) into ``frames[slot]`` for rows in a
    room (slot ≥ 0); rows whose source ended and whose network and buffer are empty are marked ended."""
    nt = b.next_ts[rows]
    off = b.off[rows]
    due = b.has_off[rows] & (nt + off <= now)
    idle = ~due & (slots >= 0)
    if idle.any():
        frames[slots[idle]] = 0
    if due.any():
        multi = due & (nt + FRAME_MS + off <= now)
        if multi.any():   # ticks were skipped: catch up slot by slot (JitterBuffer.pop's loop)
            for r, t, s in zip(rows[multi].tolist(), now[multi].tolist(), slots[multi].tolist()):
                out = b._zero
                while b.next_ts[r] + b.off[r] <= t:
                    out = _play_slot(b, r, int(b.next_ts[r]), t)
                if s >= 0:
                    frames[s] = out
            due &= ~multi
        dr, dn, dt, ds = rows[due], nt[due], now[due], slots[due]
        seqd = dn // FRAME_MS
        kd = seqd % b.R
        present = (b.status[dr, kd] == 2) & (b.seq[dr, kd] == seqd)
        b.next_ts[dr] = dn + FRAME_MS
        if present.any():
            pr, pk = dr[present], kd[present]
            b.played[pr] += 1
            b.delays[pr, b.dn[pr] % b.delays.shape[1]] = dt[present] - b.seen[pr, pk]
            b.dn[pr] += 1
            b.last_ts[pr] = dn[present]
            b.run[pr] = 0
            b.status[pr, pk] = 0
            flat = pr * b.R + pk
            objs = b.pay[flat]
            b.pay[flat] = None
            b.last[pr] = objs
            ps = ds[present]
            inroom = ps >= 0
            if not inroom.all():
                ps, objs = ps[inroom], objs[inroom]
            copy_rows(b, frames, ps.tolist(), objs.tolist())
        if not present.all():
            for r, s in zip(dr[~present].tolist(), ds[~present].tolist()):
                f = _conceal(b, r)
                if s >= 0:
                    frames[s] = f
    sd = b.src_done[rows]
    if sd.any():
        rr = rows[sd]
        b.ended[rr[~b.status[rr].any(axis=1)]] = True
