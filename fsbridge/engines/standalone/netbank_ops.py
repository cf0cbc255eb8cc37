"""The per-tick passes of :class:`~.netbank.NetBank` over all fed rows at once: :func:`send` (the network's
fate of this tick's packets), :func:`deliver` (arrived packets into the jitter buffers) and :func:`play`
(the frame due now). Semantics: :meth:`~.netem.NetEm.send`, :meth:`~.jitter.JitterBuffer.push` and
:meth:`~.jitter.JitterBuffer.pop` — same arithmetic in the same order, so the figures are the same."""
from __future__ import annotations

import numpy as np

FRAME_MS = 20


def send(b, sr: np.ndarray, sx, now: np.ndarray, frames: np.ndarray) -> None:
    """Rows ``sr`` (unique, ascending; ``sx`` the same or a slice) send their packet of this tick: ``now``
    int64 ms since answer per row, ``frames`` the payloads (object array). Drawn for all rows at once
    from the bank's generator, as :meth:`NetEm.draw_arrival` does per packet: lost (``loss``), else
    arrival = now + delay + jitter (uniform [0, j] / |N(0, j/2)| capped at j / Pareto(2.5)·j/3 capped
    at 10 j) + ``reorder_ms`` when reordered (``reorder``)."""
    R, rng = b.R, b.rng
    seq = now // FRAME_MS
    flat = sr * R
    flat += seq % R
    st = b.status.reshape(-1)
    occ = st[flat]
    if occ.any():   # a packet older than the ring (cannot happen with the ring sized at attach): gone
        st[flat[occ != 0]] = 0
    n = sr.size
    b.sent[sx] += 1
    if b.n_loss:
        lost = rng.random(n) < b.loss[sx]
        if lost.any():
            b.lost[sx] += lost
            live = ~lost
            sr, now, seq, flat, frames = sr[live], now[live], seq[live], flat[live], frames[live]
            sx = sr
            n = sr.size
            if not n:
                return
    j = b.jscale[sx]
    jit = rng.random(n)
    jit *= j
    if b.n_dist:
        dist = b.dist[sx]
        normal, pareto = dist == 1, dist == 2
        if normal.any():
            jn = j[normal]
            jit[normal] = np.minimum(np.abs(rng.standard_normal(jn.size) * (jn / 2)), jn)
        if pareto.any():
            jp = j[pareto]
            jit[pareto] = np.minimum(rng.pareto(2.5, jp.size) * jp / 3, 10 * jp)
    arr = now + b.delay[sx]
    arr += jit
    if b.n_reorder:
        re = rng.random(n) < b.reorder[sx]
        arr[re] += b.reorder_ms[sr[re]]
    st[flat] = 1
    b.arrival.reshape(-1)[flat] = arr
    b.seq.reshape(-1)[flat] = seq
    b.pay[flat] = frames


def deliver(b, rows: np.ndarray, ix, now: np.ndarray) -> None:
    """Push the packets arrived by ``now`` (per row; ``ix``: ``rows`` or the same as a slice) into the
    rows' jitter buffers, in ``(arrival, seq)`` order per row: RFC 3550 jitter + transit stats, playout
    anchored on the first packet, late dropped."""
    m = b.status[ix] == 1
    m &= b.arrival[ix] <= now[:, None]
    ri, k = np.nonzero(m)
    n = ri.size
    if not n:
        return
    R = b.R
    r = ri if isinstance(ix, slice) else rows[ri]
    flat = r * R
    flat += k
    t = now[ri]
    sq = b.seq.reshape(-1)[flat]
    dup = ri[1:] == ri[:-1] if n > 1 else None
    if dup is not None and dup.any():   # rows with several arrivals: (arrival, seq) order within each
        b.received += np.bincount(r, minlength=b.cap)
        a = b.arrival.reshape(-1)[flat]
        if not (dup[1:] & dup[:-1]).any():   # the usual case: at most two per row — order each pair
            i = np.flatnonzero(dup)
            swap = (a[i + 1] < a[i]) | ((a[i + 1] == a[i]) & (sq[i + 1] < sq[i]))
            if swap.any():
                o = np.arange(n)
                i = i[swap]
                o[i], o[i + 1] = i + 1, i
                flat, t, sq = flat[o], t[o], sq[o]
            second = np.zeros(n, np.bool_)
            second[np.flatnonzero(dup) + 1] = True
            rounds = [~second, second]
        else:
            o = np.lexsort((sq, a, ri))
            ri, flat, r, t, sq = ri[o], flat[o], r[o], t[o], sq[o]
            idx = np.arange(n)
            first = np.empty(n, np.bool_)
            first[0] = True
            np.not_equal(ri[1:], ri[:-1], out=first[1:])
            rank = idx - np.maximum.accumulate(np.where(first, idx, 0))
            rounds = [rank == q for q in range(int(rank.max()) + 1)]
    else:
        b.received[r] += 1
        rounds = [slice(None)]
    ts = sq * FRAME_MS
    tr = (t - ts).astype(np.float64)
    for sel in rounds:   # the jitter estimate is a recurrence: one round per packet rank within a row
        rr, x = r[sel], tr[sel]
        J = b.jit[rr]
        prev = b.tr_prev[rr]
        Jn = np.abs(x - prev)
        Jn -= J
        Jn /= 16.0
        Jn += J
        J = np.where(b.has_tr[rr], Jn, J)
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
    st = b.status.reshape(-1)
    late = ts < b.next_ts[r]
    if late.any():
        b.late += np.bincount(r[late], minlength=b.cap)
        st[flat[late]] = 0
        ok = ~late
        flat, t = flat[ok], t[ok]
    st[flat] = 2
    b.seen.reshape(-1)[flat] = t


