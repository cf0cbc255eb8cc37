"""End to end: the bridge (in-process ``serve`` on port 0, standalone engine on a simulated clock) with a real
app server and a real callback receiver (Flask on gevent WSGI servers, port 0), driven like a user would.

Sources: ../shared/seeds/twilio-conference-events-announcement.txt (the Team Meeting), twilio-twiml-conference-
noun.txt (moderated room, customer waiting room, Dial action/hangupOnStar/timeLimit, waitUrl), Twilio error
dictionary (11200, 12100, 12200). Signatures are checked with twilio's own RequestValidator.
"""
from __future__ import annotations

import os

import gevent.event
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
                    "url": request.url, "json": request.get_json(silent=True)}
            if name.startswith("cb"):
                self.callbacks.add(item)
                return Response("", status=204)
            self.requests.add(item)
            handler = self.routes.get("/" + name)
            if handler is not None:
                return handler(form if item["json"] is None else item["json"])
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
                       fetch_timeout=2.0, media_dirs=(str(tmp_path),))   # REST file: callees live in tmp_path
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
        # engine seconds after each answer; the second bursts come after the REST mutes (≈ 14 s + latencies)
        "Mary": tone_track(tmp_path / "mary.wav", 52, [(48, 50)], FREQ["Mary"]),
        "Alice": tone_track(tmp_path / "alice.wav", 90, [(2, 3.5), (30, 31.5)], FREQ["Alice"]),
        "Bob": tone_track(tmp_path / "bob.wav", 90, [(2, 3.5), (30, 31.5)], FREQ["Bob"]),
        "Charles": tone_track(tmp_path / "charles.wav", 90, [(2, 3.5), (30, 31.5)], FREQ["Charles"]),
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
    # SequenceNumbers: 1..N in delivery order, no gaps (recording-in-progress goes to the
    # recordingStatusCallback and takes no statusCallback number), and exactly the domain's numbering.
    seqs = [seq for seq, _, _ in got]
    assert seqs == list(range(1, len(got) + 1))
    status_events = [e for e in bridge.events if e.status_sequence is not None]
    assert seqs == [e.status_sequence for e in status_events]
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
                after = tone_energy(heard, rate, FREQ[speaker], off + 30.2, off + 31.3)
                assert after < 50, (listener, speaker, after)              # muted speech absent
    # Mary's own speech reached Alice (muted participants still hear)
    off = t0["Mary"] - t0["Alice"]
    assert tone_energy(legs["Alice"].heard_audio(), rate, FREQ["Mary"], off + 48.2, off + 49.8) > 2000

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


# ---------------------------------------------------------------------------------------------- broken apps
@pytest.fixture
def broken_bridge(tmp_path, app_server):
    """Numbers: +1555000200x → /broken-500, /broken-slow, /broken-xml, /broken-json; +15550002000 → /good."""
    numbers = [Number("+15550002000", AC, app_server.url + "/good"),
               Number("+15550002001", AC, app_server.url + "/broken-500"),
               Number("+15550002002", AC, app_server.url + "/broken-slow"),
               Number("+15550002003", AC, app_server.url + "/broken-xml"),
               Number("+15550002004", AC, app_server.url + "/broken-refused")]
    srv = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN}, numbers=numbers, clock="fast",
                       fetch_timeout=0.5)
    yield srv
    srv.stop()


