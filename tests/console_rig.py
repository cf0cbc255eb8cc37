"""Shared by the console / metrics tests: an in-process bridge (port 0, standalone engine) with a real app
server (TwiML + status-callback receiver) and callers whose audio talks in bursts, so the talk detector
starts and stops while a test watches."""
from __future__ import annotations

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
import requests
import soundfile as sf
from flask import Flask, Response, request

from fsbridge.config import Number
from fsbridge.local import CallbackLog, HttpApp, start_bridge

AC = "AC" + "c" * 32
TOKEN = "console-token"
OTHER = "AC" + "d" * 32
OTHER_TOKEN = "other-token"
NUMBER = "+15550002000"
RATE = 16000
ROOM = "OpsRoom"


def burst_track(path, total_s, on_s, off_s, hz, rate=RATE):
    """``file:`` media of ``total_s`` seconds: a ``hz`` tone (amplitude 8000) ``on_s`` s, silence ``off_s`` s,
    repeated — the talk detector starts and stops every cycle."""
    t = np.arange(int(total_s * rate)) / rate
    gate = (t % (on_s + off_s)) < on_s
    x = np.where(gate, 8000 * np.sin(2 * np.pi * hz * t), 0.0)
    sf.write(str(path), x.astype(np.int16), rate, subtype="PCM_16")
    return "file:" + str(path)


class App:
    """The customer's app: ``/voice`` puts every caller into ``ROOM`` (label = From, all status events to
    ``/cb``); ``/cb`` records callbacks in ``self.callbacks`` — after answering the statuses queued in
    ``self.fail[event]`` (e.g. ``[503]``: one failed attempt first)."""

    def __init__(self):
        self.callbacks = CallbackLog()
        self.fail = {}   # StatusCallbackEvent → HTTP statuses to answer first (then 204)
        self.record = False   # True: record="record-from-start"
        self.labels = True    # participantLabel = From (False: FreeSWITCH fake calls all come from 1000)
        app = Flask("console-app")

        @app.post("/voice")
        def voice():
            who = request.form.get("From", "")
            return Response(
                '<Response><Dial><Conference statusCallback="/cb"%s '
                'statusCallbackEvent="start end join leave mute hold speaker" '
                'endConferenceOnExit="false"%s>%s</Conference></Dial></Response>'
                % (' participantLabel="%s"' % who if self.labels else "",
                   ' record="record-from-start"' if self.record else "", ROOM),
                mimetype="text/xml")

        @app.post("/cb")
        def cb():
            form = request.form.to_dict()
            answers = self.fail.get(form.get("StatusCallbackEvent"))
            if answers:
                return Response("no", status=answers.pop(0))
            self.callbacks.add(form)
            return Response("", status=204)
        self.http = HttpApp(app).start()
        self.url = self.http.url

    def wait_event(self, name, label=None, timeout=20):
        """Wait for a ``StatusCallbackEvent`` ``name`` (for ``label``); returns True when it came."""
        return self.callbacks.wait_for(lambda items: any(
            c.get("StatusCallbackEvent") == name and (label is None or c.get("ParticipantLabel") == label)
            for c in items), timeout)


def start(tmp_path, app, clock="1"):
    """A started bridge (two accounts) whose number runs ``app``."""
    return start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN, OTHER: OTHER_TOKEN},
                        numbers=[Number(NUMBER, AC, app.url + "/voice")], clock=clock, rate=RATE,
                        fetch_timeout=5.0)


@pytest.fixture
def app():
    """The customer's :class:`App`, served on 127.0.0.1:0 until the test ends (import it into a test module)."""
    a = App()
    yield a
    a.http.stop()


@pytest.fixture
def server(request, tmp_path, app):
    """A bridge from :func:`start` running ``app``; its clock is the test module's ``CONSOLE_CLOCK`` ("10" when
    the module sets none: ten times real time)."""
    srv = start(tmp_path, app, clock=getattr(request.module, "CONSOLE_CLOCK", "10"))
    yield srv
    srv.stop()


def conference_sid(server, timeout=20):
    """The ConferenceSid of ``ROOM`` once it is in progress."""
    found = {}

    def ready():
        for info in server.bridge.state.conferences(AC):
            if info.friendly_name == ROOM and info.status == "in-progress":
                found["sid"] = info.sid
                return True
        return False
    assert server.bridge.wait_until(ready, timeout), "the conference did not start"
    return found["sid"]


def get(server, path, auth=(AC, TOKEN), **kw):
    """GET ``base_url + path`` with ``auth`` (None: no credentials)."""
    return requests.get(server.base_url + path, auth=auth, timeout=10, **kw)


def meeting(server, tmp_path, total_s=60.0, on_s=1.0, off_s=1.0):
    """Ann (talking in bursts for ``total_s`` s) and Ben (silent until hung up) join ``ROOM`` (Twilio starts
    a conference with its second participant). Returns (Ann's record, Ben's record, ConferenceSid)."""
    ann = server.bridge.place_call(AC, "Ann", NUMBER, burst_track(tmp_path / "ann.wav", total_s, on_s, off_s, 700))
    ben = server.bridge.place_call(AC, "Ben", NUMBER, "silence:")
    return ann, ben, conference_sid(server)


def scrape(server):
    """{(sample name, frozenset(labels.items())): value} of one /metrics scrape (no credentials)."""
    reply = get(server, "/metrics", auth=None)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(reply.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)