def copy_rows(frames: np.ndarray, ps: np.ndarray, objs: list) -> None:
    """``frames[ps[i]] = objs[i]`` for every i: one C-level concatenation of the payloads (straight into
    ``frames`` when ``ps`` is a run of consecutive rows, the usual case), not one numpy call per frame."""
    n = len(objs)
    if not n:
        return
    try:
        a = int(ps[0])
        if int(ps[-1]) - a == n - 1 and (n == 1 or bool((ps[1:] - ps[:-1] == 1).all())):
            np.concatenate(objs, out=frames[a:a + n].reshape(-1))
        else:
            frames[ps] = np.concatenate(objs).reshape(n, frames.shape[1])
    except (ValueError, TypeError):   # a frame of another length or type: numpy's own error, per frame
        for s, f in zip(ps.tolist(), objs):
            frames[s] = f


def last_frame(b, r: int):
    """Row ``r``'s last played frame, still referenced by its ring slot (the ring is sized so that no new
    packet reuses the slot while concealment may need it); None before the first."""
    ls = int(b.last_seq[r])
    if ls < 0:
        return None
    k = ls % b.R
    return b.pay[r * b.R + k] if b.seq[r, k] == ls else None


def _conceal(b, r: int):
    """Row ``r``'s slot due now is missing: its last frame at halved amplitude (up to max_conceal), else
    silence (JitterBuffer.pop's loss concealment)."""
    lf = last_frame(b, r)
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
        f = b.pay[r * b.R + kk]
        b.status[r, kk] = 0
        b.played[r] += 1
        b.delays[r, b.dn[r] % b.delays.shape[1]] = now - b.seen[r, kk]
        b.dn[r] += 1
        b.last_ts[r] = ts
        b.last_seq[r] = s
        b.run[r] = 0
        return f
    return _conceal(b, r)


def play(b, rows: np.ndarray, ix, now: np.ndarray, slots: np.ndarray, frames: np.ndarray) -> list:
    """The frame due now per row (played / concealed / silence) into ``frames[slot]`` for rows in a
    room (slot ≥ 0). Returns the rows whose source ended and whose network and buffer are empty."""
    nt = b.next_ts[ix]
    due_at = nt + b.off[ix]
    due = due_at <= now
    due &= b.has_off[ix]
    if due.all():   # the steady state: every row has a slot due (dr … are then the full arrays)
        dr, dn, dt, ds = rows, nt, now, slots
        multi = due_at + FRAME_MS <= now
    else:
        idle = ~due & (slots >= 0)
        if idle.any():
            frames[slots[idle]] = 0
        dr, dn, dt, ds = rows[due], nt[due], now[due], slots[due]
        multi = due_at[due] + FRAME_MS <= dt
    if multi.any():   # ticks were skipped: catch up slot by slot (JitterBuffer.pop's loop)
        for r, t, s in zip(dr[multi].tolist(), dt[multi].tolist(), ds[multi].tolist()):
            out = b._zero
            while b.next_ts[r] + b.off[r] <= t:
                out = _play_slot(b, r, int(b.next_ts[r]), t)
            if s >= 0:
                frames[s] = out
        keep = ~multi
        dr, dn, dt, ds = dr[keep], dn[keep], dt[keep], ds[keep]
    if dr.size:
        seqd = dn // FRAME_MS
        flat = dr * b.R
        flat += seqd % b.R
        st = b.status.reshape(-1)
        present = st[flat] == 2
        present &= b.seq.reshape(-1)[flat] == seqd
        b.next_ts[dr] = dn + FRAME_MS
        allp = present.all()
        if allp:
            pr, pf, pseq, pt, ps = dr, flat, seqd, dt, ds
        else:
            pr, pf, pseq, pt, ps = dr[present], flat[present], seqd[present], dt[present], ds[present]
        if pr.size:
            b.played[pr] += 1
            dn_p = b.dn[pr]
            b.delays[pr, dn_p % b.delays.shape[1]] = pt - b.seen.reshape(-1)[pf]
            b.dn[pr] = dn_p + 1
            b.last_ts[pr] = pseq * FRAME_MS
            b.last_seq[pr] = pseq
            b.run[pr] = 0
            st[pf] = 0
            objs = b.pay[pf]   # (the slot keeps its reference: the last frame, for concealment)
            inroom = ps >= 0
            if not inroom.all():
                ps, objs = ps[inroom], objs[inroom]
            copy_rows(frames, ps, objs.tolist())
        if not allp:
            for r, s in zip(dr[~present].tolist(), ds[~present].tolist()):
                f = _conceal(b, r)
                if s >= 0:
                    frames[s] = f
    sd = b.src_done[ix]
    if sd.any():
        rr = rows[sd]
        return rr[~b.status[rr].any(axis=1)].tolist()
    return []
