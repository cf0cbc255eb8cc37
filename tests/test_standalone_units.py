"""Unit tests of the standalone engine's building blocks: mixer, talk detection, tones, sources, say."""
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fsbridge.engines.standalone import media
from fsbridge.engines.standalone.clock import Clock
from fsbridge.engines.standalone.mixer import clip16, mix_n_minus_1, reference_mix
from fsbridge.engines.standalone.sources import (ArraySource, Playlist, QueueSource, load_audio,
                                                 parse_tone_stream, render_tone)
from fsbridge.engines.standalone.talk import FsTalkDetector, TalkDebouncer, TalkDetectorBank, frame_scores

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 7), data=st.data())
def test_mix_equals_reference(n, data):
    frames = data.draw(hnp.arrays(np.int16, (n, 16), elements=st.integers(-32768, 32767)))
    heard = data.draw(hnp.arrays(bool, (n,)))
    out, total = mix_n_minus_1(frames, heard)
    assert np.array_equal(clip16(out), reference_mix(frames, heard))
    assert np.array_equal(total, (frames.astype(np.int64) * heard[:, None]).sum(axis=0))


def test_mix_clips_and_excludes_own_voice():
    f = np.full((3, 4), 30000, np.int16)
    f[2] = 0
    out = clip16(mix_n_minus_1(f, np.array([True, True, True]))[0])
    assert out[0].tolist() == [30000] * 4 and out[2].tolist() == [32767] * 4


def test_coach_and_gain():
    f = np.array([[100] * 4, [200] * 4, [1000] * 4], np.int16)
    heard = np.ones(3, bool)
    out, total = mix_n_minus_1(f, heard, gain=np.array([1.0, 0.5, 1.0], np.float32),
                               coach_of=np.array([-1, -1, 0]))
    assert out[:, 0].tolist() == [100 + 1000, 100, 200]   # coach (row 2) heard only by row 0
    assert total[0] == 200


def test_tone_stream_parsing_and_rendering():
    segs, loops, vol = parse_tone_stream("tone_stream://%(200,0,500,600,700)")
    assert segs == [(200, 0, (500.0, 600.0, 700.0))] and loops == 1 and vol == -7
    segs, loops, _ = parse_tone_stream("v=-10;%(100,50,440);%(100,0,350,440);L=3")
    assert len(segs) == 2 and loops == 3
    t = render_tone("%(100,50,440);L=2", 8000)
    assert t.size == 2 * (800 + 400) and not t[800:1200].any() and np.abs(t[:800]).max() > 10000
    spec = np.abs(np.fft.rfft(render_tone("%(1000,0,440)", 8000)))
    assert abs(np.argmax(spec) * 8000 / 8000 - 440) <= 1
    with pytest.raises(ValueError):
        parse_tone_stream("tone_stream://nonsense")


def test_file_loading_resamples_and_sources():
    x8 = sf.read(AUDIO / "speech-a.wav", dtype="int16")[0]
    x16 = load_audio(str(AUDIO / "speech-a.wav"), 16000)
    assert abs(x16.size - 2 * x8.size) <= 1
    src = ArraySource(np.arange(500, dtype=np.int16), 320)
    a, b = src.next_frame(), src.next_frame()
    assert a.tolist() == list(range(320)) and b[:180].tolist() == list(range(320, 500)) and not b[180:].any()
    assert src.next_frame() is None
    q = QueueSource(4)
    q.push(np.arange(6, dtype=np.int16))
    assert q.next_frame().tolist() == [0, 1, 2, 3]
    assert q.next_frame().tolist() == [0, 0, 0, 0]        # empty and open: silence
    q.close()
    assert q.next_frame().tolist() == [4, 5, 0, 0] and q.next_frame() is None


