"""The whole bridge against a live FreeSWITCH: calls come in through FreeSWITCH's own dialplan (as from a
desk phone), fsbridge fetches a real TwiML app, and the app receives the status callbacks; REST mute, hold,
kick, endConferenceOnExit and a recording, checked on the callbacks and on FreeSWITCH itself
(``conference … json_list``). Skipped unless FSBRIDGE_TEST_ESL is set (tests/conftest.py, marker
``freeswitch``).

Environment:
  FSBRIDGE_TEST_ESL=host:port:password   the event socket (required)
  FSBRIDGE_TEST_SOCKET=host:port         the address the dialplan's ``socket`` application connects to; the
                                         bridge's outbound-socket server binds it (default 127.0.0.1:8084,
                                         freeswitch-conf/dialplan/default/fsbridge.xml). Nothing else may
                                         listen there (stop ``fsbridge serve`` first).
  FSBRIDGE_TEST_NUMBER=ext               an extension that dialplan hands to that socket (default 7200)
  FSBRIDGE_TEST_CONTEXT=name             the dialplan context of that extension (default ``default``)
  FSBRIDGE_TEST_DIAL=dialstring          an answering far end for REST dial-outs (default
                                         loopback/9664/default: the stock dialplan's music-on-hold extension)

The callers are ``loopback/<ext>/<context>`` legs (``bgapi originate … &park()``): the b-leg runs the
dialplan like a phone's call; hanging the parked a-leg up is the caller hanging up. The recording file is
checked only when FreeSWITCH runs on this machine (ESL host 127.0.0.1/localhost), as it writes the file.
"""
from __future__ import annotations

import io
import json
import os
import uuid

import gevent
import numpy as np
import pytest
import requests
import soundfile as sf
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.local import CallbackLog, HttpApp, start_bridge

pytestmark = pytest.mark.freeswitch

AC = "AC" + "5" * 32
TOKEN = "live-e2e-token"
EVENTS = "start end join leave mute hold"


