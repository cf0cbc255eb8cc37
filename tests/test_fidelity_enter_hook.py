"""jambonz ``enterHook`` (issue 17 item 5): "something to play or say to the caller just before they are put into
a conference after waiting for it to start" (jambonz verb specification; jambonz-feature-server
lib/tasks/conference.js ``_joinConference`` plays it right before ``ep.join`` — after ``_doWait`` for a waiting
caller). A caller who waited hears it when the conference starts, before it hears the room; on the standalone
engine (heard audio) and on the fake FreeSWITCH (the member play comes after the start, the gate opens after it).
"""
from __future__ import annotations

import io
import json

import numpy as np
import soundfile as sf
from flask import Response

from e2e_support import AC, RATE, SPEED, TOKEN, _answer_s, _event_s, place, tone_energy, tone_track
from fsbridge.config import Number
from fsbridge.local import start_bridge

JNUM = "+15550003000"
ENTER_HZ, BOSS_HZ = 900, 1500


def _wav(hz: float, seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    buf = io.BytesIO()
    sf.write(buf, (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16), RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_enter_hook_plays_after_the_wait_before_the_room(app_server, tmp_path):
    """The guest (startConferenceOnEnter false) waits; the boss's join starts the conference; only then does
    the guest hear the enterHook's 1 s tone, and the boss (talking all along) only after it."""
    js = lambda doc: Response(json.dumps(doc), mimetype="application/json")   # noqa: E731
    app_server.routes["/jvoice"] = lambda body: js([{
        "verb": "conference", "name": "entering", "beep": False, "enterHook": "/enter",
        "startConferenceOnEnter": body["from"] == "boss", "statusHook": "/cb-j", "statusEvents": ["start"]}])
    app_server.routes["/enter"] = lambda body: js([{"verb": "play", "url": app_server.url + "/enter.wav"}])
    app_server.routes["/enter.wav"] = lambda body: Response(_wav(ENTER_HZ, 1.0), mimetype="audio/wav")
    srv = start_bridge(str(tmp_path / "eh"), accounts={AC: TOKEN}, clock=SPEED, media_dirs=(str(tmp_path),),
                       numbers=[Number(JNUM, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        # the guest must still hear the room 2.5 s (engine) after the boss's start: 30 engine s (3 s of wall
        # time at SPEED 10) leaves slack for a loaded machine; 9 (0.9 s) did not
        guest = place(srv, "guest", "silence:", to=JNUM, TimeLimit="30")
        assert srv.bridge.wait_until(lambda: any(e.name == "participant-join" for e in srv.bridge.events), 20)
        boss_audio = tone_track(tmp_path / "boss.wav", 8, [(0, 8)], BOSS_HZ)
        boss = place(srv, "boss", boss_audio, to=JNUM, TimeLimit="5")
        assert srv.bridge.wait_call(boss, 30) and srv.bridge.wait_call(guest, 30)
        leg = srv.bridge.registry.get(guest).leg
        heard, start = leg.heard_audio(), _event_s(srv.bridge, "conference-start") - _answer_s(srv.bridge, guest)
        boss_joined = _event_s(srv.bridge, "participant-join", boss) - _answer_s(srv.bridge, guest)
    finally:
        srv.stop()
    enter_before = tone_energy(heard, RATE, ENTER_HZ, 0, start - 0.1)
    enter_after = tone_energy(heard, RATE, ENTER_HZ, start + 0.1, start + 0.9)
    boss_during = tone_energy(heard, RATE, BOSS_HZ, start + 0.1, start + 0.9)
    boss_later = tone_energy(heard, RATE, BOSS_HZ, start + 1.3, start + 2.5)
    assert start > 0.5 and abs(start - boss_joined) < 0.5
    assert enter_before < 100 and enter_after > 2000, (enter_before, enter_after)
    assert boss_during < 200 and boss_later > 2000, (boss_during, boss_later)
    enters = [r for r in app_server.requests.items if r["path"] == "/enter"]
    assert len(enters) == 2   # each caller's hook is requested once (the boss hears it before it joins)


def test_enter_hook_on_freeswitch_is_a_member_play_after_the_start(tmp_path):
    """Fake FreeSWITCH: the waiting guest's enter media is a member play sent after the boss's join (the
    start), and its gate (undeaf) opens only after that play's play-file-member-done."""
    from fakes import FakeCall
    from test_fidelity_fs import _stack
    calls = []

    def voice(body):
        if not body:   # GET of the enter audio
            return Response(_wav(ENTER_HZ, 0.5), mimetype="audio/wav")
        calls.append(body)
        if len(calls) in (2, 4):   # the enterHook request of each caller (after its voice request)
            return Response(json.dumps([{"verb": "play", "url": http_url[0] + "/enter.wav"}]),
                            mimetype="application/json")
        return Response(json.dumps([{"verb": "conference", "name": "entering", "enterHook": "/enter",
                                     "startConferenceOnEnter": len(calls) == 3}]), mimetype="application/json")
    http_url = []
    fake, callbacks, engine, server, http = _stack(tmp_path, "jambonz", voice)
    http_url.append(http.url)
    fake.auto_play_done = False
    try:
        guest = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000071").start()
        guest.wait_command("execute-app-name: conference", timeout=15)
        assert server.bridge.wait_until(lambda: any(e.name == "participant-join" for e in server.bridge.events), 10)
        member = fake.find(guest.uid)
        assert not [c for c in fake.commands if " play " in c]      # nothing played while waiting
        boss = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-000000000072").start()
        room = member.room
        play = fake.wait_command("api conference %s play " % room, timeout=15)
        assert play.endswith(" %d" % member.id) and ".wav" in play
        assert "api conference %s undeaf %d" % (room, member.id) not in fake.commands
        fake.broadcast(fake.member_event("play-file-member-done", member, (("File", play.split()[4]),)))
        fake.wait_command("api conference %s undeaf %d" % (room, member.id), timeout=10)
        guest.hangup()
        boss.hangup()
    finally:
        server.stop()
        http.stop()
        fake.stop()
