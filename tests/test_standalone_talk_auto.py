"""The fsbridge auto level (TalkDetectorBank(auto_factor=…)): talk detection on noisy lines, where FreeSWITCH's
fixed energy-level either never stops or never starts. Behaviour only; figures are in bench/talk.py."""
from pathlib import Path

import numpy as np
import pytest

from fsbridge.engines.standalone.talk import FsTalkDetector, TalkDetectorBank

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"


def _noisy(kind: str, snr_db: float = 10.0, seed: int = 0):
    """speech-a.wav after 1 s of noise, 6 s in all, noise at ``snr_db`` below the speech: (frames, onset, end)."""
    from fsbridge.engines.standalone.sources import load_audio
    x = load_audio(str(AUDIO / "speech-a.wav"), 16000).astype(np.float64)
    rng = np.random.default_rng(seed)
    n = 16000 * 6
    noise = rng.normal(0, 1, n)
    if kind == "pink":
        spec = np.fft.rfft(noise)
        spec[1:] /= np.sqrt(np.fft.rfftfreq(n, 1 / 16000)[1:])
        spec[0] = 0
        noise = np.fft.irfft(spec, n)
    p_speech = np.mean(x[np.abs(x) > 300] ** 2)
    noise *= np.sqrt(p_speech / 10 ** (snr_db / 10) / np.mean(noise ** 2))
    sig = noise.copy()
    sig[16000:16000 + x.size] += x
    frames = np.clip(np.rint(sig), -32768, 32767).astype(np.int16).reshape(-1, 320)
    loud = np.flatnonzero(np.abs(x[: x.size // 320 * 320].reshape(-1, 320)).max(axis=1) > 300)
    return frames, 50 + loud[0], 50 + loud[-1]


def _events(frames, **kw):
    d = FsTalkDetector(**kw)
    return [(e.kind, i) for i, f in enumerate(frames) if (e := d.update(f))]


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_auto_level_finds_the_one_utterance_in_noise(kind):
    frames, onset, end = _noisy(kind)
    assert [k for k, _ in _events(frames, energy_level=100)] == ["start"]   # FreeSWITCH: stuck on noise
    auto = _events(frames, energy_level=100, auto_factor=2.0)
    assert [k for k, _ in auto] == ["start", "stop"]
    assert 0 <= auto[0][1] - onset <= 5 and end < auto[1][1] <= end + 60


def test_auto_level_is_per_slot_and_a_reset_slot_learns_again():
    frames, onset, _ = _noisy("pink")
    quiet = (frames // 8).astype(np.int16)          # the same line 18 dB quieter, in the other slot
    bank = TalkDetectorBank(capacity=2, auto_factor=2.0)
    active = np.ones(2, bool)
    starts = {0: [], 1: []}
    for k in range(len(frames)):
        if k == 25:                                   # slot 1 reused (a new member) mid-noise
            bank.reset(1)
        s, _, _ = bank.update(np.stack([frames[k], quiet[k]]), active, k)
        for i in s.tolist():
            starts[i].append(k)
    assert len(starts[0]) == 1 and len(starts[1]) == 1
    assert abs(starts[0][0] - onset) <= 5 and abs(starts[1][0] - onset) <= 5


def test_auto_level_silent_for_muted_slots():
    frames, _, _ = _noisy("white")
    bank = TalkDetectorBank(capacity=1, auto_factor=2.0)
    for k, f in enumerate(frames):
        s, p, _ = bank.update(f[None, :], np.array([False]), k)
        assert s.size == 0 and p.size == 0


@pytest.mark.parametrize("band", [(0, 3400), (3400, 300), (300, 300), (9000, 12000)])
def test_auto_band_must_be_a_band_below_nyquist(band):
    with pytest.raises(ValueError, match="auto level band"):
        TalkDetectorBank(capacity=1, auto_factor=2.0, auto_band=band, rate=16000)


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_auto_level_with_a_wider_band_still_finds_the_utterance(kind):
    frames, onset, end = _noisy(kind)
    auto = _events(frames, energy_level=100, auto_factor=2.0, auto_band=(150, 3400))
    assert [k for k, _ in auto] == ["start", "stop"]
    assert 0 <= auto[0][1] - onset <= 5 and end < auto[1][1] <= end + 60


def test_auto_band_changes_the_score_and_the_default_is_the_telephone_band():
    frames, _, _ = _noisy("pink")
    default = TalkDetectorBank(capacity=1, auto_factor=2.0)
    wide = TalkDetectorBank(capacity=1, auto_factor=2.0, auto_band=(150, 3400))
    assert default._auto.band == (300.0, 3400.0) and wide._auto.band == (150.0, 3400.0)
    # pink noise has more power below 300 Hz: the wider band scores it higher
    w = np.mean([wide._auto.scores_db(frames[k:k + 1])[0] for k in range(10, 40)])
    d = np.mean([default._auto.scores_db(frames[k:k + 1])[0] for k in range(10, 40)])
    assert w > d + 1.0


def test_auto_level_filters_at_half_rate_only_when_the_band_fits(monkeypatch):
    from fsbridge.engines.standalone.talk import AutoLevel
    assert AutoLevel(2.0, 16000).decimate and not AutoLevel(2.0, 8000).decimate
    assert not AutoLevel(2.0, 16000, (300, 7000)).decimate
    frames, _, _ = _noisy("pink")
    half = AutoLevel(2.0, 16000)
    monkeypatch.setattr(AutoLevel, "DECIMATE", False)
    full = AutoLevel(2.0, 16000)
    for a in (half, full):
        a.grow(1)
    diff = [half.scores_db(frames[k:k + 1])[0] - full.scores_db(frames[k:k + 1])[0] for k in range(5, 100)]
    assert abs(np.mean(diff)) < 1.0 and np.max(np.abs(diff)) < 2.0