def test_broken_apps_end_cleanly_with_error_codes(app_server, broken_bridge, caplog):
    """An app that answers 500, times out, returns malformed TwiML or refuses connections: the call ends
    cleanly with Twilio's error code logged (11200, 11200, 12100, 11205), and the bridge keeps serving the
    other calls (a good call placed at the same time runs its whole document)."""
    import gevent.event
    never = gevent.event.Event()
    app_server.routes["/good"] = lambda form: Response(
        "<Response><Pause length='1'/><Say>still here</Say><Hangup/></Response>", mimetype="text/xml")
    app_server.routes["/broken-500"] = lambda form: Response("oops", status=500)
    app_server.routes["/broken-slow"] = lambda form: (never.wait(3), Response("<Response/>", mimetype="text/xml"))[1]
    app_server.routes["/broken-xml"] = lambda form: Response("<Response><Say>unclosed</Response>",
                                                             mimetype="text/xml")
    dead = HttpApp(Flask("dead")).start()     # a port that is closed once we stop it
    dead.stop()
    broken_bridge.settings.numbers["+15550002004"] = Number("+15550002004", AC, dead.url + "/voice")
    caplog.set_level("INFO")
    bridge = broken_bridge.bridge
    silence = "silence:"
    calls = {to: place(broken_bridge, f"caller-{to[-1]}", silence, to=to)
             for to in ("+15550002001", "+15550002002", "+15550002003", "+15550002004", "+15550002000")}
    for sid in calls.values():
        assert bridge.wait_call(sid, 20)
    codes = {to: [code for code, _ in bridge.registry.get(sid).errors] for to, sid in calls.items()}
    assert codes == {"+15550002001": [11200], "+15550002002": [11200], "+15550002003": [12100],
                     "+15550002004": [11205], "+15550002000": []}
    good = bridge.registry.get(calls["+15550002000"])
    assert "say 'still here'" in good.steps and "hangup" in good.steps
    for to, sid in calls.items():
        rec = bridge.registry.get(sid)
        assert rec.status == "completed" and rec.leg.hung_up
        reply = rest(broken_bridge, f"Calls/{sid}.json", method="GET")
        assert reply.json()["status"] == "completed"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for to in ("+15550002001", "+15550002002", "+15550002003", "+15550002004"):
        code = codes[to][0]
        assert f"call {calls[to]} error {code}:" in logged
    # the bridge still takes new calls afterwards
    again = place(broken_bridge, "again", silence, to="+15550002000")
    assert bridge.wait_call(again, 20) and bridge.registry.get(again).errors == []
    never.set()


# ---------------------------------------------------------------------------------------------- Dial attributes
def test_dial_action_hangup_on_star_and_time_limit(app_server, bridge_server, tmp_path):
    """TwiML noun: "You can set a timeLimit, after which you'll be removed from the conference. You can turn
    on hangupOnStar, which lets you leave a conference by pressing the * key. You can specify an action, so
    that after you leave the conference room Twilio will submit to the action and your web server can
    respond with new TwiML and continue your call." (relative action URL, method POST)."""
    def voice(form):
        if form["From"] == "Star":
            return ('<Response><Dial action="after" method="POST" hangupOnStar="true">'
                    '<Conference beep="false">LoveTwilio</Conference></Dial></Response>')
        return ('<Response><Dial action="/after" timeLimit="3"><Conference beep="false">LoveTwilio'
                '</Conference></Dial><Say>never reached</Say></Response>')
    app_server.twiml = voice
    app_server.routes["/after"] = lambda form: Response("<Response><Say>goodbye</Say><Hangup/></Response>",
                                                        mimetype="text/xml")
    star = place(bridge_server, "Star", "silence:", Dtmf="*@4")
    timed = place(bridge_server, "Timed", "silence:")
    bridge = bridge_server.bridge
    assert bridge.wait_call(star, 30) and bridge.wait_call(timed, 30)
    actions = {r["form"]["From"]: r for r in app_server.requests.items if r["path"] == "/after"}
    assert set(actions) == {"Star", "Timed"}
    for who, sid in (("Star", star), ("Timed", timed)):
        form = actions[who]["form"]
        assert actions[who]["valid"]
        assert form["CallSid"] == sid and form["DialCallStatus"] == "completed"
        assert form["CallStatus"] == "in-progress" and form["ConferenceSid"].startswith("CF")
        steps = bridge.registry.get(sid).steps
        assert "say 'goodbye'" in steps and "hangup" in steps and "say 'never reached'" not in steps
    assert any("hangupOnStar" in s for s in bridge.registry.get(star).steps)
    assert any("timeLimit" in s for s in bridge.registry.get(timed).steps)
    # timeLimit counts engine seconds in the conference: 3 s
    assert actions["Timed"]["form"]["DialCallDuration"] == "3"
    assert int(actions["Star"]["form"]["DialCallDuration"]) in (3, 4)


