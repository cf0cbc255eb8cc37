"""Standalone engine end to end, on real speech (tests/fixtures/audio, see LICENSE.txt there).

Everything runs on a simulated clock (Clock(speed=None)): no sleeps, deterministic ticks.
"""
from pathlib import Path

import gevent
import numpy as np
import pytest
import soundfile as sf

from fsbridge.conference import native as N
from fsbridge.conference.commands import (EndConference, HoldMember, JoinMember, KickMember, MuteMember,
                                          PauseRecording, PlayMedia, ResumeRecording, SetCoach, SetExitBeep,
                                          StartConference, StartRecording, StopRecording, UnholdMember,
                                          UnmuteMember)
from fsbridge.engines.base import EngineError
from fsbridge.engines.standalone.clock import Clock
from fsbridge.engines.standalone.engine import StandaloneEngine
from fsbridge.engines.standalone.media import ENTER_TONE, EXIT_TONE, moh_samples
from fsbridge.engines.standalone.sources import load_audio, render_tone

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"
A, B, C = (str(AUDIO / f"speech-{x}.wav") for x in "abc")
RATE = 16000
F = 320


def pad(x, n):
    out = np.zeros(n, np.int64)
    out[: min(n, x.size)] = x[:n]
    return out


def clip(x):
    return np.clip(x, -32768, 32767).astype(np.int16)


@pytest.fixture
def eng():
    e = StandaloneEngine(rate=RATE, clock=Clock(speed=None, start_epoch=1_800_000_000.0))
    e.events_seen = []
    e.snapshots = []   # the EngineSnapshot the first start() sends (start-up reconciliation)
    e.set_event_sink(lambda ev: (e.events_seen if isinstance(ev, N.NativeEvent) else e.snapshots).append(ev))
    return e


def join(e, leg, room="CF1", **kw):
    """Join in a greenlet (join blocks); returns the greenlet whose value is join's result."""
    kw.setdefault("enter_beep", False)
    kw.setdefault("exit_beep", False)
    g = gevent.spawn(leg.join, JoinMember(room=room, unique_id=leg.unique_id, call_sid=leg.unique_id, **kw))
    gevent.sleep(0)   # let the greenlet run up to its blocking point (no timing involved)
    return g


def actions(e, uid=None):
    return [ev.action for ev in e.events_seen if uid is None or ev.unique_id == uid]


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_three_party_mix_equals_reference_n_minus_1(rate):
    eng = StandaloneEngine(rate=rate, clock=Clock(speed=None))
    fl = rate // 50
    legs = [eng.create_call(f"CA{i}", p, hangup_at_end=False) for i, p in enumerate((A, B, C))]
    for leg in legs:
        join(eng, leg)
    eng.run_for(3.5)
    n = 175 * fl
    src = [pad(load_audio(p, rate).astype(np.int64), n) for p in (A, B, C)]
    for i, leg in enumerate(legs):
        heard = leg.heard_audio()
        assert heard.size == n
        expected = clip(sum(src[j] for j in range(3) if j != i))
        assert np.array_equal(heard, expected), f"listener {i} differs from the reference N-1 mix"
        assert np.abs(heard.astype(int)).max() > 10000    # real speech got through


def test_per_member_gain(eng):
    spk = eng.create_call("CAspk", A, hangup_at_end=False)
    lis = eng.create_call("CAlis", "silence_stream://-1")
    join(eng, spk)
    join(eng, lis)
    eng.set_gain("CF1", spk.member_id, 0.5)
    eng.run_for(1.0)
    src = load_audio(A, RATE)[: 50 * F].astype(np.float32)
    assert np.array_equal(lis.heard_audio(), np.rint(src * np.float32(0.5)).astype(np.int16))


def test_muted_speaker_absent_then_present_after_unmute(eng):
    spk = eng.create_call("CAspk", A, hangup_at_end=False)
    lis = eng.create_call("CAlis", "silence_stream://-1")
    join(eng, spk, muted=True)
    join(eng, lis)
    eng.run_for(1.5)
    assert not lis.heard_audio().any(), "a muted speaker must not be heard"
    assert N.START_TALKING not in actions(eng, "CAspk"), "no talk events for a muted member"
    eng.execute(UnmuteMember(room="CF1", member_id=spk.member_id))
    eng.run_for(1.0)
    heard = lis.heard_audio()[75 * F:]
    src = load_audio(A, RATE)
    assert np.array_equal(heard, src[75 * F: 125 * F])
    assert N.START_TALKING in actions(eng, "CAspk")


