"""jambonz listen on the standalone engine (issue 17 item 4), engine level: a real websocket server on port 0
(tests/ws_support.py) receives the metadata text frame, then L16 frames that match the conference audio;
mixType mono/mixed/stereo; a rate change; a stalled or mute receiver never holds the mixer up; egress."""
from __future__ import annotations

import json

import gevent
import numpy as np
import pytest

from fsbridge.conference.commands import JoinMember
from fsbridge.egress import EgressPolicy
from fsbridge.engines.base import AudioFork
from fsbridge.engines.standalone import fork as fork_mod
from fsbridge.engines.standalone.clock import Clock
from fsbridge.engines.standalone.engine import StandaloneEngine
from fsbridge.engines.standalone.fork import FrameConverter
from ws_support import WsReceiver
from tls_support import self_signed_ca

RATE = 16000
TONE = "tone_stream://%(1000,0,1000)"    # a continuous 1 kHz tone


def energy_at(samples: np.ndarray, rate: int, hz: float) -> float:
    """Share of the signal's energy within ±50 Hz of ``hz`` (0..1)."""
    x = samples.astype(np.float64)
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    total = spec.sum()
    return float(spec[np.abs(freqs - hz) < 50].sum() / total) if total else 0.0


@pytest.fixture
def eng():
    return StandaloneEngine(rate=RATE, clock=Clock(speed=None))


@pytest.fixture
def receiver():
    r = WsReceiver()
    yield r
    r.stop()


def room_of_two(eng):
    """A talker (1 kHz tone) and a silent listener in room CF1; returns (talker, listener)."""
    talker = eng.create_call("CAtalk", TONE, hangup_at_end=False)
    listener = eng.create_call("CAlisten", "silence_stream://-1")
    for leg in (talker, listener):
        gevent.spawn(leg.join, JoinMember(room="CF1", unique_id=leg.unique_id, call_sid=leg.unique_id,
                                          enter_beep=False, exit_beep=False))
        gevent.sleep(0)
    return talker, listener


def fork(url, mix="mixed", rate=8000, **kw):
    return AudioFork(url=url, mix_type=mix, sample_rate=rate, metadata='{"sampleRate":%d,"hello":"world"}' % rate,
                     **kw)


def run_until_frames(eng, receiver, count, max_s=20.0):
    assert eng.run_until(lambda: sum(k == "bytes" for k, _ in receiver.messages) >= count, max_s)


def test_metadata_frame_then_l16_frames_of_the_mix(eng, receiver):
    _talker, listener = room_of_two(eng)
    listener.start_fork(fork(receiver.url, "mixed", 8000))
    run_until_frames(eng, receiver, 100)
    kind, first = receiver.messages[0]
    assert kind == "text" and json.loads(first) == {"sampleRate": 8000, "hello": "world"}
    assert all(k == "bytes" and len(d) == 320 for k, d in receiver.messages[1:])   # 20 ms of 8 kHz L16
    assert receiver.requests[0].subprotocols == [fork_mod.SUBPROTOCOL]
    audio = receiver.audio()[1600:]    # past the converter's one-frame delay and the join
    assert energy_at(audio, 8000, 1000) > 0.9 and np.abs(audio).max() > 1000