def test_wait_url_document_moderated_room(app_server, bridge_server, tmp_path):
    """The moderated conference: a caller with startConferenceOnEnter=false waits hearing the waitUrl
    document (Say + Play of an audio URL; a <Dial> in it is skipped with warning 12200); the moderator
    (startConferenceOnEnter, endConferenceOnExit) starts the conference and ends it on hanging up."""
    music = tmp_path / "music.wav"
    tone_track(music, 2, [(0, 2)], 900)
    app_server.routes["/music.wav"] = lambda form: Response(music.read_bytes(), mimetype="audio/wav")
    app_server.routes["/wait"] = lambda form: Response(
        "<Response><Play>/music.wav</Play><Dial>+15551230000</Dial><Redirect method='GET'>/wait</Redirect>"
        "</Response>", mimetype="text/xml")

    def voice(form):
        if form["From"] == "Moderator":
            return conference_twiml(form, "moderated-conference-room", startConferenceOnEnter="true",
                                    endConferenceOnExit="true", statusCallbackEvent="start end join leave")
        return conference_twiml(form, "moderated-conference-room", startConferenceOnEnter="false",
                                waitUrl="/wait", waitMethod="GET", statusCallbackEvent="start end join leave")
    app_server.twiml = voice
    caller = place(bridge_server, "Caller", "silence:")
    app_server.wait_event("participant-join")
    bridge = bridge_server.bridge
    # the caller waits: wait music plays; let 3 engine seconds pass before the moderator arrives
    leg = bridge.registry.get(caller).leg
    three_seconds = gevent.event.Event()
    bridge.call_later(3.0, three_seconds.set)       # engine time
    assert three_seconds.wait(10)
    moderator = place(bridge_server, "Moderator", tone_track(tmp_path / "m.wav", 3, [(1, 2)], 1700))
    assert bridge.wait_call(moderator, 30) and bridge.wait_call(caller, 30)
    app_server.wait_event("conference-end")
    bridge_server.dispatcher.wait_idle(10)
    assert [(n, label) for _, n, label in app_server.events()] == [
        ("participant-join", caller), ("participant-join", moderator), ("conference-start", ""),
        ("participant-leave", moderator), ("participant-leave", caller), ("conference-end", "")]
    end = app_server.callbacks.items[-1]["form"]
    assert end["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    # the wait document: fetched with GET (signed over the URL with its query), <Dial> → 12200
    waits = [r for r in app_server.requests.items if r["path"] == "/wait"]
    assert len(waits) == 1 and waits[0]["valid"] and waits[0]["args"]["CallSid"] == caller   # loops, not refetched
    assert 12200 in [code for code, _ in bridge.registry.get(caller).errors]
    # what the waiting caller heard before the start: the 900 Hz music, not silence
    heard = leg.heard_audio()
    assert tone_energy(heard, 16000, 900, 0.5, 2.5) > 2000
    # after the start the moderator's 1700 Hz speech reached the caller
    t_mod = bridge.registry.get(moderator).leg.start_tick * 0.02 - leg.start_tick * 0.02
    assert tone_energy(heard, 16000, 1700, t_mod + 1.1, t_mod + 1.9) > 2000


# ---------------------------------------------------------------------------------------------- REST control
def test_rest_control_add_hold_announce_kick_end(app_server, bridge_server, tmp_path):
    """The Participant/Conference writes through the bridge: create a participant (a virtual callee, To =
    tone: URL), hold with a HoldUrl document, announce to the room, kick (the call continues with its next
    verb), end the conference (conference-ended-via-api). Each yields its callback."""
    music = tmp_path / "music.wav"
    tone_track(music, 1, [(0, 1)], 900)
    app_server.routes["/music.wav"] = lambda form: Response(music.read_bytes(), mimetype="audio/wav")
    app_server.routes["/hold"] = lambda form: Response("<Response><Play>/music.wav</Play></Response>",
                                                       mimetype="text/xml")
    app_server.routes["/announce"] = lambda form: Response("<Response><Say>attention please</Say></Response>",
                                                           mimetype="text/xml")
    app_server.twiml = lambda form: (
        '<Response><Dial><Conference beep="false" statusCallback="/cb" statusCallbackEvent="start end join '
        'leave mute hold announcement">Ops</Conference></Dial><Say>after kick</Say></Response>')
    a = place(bridge_server, "A", "silence:")
    b = place(bridge_server, "B", "silence:")
    app_server.wait_event("conference-start")
    conf = app_server.callbacks.items[-1]["form"]["ConferenceSid"]
    reply = rest(bridge_server, f"Conferences/{conf}/Participants.json",
                 {"From": "bridge", "To": "tone:440", "Label": "beeper", "Muted": "true"})
    assert reply.status_code == 201, reply.text
    beeper = reply.json()["call_sid"]
    app_server.wait_event("participant-join", "beeper")
    reply = rest(bridge_server, f"Conferences/{conf}/Participants/{b}.json",
                 {"Hold": "true", "HoldUrl": app_server.url + "/hold", "HoldMethod": "GET"})
    assert reply.status_code == 200 and reply.json()["hold"] is True, reply.text
    app_server.wait_event("participant-hold")
    one_second = gevent.event.Event()
    bridge_server.bridge.call_later(1.0, one_second.set)      # let B be held for 1 s of engine time
    assert one_second.wait(10)
    assert rest(bridge_server, f"Conferences/{conf}/Participants/{b}.json", {"Hold": "false"}).status_code == 200
    app_server.wait_event("participant-unhold")
    reply = rest(bridge_server, f"Conferences/{conf}.json", {"AnnounceUrl": app_server.url + "/announce"})
    assert reply.status_code == 200, reply.text
    app_server.wait_event("announcement-end")
    assert rest(bridge_server, f"Conferences/{conf}/Participants/{a}.json", method="DELETE").status_code == 204
    bridge = bridge_server.bridge
    assert bridge.wait_call(a, 20)
    assert "say 'after kick'" in bridge.registry.get(a).steps       # the Dial completed, the call went on
    reply = rest(bridge_server, f"Conferences/{conf}.json", {"Status": "completed"})
    assert reply.status_code == 200 and reply.json()["status"] == "completed", reply.text
    app_server.wait_event("conference-end")
    assert bridge.wait_call(b, 20) and bridge.wait_call(beeper, 20)
    bridge_server.dispatcher.wait_idle(10)
    names = [(n, label) for _, n, label in app_server.events()]
    assert names == [
        ("participant-join", a), ("participant-join", b), ("conference-start", ""),
        ("participant-join", "beeper"), ("participant-hold", b), ("participant-unhold", b),
        ("announcement-end", ""), ("participant-leave", a),
        ("participant-leave", b), ("participant-leave", "beeper"), ("conference-end", "")]
    forms = [c["form"] for c in app_server.callbacks.items]
    assert forms[-1]["ReasonConferenceEnded"] == "conference-ended-via-api"
    assert all(c["valid"] for c in app_server.callbacks.items)
    # B heard the hold document's 900 Hz music while held, and not after being unheld
    leg = bridge.registry.get(b).leg
    t0 = (bridge.engine.clock.start_epoch_us / 1e6) + leg.start_tick * 0.02
    held = next(e for e in bridge.events if e.name == "participant-hold").timestamp.timestamp() - t0
    unheld = next(e for e in bridge.events if e.name == "participant-unhold").timestamp.timestamp() - t0
    heard = leg.heard_audio()
    assert unheld - held >= 1.0
    assert tone_energy(heard, 16000, 900, held + 0.05, unheld - 0.05) > 2000
    assert tone_energy(heard, 16000, 900, unheld + 0.1, unheld + 0.5) < 50
    assert bridge.registry.get(beeper).direction == "outbound-api"


# ---------------------------------------------------------------------------------------------- other dialects
def test_jambonz_conference_hooks(app_server, tmp_path):
    """A jambonz number: the call webhook is jambonz's JSON call payload; the app answers JSON verbs; the
    conference verb's enterHook is played before joining, waitHook while waiting, statusHook gets jambonz
    JSON events, actionHook is requested when the caller leaves (jambonz conference verb)."""
    import json as _json
    jnum = "+15550003000"
    srv = start_bridge(str(tmp_path / "jb"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(jnum, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        conf_verb = {"verb": "conference", "name": "jroom", "beep": False, "statusHook": "/cb-j",
                     "statusEvents": ["start", "end", "join", "leave"], "actionHook": "/jaction",
                     "enterHook": "/jenter", "waitHook": "/jwait"}
        js = lambda doc: Response(_json.dumps(doc), mimetype="application/json")
        app_server.routes["/jvoice"] = lambda body: js([{"verb": "say", "text": "hello"}, conf_verb])
        app_server.routes["/jenter"] = lambda body: js([{"verb": "say", "text": "entering"}])
        app_server.routes["/jwait"] = lambda body: js([{"verb": "pause", "length": 1}])
        app_server.routes["/jaction"] = lambda body: js([{"verb": "hangup"}])
        j1 = place(srv, "J1", "silence:", to=jnum, TimeLimit="6")
        j2 = place(srv, "J2", "silence:", to=jnum, TimeLimit="9")
        assert srv.bridge.wait_call(j1, 20) and srv.bridge.wait_call(j2, 20)
        assert app_server.callbacks.wait_for(
            lambda items: any((c["json"] or {}).get("event") == "end" for c in items), 20)
        srv.dispatcher.wait_idle(10)
    finally:
        srv.stop()
    voice = [r for r in app_server.requests.items if r["path"] == "/jvoice"]
    assert {v["json"]["call_sid"] for v in voice} == {j1, j2}
    assert all(v["json"]["from"] in ("J1", "J2") and v["json"]["to"] == jnum and v["json"]["direction"] == "inbound"
               for v in voice)
    paths = [r["path"] for r in app_server.requests.items]
    assert paths.count("/jenter") == 2 and paths.count("/jwait") >= 1 and paths.count("/jaction") == 2
    action = next(r for r in app_server.requests.items if r["path"] == "/jaction")
    assert action["json"]["conference_sid"].startswith("CF")
    events = [c["json"]["event"] for c in app_server.callbacks.items if c["path"] == "/cb-j"]
    assert events == ["join", "join", "start", "leave", "leave", "end"]
    for who in (j1, j2):
        steps = " | ".join(srv.bridge.registry.get(who).steps)
        assert "say 'hello'" in steps and "joins conference 'jroom'" in steps


def test_texml_number_parameters(app_server, tmp_path):
    """A TeXML number: Telnyx's request parameters (CallSidLegacy …) and Telnyx-style status callbacks."""
    tnum = "+15550004000"
    srv = start_bridge(str(tmp_path / "tx"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(tnum, AC, app_server.url + "/tvoice", dialect="texml")])
    try:
        app_server.routes["/tvoice"] = lambda form: Response(
            '<Response><Dial><Conference statusCallback="/cb-t" statusCallbackEvent="start end join leave">'
            't-room</Conference></Dial></Response>', mimetype="text/xml")
        t1 = place(srv, "+15557770001", "silence:", to=tnum, TimeLimit="3")
        assert srv.bridge.wait_call(t1, 20)
        assert app_server.callbacks.wait_for(
            lambda items: any(c["form"].get("StatusCallbackEvent") == "conference-end" for c in items), 20)
    finally:
        srv.stop()
    voice = next(r for r in app_server.requests.items if r["path"] == "/tvoice")["form"]
    assert voice["CallSid"] == t1 and voice["CallSidLegacy"] == t1 and voice["To"] == tnum
    assert voice["From"] == "+15557770001" and "ApiVersion" not in voice
    cbs = [c["form"] for c in app_server.callbacks.items if c["path"] == "/cb-t"]
    assert [c["StatusCallbackEvent"] for c in cbs] == ["participant-join", "participant-leave", "conference-end"]
    assert cbs[0]["From"] == "+15557770001" and cbs[0]["To"] == tnum


def test_calls_resource_with_the_twilio_sdk(app_server, bridge_server):
    """The official twilio client, only its base URL changed, creates a virtual call (To = a media URL, Url
    = the app, TimeLimit) and fetches it; a call to an unknown number is a Twilio-shaped 404."""
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client
    client = Client(AC, TOKEN)
    client.api.base_url = bridge_server.base_url
    app_server.twiml = lambda form: "<Response><Say>hello from the sdk</Say></Response>"
    call = client.calls.create(to="tone:500", from_="+15550009999", url=app_server.url + "/voice",
                               time_limit=30)
    assert call.sid.startswith("CA") and call.direction == "outbound-api" and call.to == "tone:500"
    assert bridge_server.bridge.wait_call(call.sid, 20)
    fetched = client.calls(call.sid).fetch()
    assert fetched.status == "completed" and fetched._from == "+15550009999"
    voice = next(r for r in app_server.requests.items if r["form"].get("CallSid") == call.sid)
    assert voice["form"]["Direction"] == "outbound-api" and voice["valid"]
    assert call.sid in [c.sid for c in client.calls.list()]
    with pytest.raises(TwilioRestException) as err:
        client.calls.create(to="+15550000000", from_="x", url=app_server.url + "/voice")
    assert err.value.status == 400
    # a bad parameter is Twilio's 21201, as on every other route
    bad = rest(bridge_server, "Calls.json", {"To": "tone:500", "From": "x", "Url": app_server.url + "/voice",
                                             "Dtmf": "12"})
    assert bad.status_code == 400 and bad.json()["code"] == 21201, bad.text


def test_redirect_play_pause_hangup_outside_a_conference(app_server, bridge_server, tmp_path):
    """<Redirect> (relative URL, GET) continues with the next document; <Play> downloads the app's audio and
    the caller hears it; <Pause> is engine seconds of silence; <Hangup> ends the call (Twilio TwiML verbs)."""
    music = tmp_path / "music.wav"
    tone_track(music, 1, [(0, 1)], 1200)
    app_server.routes["/music.wav"] = lambda form: Response(music.read_bytes(), mimetype="audio/wav")
    app_server.routes["/voice"] = lambda form: Response(
        '<Response><Redirect method="GET">next</Redirect><Say>not reached</Say></Response>', mimetype="text/xml")
    app_server.routes["/next"] = lambda form: Response(
        '<Response><Play loop="2">/music.wav</Play><Pause length="2"/><Hangup/><Say>not reached</Say></Response>',
        mimetype="text/xml")
    sid = place(bridge_server, "Caller", "silence:")
    bridge = bridge_server.bridge
    assert bridge.wait_call(sid, 20)
    rec = bridge.registry.get(sid)
    assert rec.errors == []
    verbs = [s for s in rec.steps if s.startswith(("redirect", "play", "pause", "hangup", "say"))]
    assert verbs == ["redirect next", "play /music.wav", "pause 2s", "hangup"]
    nxt = next(r for r in app_server.requests.items if r["path"] == "/next")
    assert nxt["valid"] and nxt["args"]["CallStatus"] == "in-progress"
    heard = rec.leg.heard_audio()
    # 20 ms frames carrying the music: 2 × 1 s (loop="2"); then ≥ 2 s of the pause before the hang-up
    frames = heard[: len(heard) // 320 * 320].reshape(-1, 320)
    loud = [i for i, f in enumerate(frames) if tone_energy(f, 16000, 1200, 0, 0.02) > 2000]
    assert len(loud) == pytest.approx(100, abs=3) and loud[-1] - loud[0] == pytest.approx(99, abs=3)
    assert len(frames) - loud[-1] >= 100
    assert len([r for r in app_server.requests.items if r["path"] == "/music.wav"]) == 1   # cached


# ---------------------------------------------------------------------------------------------- more seed rooms
def _answer_s(bridge, sid):
    """Engine epoch seconds at which the call was answered (its heard audio starts there)."""
    return bridge.engine.clock.start_epoch_us / 1e6 + bridge.registry.get(sid).leg.start_tick * 0.02


def _event_s(bridge, name, call_sid=None):
    e = next(e for e in bridge.events if e.name == name and (call_sid is None or e.participant.call_sid == call_sid))
    return e.timestamp.timestamp()


def test_customer_waiting_room(app_server, bridge_server, tmp_path):
    """Seed: the customer waits in "Customer Waiting Room" (beep="false") hearing music; the agent joins
    (beep="false", endConferenceOnExit) — the music stops, no beep is heard, they talk; the agent hangs up
    and the conference ends, the customer's Dial completes."""
    def voice(form):
        attrs = {"beep": "false", "statusCallbackEvent": "start end join leave"}
        if form["From"] == "Agent":
            attrs["endConferenceOnExit"] = "true"
        return conference_twiml(form, "Customer Waiting Room", **attrs)
    app_server.twiml = voice
    customer = place(bridge_server, "Customer", "silence:")
    app_server.wait_event("participant-join")
    bridge = bridge_server.bridge
    two_seconds = gevent.event.Event()
    bridge.call_later(2.0, two_seconds.set)
    assert two_seconds.wait(10)
    agent = place(bridge_server, "Agent", tone_track(tmp_path / "agent.wav", 3, [(1, 2)], 1700))
    assert bridge.wait_call(agent, 30) and bridge.wait_call(customer, 30)
    app_server.wait_event("conference-end")
    assert [(n, label) for _, n, label in app_server.events()] == [
        ("participant-join", customer), ("participant-join", agent), ("conference-start", ""),
        ("participant-leave", agent), ("participant-leave", customer), ("conference-end", "")]
    heard = bridge.registry.get(customer).leg.heard_audio()
    t_start = _event_s(bridge, "conference-start") - _answer_s(bridge, customer)
    t_agent = _answer_s(bridge, agent) - _answer_s(bridge, customer)
    music = heard[int(0.5 * 16000):int((t_start - 0.1) * 16000)].astype(np.float64)
    assert np.sqrt(np.mean(music ** 2)) > 100                                  # hold music while waiting
    after = heard[int((t_start + 0.05) * 16000):int((t_start + 0.6) * 16000)]
    assert np.abs(after).max() < 50                                            # music stopped, no beep
    assert tone_energy(heard, 16000, 1700, t_agent + 1.1, t_agent + 1.9) > 2000  # the agent is heard


def test_no_music_no_beep_room_and_muted_joiner(app_server, bridge_server, tmp_path):
    """Seed: "NoMusicNoBeepRoom" (beep="false", waitUrl="" → silence, endConferenceOnExit) bridges two calls;
    a third caller joins "SimpleRoom"-style with muted="true": heard by nobody, its join says Muted=true."""
    def voice(form):
        if form["From"] == "Quiet":
            return conference_twiml(form, "NoMusicNoBeepRoom", muted="true", beep="false", waitUrl="",
                                    statusCallbackEvent="join leave end")
        return conference_twiml(form, "NoMusicNoBeepRoom", beep="false", waitUrl="", startConferenceOnEnter="true",
                                endConferenceOnExit="true", statusCallbackEvent="join leave end")
    app_server.twiml = voice
    first = place(bridge_server, "First", "silence:")
    app_server.wait_event("participant-join")
    bridge = bridge_server.bridge
    one_second = gevent.event.Event()
    bridge.call_later(1.0, one_second.set)
    assert one_second.wait(10)
    quiet = place(bridge_server, "Quiet", tone_track(tmp_path / "quiet.wav", 30, [(0.5, 3)], 1300))
    app_server.wait_event("participant-join", count=2)
    second = place(bridge_server, "Second", tone_track(tmp_path / "second.wav", 5, [(1, 2)], 1500))
    assert all(bridge.wait_call(s, 30) for s in (first, quiet, second))
    app_server.wait_event("conference-end")
    joins = [c["form"] for c in app_server.callbacks.items if c["form"]["StatusCallbackEvent"] == "participant-join"]
    assert [(j["CallSid"], j["Muted"]) for j in joins] == [(first, "false"), (quiet, "true"), (second, "false")]
    end = app_server.callbacks.items[-1]["form"]
    assert end["StatusCallbackEvent"] == "conference-end"
    assert end["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    assert end["CallSidEndingConference"] in (first, second)
    heard = bridge.registry.get(first).leg.heard_audio()
    t_quiet = _answer_s(bridge, quiet) - _answer_s(bridge, first)
    t_second = _answer_s(bridge, second) - _answer_s(bridge, first)
    assert np.abs(heard[: int((t_quiet + 0.4) * 16000)]).max() == 0            # waitUrl="": silence, no beep
    assert tone_energy(heard, 16000, 1300, t_quiet + 0.6, t_quiet + 2.9) < 50     # the muted joiner: unheard
    assert tone_energy(heard, 16000, 1500, t_second + 1.1, t_second + 1.9) > 2000