def test_held_member_hears_hold_music_only(eng):
    spk = eng.create_call("CAspk", A, hangup_at_end=False, loop=True)
    held = eng.create_call("CAheld", B, loop=True)
    other = eng.create_call("CAo", "silence_stream://-1")
    for leg in (spk, held, other):
        join(eng, leg)
    eng.run_for(0.2)
    hold_tone = "tone_stream://%(400,200,440)"
    eng.execute(HoldMember(room="CF1", member_id=held.member_id, media=(hold_tone,)))
    eng.run_for(2.0)
    heard = held.heard_audio()[10 * F:]
    tone = render_tone(hold_tone, RATE)
    expected = np.tile(tone, 4)[: heard.size]
    assert np.array_equal(heard, expected), "held member must hear the hold media and nothing else"
    # ... and is not heard: the other listener hears only the speaker while held
    o = other.heard_audio()[11 * F:110 * F]
    src = load_audio(A, RATE)
    assert np.array_equal(o, src[11 * F:110 * F])
    eng.execute(UnholdMember(room="CF1", member_id=held.member_id))
    eng.flush()
    assert actions(eng, "CAheld")[-2:] == [N.UNHOLD_MEMBER, N.PLAY_FILE_MEMBER_DONE]
    assert eng.events_seen[-1].file == hold_tone


def test_default_hold_music_is_real_music(eng):
    a = eng.create_call("CAa", "silence_stream://-1")
    join(eng, a)
    eng.execute(HoldMember(room="CF1", member_id=a.member_id))
    eng.run_for(1.0)
    heard = a.heard_audio()
    assert np.array_equal(heard, moh_samples(RATE)[: heard.size])
    assert np.abs(heard.astype(int)).mean() > 50


def test_coach_heard_only_by_coached(eng):
    agent = eng.create_call("CAagent", "silence_stream://-1")
    customer = eng.create_call("CAcust", "silence_stream://-1")
    coach = eng.create_call("CAcoach", A, hangup_at_end=False)
    for leg in (agent, customer, coach):
        join(eng, leg)
    eng.execute(SetCoach(room="CF1", coach_member_id=coach.member_id, coached_member_id=agent.member_id))
    eng.run_for(2.0)
    src = load_audio(A, RATE)
    assert np.array_equal(agent.heard_audio(), src[: 100 * F])
    assert not customer.heard_audio().any(), "only the coached participant hears the coach"
    eng.execute(SetCoach(room="CF1", coach_member_id=coach.member_id, coached_member_id=None))
    eng.run_for(0.5)
    assert np.array_equal(customer.heard_audio()[100 * F:], src[100 * F:125 * F])


def test_waiting_members_hear_wait_music_and_are_not_mixed(eng):
    a = eng.create_call("CAa", A, hangup_at_end=False)
    b = eng.create_call("CAb", "silence_stream://-1")
    wait = ("tone_stream://%(300,300,350,440)",)
    join(eng, a, waiting=True, wait_media=wait)
    join(eng, b, waiting=True, wait_media=wait)
    eng.run_for(1.0)
    tone = np.tile(render_tone(wait[0], RATE), 10)
    assert np.array_equal(b.heard_audio(), tone[: 50 * F]), "waiting: wait music only, nobody mixed"
    eng.execute(StartConference(room="CF1"))
    eng.run_for(1.0)
    eng.flush()
    assert [ev.file for ev in eng.events_seen if ev.action == N.PLAY_FILE_DONE][:1] == [wait[0]]
    src = load_audio(A, RATE)
    assert np.array_equal(b.heard_audio()[50 * F:], src[50 * F:100 * F])


