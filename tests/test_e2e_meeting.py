"""End to end, the Team Meeting seed and broken apps (split from the end-to-end suite). End to end: the bridge (in-process ``serve`` on port 0, standalone engine on a simulated clock) with a real
app server and a real callback receiver (Flask on gevent WSGI servers, port 0), driven like a user would.

Sources: ../shared/seeds/twilio-conference-events-announcement.txt (the Team Meeting), twilio-twiml-conference-
noun.txt (moderated room, customer waiting room, Dial action/hangupOnStar/timeLimit, waitUrl), Twilio error
dictionary (11200, 12100, 12200). Signatures are checked with twilio's own RequestValidator.
"""
from __future__ import annotations

import os

import pytest
import soundfile as sf
from flask import Flask, Response

from fsbridge.callbacks.subscriptions import StatusSequence
from fsbridge.config import Number
from fsbridge.local import HttpApp, start_bridge
from e2e_support import AC, FREQ, TOKEN, conference_twiml, place, rest, tone_energy, tone_track


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
    assert bridge_server.dispatcher.wait_idle(10)
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
    counter = StatusSequence()
    assert seqs == [n for n in map(counter.take, bridge.events) if n is not None]
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
