"""End to end, rooms: Dial action / hangupOnStar / timeLimit, waitUrl moderated room, customer waiting room, music-less rooms (split from the end-to-end suite). End to end: the bridge (in-process ``serve`` on port 0, standalone engine on a simulated clock) with a real
app server and a real callback receiver (Flask on gevent WSGI servers, port 0), driven like a user would.

Sources: ../shared/seeds/twilio-conference-events-announcement.txt (the Team Meeting), twilio-twiml-conference-
noun.txt (moderated room, customer waiting room, Dial action/hangupOnStar/timeLimit, waitUrl), Twilio error
dictionary (11200, 12100, 12200). Signatures are checked with twilio's own RequestValidator.
"""
from __future__ import annotations


import numpy as np
from flask import Response
from e2e_support import (_answer_s, _event_s, conference_twiml, engine_time_passes, first_caller_waits, place,
                         tone_energy, tone_track)



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
    engine_time_passes(bridge, 3.0)
    moderator = place(bridge_server, "Moderator", tone_track(tmp_path / "m.wav", 3, [(1, 2)], 1700))
    assert bridge.wait_call(moderator, 30) and bridge.wait_call(caller, 30)
    app_server.wait_event("conference-end")
    assert bridge_server.dispatcher.wait_idle(10)
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
    bridge = bridge_server.bridge
    customer = first_caller_waits(app_server, bridge_server, "Customer", "silence:", 2.0)
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
    bridge = bridge_server.bridge
    first = first_caller_waits(app_server, bridge_server, "First", "silence:", 1.0)
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