def test_recording_trim_silence_length_and_no_music(eng, tmp_path):
    speech = load_audio(A, RATE)
    sil = np.zeros(RATE, np.int16)
    from fsbridge.engines.standalone.sources import ArraySource
    src = ArraySource(np.concatenate([sil, speech, sil]), F)
    spk = eng.create_call("CAspk", src, hangup_at_end=False)
    waiter = eng.create_call("CAw", C, loop=True)        # waits, speaking: must not be recorded
    held = eng.create_call("CAh", B, loop=True)          # held: must not be recorded
    join(eng, spk)
    join(eng, waiter, waiting=True)
    join(eng, held)
    eng.execute(HoldMember(room="CF1", member_id=held.member_id))
    trimmed, full = str(tmp_path / "trim.wav"), str(tmp_path / "full.wav")
    eng.execute(StartRecording(room="CF1", path=trimmed, trim_silence=True))
    eng.execute(StartRecording(room="CF1", path=full, trim_silence=False))
    eng.run_for(6.0)
    eng.execute(StopRecording(room="CF1", path=trimmed))
    eng.execute(StopRecording(room="CF1", path=full))
    eng.flush()
    rec_full, sr = sf.read(full, dtype="int16")
    assert sr == RATE and rec_full.size == 300 * F
    signal = np.concatenate([sil, speech, sil, np.zeros(300 * F, np.int16)])[: 300 * F]
    assert np.array_equal(rec_full, signal), "recording = the mixed room only (no wait/hold music)"
    rec, _ = sf.read(trimmed, dtype="int16")
    loud = np.flatnonzero(np.abs(signal.reshape(-1, F).astype(int)).max(axis=1) > 64)
    assert rec.size == (loud[-1] - loud[0] + 1) * F
    assert abs(rec.size - speech.size) < 0.25 * RATE     # ≈ the clip, the 2 s of silence are gone
    stops = [ev for ev in eng.events_seen if ev.action == N.STOP_RECORDING]
    assert {ev.path for ev in stops} == {trimmed, full}
    st = [ev for ev in stops if ev.path == trimmed][0]
    assert st.duration_ms == rec.size * 1000 // RATE and st.file_size == Path(trimmed).stat().st_size


def test_recording_pause_resume(eng, tmp_path):
    a = eng.create_call("CAa", "tone_stream://%(1000,0,440)", loop=True)
    join(eng, a)
    p = str(tmp_path / "r.wav")
    eng.execute(StartRecording(room="CF1", path=p, trim_silence=False))
    eng.run_for(1.0)
    eng.execute(PauseRecording(room="CF1", path=p))
    eng.run_for(1.0)
    eng.execute(ResumeRecording(room="CF1", path=p))
    eng.run_for(0.5)
    eng.execute(StopRecording(room="CF1", path=p))
    eng.flush()
    # alone in the room: the member hears nothing but the recording has the room mix (its own voice)
    assert sf.info(p).frames == 75 * F
    assert [x for x in actions(eng) if "recording" in x] == [
        N.START_RECORDING, N.PAUSE_RECORDING, N.RESUME_RECORDING, N.STOP_RECORDING]


def test_talk_events_for_speech_not_silence(eng):
    spk = eng.create_call("CAspk", A, hangup_at_end=False)
    sil = eng.create_call("CAsil", "silence_stream://-1")
    join(eng, spk)
    join(eng, sil)
    eng.run_for(5.0)
    talk = [ev for ev in eng.events_seen if ev.action in (N.START_TALKING, N.STOP_TALKING)]
    assert talk and all(ev.unique_id == "CAspk" for ev in talk)
    assert [ev.action for ev in talk][:2] == [N.START_TALKING, N.STOP_TALKING]
    stop = [ev for ev in talk if ev.action == N.STOP_TALKING][-1]
    assert 1500 <= stop.duration_ms <= 4500
    start = talk[0]
    scores = np.abs(load_audio(A, RATE).astype(int))[: 100 * F].reshape(-1, F).mean(axis=1)
    onset = np.flatnonzero(scores > 100)[0] * 0.02          # first frame over energy-level 100
    latency = (start.timestamp_us - 1_800_000_000_000_000) / 1e6 - onset
    assert 0.019 <= latency <= 0.121                          # 1..5 gated frames (FreeSWITCH hangunder)


