"""The README's main job: ``fsbridge demo`` runs the 2016 post's Team Meeting and writes its files."""
import json
import subprocess
import sys

import soundfile as sf


def test_demo_plays_the_team_meeting(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "fsbridge", "demo", "--out", str(out)],
                         capture_output=True, text=True, timeout=240)
    # exit 0 also means the audio facts held: muted speech absent from what Mary heard, Mary heard by Alice
    assert run.returncode == 0, run.stdout + run.stderr
    callbacks = [json.loads(line) for line in (out / "callbacks.jsonl").read_text().splitlines()]
    events = [(c["StatusCallbackEvent"], c.get("ParticipantLabel", "")) for c in callbacks]
    # conference-start when the second caller joins; the app's REST mutes of all but Mary; Mary's exit ends it
    assert events[:3] == [("participant-join", "Mary"), ("participant-join", "Alice"), ("conference-start", "")]
    assert sorted(label for name, label in events if name == "participant-mute") == ["Alice", "Bob", "Charles"]
    assert ("participant-speech-start", "Mary") in events and ("participant-speech-start", "Bob") in events
    assert ("participant-speech-start", "Alice") not in events   # muted: no speaker events
    assert events[-1] == ("conference-end", "")
    assert callbacks[-1]["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    assert [int(c["SequenceNumber"]) for c in callbacks] == list(range(1, len(callbacks) + 1))
    for name in ("mary", "alice", "bob", "charles"):
        assert sf.info(str(out / f"heard-{name}.wav")).duration > 5
    assert 5 < sf.info(str(out / "recording.wav")).duration < 25
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
