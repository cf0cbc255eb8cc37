"""The engine's NetBank (every call's emulated network + jitter buffer in arrays, issue #16 goal 1): given the
same network draws it plays exactly what a per-call :class:`JitterBuffer` plays; its draws follow NetEm's
distributions; calls join, leave, rejoin and hang up on any tick."""
import heapq

import gevent
import numpy as np
import pytest

from fsbridge.conference.commands import JoinMember
from fsbridge.engines.standalone import netbank
from fsbridge.engines.standalone.clock import Clock
from fsbridge.engines.standalone.engine import StandaloneEngine
from fsbridge.engines.standalone.jitter import JitterBuffer
from fsbridge.engines.standalone.netem import NetEm
from fsbridge.engines.standalone.sources import ArraySource

F = 320


def numbered(n):
    """A source whose frame k is constant 1000 + 10 k (distinct, and distinct from its halvings)."""
    return ArraySource(np.repeat(1000 + 10 * np.arange(n), F).astype(np.int16), F)


def join(eng, leg, jb=None, room="CF"):
    gevent.spawn(leg.join, JoinMember(room=room, unique_id=leg.unique_id, call_sid=leg.unique_id,
                                      jitter_buffer_ms=jb, enter_beep=False, exit_beep=False))
    gevent.sleep(0)


@pytest.fixture
def arrivals(monkeypatch):
    """{row: [(seq, arrival_ms)]} of every packet the bank put in flight (what its draws decided)."""
    got = {}
    orig = netbank.send

    def spy(b, sr, sx, now, frames):
        orig(b, sr, sx, now, frames)
        seq = now // 20
        flat = sr * b.R + seq % b.R
        for r, q, f in zip(sr.tolist(), seq.tolist(), flat.tolist()):
            if b.status.reshape(-1)[f] == 1 and b.seq.reshape(-1)[f] == q:
                got.setdefault(r, []).append((q, float(b.arrival.reshape(-1)[f])))
    monkeypatch.setattr(netbank, "send", spy)
    return got


def reference(packets, size, ticks, frames):
    """What the per-call path (leg._read_network before the bank) plays per tick (first sample) given those
    arrivals: NetEm's heap into one JitterBuffer; silence once the source (``frames`` long) ended and the
    network and the buffer drained."""
    jb = JitterBuffer(size, frame_len=1)
    heap = [(a, q) for q, a in packets]
    heapq.heapify(heap)
    out, ended = [], False
    for t in range(ticks):
        now = t * 20
        if ended:
            out.append(0)
            continue
        while heap and heap[0][0] <= now:
            _, q = heapq.heappop(heap)
            jb.push(q, q * 20, np.array([1000 + 10 * q], np.int16), now)
        out.append(int(jb.pop(now)[0]))
        ended = t >= frames and not heap and jb.empty()
    return jb, out


@pytest.mark.parametrize("size,kw", [
    (40, dict(jitter_ms=20)),
    (20, dict(jitter_ms=20, loss=0.08, reorder=0.08, reorder_ms=40)),
    (None, dict(jitter_ms=20, loss=0.05)),
    (60, dict(jitter_ms=15, distribution="pareto", loss=0.03)),
    (20, dict(jitter_ms=30, distribution="normal", reorder=0.1, reorder_ms=30)),
])
def test_bank_plays_what_a_jitter_buffer_plays_given_the_same_arrivals(arrivals, size, kw):
    eng = StandaloneEngine(rate=16000, clock=Clock(speed=None))
    spk = eng.create_call("CAspk", numbered(120), hangup_at_end=False, network=NetEm(delay_ms=30, seed=4, **kw))
    lis = eng.create_call("CAlis", "silence_stream://-1")
    join(eng, spk, size)
    join(eng, lis)
    eng.run_for(3.0)
    heard = lis.heard_audio()[::F].astype(int).tolist()
    jb, want = reference(arrivals[spk._net_row], size, 150, 120)
    assert heard[heard.index(want[next(i for i, v in enumerate(want) if v)]):][:140] == \
        want[next(i for i, v in enumerate(want) if v):][:140]
    v = spk.jitter or spk.last_jitter
    assert (v.received, v.played, v.late, v.concealed) == (jb.received, jb.played, jb.late, jb.concealed)
    assert v.jitter_avg_ms == pytest.approx(jb.jitter_avg_ms) and v.jitter_max_ms == pytest.approx(jb.jitter_max_ms)
    assert v.transit_avg_ms == pytest.approx(jb.transit_avg_ms) and v.transit_max_ms == jb.transit_max_ms
    assert list(v.delays_ms) == [float(d) for d in list(jb.delays_ms)[-64:]]
    assert spk.network.sent == 120   # every frame of the source sent, once