def test_events_lifecycle_kick_hangup_destroy(eng):
    a = eng.create_call("CAa", "silence_stream://-1", from_="+1555", to="+1666")
    b = eng.create_call("CAb", "silence_stream://1000")     # hangs up at the end of its source
    ga, gb = join(eng, a), join(eng, b)
    eng.run_for(0.1)
    eng.execute(MuteMember(room="CF1", member_id=a.member_id))
    eng.execute(UnmuteMember(room="CF1", member_id=a.member_id))
    eng.run_for(1.5)
    assert gb.ready() and gb.value == "hangup"
    eng.execute(KickMember(room="CF1", member_id=a.member_id))
    gevent.sleep(0)
    assert ga.value == "left" and not a.hung_up
    eng.flush()
    seq = [(ev.action, ev.unique_id) for ev in eng.events_seen]
    assert seq == [
        (N.CONFERENCE_CREATE, None), (N.ADD_MEMBER, "CAa"), (N.ADD_MEMBER, "CAb"),
        (N.MUTE_MEMBER, "CAa"), (N.UNMUTE_MEMBER, "CAa"),
        (N.DEL_MEMBER, "CAb"), (N.CHANNEL_HANGUP_COMPLETE, "CAb"),
        (N.KICK_MEMBER, "CAa"), (N.DEL_MEMBER, "CAa"), (N.CONFERENCE_DESTROY, None)]
    evs = eng.events_seen
    assert evs[1].member_id == 1 and evs[2].member_id == 2 and evs[1].member_type == "member"
    assert evs[2].conference_size == 2 and evs[-2].conference_size == 0
    assert evs[5].hangup_cause == "NORMAL_CLEARING" and evs[8].hangup_cause is None
    assert ("Caller-Caller-ID-Number", "+1555") in evs[1].extra
    assert all(ev.room == "CF1" for ev in evs if ev.action != N.CHANNEL_HANGUP_COMPLETE)
    ts = [ev.timestamp_us for ev in evs]
    assert ts == sorted(ts) and ts[-1] - ts[0] == 1_600_000   # simulated µs: 80 ticks of 20 ms
    assert eng.snapshot() == []


def test_member_ids_increase_across_rooms_and_max_members_refuses(eng):
    legs = [eng.create_call(f"CA{i}", "silence_stream://-1") for i in range(4)]
    gs = [join(eng, legs[0], room="CFx", max_members=2), join(eng, legs[1], room="CFx", max_members=2),
          join(eng, legs[2], room="CFx", max_members=2), join(eng, legs[3], room="CFy")]
    eng.flush()
    assert gs[2].ready() and gs[2].value == "refused"
    refused = [ev for ev in eng.events_seen if ev.action == N.JOIN_REFUSED]
    assert len(refused) == 1 and refused[0].unique_id == "CA2" and refused[0].member_id is None
    assert [legs[i].member_id for i in (0, 1, 3)] == [1, 2, 3]
    assert {(s.room, s.member_id) for s in eng.snapshot()} == {("CFx", 1), ("CFx", 2), ("CFy", 3)}


def test_end_conference_on_exit_and_end_conference(eng):
    mod = eng.create_call("CAmod", "silence_stream://200")
    x = eng.create_call("CAx", "silence_stream://-1")
    gm, gx = join(eng, mod, end_conference=True), join(eng, x)
    eng.run_for(0.5)
    assert gx.value == "left" and not x.hung_up and gm.value == "hangup"
    assert actions(eng)[-3:] == [N.DEL_MEMBER, N.CONFERENCE_DESTROY, N.CHANNEL_HANGUP_COMPLETE]
    y = eng.create_call("CAy", "silence_stream://-1")
    gy = join(eng, y, room="CF2")
    eng.execute(EndConference(room="CF2"))
    gevent.sleep(0)
    assert gy.value == "left" and eng.rooms() == []
    with pytest.raises(EngineError):
        eng.execute(MuteMember(room="CF2", member_id=99))


def test_beeps_never_heard_by_the_joiner(eng):
    a = eng.create_call("CAa", "silence_stream://-1")
    b = eng.create_call("CAb", "silence_stream://-1")
    join(eng, a, enter_beep=True)
    eng.run_for(0.1)
    join(eng, b, enter_beep=True, exit_beep=True)
    eng.run_for(0.5)
    tone = render_tone(ENTER_TONE, RATE)
    assert np.array_equal(a.heard_audio()[5 * F: 5 * F + tone.size], tone), "others hear the enter beep"
    assert not b.heard_audio().any(), "the joiner never hears its own beep"
    eng.execute(SetExitBeep(room="CF1", member_id=b.member_id, enabled=True))
    b.leave()
    eng.run_for(0.6)
    exit_tone = render_tone(EXIT_TONE, RATE)
    assert np.array_equal(a.heard_audio()[30 * F: 30 * F + exit_tone.size], exit_tone)
    eng.flush()
    assert [ev.file for ev in eng.events_seen if ev.action == N.PLAY_FILE_DONE] == [ENTER_TONE, EXIT_TONE]


