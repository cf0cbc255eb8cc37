"""End to end, REST control (add/hold/announce/kick/end), the Calls resource, calls outside a conference (split from the end-to-end suite). End to end: the bridge (in-process ``serve`` on port 0, standalone engine on a simulated clock) with a real
app server and a real callback receiver (Flask on gevent WSGI servers, port 0), driven like a user would.

Sources: ../shared/seeds/twilio-conference-events-announcement.txt (the Team Meeting), twilio-twiml-conference-
noun.txt (moderated room, customer waiting room, Dial action/hangupOnStar/timeLimit, waitUrl), Twilio error
dictionary (11200, 12100, 12200). Signatures are checked with twilio's own RequestValidator.
"""
from __future__ import annotations


import pytest
from flask import Response
from e2e_support import AC, TOKEN, engine_time_passes, place, tone_energy, tone_track



# ---------------------------------------------------------------------------------------------- REST control
def test_rest_control_add_hold_announce_kick_end(app_server, bridge_server, rest_api, tmp_path):
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
    reply = rest_api(f"Conferences/{conf}/Participants.json",
                 {"From": "bridge", "To": "tone:440", "Label": "beeper", "Muted": "true"})
    assert reply.status_code == 201, reply.text
    beeper = reply.json()["call_sid"]
    app_server.wait_event("participant-join", "beeper")
    reply = rest_api(f"Conferences/{conf}/Participants/{b}.json",
                 {"Hold": "true", "HoldUrl": app_server.url + "/hold", "HoldMethod": "GET"})
    assert reply.status_code == 200 and reply.json()["hold"] is True, reply.text
    app_server.wait_event("participant-hold")
    engine_time_passes(bridge_server.bridge, 1.0)      # let B be held for 1 s of engine time
    assert rest_api(f"Conferences/{conf}/Participants/{b}.json", {"Hold": "false"}).status_code == 200
    app_server.wait_event("participant-unhold")
    reply = rest_api(f"Conferences/{conf}.json", {"AnnounceUrl": app_server.url + "/announce"})
    assert reply.status_code == 200, reply.text
    app_server.wait_event("announcement-end")
    assert rest_api(f"Conferences/{conf}/Participants/{a}.json", method="DELETE").status_code == 204
    bridge = bridge_server.bridge
    assert bridge.wait_call(a, 20)
    assert "say 'after kick'" in bridge.registry.get(a).steps       # the Dial completed, the call went on
    reply = rest_api(f"Conferences/{conf}.json", {"Status": "completed"})
    assert reply.status_code == 200 and reply.json()["status"] == "completed", reply.text
    app_server.wait_event("conference-end")
    assert bridge.wait_call(b, 20) and bridge.wait_call(beeper, 20)
    assert bridge_server.dispatcher.wait_idle(10)
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


def test_calls_resource_with_the_twilio_sdk(app_server, bridge_server, rest_api):
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
    bad = rest_api("Calls.json", {"To": "tone:500", "From": "x", "Url": app_server.url + "/voice", "Dtmf": "12"})
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
