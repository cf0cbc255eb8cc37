"""End to end: the bridge (in-process ``serve`` on port 0, standalone engine on a simulated clock) with a real
app server and a real callback receiver (Flask on gevent WSGI servers, port 0), driven like a user would.

Sources: ../shared/seeds/twilio-conference-events-announcement.txt (the Team Meeting), twilio-twiml-conference-
noun.txt (moderated room, customer waiting room, Dial action/hangupOnStar/timeLimit, waitUrl), Twilio error
dictionary (11200, 12100, 12200). Signatures are checked with twilio's own RequestValidator.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import requests
import soundfile as sf
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from fsbridge.config import Number
from fsbridge.runtime.local import CallbackLog, HttpApp, start_bridge

AC = "AC" + "7" * 32
TOKEN = "e2e-auth-token"
NUMBER = "+15550001000"
RATE = 16000
SPEED = "10"           # 10× real time: HTTP latencies cost 10× less engine time than wall time
FREQ = {"Mary": 1100, "Alice": 1300, "Bob": 1500, "Charles": 1700}


# ---------------------------------------------------------------------------------------------- helpers
def tone_track(path, total_s, bursts, hz):
    """A WAV: silence of ``total_s`` seconds with a ``hz`` tone (amplitude 8000) in each (start, end) burst."""
    x = np.zeros(int(total_s * RATE), np.float64)
    t = np.arange(len(x)) / RATE
    for a, b in bursts:
        sel = (t >= a) & (t < b)
        x[sel] = 8000 * np.sin(2 * np.pi * hz * t[sel])
    sf.write(str(path), x.astype(np.int16), RATE, subtype="PCM_16")
    return "file:" + str(path)


def tone_energy(audio, rate, hz, a_s, b_s):
    """Mean magnitude of the ``hz`` component of ``audio[a_s:b_s]`` (a single-bin DFT), int16 units."""
    seg = audio[int(a_s * rate):int(b_s * rate)].astype(np.float64)
    if len(seg) == 0:
        return 0.0
    t = np.arange(len(seg)) / rate
    return float(np.abs(np.sum(seg * np.exp(-2j * np.pi * hz * t))) * 2 / len(seg))


class AppServer:
    """The customer's app: ``/voice`` returns ``self.twiml(form)``; ``/cb*`` records callbacks (with the
    signature check result) into ``self.callbacks``; ``/action`` records Dial action requests."""

    def __init__(self):
        self.callbacks = CallbackLog()
        self.requests = CallbackLog()
        self.twiml = lambda form: "<Response/>"
        self.routes = {}
        app = Flask("e2e-app")
        validator = RequestValidator(TOKEN)

        @app.route("/<path:name>", methods=["GET", "POST"])
        def any_route(name):
            form = request.form.to_dict() if request.method == "POST" else {}
            signed_params = form if request.method == "POST" else {}
            valid = validator.validate(request.url, signed_params, request.headers.get("X-Twilio-Signature", ""))
            item = {"path": "/" + name, "form": form, "args": request.args.to_dict(), "valid": valid,
                    "url": request.url}
            if name.startswith("cb"):
                self.callbacks.add(item)
                return Response("", status=204)
            self.requests.add(item)
            handler = self.routes.get("/" + name)
            if handler is not None:
                return handler(form)
            return Response(self.twiml(form), mimetype="text/xml")

        self.http = HttpApp(app).start()
        self.url = self.http.url

    def events(self, path="/cb"):
        """``[(SequenceNumber, StatusCallbackEvent, label)]`` of the callbacks to ``path``, in arrival order."""
        return [(int(c["form"]["SequenceNumber"]), c["form"]["StatusCallbackEvent"],
                 c["form"].get("ParticipantLabel") or c["form"].get("CallSid", ""))
                for c in self.callbacks.items if c["path"] == path]

    def wait_event(self, name, label=None, count=1, timeout=30):
        """Wait until ``count`` callbacks ``name`` (for participant ``label``) arrived."""
        def ok(items):
            n = sum(1 for c in items if c["form"].get("StatusCallbackEvent") == name
                    and (label is None or c["form"].get("ParticipantLabel") == label))
            return n >= count
        assert self.callbacks.wait_for(ok, timeout), f"no {name} {label or ''} callback; got {self.events()}"


@pytest.fixture
def app_server():
    srv = AppServer()
    yield srv
    srv.http.stop()


@pytest.fixture
def bridge_server(tmp_path, app_server):
    srv = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")], clock=SPEED, rate=16000,
                       fetch_timeout=2.0)
    yield srv
    srv.stop()


def rest(server, path, data=None, method="POST"):
    """An authenticated REST request to the bridge; returns the requests.Response."""
    url = f"{server.base_url}/2010-04-01/Accounts/{AC}/{path}"
    return requests.request(method, url, data=data, auth=(AC, TOKEN), timeout=10)


def place(server, name, media, to=NUMBER, **extra):
    """``POST Calls.json`` (To=number, From=name, Media=media URL) → the new CallSid."""
    reply = rest(server, "Calls.json", {"To": to, "From": name, "Media": media, **extra})
    assert reply.status_code == 201, reply.text
    return reply.json()["sid"]


def conference_twiml(form, name="TeamMeeting", **attrs):
    attrs.setdefault("statusCallback", "/cb")
    rendered = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<Response><Dial><Conference{rendered}>{name}</Conference></Dial></Response>"


# ---------------------------------------------------------------------------------------------- Team Meeting
def test_team_meeting_callbacks_mute_and_audio(app_server, bridge_server, tmp_path):
    """The 2016 post: Mary, Alice, Bob and Charles join "TeamMeeting"; the conference starts when the second
    joins; each speaks; the app mutes all but Mary over REST; Mary (endConferenceOnExit) speaks and hangs up;
    the conference ends. Exact callback sequence, valid signatures, muted audio absent, recording length."""
    def team(form):
        who = form["From"]
        attrs = {"statusCallbackEvent": "start end join leave mute speaker", "participantLabel": who,
                 "record": "record-from-start", "recordingStatusCallback": "/cb-recording"}
        if who == "Mary":
            attrs["endConferenceOnExit"] = "true"
        return conference_twiml(form, **attrs)
    app_server.twiml = team
    media = {
        "Mary": tone_track(tmp_path / "mary.wav", 40, [(36, 38)], FREQ["Mary"]),
        "Alice": tone_track(tmp_path / "alice.wav", 90, [(2, 3.5), (20, 21.5)], FREQ["Alice"]),
        "Bob": tone_track(tmp_path / "bob.wav", 90, [(2, 3.5), (20, 21.5)], FREQ["Bob"]),
        "Charles": tone_track(tmp_path / "charles.wav", 90, [(2, 3.5), (20, 21.5)], FREQ["Charles"]),
    }
    sids = {"Mary": place(bridge_server, "Mary", media["Mary"])}
    app_server.wait_event("participant-join", "Mary")
    for who in ("Alice", "Bob", "Charles"):
        sids[who] = place(bridge_server, who, media[who])
        app_server.wait_event("participant-speech-stop", who)
    conf_sid = app_server.callbacks.items[0]["form"]["ConferenceSid"]
    for who in ("Alice", "Bob", "Charles"):   # "mute all the participants except the presenter, Mary"
        reply = rest(bridge_server, f"Conferences/{conf_sid}/Participants/{sids[who]}.json", {"Muted": "true"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["muted"] is True
    for sid in sids.values():
        assert bridge_server.bridge.wait_call(sid, 60)
    app_server.wait_event("conference-end")
    assert app_server.callbacks.wait_for(lambda items: any(c["path"] == "/cb-recording" for c in items), 30)
    bridge_server.dispatcher.wait_idle(10)
    bridge = bridge_server.bridge

    expected = [
        ("participant-join", "Mary"),
        ("participant-join", "Alice"),
        ("conference-start", ""),
        ("participant-speech-start", "Alice"),
        ("participant-speech-stop", "Alice"),
        ("participant-join", "Bob"),
        ("participant-speech-start", "Bob"),
        ("participant-speech-stop", "Bob"),
        ("participant-join", "Charles"),
        ("participant-speech-start", "Charles"),
        ("participant-speech-stop", "Charles"),
        ("participant-mute", "Alice"),
        ("participant-mute", "Bob"),
        ("participant-mute", "Charles"),
        ("participant-speech-start", "Mary"),
        ("participant-speech-stop", "Mary"),
        ("participant-leave", "Mary"),
        ("participant-leave", "Alice"),
        ("participant-leave", "Bob"),
        ("participant-leave", "Charles"),
        ("conference-end", ""),
    ]
    got = app_server.events()
    assert [(name, label) for _, name, label in got] == expected
    # SequenceNumbers: strictly increasing from 1, in delivery order, and exactly the domain's numbering.
    # (The domain numbers every event of the conference: recording-in-progress, which goes to the
    # recordingStatusCallback, takes number 4 here, so the statusCallback sees 1, 2, 3, 5, … .)
    seqs = [seq for seq, _, _ in got]
    assert seqs[0] == 1 and seqs == sorted(set(seqs))
    status_events = [e for e in bridge.events if e.subscribed and not e.name.startswith(("recording", "conference-record"))]
    assert seqs == [e.sequence_number for e in status_events]
    assert all(c["valid"] for c in app_server.callbacks.items), "a callback failed RequestValidator"
    forms = [c["form"] for c in app_server.callbacks.items if c["path"] == "/cb"]
    assert {f["ConferenceSid"] for f in forms} == {conf_sid}
    end = forms[-1]
    assert end["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    assert end["CallSidEndingConference"] == sids["Mary"]
    assert forms[1]["CallSid"] == sids["Alice"] and forms[1]["Muted"] == "false"
    assert [f["Muted"] for f in forms[11:14]] == ["true"] * 3
    # every voice request was signed too
    assert app_server.requests.items and all(r["valid"] for r in app_server.requests.items)

    # audio: what Mary and Bob heard. Engine timelines start at each call's answer.
    legs = {who: bridge.registry.get(sid).leg for who, sid in sids.items()}
    rate = bridge.settings.rate
    t0 = {who: leg.start_tick * 0.02 for who, leg in legs.items()}
    # (listener, speaker): the speaker's first burst came after the listener joined
    for listener, speaker in (("Mary", "Alice"), ("Mary", "Bob"), ("Mary", "Charles"), ("Bob", "Charles")):
        heard = legs[listener].heard_audio()
        off = t0[speaker] - t0[listener]
        before = tone_energy(heard, rate, FREQ[speaker], off + 2.2, off + 3.3)
        assert before > 2000, (listener, speaker, before)                  # heard while unmuted
    for listener in ("Mary", "Bob"):
        heard = legs[listener].heard_audio()
        for speaker in ("Alice", "Bob", "Charles"):
            if speaker != listener:
                off = t0[speaker] - t0[listener]
                after = tone_energy(heard, rate, FREQ[speaker], off + 20.2, off + 21.3)
                assert after < 50, (listener, speaker, after)              # muted speech absent
    # Mary's own speech reached Alice (muted participants still hear)
    off = t0["Mary"] - t0["Alice"]
    assert tone_energy(legs["Alice"].heard_audio(), rate, FREQ["Mary"], off + 36.2, off + 37.8) > 2000

    # recording: from conference start to Mary's last sound (trim-silence), a completed callback with it
    rec_cb = [c["form"] for c in app_server.callbacks.items if c["path"] == "/cb-recording"]
    assert rec_cb[-1]["RecordingStatus"] == "completed"
    rec_sid = rec_cb[-1]["RecordingSid"]
    path = os.path.join(bridge.settings.recordings_dir, f"{rec_sid}.wav")
    info = sf.info(path)
    start_ev = next(e for e in bridge.events if e.name == "conference-start")
    mary_stop = next(e for e in bridge.events if e.name == "participant-speech-stop"
                     and e.participant.label == "Mary")
    expected = (mary_stop.timestamp - start_ev.timestamp).total_seconds() - 0.8   # hangover after the burst
    assert abs(info.duration - expected) < 1.0, (info.duration, expected)
    assert int(rec_cb[-1]["RecordingDuration"]) == pytest.approx(info.duration, abs=1)
    # the store has the history the REST API serves
    reply = rest(bridge_server, f"Conferences/{conf_sid}.json", method="GET")
    assert reply.json()["status"] == "completed"
    assert reply.json()["reason_conference_ended"] == "participant-with-end-conference-on-exit-left"