def test_mono_is_the_callers_own_voice_and_stereo_puts_the_room_on_the_right(eng):
    mono, stereo = WsReceiver(), WsReceiver()
    try:
        _talker, listener = room_of_two(eng)
        listener.start_fork(fork(mono.url, "mono", RATE))
        talker = eng.get_call("CAtalk")
        talker.start_fork(fork(stereo.url, "stereo", RATE))
        run_until_frames(eng, mono, 50)
        run_until_frames(eng, stereo, 50)
    finally:
        mono.stop()
        stereo.stop()
    assert not np.abs(mono.audio()).any()                  # the listener says nothing
    both = stereo.audio(channels=2)[RATE // 10:]
    assert energy_at(both[:, 0], RATE, 1000) > 0.9         # left: the talker's own tone
    assert not np.abs(both[:, 1]).any()                     # right: what it hears (a silent room)


def test_the_stream_stops_when_the_member_leaves_and_the_socket_closes(eng, receiver):
    _talker, listener = room_of_two(eng)
    listener.start_fork(fork(receiver.url))
    run_until_frames(eng, receiver, 10)
    listener.leave()
    listener.stop_fork()
    eng.run_for(0.2)
    assert receiver.closed.wait(5)


def test_a_stalled_receiver_never_holds_up_the_mixer(eng, monkeypatch):
    """The receiver stops reading after the handshake: frames pile up in the bounded queue, then are dropped
    and counted; the engine keeps its pace (every tick is run) and stopping the stream does not block."""
    monkeypatch.setattr(fork_mod, "SEND_BUFFER", 4096)
    stall = WsReceiver("stall")
    try:
        talker, listener = room_of_two(eng)
        listener.start_fork(AudioFork(stall.url, "stereo", 64000, "{}"))
        stream = listener.fork
        assert eng.run_until(lambda: stream.connected.is_set(), 10)
        ticks = eng.clock.ticks
        with gevent.Timeout(30):   # a tick waiting on the network would never finish: fail, do not hang
            eng.run_for(15.0)      # 750 ticks, 64 kHz stereo = 3.8 MB offered to a receiver that reads nothing
        assert eng.clock.ticks - ticks == 750
        assert stream.error is None and stream.sent > 0
        assert stream.dropped > 0 and stream.queue.qsize() == stream.queue.maxsize
        listener.stop_fork()      # the queue is full: closed at once
        assert stream.closed.wait(5)
        assert talker.heard_audio().size >= 750 * eng.frame_len   # the talker's call went on meanwhile
    finally:
        stall.stop()


def test_a_receiver_that_never_answers_the_handshake_times_out_without_stalling(eng):
    mute = WsReceiver("mute")
    try:
        _talker, listener = room_of_two(eng)
        listener.start_fork(fork(mute.url))
        stream = listener.fork
        stream.timeout_s = 0.3
        assert eng.run_until(lambda: stream.closed.is_set(), 600)
        assert "Timeout" in stream.error or "timed out" in stream.error
        eng.run_for(1.0)
        assert stream.sent == 0
    finally:
        mute.stop()


def test_the_engine_connects_only_where_the_egress_policy_allows(eng, receiver):
    _talker, listener = room_of_two(eng)
    listener.start_fork(fork(receiver.url, egress=EgressPolicy()))   # default policy: loopback refused
    stream = listener.fork
    assert eng.run_until(lambda: stream.closed.is_set(), 60)
    assert "EgressDenied" in stream.error and receiver.requests == []


@pytest.mark.parametrize("rate_in,rate_out", [(16000, 8000), (8000, 48000), (16000, 16000)])
def test_frame_converter_keeps_a_tone_continuous_across_frames(rate_in, rate_out):
    n = rate_in // 50
    t = np.arange(n * 20) / rate_in
    tone = np.rint(8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    conv = FrameConverter("mono", rate_in, rate_out)
    out = np.frombuffer(b"".join(conv.convert(tone[i * n:(i + 1) * n], tone[:n]) for i in range(20)), "<i2")
    assert len(out) == 20 * rate_out // 50
    body = out[rate_out // 25:]   # past the one-frame delay
    assert energy_at(body, rate_out, 440) > 0.95
    assert np.abs(np.diff(body.astype(int))).max() < 8000 * 2 * np.pi * 440 / rate_out * 1.2   # no clicks


def test_wss_is_verified_and_basic_auth_is_sent(eng, tmp_path, monkeypatch):
    import base64
    import ssl

    certfile, keyfile = self_signed_ca(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    secure = WsReceiver(ssl_context=ctx)
    try:
        _talker, listener = room_of_two(eng)
        listener.start_fork(fork(secure.url, username="app", password="s3cret"))   # not trusted yet
        untrusted = listener.fork
        assert eng.run_until(lambda: untrusted.closed.is_set(), 60)
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        monkeypatch.setattr(fork_mod, "TLS_CA_FILE", certfile)
        listener.start_fork(fork(secure.url, username="app", password="s3cret"))
        trusted = listener.fork
        # the handshakes run in wall time, the engine's clock may run far faster: connected first
        assert trusted.connected.wait(20), trusted.error
        run_until_frames(eng, secure, 5)
    finally:
        secure.stop()
    assert secure.url.startswith("wss://")
    headers = dict(secure.requests[-1].extra_headers)
    assert headers[b"authorization"] == b"Basic " + base64.b64encode(b"app:s3cret")


@pytest.mark.parametrize("rate_in,rate_out", [(16000, 8000), (8000, 48000), (16000, 24000), (48000, 8000),
                                              (8000, 64000)])
def test_frame_by_frame_resampling_equals_resampling_the_whole_signal(rate_in, rate_out):
    """Frame by frame, with one frame of delay, the converter gives exactly scipy's resample_poly of the whole
    signal (the context it keeps covers the filter): no seams at 20 ms boundaries."""
    from scipy.signal import resample_poly
    n, m = rate_in // 50, rate_out // 50
    x = (np.random.RandomState(7).randn(n * 30) * 3000).astype(np.int16)
    conv = FrameConverter("mono", rate_in, rate_out)
    out = np.frombuffer(b"".join(conv.convert(x[i * n:(i + 1) * n], x[:n]) for i in range(30)), "<i2")
    g = np.gcd(rate_in, rate_out)
    delayed = np.concatenate([np.zeros(n), x.astype(float)])          # one frame of delay (silence first)
    ref = np.clip(np.rint(resample_poly(delayed, rate_out // g, rate_in // g)), -32768, 32767)
    assert len(out) == 30 * m and np.abs(out).max() > 1000
    assert np.array_equal(out, ref[:len(out)])