def test_draws_follow_the_netem_distributions():
    eng = StandaloneEngine(rate=8000, clock=Clock(speed=None), capture_heard=False)
    legs = [eng.create_call(f"CA{i}", "silence_stream://-1", network=NetEm(delay_ms=30, jitter_ms=20, loss=0.1,
                                                                           reorder=0.05, seed=i))
            for i in range(40)]
    for leg in legs:
        join(eng, leg, 60)
    eng.run_for(4.0)
    sent = sum(leg.network.sent for leg in legs)
    lost = sum(leg.network.lost for leg in legs)
    assert sent == 40 * 200 and 0.08 < lost / sent < 0.12
    transit = np.array([leg.jitter.transit_avg_ms for leg in legs])   # tick-quantised 30 + U(0, 20) (+40 × 5 %)
    assert 44 < transit.mean() < 56
    # 60 ms absorbs 20 ms of jitter + 40 ms reordering: only packets overtaken by the one that fixed the
    # schedule (the first seen) arrive late
    assert max(leg.jitter.late for leg in legs) <= 2


def test_seeded_runs_repeat_and_seeds_matter():
    def run(seed):
        eng = StandaloneEngine(rate=16000, clock=Clock(speed=None))
        spk = eng.create_call("CAs", numbered(100), hangup_at_end=False,
                              network=NetEm(delay_ms=30, jitter_ms=20, loss=0.1, seed=seed))
        lis = eng.create_call("CAl", "silence_stream://-1")
        join(eng, spk, 20)
        join(eng, lis)
        eng.run_for(2.4)
        return lis.heard_audio().tobytes(), spk.network.lost
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_join_leave_rejoin_and_hangup_on_any_tick():
    eng = StandaloneEngine(rate=16000, clock=Clock(speed=None))
    a = eng.create_call("CAa", numbered(400), hangup_at_end=False, network=NetEm(delay_ms=30, jitter_ms=10, seed=1))
    b = eng.create_call("CAb", numbered(400), network=NetEm(delay_ms=30, jitter_ms=10, seed=2))
    lis = eng.create_call("CAl", "silence_stream://-1")
    join(eng, a, 20)
    join(eng, b, 40)
    join(eng, lis)
    eng.run_for(1.02)
    first = a.jitter
    a.leave()
    # at once, not at its next read: a leave inside the tick's call loop (an end-conference member hanging
    # up) must not let the bank write a's frame into the freed pool row, which a joiner may get this tick
    assert eng._netbank.slot[a._net_row] == -1
    eng.run_for(0.5)
    assert a.last_jitter is first and first.played > 40 and first.size_ms == 20   # frozen at the leave
    played = first.played
    join(eng, a, 60)
    eng.run_for(0.5)
    assert a.jitter is not first and a.jitter.size_ms == 60 and first.played == played
    bank, row_b = eng._netbank, b._net_row
    b.hangup()
    sent_b, lost_b = b.network.sent, b.network.lost
    assert b._net_row is None and b.network._bank_row is None and row_b in bank._free   # nothing left behind
    assert bank.calls[row_b] is None and bank.views[row_b] is None and not bank.active[row_b]
    c = eng.create_call("CAc", numbered(400), network=NetEm(delay_ms=30, jitter_ms=10, seed=3))
    join(eng, c, 40)   # reuses b's row on the next tick
    eng.run_for(0.5)
    assert c._net_row == row_b and bank.calls[row_b] is c
    assert c.jitter.played > 10 and b.jitter is None and b.last_jitter.played > 40
    assert c.jitter.late == 0 and a.jitter.late == 0
    assert (b.network.sent, b.network.lost) == (sent_b, lost_b)   # b's counters were written back, not c's
    assert c.network.sent == 25 and c.jitter.received <= 25


def test_source_end_hangs_up_once_network_and_buffer_drained():
    eng = StandaloneEngine(rate=16000, clock=Clock(speed=None))
    spk = eng.create_call("CAs", numbered(50), network=NetEm(delay_ms=30, jitter_ms=0, seed=1))
    lis = eng.create_call("CAl", "silence_stream://-1")
    join(eng, spk, 40)
    join(eng, lis)
    eng.run_until(lambda: spk.hung_up, 5.0)
    heard = lis.heard_audio()[::F].astype(int).tolist()
    played = [v for v in heard if v >= 1000 and (v - 1000) % 10 == 0]
    assert played == [1000 + 10 * k for k in range(50)]   # every frame played before the hangup
    assert spk.last_jitter.played == 50 and spk.network.sent == 50


def test_ring_grows_for_a_slower_path_without_losing_packets(arrivals):
    eng = StandaloneEngine(rate=16000, clock=Clock(speed=None))
    a = eng.create_call("CAa", numbered(150), hangup_at_end=False, network=NetEm(delay_ms=30, jitter_ms=20, seed=1))
    lis = eng.create_call("CAl", "silence_stream://-1")
    join(eng, a, 40)
    join(eng, lis)
    eng.run_for(1.0)
    r0 = eng._netbank.R
    slow = eng.create_call("CAz", "silence_stream://-1", network=NetEm(delay_ms=200, jitter_ms=40,
                                                                        distribution="pareto", seed=2))
    join(eng, slow, 60, room="CF2")
    eng.run_for(2.0)
    assert eng._netbank.R > r0
    jb, want = reference(arrivals[a._net_row], 40, 150, 150)
    assert (a.jitter.played, a.jitter.late, a.jitter.concealed) == (jb.played, jb.late, jb.concealed)
    heard = lis.heard_audio()[::F].astype(int).tolist()
    start = heard.index(1000)
    assert heard[start:] == want[want.index(1000):][:len(heard) - start] and jb.played > 140
