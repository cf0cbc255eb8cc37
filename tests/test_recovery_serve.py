"""Start-up reconciliation with real processes (issue 15): ``fsbridge serve`` (standalone) is SIGKILLed
while a recorded conference has two callers in it; the restarted serve on the same config and database ends
that conference through the domain's one resync path — participant-leave × 2 and conference-end with
statusCallback SequenceNumbers continuing gaplessly after those already delivered, the recording completed
with its callback — REST shows it completed, and a new call to the same room opens a fresh conference."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
import wave

import gevent
import requests
from flask import Flask, Response, request

from fsbridge.local import CallbackLog, HttpApp

from test_app_serve import AC, NUMBER, REPO, TOKEN, Serve, write_config

EVENTS = "start end join leave mute"


class RecApp:
    """/voice → a recorded conference (status + recording callbacks); /cb and /rec record the forms."""

    def __init__(self):
        self.status = CallbackLog()
        self.recordings = CallbackLog()
        app = Flask("recovery-app")

        @app.post("/voice")
        def voice():
            return Response(f'<Response><Dial><Conference statusCallback="/cb" statusCallbackEvent="{EVENTS}" '
                            'record="record-from-start" recordingStatusCallback="/rec" '
                            'recordingStatusCallbackEvent="in-progress completed absent">RecoveryRoom'
                            '</Conference></Dial></Response>', mimetype="text/xml")

        @app.post("/cb")
        def cb():
            self.status.add(request.form.to_dict())
            return Response("", status=204)

        @app.post("/rec")
        def rec():
            self.recordings.add(request.form.to_dict())
            return Response("", status=204)

        self.http = HttpApp(app).start()


def place_call(serve, caller):
    out = subprocess.run([sys.executable, "-m", "fsbridge", "call", "--to", NUMBER, "--from", caller,
                          "--audio", "tone:500", "--url", serve.url, "--account", AC, "--token", TOKEN],
                         capture_output=True, cwd=REPO, timeout=90)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().split()[0]


def names(items):
    return [c["StatusCallbackEvent"] for c in items]


def api(serve, path):
    return requests.get(f"{serve.url}/2010-04-01/Accounts/{AC}/{path}", auth=(AC, TOKEN), timeout=10)


def test_sigkill_mid_conference_then_restart_ends_it_with_gapless_callbacks(tmp_path):
    app = RecApp()
    cfg = write_config(tmp_path, app.http.url)
    first = Serve(cfg)
    try:
        a = place_call(first, "Alice")
        assert app.status.wait_for(lambda items: names(items) == ["participant-join"], 30)
        b = place_call(first, "Bob")
        assert app.status.wait_for(lambda items: names(items)[1:] == ["participant-join", "conference-start"], 30)
        conf = app.status.items[0]["ConferenceSid"]
        muted = requests.post(f"{first.url}/2010-04-01/Accounts/{AC}/Conferences/{conf}/Participants/{b}.json",
                              data={"Muted": "true"}, auth=(AC, TOKEN), timeout=10)
        assert muted.status_code == 200, muted.text
        assert app.status.wait_for(lambda items: names(items)[-1:] == ["participant-mute"], 30)
        assert app.recordings.wait_for(lambda items: [r["RecordingStatus"] for r in items] == ["in-progress"], 30)
        # some audio on disk before the kill (the recorder writes 1 s batches): poll the file, no fixed wait
        wav = tmp_path / "recordings" / f"{app.recordings.items[0]['RecordingSid']}.wav"
        deadline = time.monotonic() + 30
        while not (wav.exists() and wav.stat().st_size > 44) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        assert wav.stat().st_size > 44, "no audio reached the recording file"
    finally:
        first.proc.send_signal(signal.SIGKILL)
        first.proc.communicate(timeout=30)
    before = len(app.status.items)
    second = Serve(cfg)
    try:
        assert app.status.wait_for(lambda items: "conference-end" in names(items), 30), names(app.status.items)
        after = app.status.items[before:]
        assert names(after) == ["participant-leave", "participant-leave", "conference-end"]
        assert [int(c["SequenceNumber"]) for c in app.status.items] == list(range(1, len(app.status.items) + 1))
        assert [c["CallSid"] for c in after[:2]] == [a, b]
        assert {c["ReasonParticipantLeft"] for c in after[:2]} == {"participant_hung_up"}
        assert after[2]["ReasonConferenceEnded"] == "last-participant-left"
        assert after[2]["CallSidEndingConference"] == b
        assert all(c["ConferenceSid"] == conf for c in after)
        assert app.recordings.wait_for(
            lambda items: [r["RecordingStatus"] for r in items] == ["in-progress", "completed"], 30)
        done = app.recordings.items[-1]
        twilio = api(second, f"Conferences/{conf}.json").json()
        assert twilio["status"] == "completed" and twilio["reason_conference_ended"] == "last-participant-left"
        parts = api(second, f"Conferences/{conf}/Participants.json").json()["participants"]
        assert parts == []
        recs = api(second, f"Conferences/{conf}/Recordings.json").json()["recordings"]
        assert [r["status"] for r in recs] == ["completed"] and recs[0]["sid"] == done["RecordingSid"]
        with wave.open(str(tmp_path / "recordings" / f"{done['RecordingSid']}.wav")) as w:   # header repaired
            assert w.getnframes() > 0 and int(done["RecordingDuration"]) == round(w.getnframes() / w.getframerate())
        # the same room again: a fresh conference, numbered from 1
        place_call(second, "Carol")
        assert app.status.wait_for(lambda items: len(items) > before + 3, 30)
        fresh = app.status.items[before + 3]
        assert fresh["StatusCallbackEvent"] == "participant-join" and fresh["ConferenceSid"] != conf
        assert fresh["SequenceNumber"] == "1"
    finally:
        assert second.stop() == 0, second.stderr.decode()[-3000:]
        app.http.stop()
    assert "recovery: 1 conference(s) left open by the previous run" in second.stderr.decode()