def _tone_wav() -> bytes:
    """0.5 s of 700 Hz at 16 kHz (the announcement the app serves)."""
    t = np.arange(8000) / 16000
    buf = io.BytesIO()
    sf.write(buf, (8000 * np.sin(2 * np.pi * 700 * t)).astype(np.int16), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def tone_app(name: str) -> Flask:
    """A Flask app called ``name`` that already serves ``GET /tone.wav`` (:func:`_tone_wav`, audio/wav)."""
    app = Flask(name)

    @app.route("/tone.wav", methods=["GET"])
    def tone():
        return Response(_tone_wav(), mimetype="audio/wav")
    return app


def signed_form(validator: RequestValidator):
    """(form fields as a dict, whether X-Twilio-Signature verifies with ``validator``) of the Flask request
    being handled."""
    form = request.form.to_dict()
    return form, validator.validate(request.url, form, request.headers.get("X-Twilio-Signature", ""))


def kill_legs(conn, legs):
    """Hang up every channel UUID in ``legs`` (``uuid_kill`` over ``conn``, an inbound ESL connection);
    one already gone, or a connection that fails, is passed over (test clean-up)."""
    for leg in legs:
        try:
            conn.api("uuid_kill %s" % leg)
        except Exception:
            pass


def _env():
    host, port, password = os.environ["FSBRIDGE_TEST_ESL"].rsplit(":", 2)
    sock_host, sock_port = os.environ.get("FSBRIDGE_TEST_SOCKET", "127.0.0.1:8084").rsplit(":", 1)
    return (host, int(port), password, sock_host, int(sock_port),
            os.environ.get("FSBRIDGE_TEST_NUMBER", "7200"), os.environ.get("FSBRIDGE_TEST_CONTEXT", "default"))


class App:
    """The customer's TwiML app: every caller joins ``room`` labelled by its From; Mary ends the conference
    on exit. Status and recording callbacks are recorded with their signature check."""

    def __init__(self, room: str, events: str = EVENTS):
        self.callbacks = CallbackLog()
        self.voice = CallbackLog()
        validator = RequestValidator(TOKEN)
        app = tone_app("live-e2e-app")

        @app.route("/<path:name>", methods=["POST"])
        def route(name):
            form, valid = signed_form(validator)
            if name in ("cb", "rcb"):
                self.callbacks.add({"path": name, "form": form, "valid": valid})
                return Response("", status=204)
            self.voice.add(form)
            who = form.get("From", "")
            end = ' endConferenceOnExit="true"' if who == "Mary" else ""
            return Response(
                '<Response><Dial><Conference statusCallback="/cb" statusCallbackEvent="%s" '
                'participantLabel="%s" record="record-from-start" recordingStatusCallback="/rcb"%s>%s'
                '</Conference></Dial></Response>' % (events, who, end, room), mimetype="text/xml")

        self.http = HttpApp(app).start()
        self.url = self.http.url

    def forms(self, path="cb"):
        """The form fields of the callbacks to ``path``, in arrival order."""
        return [c["form"] for c in self.callbacks.items if c["path"] == path]

    def wait(self, event, label=None, path="cb", timeout=20):
        """The first ``event`` callback (of participant ``label``); fails after ``timeout`` s."""
        def find(items):
            return [c["form"] for c in items if c["path"] == path
                    and (c["form"].get("StatusCallbackEvent") or c["form"].get("RecordingStatus")) == event
                    and (label is None or c["form"].get("ParticipantLabel") == label)]
        ok = self.callbacks.wait_for(lambda items: bool(find(items)), timeout)
        assert ok, "no %s %s callback; got %r" % (event, label or "", [
            (f.get("StatusCallbackEvent"), f.get("ParticipantLabel")) for f in self.forms(path)])
        return find(self.callbacks.items)[0]


@pytest.fixture
def events():
    """The statusCallbackEvent words of the app's conferences (a test may override this fixture)."""
    return EVENTS


@pytest.fixture
def live(tmp_path, events):
    """An in-process bridge on the live FreeSWITCH (its outbound socket on FSBRIDGE_TEST_SOCKET), a TwiML app
    for FSBRIDGE_TEST_NUMBER, and ``call(name)`` placing a caller; yields (engine, server, app, room, call)."""
    host, port, password, sock_host, sock_port, number, context = _env()
    room = "live-" + uuid.uuid4().hex[:12]
    app = App(room, events)
    engine = FreeSwitchEngine(host, port, password, outbound_host=sock_host, outbound_port=sock_port,
                              command_timeout=5, reconnect_backoff=0.1, max_backoff=1)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                          numbers=[Number(number, AC, app.url + "/voice")], engine=engine, fetch_timeout=5.0)
    engine.set_call_handler(server.bridge.on_call)
    assert engine.wait_connected(10), "cannot reach FreeSWITCH's event socket at %s:%d" % (host, port)
    legs = []

    def call(name):
        """A caller ``name`` dials the number; returns the parked a-leg's Unique-ID (hang it up = the caller
        hangs up)."""
        a_leg = str(uuid.uuid4())
        legs.append(a_leg)
        engine.esl.bgapi("originate {origination_uuid=%s,origination_caller_id_number=%s,"
                         "origination_caller_id_name=%s}loopback/%s/%s &park()" % (a_leg, name, name, number, context))
        return a_leg

    yield engine, server, app, room, call
    kill_legs(engine.esl, legs)
    server.stop()
    app.http.stop()


def members(engine, room):
    """FreeSWITCH's own view: ``{caller id name: flags}`` from ``conference <room> json_list``."""
    body = engine.esl.api("conference %s json_list" % room)
    if not body.strip().startswith("["):
        return {}
    return {m["caller_id_name"]: m["flags"] for c in json.loads(body) for m in c["members"] if m.get("type") == "caller"}


def wait_fs(engine, room, pred, timeout=10):
    """Poll FreeSWITCH's member list (``json_list``) until ``pred(members)``; True, or False after
    ``timeout`` s (FreeSWITCH sends no event for every flag, so this is the only way to look)."""
    with gevent.Timeout(timeout, False):
        while not pred(members(engine, room)):
            gevent.sleep(0.05)
        return True
    return False