def test_mp3_and_flac_sources(tmp_path):
    x = load_audio(str(AUDIO / "speech-espeak-16k.wav"), 16000)
    for ext, fmt in (("flac", "FLAC"), ("mp3", "MP3")):
        p = str(tmp_path / f"s.{ext}")
        sf.write(p, x, 16000, format=fmt)
        y = load_audio(p, 8000)
        assert abs(y.size - x.size // 2) < 2000         # MP3 adds encoder padding
        assert np.abs(y.astype(int)).max() > 3000


def test_playlist_reports_last_and_skips_missing():
    pl = Playlist(["silence_stream://40", "/nope.wav", "tone_stream://%(20,0,400)"],
                  lambda r: media.open_media(r, 8000))
    frames = []
    while (f := pl.next_frame()) is not None:
        frames.append(f)
    assert len(frames) == 3 and pl.last == "tone_stream://%(20,0,400)" and pl.errors[0][0] == "/nope.wav"


def test_playlist_opens_items_when_built_and_loops_by_rewinding():
    """Media is opened (decoded, resampled) when the playlist is built, never while the tick plays it."""
    opened = []

    def opener(ref):
        opened.append(ref)
        return media.open_media(ref, 8000)
    refs = ["silence_stream://40", "tone_stream://%(20,0,400)"]
    pl = Playlist(refs, opener, loop=True)
    assert opened == refs
    frames = [pl.next_frame() for _ in range(7)]
    assert opened == refs
    assert [bool(f.any()) for f in frames] == [False, False, True, False, False, True, False]
    assert pl.current == refs[0] and not pl.finished
    empty = Playlist(["silence_stream://0"], opener, loop=True)
    assert empty.next_frame() is None and empty.finished      # a loop of nothing ends


def test_moh_never_fails(monkeypatch):
    monkeypatch.setattr(media, "moh_path", lambda: None)
    media.moh_samples.cache_clear()
    try:
        m = media.moh_samples(8000)
        assert m.size == 16 * 8000 and 50 < np.abs(m.astype(int)).mean() < 3000
    finally:
        media.moh_samples.cache_clear()


def test_espeak_voice_mapping():
    langs = frozenset({"en-us", "en-gb", "de", "fr-fr"})
    assert media.espeak_voice("man", "en-US", langs) == "en-us"
    assert media.espeak_voice("Polly.Joanna", "en-GB", langs) == "en-gb+f3"
    assert media.espeak_voice("woman", "de-DE", langs) == "de+f3"
    assert media.espeak_voice("alice", "xx-YY", langs) == "en-us+f3"
    assert media.espeak_voice("en-gb", "", langs) == "en-gb"


def test_render_say(tmp_path, monkeypatch, caplog):
    p = media.render_say("Hello conference", "Polly.Joanna", "en-GB", rate=16000, out_dir=str(tmp_path))
    data, sr = sf.read(p, dtype="int16")
    assert sr == 16000 and data.size > 8000 and np.abs(data.astype(int)).max() > 3000
    monkeypatch.setattr(media.shutil, "which", lambda name: None)
    p2 = media.render_say("No engine here", out_dir=str(tmp_path))
    assert not sf.read(p2, dtype="int16")[0].any()
    assert "espeak-ng is not installed" in caplog.text


def test_fs_detector_start_stop_counts():
    """5 gated frames to start, 40 closed frames to stop (FreeSWITCH conference_loop.c)."""
    d = FsTalkDetector(energy_level=100)
    quiet_speech = np.full(320, 150, np.int16)    # score 150: gated, no big jump (diff < 400)
    events = [d.update(quiet_speech) for _ in range(10)] + [d.update(np.zeros(320, np.int16)) for _ in range(45)]
    idx = [(i, e.kind) for i, e in enumerate(events) if e]
    assert idx == [(4, "start"), (49, "stop")]
    assert events[49].duration_ms == (50 - 5) * 20
    d2 = FsTalkDetector(energy_level=100)
    assert d2.update(np.full(320, 600, np.int16)).kind == "start"   # big jump starts at once
    assert d2.update(np.full(320, 600, np.int16), can_speak=False) is None and not d2.talking


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 800), st.booleans()), min_size=1, max_size=120))
def test_bank_equals_single_detectors(steps):
    bank = TalkDetectorBank(capacity=4)
    singles = [FsTalkDetector() for _ in range(4)]
    for k, (who, level, active) in enumerate(steps, start=1):
        frames = np.zeros((4, 320), np.int16)
        frames[who] = level
        act = np.ones(4, bool)
        act[who] = active
        s, p, _ = bank.update(frames, act, k)
        for i in range(4):
            e = singles[i].update(frames[i], can_speak=bool(act[i]))
            assert (e is not None and e.kind == "start") == (i in s)
            assert (e is not None and e.kind == "stop") == (i in p)
    assert frame_scores(np.array([[-32768, 32767]], np.int16))[0] == 32767


