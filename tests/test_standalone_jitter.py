"""Jitter buffer + network emulator, alone and inside the engine (real speech, simulated clock)."""
from pathlib import Path

import gevent
import numpy as np
import pytest

from fsbridge.conference.commands import JoinMember
from fsbridge.engines.standalone.clock import Clock
from fsbridge.engines.standalone.engine import StandaloneEngine
from fsbridge.engines.standalone.jitter import JitterBuffer
from fsbridge.engines.standalone.netem import NetEm
from fsbridge.engines.standalone.sources import load_audio

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"
F = 320


def speaker_and_listener(network, jitter_buffer_ms, sink=None):
    """A manual-clock engine (16 kHz; native events to ``sink`` when given) with speech-a.wav over ``network``
    into a ``jitter_buffer_ms`` buffer and a silent listener, both joining room CF (enter beep off, joins
    spawned and started): (engine, spk, lis)."""
    eng = StandaloneEngine(rate=16000, clock=Clock(speed=None))
    if sink is not None:
        eng.set_event_sink(sink)
    spk = eng.create_call("CAspk", str(AUDIO / "speech-a.wav"), hangup_at_end=False, network=network)
    lis = eng.create_call("CAlis", "silence_stream://-1")
    for leg, jb in ((spk, jitter_buffer_ms), (lis, None)):
        gevent.spawn(leg.join, JoinMember(room="CF", unique_id=leg.unique_id, call_sid=leg.unique_id,
                                          jitter_buffer_ms=jb, enter_beep=False))
    gevent.sleep(0)   # one yield: each spawned join queues its command before the caller runs the clock
    return eng, spk, lis


def run_stream(size_ms, net, n=500):
    """Send n numbered frames through net into a jitter buffer, one per 20 ms tick.
    Returns (jb, values played per tick, seqs in the order they were seen)."""
    jb = JitterBuffer(size_ms, frame_len=4)
    out, seen = [], []
    for k in range(n + 20):
        now = k * 20
        if k < n:
            net.send(k, now, np.full(4, k + 1, np.int16), now)
        for p in net.deliver(now):
            seen.append(p.seq)
            jb.push(p.seq, p.timestamp_ms, p.payload, now)
        out.append(int(jb.pop(now)[0]))
    return jb, out, seen


@pytest.mark.parametrize("size,jitter,reorder_ms", [(20, 10, 10), (40, 20, 20), (60, 20, 40)])
def test_buffer_absorbs_jitter_up_to_its_size_and_reorders(size, jitter, reorder_ms):
    net = NetEm(delay_ms=30, jitter_ms=jitter, reorder=0.05, reorder_ms=reorder_ms, seed=3)
    jb, out, seen = run_stream(size, net)
    assert size == 20 or seen != sorted(seen), "the emulator did reorder packets"
    played = [x for x in out if x][:500]
    assert jb.late == 0 and jb.concealed == 2   # only the 2 concealment frames after the stream ended
    assert played == list(range(1, 501)), "every packet played once, in order"
    assert max(jb.delays_ms) <= size and min(jb.delays_ms) >= 0


def test_small_buffer_loses_packets_beyond_its_size():
    jb, _, _ = run_stream(20, NetEm(delay_ms=30, jitter_ms=20, reorder=0.1, reorder_ms=40, seed=3))
    assert 0.02 < jb.late_loss < 0.2 and jb.concealed == jb.late + 2


def test_off_adds_no_delay_and_drops_jittered_packets():
    jb, out, _ = run_stream(None, NetEm(delay_ms=30, jitter_ms=20, seed=3))
    assert jb.late > 50 and jb.late_loss > 0.1
    assert min(jb.delays_ms) == 0 and max(jb.delays_ms) <= 20
    jb0, _, _ = run_stream(None, NetEm(delay_ms=30, jitter_ms=0))
    assert jb0.late == 0 and set(jb0.delays_ms) == {0}


def test_loss_is_concealed_then_silent():
    jb = JitterBuffer(20, frame_len=4)
    jb.push(0, 0, np.full(4, 1000, np.int16), 0)
    for ts in (20, 100):
        jb.push(ts // 20, ts, np.full(4, 7, np.int16), ts)
    got = [int(jb.pop(t)[0]) for t in range(20, 180, 20)]
    assert got == [1000, 7, 3, 1, 0, 7, 3, 1]   # 40/60: concealed (halved), 80: silence, 100: real
    assert jb.concealed == 4
    assert jb.push(1, 20, np.full(4, 9, np.int16), 200) is False and jb.late == 1


def test_engine_speaker_over_network_heard_in_order_after_buffer_delay():
    src = load_audio(str(AUDIO / "speech-a.wav"), 16000)
    eng, spk, lis = speaker_and_listener(NetEm(delay_ms=30, jitter_ms=20, reorder=0.02, reorder_ms=30, seed=5), 60)
    eng.run_for(4.0)
    heard = lis.heard_audio()
    shifts = [k for k in range(12) if np.array_equal(heard[k * F: k * F + src.size], src)]
    assert len(shifts) == 1 and 5 <= shifts[0] <= 6       # 40–60 ms network (tick-quantised) + 60 ms buffer
    assert not heard[: shifts[0] * F].any()
    assert spk.jitter.late == 0 and spk.jitter.size_ms == 60


def test_delay_history_is_bounded_per_call():
    """A long call keeps only the last ``history`` delays (issue 15: 1.47 MiB per member-hour before)."""
    jb = JitterBuffer(20, delay_history=50)
    frame = np.zeros(320, np.int16)
    for i in range(400):
        jb.push(i, i * 20, frame, i * 20.0 + (i % 3))
        jb.pop(i * 20.0 + 20)
    assert jb.played > 300 and len(jb.delays_ms) == 50