def rest(server, path, method="POST", **data):
    """An authenticated request to the bridge's Twilio route."""
    return requests.request(method, "%s/2010-04-01/Accounts/%s/%s" % (server.base_url, AC, path),
                            data=data or None, auth=(AC, TOKEN), timeout=10)


def test_live_fsbridge_profile_is_loaded(live):
    """freeswitch-conf/'s conference profile is in FreeSWITCH's configuration: a wrong include path in
    conference.conf.xml includes nothing, silently, and rooms then run on built-in defaults (8 kHz)."""
    engine = live[0]
    conf = engine.esl.api("xml_locate configuration configuration name conference.conf")
    assert '<profile name="fsbridge">' in conf, "the fsbridge conference profile is not loaded"


def test_live_dialplan_calls_callbacks_rest_mute_hold_kick_endconf_recording(live):
    """Alice waits alone, Bob starts the conference, REST mute/hold/unhold, Mary (endConferenceOnExit) joins,
    Bob is kicked, Mary hangs up → conference-end; the recording; callbacks numbered, ordered, signed."""
    engine, server, app, room, call = live
    call("Alice")
    alice = app.wait("participant-join", "Alice")
    assert app.voice.items[0]["To"] == _env()[5] and app.voice.items[0]["From"] == "Alice"
    cf = alice["ConferenceSid"]
    # alone: waiting (fsbridge's gate: muted + deaf on FreeSWITCH, no conference-start yet)
    assert wait_fs(engine, cf, lambda m: "Alice" in m and not m["Alice"]["can_speak"] and not m["Alice"]["can_hear"])
    assert "conference-start" not in [f.get("StatusCallbackEvent") for f in app.forms()]
    call("Bob")
    bob = app.wait("participant-join", "Bob")
    app.wait("conference-start")
    assert wait_fs(engine, cf, lambda m: all(m.get(n, {}).get("can_speak") and m[n]["can_hear"] for n in ("Alice", "Bob")))
    # REST mute → conference <room> mute <id> → mute-member → participant-mute
    r = rest(server, "Conferences/%s/Participants/%s.json" % (cf, bob["CallSid"]), Muted="true")
    assert r.status_code == 200 and r.json()["muted"] is True, r.text
    assert app.wait("participant-mute", "Bob")["Muted"] == "true"
    assert not members(engine, cf)["Bob"]["can_speak"]
    # hold = hold + deaf on FreeSWITCH; unhold
    r = rest(server, "Conferences/%s/Participants/%s.json" % (cf, alice["CallSid"]), Hold="true")
    assert r.status_code == 200, r.text
    assert app.wait("participant-hold", "Alice")["Hold"] == "true"
    assert members(engine, cf)["Alice"]["hold"]
    r = rest(server, "Conferences/%s/Participants/%s.json" % (cf, alice["CallSid"]), Hold="false")
    assert r.status_code == 200, r.text
    app.wait("participant-unhold", "Alice")
    assert wait_fs(engine, cf, lambda m: not m["Alice"]["hold"] and m["Alice"]["can_hear"])
    # Mary, who ends the conference on exit
    mary_leg = call("Mary")
    mary = app.wait("participant-join", "Mary")
    assert mary["EndConferenceOnExit"] == "true"
    assert members(engine, cf)["Mary"]["end_conference"]
    # kick Bob over REST
    r = rest(server, "Conferences/%s/Participants/%s.json" % (cf, bob["CallSid"]), method="DELETE")
    assert r.status_code == 204, r.text
    assert app.wait("participant-leave", "Bob")["ReasonParticipantLeft"] == "participant_updated_via_api"
    assert wait_fs(engine, cf, lambda m: "Bob" not in m)
    # Mary hangs up → the conference ends. The scenario lasts a little longer first so that the recording has a
    # length in whole seconds (RecordingDuration); nothing waits on this pause.
    gevent.sleep(1.5)
    engine.esl.api("uuid_kill %s" % mary_leg)
    assert app.wait("participant-leave", "Mary")["ReasonParticipantLeft"] == "participant_hung_up"
    app.wait("participant-leave", "Alice")
    end = app.wait("conference-end")
    assert end["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    assert end["CallSidEndingConference"] == mary["CallSid"]
    assert engine.esl.api("conference %s list" % cf).startswith("-ERR")
    # the recording FreeSWITCH made
    rec = app.wait("completed", path="rcb")
    assert rec["ConferenceSid"] == cf and int(rec["RecordingDuration"]) >= 1
    # callbacks: in order, numbered, signed
    forms = app.forms()
    seq = [int(f["SequenceNumber"]) for f in forms]
    assert seq == sorted(seq) and len(set(seq)) == len(seq)
    assert [f["StatusCallbackEvent"] for f in forms] == [
        "participant-join", "participant-join", "conference-start", "participant-mute", "participant-hold",
        "participant-unhold", "participant-join", "participant-leave", "participant-leave", "participant-leave",
        "conference-end"]
    assert all(c["valid"] for c in app.callbacks.items)
    if _env()[0] in ("127.0.0.1", "localhost"):
        path = os.path.join(server.bridge.settings.recordings_dir, rec["RecordingSid"] + ".wav")
        assert os.path.getsize(path) > 1000


@pytest.mark.parametrize("events", ["start end join leave announcement"])
def test_live_rest_dial_out_coach_announce_recording_pause_and_end(live):
    """REST dial-out (Participants.json, coaching), AnnounceUrl, recording pause/resume and
    Status=completed through the bridge, on FreeSWITCH."""
    engine, server, app, room, call = live
    call("Alice")
    alice = app.wait("participant-join", "Alice")
    cf = alice["ConferenceSid"]
    call("Bob")
    app.wait("participant-join", "Bob")
    app.wait("conference-start")
    # add a participant by dialling out: a coach heard only by Alice
    r = rest(server, "Conferences/%s/Participants.json" % cf, From="7000",
             To=os.environ.get("FSBRIDGE_TEST_DIAL", "loopback/9664/default"), Label="Coach", Coaching="true",
             CallSidToCoach=alice["CallSid"])
    assert r.status_code == 201, r.text
    coach = app.wait("participant-join", "Coach")
    assert coach["Coaching"] == "true" and coach["CallSidToCoach"] == alice["CallSid"]
    assert wait_fs(engine, cf, lambda m: len(m) == 3)
    # an announcement to the room: FreeSWITCH plays it, its end is reported
    r = rest(server, "Conferences/%s.json" % cf, AnnounceUrl=app.url + "/tone.wav", AnnounceMethod="GET")
    assert r.status_code == 200, r.text
    assert app.wait("announcement-end")["ConferenceSid"] == cf
    # the recording (record-from-start): pause and resume over REST
    recs = rest(server, "Conferences/%s/Recordings.json" % cf, method="GET").json()["recordings"]
    assert len(recs) == 1 and recs[0]["status"] == "in-progress"
    sid = recs[0]["sid"]
    for status in ("paused", "in-progress"):
        r = rest(server, "Conferences/%s/Recordings/%s.json" % (cf, sid), Status=status)
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    # the app ends the conference: everybody leaves, FreeSWITCH's room is gone
    r = rest(server, "Conferences/%s.json" % cf, Status="completed")
    assert r.status_code == 200, r.text
    end = app.wait("conference-end")
    assert end["ReasonConferenceEnded"] == "conference-ended-via-api"
    leaves = [f for f in app.forms() if f["StatusCallbackEvent"] == "participant-leave"]
    assert sorted(f["ParticipantLabel"] for f in leaves) == ["Alice", "Bob", "Coach"]
    assert {f["ReasonParticipantLeft"] for f in leaves} == {"conference_ended_via_api"}
    assert engine.esl.api("conference %s list" % cf).startswith("-ERR")
    assert app.wait("completed", path="rcb")["RecordingSid"] == sid
