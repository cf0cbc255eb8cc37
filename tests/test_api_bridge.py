"""End to end on the standalone engine: the official twilio client updates a live participant through the REST
API served by the real Bridge (BridgeServer), the engine's audio changes (muted → no longer heard; hold →
hold music), and the customer's statusCallback receives the matching participant-mute / participant-hold."""
import io
import wave
from urllib.parse import parse_qs

import gevent
import gevent.event
import numpy as np
import pytest
import requests
from flask import Flask, request
from twilio.rest import Client

from fsbridge.api import serve
from fsbridge.app import BridgeServer
from fsbridge.config import Account, Number, Settings

AC, TOKEN = "AC" + "e" * 32, "e2e-token"
NUMBER = "+15550100"
RATE = 16000
FRAME = RATE // 50


def wav_bytes(hz, seconds, amplitude=8000):
    """A mono 16-bit WAV of a sine tone."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        t = np.arange(int(RATE * seconds)) / RATE
        w.writeframes((amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes())
    return buf.getvalue()


def engine_time_passes(bridge, seconds):
    """Block until ``seconds`` of engine time have passed (an engine-clock timer, not a sleep)."""
    done = gevent.event.Event()
    bridge.call_later(seconds, done.set)
    assert done.wait(10)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64))))) if len(x) else 0.0


class CustomerApp:
    """The customer's web app: a voice URL answering <Dial><Conference> and a statusCallback collector."""

    def __init__(self):
        self.callbacks = []
        self.changed = gevent.event.Event()
        app = Flask("customer")

        self.record = "do-not-record"

        @app.post("/voice")
        def voice():
            cb = request.host_url.rstrip("/") + "/status"
            return ('<Response><Dial><Conference beep="false" record="%s" statusCallback="%s" '
                    'statusCallbackEvent="join mute hold">team</Conference></Dial></Response>' % (self.record, cb),
                    200, {"Content-Type": "text/xml"})

        @app.get("/moh.wav")
        def moh():
            return wav_bytes(660, 1.0), 200, {"Content-Type": "audio/wav"}

        @app.post("/status")
        def status():
            self.callbacks.append({k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()})
            self.changed.set()
            return ""

        self.server = serve(app, "127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def wait_for(self, predicate, timeout=10.0):
        """Wait (event-driven, bounded) until a received callback satisfies ``predicate``; returns it."""
        deadline = gevent.get_hub().loop.now() + timeout
        while True:
            for cb in self.callbacks:
                if predicate(cb):
                    return cb
            self.changed.clear()
            left = deadline - gevent.get_hub().loop.now()
            if left <= 0 or not self.changed.wait(left):
                raise AssertionError(f"no matching callback; got {self.callbacks}")


@pytest.fixture
def bridge_server(tmp_path):
    customer = CustomerApp()
    settings = Settings(host="127.0.0.1", port=0, database_url=f"sqlite:///{tmp_path / 'fsb.sqlite'}",
                        audio_dir=str(tmp_path / "audio"), recordings_dir=str(tmp_path / "rec"),
                        rate=RATE, clock="realtime", capture_heard=True, accounts={AC: Account(AC, TOKEN)},
                        numbers={NUMBER: Number(NUMBER, AC, customer.base + "/voice")},
                        egress_allow=("127.0.0.0/8",), media_dirs=(str(tmp_path / "audio"),))
    server = BridgeServer(settings).start()
    try:
        yield server, customer
    finally:
        server.stop()
        customer.server.stop()


def test_rest_mute_and_hold_change_the_engine_and_call_back(bridge_server):
    server, customer = bridge_server
    bridge = server.bridge
    tone = server.settings.audio_dir + "/talker.wav"   # a 10 s file: the caller outlives the test's steps
    with open(tone, "wb") as f:
        f.write(wav_bytes(440, 10.0))
    talker = bridge.place_call(AC, "+15551111", NUMBER, "file:" + tone, hangup_after_s=3.0)
    listener = bridge.place_call(AC, "+15552222", NUMBER, "silence:", hangup_after_s=3.0)
    joined = customer.wait_for(lambda cb: cb.get("StatusCallbackEvent") == "participant-join"
                               and cb.get("CallSid") == listener.call_sid)
    conference_sid = joined["ConferenceSid"]
    customer.wait_for(lambda cb: cb.get("StatusCallbackEvent") == "participant-join"
                      and cb.get("CallSid") == talker.call_sid)
    client = Client(AC, TOKEN)
    client.api.base_url = server.base_url
    part = client.conferences(conference_sid).participants(talker.call_sid)
    assert part.fetch().muted is False
    listener_leg, talker_leg = listener.leg, talker.leg

    # let a little conference audio flow: the listener hears the talker's tone
    engine_time_passes(bridge, 0.3)
    heard_before_mute = listener_leg.heard_audio()[-10 * FRAME:]

    assert part.update(muted=True).muted is True          # returns after the engine confirmed
    muted_at = len(listener_leg.heard_audio())
    cb = customer.wait_for(lambda c: c.get("StatusCallbackEvent") == "participant-mute")
    assert (cb["CallSid"], cb["Muted"], cb["ConferenceSid"]) == (talker.call_sid, "true", conference_sid)

    hold_at = len(talker_leg.heard_audio())
    # HoldUrl: a short WAV from the customer's app (the default local_stream://moh takes seconds to open)
    assert part.update(hold=True, hold_url=customer.base + "/moh.wav", hold_method="GET").hold is True
    cb = customer.wait_for(lambda c: c.get("StatusCallbackEvent") == "participant-hold")
    assert (cb["CallSid"], cb["Hold"]) == (talker.call_sid, "true")
    assert client.conferences(conference_sid).participants.list(hold=True)[0].call_sid == talker.call_sid

    assert bridge.wait_call(talker.call_sid, timeout=10) and bridge.wait_call(listener.call_sid, timeout=10)
    heard = listener_leg.heard_audio()
    talker_heard = talker_leg.heard_audio()
    assert rms(heard_before_mute) > 500                     # the tone was heard…
    assert rms(heard[muted_at + 2 * FRAME:muted_at + 20 * FRAME]) < 50   # …and not once muted
    assert rms(talker_heard[max(0, hold_at - 20 * FRAME):hold_at]) < 50  # silent room before hold
    assert rms(talker_heard[hold_at + 5 * FRAME:hold_at + 40 * FRAME]) > 100  # hold music after


def test_rest_pauses_resumes_and_stops_a_live_recording(bridge_server):
    server, customer = bridge_server
    customer.record = "record-from-start"
    bridge = server.bridge
    tone = server.settings.audio_dir + "/caller.wav"
    with open(tone, "wb") as f:
        f.write(wav_bytes(440, 10.0))
    call = bridge.place_call(AC, "+15551111", NUMBER, "file:" + tone, hangup_after_s=3.0)
    bridge.place_call(AC, "+15552222", NUMBER, "silence:", hangup_after_s=3.0)   # a conference starts with two
    conference_sid = customer.wait_for(lambda cb: cb.get("StatusCallbackEvent") == "participant-join")["ConferenceSid"]
    client = Client(AC, TOKEN)
    client.api.base_url = server.base_url
    recs = client.conferences(conference_sid).recordings
    assert bridge.wait_until(lambda: server.store.list_recordings(AC, conference_sid).items, timeout=5)
    (rec,) = recs.list()
    assert (rec.status, rec.conference_sid, rec.source) == ("in-progress", conference_sid, "Conference")
    assert recs(rec.sid).update(status="paused").status == "paused"
    assert recs(rec.sid).fetch().status == "paused"
    assert recs(rec.sid).update(status="in-progress").status == "in-progress"
    stopped = recs(rec.sid).update(status="stopped")
    assert stopped.status == "completed" and int(stopped.duration) >= 0
    assert bridge.wait_call(call.call_sid, timeout=10)
    wav = requests.get(server.base_url + stopped.uri.replace(".json", ".wav"), auth=(AC, TOKEN))
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
