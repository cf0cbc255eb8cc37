"""Shared pieces of the end-to-end tests (tests/test_e2e_*.py): the customer's app (:class:`AppServer`),
tone tracks and their energy, REST helpers. Fixtures ``app_server`` → ``bridge_server`` are in conftest.py.
"""
from __future__ import annotations

import gevent.event
import numpy as np
import requests
import soundfile as sf
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from fsbridge.config import Number
from fsbridge.local import CallbackLog, HttpApp, start_bridge

AC = "AC" + "7" * 32
TOKEN = "e2e-auth-token"
NUMBER = "+15550001000"
RATE = 16000
SPEED = "10"           # 10× real time: HTTP latencies cost 10× less engine time than wall time
FREQ = {"Mary": 1100, "Alice": 1300, "Bob": 1500, "Charles": 1700}


# ---------------------------------------------------------------------------------------------- helpers
def texml_bridge(tmp_path, app_server, number, conference_attrs=""):
    """An in-process bridge (clock SPEED, under ``tmp_path/tx``) whose TeXML ``number`` fetches
    ``app_server``'s ``/tvoice``, which puts every caller into the room ``t-room`` with Telnyx-style status
    callbacks (``/cb-t``; start end join leave) plus ``conference_attrs`` (e.g. ``' beep="false"'``)."""
    srv = start_bridge(str(tmp_path / "tx"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(number, AC, app_server.url + "/tvoice", dialect="texml")])
    app_server.routes["/tvoice"] = lambda form: Response(
        '<Response><Dial><Conference statusCallback="/cb-t" statusCallbackEvent="start end join leave"%s>'
        't-room</Conference></Dial></Response>' % conference_attrs, mimetype="text/xml")
    return srv


def serve_toml_head(work, db="serve.sqlite"):
    """The ``[server]`` (127.0.0.1, port 0) and ``[storage]`` (SQLite ``{work}/{db}``, audio and recordings
    under ``work``) sections of an fsbridge.toml, for tests that load a config file or run ``fsbridge serve``."""
    return f"""
[server]
host = "127.0.0.1"
port = 0
[storage]
database_url = "sqlite:///{work}/{db}"
audio_dir = "{work}/audio"
recordings_dir = "{work}/recordings"
"""


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
    """TwiML string ``<Dial><Conference attrs…>name</Conference></Dial>`` for an ``AppServer.twiml`` hook; ``form``
    (the voice request, unused) keeps the hook's signature; ``statusCallback`` defaults to ``/cb``."""
    attrs.setdefault("statusCallback", "/cb")
    rendered = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<Response><Dial><Conference{rendered}>{name}</Conference></Dial></Response>"


def _answer_s(bridge, sid):
    """Engine epoch seconds at which the call was answered (its heard audio starts there)."""
    return bridge.engine.clock.start_epoch_us / 1e6 + bridge.registry.get(sid).leg.start_tick * 0.02


def _event_s(bridge, name, call_sid=None):
    e = next(e for e in bridge.events if e.name == name and (call_sid is None or e.participant.call_sid == call_sid))
    return e.timestamp.timestamp()


def engine_time_passes(bridge, seconds):
    """Block until ``seconds`` of engine time have passed (an engine-clock timer, not a sleep)."""
    done = gevent.event.Event()
    bridge.call_later(seconds, done.set)
    assert done.wait(10)


def first_caller_waits(app_server, bridge_server, name, media, engine_seconds):
    """Place ``name``'s call (``media``), wait for its participant-join callback, then let ``engine_seconds`` of
    engine time pass (the caller waits alone). Returns its CallSid."""
    call_sid = place(bridge_server, name, media)
    app_server.wait_event("participant-join")
    engine_time_passes(bridge_server.bridge, engine_seconds)
    return call_sid
