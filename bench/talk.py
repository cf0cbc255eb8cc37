#!/usr/bin/env python3
"""Talk-detection benchmark: FreeSWITCH-style energy detector vs webrtcvad, on labelled speech + noise.

Signal: the speech fixtures (asterisk-core-sounds clips + espeak-ng, tests/fixtures/audio) placed one
after another with random gains (±6 dB) and random silent gaps (1.0–2.5 s), then white Gaussian noise
added at a given SNR (speech power over the labelled speech samples / noise power). Labels: each clip,
trimmed of its leading/trailing frames quieter than −40 dBFS peak, is one speech segment.

Metrics per detector (all use the same FreeSWITCH debounce: 5 gated frames to start / 40 to stop, or a
big jump):

* **start latency**: start-talking time − labelled onset, for each labelled segment the first start
  inside [onset − 100 ms, end] (ms; median and 90th percentile);
* **segment F1**: one-to-one event matching — a detected segment matches a labelled one when its start is
  within ±200 ms of the onset and its stop within −200 ms … +1200 ms of the labelled end (the 800 ms
  hangover plus slack); precision = matched / detected, recall = matched / labelled.

Targets (issue #5): latency ≤ 60 ms, F1 ≥ 0.95. Not a test: prints a table (see bench/README.md).

    python3 bench/talk.py [--rate 16000] [--segments 40] [--seed 7]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fsbridge.engines.standalone.sources import load_audio  # noqa: E402
from fsbridge.engines.standalone.talk import TalkDetectorBank  # noqa: E402

AUDIO = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "audio")
CLIPS = ["speech-a.wav", "speech-b.wav", "speech-c.wav", "speech-espeak-16k.wav"]


def trimmed_clips(rate: int):
    """The speech fixtures at ``rate`` Hz, each trimmed to its frames louder than −40 dBFS peak (int16)."""
    fl = rate // 50
    out = []
    for c in CLIPS:
        x = load_audio(os.path.join(AUDIO, c), rate)
        x = x[: x.size // fl * fl]
        peak = np.abs(x.reshape(-1, fl).astype(np.int32)).max(axis=1)
        loud = np.flatnonzero(peak > 32767 * 10 ** (-40 / 20))
        out.append(x[loud[0] * fl:(loud[-1] + 1) * fl])
    return out


def build_signal(rate: int, n_segments: int, seed: int):
    """float64 clean signal + labelled segments [(start_frame, end_frame_exclusive)]."""
    rng = np.random.default_rng(seed)
    fl = rate // 50
    clips = trimmed_clips(rate)
    parts, labels, pos = [], [], 0
    lead = np.zeros(rate)
    parts.append(lead)
    pos += lead.size
    for _ in range(n_segments):
        c = clips[rng.integers(len(clips))].astype(np.float64) * 10 ** (rng.uniform(-6, 6) / 20)
        labels.append((pos // fl, (pos + c.size) // fl))
        parts.append(c)
        pos += c.size
        gap = np.zeros(int(rng.uniform(1.0, 2.5) * 50) * fl)
        parts.append(gap)
        pos += gap.size
    return np.concatenate(parts), labels


def add_noise(clean: np.ndarray, labels, snr_db: float, rate: int, seed: int) -> np.ndarray:
    """``clean`` + white Gaussian noise at ``snr_db`` (speech power over labelled samples), int16."""
    fl = rate // 50
    speech = np.concatenate([clean[a * fl:b * fl] for a, b in labels])
    p_s = np.mean(speech ** 2)
    p_n = p_s / 10 ** (snr_db / 10)
    noise = np.random.default_rng(seed + 1).normal(0, np.sqrt(p_n), clean.size)
    return np.clip(np.rint(clean + noise), -32768, 32767).astype(np.int16)


def detect(sig: np.ndarray, rate: int, **kw):
    """Run one detector frame by frame; returns detected segments [(start_frame, stop_frame)]."""
    fl = rate // 50
    frames = sig[: sig.size // fl * fl].reshape(-1, fl)
    bank = TalkDetectorBank(capacity=1, rate=rate, **kw)
    active = np.array([True])
    segs, start = [], None
    for k, fr in enumerate(frames):
        s, p, _ = bank.update(fr[None, :], active, k)
        if s.size:
            start = k + 1            # decided at the end of frame k
        if p.size and start is not None:
            segs.append((start, k + 1))
            start = None
    if start is not None:
        segs.append((start, len(frames)))
    return segs


def score(labels, segs, onset_collar: int = 10, offset_lo: int = -10, offset_hi: int = 60):
    """One-to-one event matching (sed_eval style): a detected segment matches a labelled one when its start
    is within ±onset_collar frames (±200 ms) of the onset and its stop within [end + offset_lo,
    end + offset_hi] frames (−200 ms … +1200 ms: the 800 ms hangover plus slack). Returns
    (F1, precision, recall, start latencies in ms of the matched segments)."""
    used = set()
    lat = []
    for a, b in labels:
        for i, (s, e) in enumerate(segs):
            if i in used:
                continue
            if abs(s - a) <= onset_collar and b + offset_lo <= e <= b + offset_hi:
                used.add(i)
                lat.append((s - a) * 20)
                break
    tp = len(used)
    prec = tp / len(segs) if segs else 0.0
    rec = tp / len(labels) if labels else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return f1, prec, rec, lat


def main() -> None:
    """Parse arguments, run every detector at every SNR, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--segments", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    clean, labels = build_signal(a.rate, a.segments, a.seed)
    print(f"# {len(labels)} labelled speech segments, {clean.size / a.rate:.0f} s at {a.rate} Hz, white noise; "
          f"debounce 5 frames on / 40 off (FreeSWITCH)")
    print(f"{'SNR':>5} {'detector':<40} {'F1':>5} {'prec':>5} {'rec':>5} {'lat med':>8} {'lat p90':>8} {'n':>4}")
    for snr in (None, 20, 10):
        sig = np.clip(np.rint(clean), -32768, 32767).astype(np.int16) if snr is None else \
            add_noise(clean, labels, snr, a.rate, a.seed)
        fl = a.rate // 50
        scores = np.abs(sig[: sig.size // fl * fl].reshape(-1, fl).astype(np.int32)).mean(axis=1)
        noise_floor = int(np.percentile(scores, 10))      # quietest frames = the noise floor
        calibrated = max(100, 2 * noise_floor)
        dets = [
            ("FreeSWITCH energy, level 100", dict(mode="energy", energy_level=100)),
            (f"FreeSWITCH energy, level {calibrated} (2x floor)", dict(mode="energy", energy_level=calibrated)),
            ("energy, auto level 2x floor (fsbridge)", dict(mode="energy", energy_level=100, auto_factor=2.0)),
            ("webrtcvad mode 2", dict(mode="webrtcvad", vad_mode=2)),
            ("webrtcvad mode 3", dict(mode="webrtcvad", vad_mode=3)),
            ("webrtcvad mode 3, 2 frames on", dict(mode="webrtcvad", vad_mode=3, hangunder=2)),
        ]
        for name, kw in dets:
            segs = detect(sig, a.rate, **kw)
            f1, p, r, lat = score(labels, segs)
            med = f"{np.median(lat):.0f}" if lat else "-"
            p90 = f"{np.percentile(lat, 90):.0f}" if lat else "-"
            label = "clean" if snr is None else f"{snr}dB"
            print(f"{label:>5} {name:<40} {f1:5.2f} {p:5.2f} {r:5.2f} {med:>8} {p90:>8} {len(segs):>4}")
    print("targets: start latency <= 60 ms, F1 >= 0.95")


if __name__ == "__main__":
    main()