def test_webrtcvad_mode_detects_speech_not_silence():
    x = load_audio(str(AUDIO / "speech-espeak-16k.wav"), 16000)
    sig = np.concatenate([np.zeros(16000, np.int16), x, np.zeros(32000, np.int16)])
    bank = TalkDetectorBank(capacity=1, mode="webrtcvad", rate=16000)
    ev = []
    for k, fr in enumerate(sig[: sig.size // 320 * 320].reshape(-1, 320)):
        s, p, _ = bank.update(fr[None, :], np.array([True]), k)
        ev += [("start", k)] * s.size + [("stop", k)] * p.size
    assert ev[0][0] == "start" and 50 <= ev[0][1] <= 60 and ev[-1][0] == "stop"


def test_debouncer_merges_and_delays():
    d = TalkDebouncer(start_ms=0, stop_ms=300)
    assert [e.kind for e in d.observe(True, 1000)] == ["start"]
    assert d.observe(False, 2000) == []
    assert d.observe(True, 2200) == []                 # restart within stop_ms: merged
    assert d.observe(False, 3000) == [] and d.poll(3299) == [] and d.pending
    stop = d.poll(3300)
    assert [(e.kind, e.t_ms, e.duration_ms) for e in stop] == [("stop", 3300, 2300)] and not d.pending
    d2 = TalkDebouncer(start_ms=100, stop_ms=800)
    assert d2.observe(True, 0) == [] and d2.observe(False, 60) == [] and d2.poll(2000) == []
    d2.observe(True, 3000)
    assert [e.t_ms for e in d2.poll(3100)] == [3100]
    d2.reset()
    assert d2.poll(9999) == [] and not d2.talking


def test_clock_counts_ticks_and_epoch():
    c = Clock(speed=None, start_epoch=1000.0)
    n = []
    c.run(lambda: n.append(c.now_ms), max_ticks=3)
    assert n == [0, 20, 40] and c.ticks == 3 and c.epoch_us() == 1000_060_000
    with pytest.raises(ValueError):
        Clock(speed=0)


def test_real_time_clock_schedules_absolute_deadlines(monkeypatch):
    """Late wake-ups must not accumulate: tick k starts at t0 + k*20 ms (+ at most one wake-up delay)."""
    from fsbridge.engines.standalone import clock as clock_mod
    now = [100.0]
    monkeypatch.setattr(clock_mod.time, "monotonic", lambda: now[0])

    def fake_sleep(d=0):
        now[0] += d + (0.007 if d > 0 else 0)    # every timed wake-up is 7 ms late
    monkeypatch.setattr(clock_mod.gevent, "sleep", fake_sleep)
    c = Clock(speed=1.0)
    starts = []

    def tick():
        starts.append(now[0] - 100.0)
        now[0] += 0.003              # 3 ms of work per tick
    c.run(tick, max_ticks=500)
    lag = np.array(starts) - np.arange(500) * 0.020
    assert lag.max() < 0.0075 and lag[-1] < 0.0075, "no drift"
    c2 = Clock(speed=2.0)
    starts.clear()
    now[0] = 100.0
    c2.run(tick, max_ticks=100)
    assert abs(starts[-1] - 99 * 0.010) < 0.0075    # 2x real time: 10 ms per 20 ms tick


def test_held_simulated_clock_does_not_tick():
    import gevent
    c = Clock(speed=None)
    ticks = []
    c.hold()
    g = gevent.spawn(c.run, lambda: ticks.append(c.ticks), None, 10)
    for _ in range(50):    # yield to the clock greenlet many times: unheld, it would tick on each yield
        gevent.sleep(0)
    assert ticks == [] and not g.ready()
    c.release()
    g.join(timeout=5)
    assert ticks == list(range(10))
    with c.held():
        assert c._holds == 1
    assert c._holds == 0


def test_auto_energy_level_follows_the_noise_floor():
    """At 10 dB SNR FreeSWITCH's fixed level 100 never stops talking; the auto level (2x floor) does."""
    x = load_audio(str(AUDIO / "speech-a.wav"), 16000).astype(np.float64)
    noise = np.random.default_rng(0).normal(0, np.sqrt(np.mean(x[np.abs(x) > 300] ** 2) / 10), 16000 * 6)
    sig = noise.copy()
    sig[16000:16000 + x.size] += x
    sig = np.clip(np.rint(sig), -32768, 32767).astype(np.int16)
    frames = sig.reshape(-1, 320)
    onset, end = 50 + np.flatnonzero(np.abs(x[: x.size // 320 * 320].reshape(-1, 320)).max(axis=1) > 300)[[0, -1]]

    def events(**kw):
        d = FsTalkDetector(**kw)
        return [(e.kind, i) for i, f in enumerate(frames) if (e := d.update(f))]
    fixed = events(energy_level=100)
    assert [k for k, _ in fixed] == ["start"]            # stuck "talking" on noise
    auto = events(energy_level=100, auto_factor=2.0)
    assert [k for k, _ in auto][:2] == ["start", "stop"]
    assert 0 <= auto[0][1] - onset <= 10 and end < auto[1][1] <= end + 60