def test_play_media_room_and_member_and_missing_file(eng):
    a = eng.create_call("CAa", "silence_stream://-1")
    b = eng.create_call("CAb", "silence_stream://-1")
    join(eng, a)
    join(eng, b)
    eng.execute(PlayMedia(room="CF1", media=("silence_stream://100", B)))
    eng.execute(PlayMedia(room="CF1", media=(C,), member_id=b.member_id))
    eng.run_for(3.5)
    eng.flush()
    done = [(ev.action, ev.file, ev.member_id) for ev in eng.events_seen if "play-file" in ev.action]
    assert done == [(N.PLAY_FILE, "silence_stream://100", None),
                    (N.PLAY_FILE_MEMBER_DONE, C, b.member_id), (N.PLAY_FILE_DONE, B, None)]
    bsrc, csrc = load_audio(B, RATE), load_audio(C, RATE)
    assert np.array_equal(a.heard_audio()[5 * F: 5 * F + bsrc.size], bsrc)
    expected_b = pad(csrc, 175 * F)
    expected_b[5 * F: 5 * F + bsrc.size] += bsrc
    assert np.array_equal(b.heard_audio(), clip(expected_b))
    with pytest.raises(EngineError):
        eng.execute(PlayMedia(room="CF1", media=("/nonexistent.wav",)))
    eng.flush()
    assert eng.events_seen[-1].action == N.PLAY_FILE and eng.events_seen[-1].error


def test_dtmf_schedule_and_play_outside_conference(eng, tmp_path):
    got = []
    leg = eng.create_call("CAd", "silence_stream://-1", dtmf=[("1", 0.5), ("#", 1.0)], hangup_after_s=2.0,
                          heard_path=str(tmp_path / "heard.wav"))
    leg.on_dtmf(got.append)
    leg.answer()
    g = gevent.spawn(leg.play, ["tone_stream://%(300,0,600)"])
    gevent.sleep(0)   # let play() register its media (no timing involved)
    eng.run_for(0.4)
    assert g.value is True
    assert np.array_equal(leg.heard_audio()[:15 * F], render_tone("tone_stream://%(300,0,600)", RATE))
    eng.run_for(2.0)
    assert got == ["1", "#"] and leg.hung_up
    dt = [ev for ev in eng.events_seen if ev.action == N.DTMF]
    assert [ev.digits for ev in dt] == ["1", "#"] and dt[1].timestamp_us - dt[0].timestamp_us == 500_000
    assert actions(eng)[-1] == N.CHANNEL_HANGUP_COMPLETE
    saved, sr = sf.read(str(tmp_path / "heard.wav"), dtype="int16")
    assert sr == RATE and saved.size == 100 * F and np.array_equal(saved, leg.heard_audio())
    assert eng.get_call("CAd") is None


def test_real_time_clock_is_driven_by_start(eng):
    """start()/stop() run the same loop as run_for; with speed=None the ticks advance on their own."""
    a = eng.create_call("CAa", "silence_stream://300")
    g = join(eng, a)
    eng.start()
    g.join(timeout=5)
    eng.stop()
    assert g.value == "hangup" and eng.clock.ticks >= 15
    assert actions(eng)[-1] == N.CHANNEL_HANGUP_COMPLETE


def test_broken_source_hangs_up_that_caller_only(eng):
    class Broken:
        def __init__(self):
            self.n = 0

        def next_frame(self):
            self.n += 1
            if self.n > 10:
                raise OSError("device gone")
            return np.zeros(F, np.int16)
    bad = eng.create_call("CAbad", Broken())
    good = eng.create_call("CAgood", "silence_stream://-1")
    gb, gg = join(eng, bad), join(eng, good)
    eng.run_for(1.0)
    assert gb.value == "hangup" and bad.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert not gg.ready() and good.heard_audio().size == 50 * F
