"""The wait gate across a bridge restart, against the fake FreeSWITCH (real TCP), issue 15: the gate's state
(engine ``_waiting``) lives in the bridge process, so a bridge killed between conference-start and the gate's
``undeaf``/``unmute`` leaves its callers ``+flags{mute|deaf}`` in FreeSWITCH (json_list ``can_hear``/
``can_speak`` false, ``hold`` false — as the fake lists them). The next bridge must finish opening the gate
(no participant-mute callback: nobody asked for a mute), and re-arm the gate of a conference still waiting
(wait media again, opened on start). The dead bridge is modelled by a drained bridge whose members the test
then closes in the fake, exactly as FreeSWITCH keeps them when the bridge dies before opening the gate."""
from __future__ import annotations

import requests
from flask import Flask, Response, request

from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.local import CallbackLog, HttpApp
from fakes import FakeCall, FakeFreeSwitch
from test_recovery_freeswitch import AC, TOKEN, App as _RecoveryApp, bridge

UID = "33333333-0000-4000-8000-00000000000%d"


class App:
    """/voice → conference Desk (startConferenceOnEnter from ``starts``, one per call; default true)."""

    def __init__(self, starts=()):
        self.status, self.starts = CallbackLog(), list(starts)
        app = Flask("fs-gate-app")

        @app.route("/<path:name>", methods=["POST"])
        def route(name):
            if name == "cb":
                self.status.add(request.form.to_dict())
                return Response("", status=204)
            start = self.starts.pop(0) if self.starts else True
            return Response('<Response><Dial><Conference statusCallback="/cb" statusCallbackEvent="start end join '
                            'leave mute hold" startConferenceOnEnter="%s">Desk</Conference></Dial></Response>'
                            % ("true" if start else "false"), mimetype="text/xml")

        self.http = HttpApp(app).start()

    names, wait = _RecoveryApp.names, _RecoveryApp.wait   # both read self.status only


def rest(server, conf, sid, **data):
    url = "%s/2010-04-01/Accounts/%s/Conferences/%s/Participants/%s.json" % (server.base_url, AC, conf, sid)
    return requests.post(url, data=data, auth=(AC, TOKEN), timeout=10)


def restart(tmp_path, fake, app, server, calls, meanwhile=lambda: None):
    """Drain ``server`` (its calls stay in the room), run ``meanwhile``, then start the next bridge on the
    same database."""
    server.stop()
    for call in calls:
        assert call.closed.wait(5) and not call.hung_up
        fake.api_replies["uuid_getvar %s fsbridge_call_sid" % call.uid] = call.variables["fsbridge_call_sid"]
    meanwhile()
    return bridge(tmp_path, fake, app)


def test_a_gate_left_closed_after_conference_start_is_opened_without_a_mute_callback(tmp_path):
    fake, app = FakeFreeSwitch().start(), App()
    engine, server = bridge(tmp_path, fake, app)
    calls = [FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=UID % i).start() for i in (1, 2, 3)]
    app.wait(lambda n: n.count("participant-join") == 3 and "conference-start" in n)
    conf = app.status.items[0]["ConferenceSid"]
    plain, muted, held = calls
    sids = [c.variables["fsbridge_call_sid"] for c in calls]
    assert rest(server, conf, sids[1], Muted="true").status_code == 200
    assert rest(server, conf, sids[2], Hold="true").status_code == 200
    app.wait(lambda n: "participant-mute" in n and "participant-hold" in n)
    ids = [fake.find(c.uid).id for c in calls]
    assert fake.find(held.uid).hold

    def gates_closed():   # as FreeSWITCH keeps them when the bridge died before the gate opened
        for call in calls:
            m = fake.find(call.uid)
            m.hear = m.speak = False
    before, n_cmds = len(app.status.items), len(fake.commands)
    engine3, server3 = restart(tmp_path, fake, app, server, calls, gates_closed)
    try:
        m_plain, m_muted, m_held = (fake.find(c.uid) for c in calls)
        assert fake.wait_for(lambda: m_plain.hear and m_plain.speak and m_muted.hear)   # mixed again
        sent = fake.commands[n_cmds:]
        assert "api conference %s undeaf %d" % (conf, ids[0]) in sent
        assert "api conference %s unmute %d quiet" % (conf, ids[0]) in sent
        assert "api conference %s undeaf %d" % (conf, ids[1]) in sent
        assert m_muted.hear and not m_muted.speak             # domain-muted: stays muted
        assert not m_held.hear and m_held.hold                # held: stays deaf
        assert "api conference %s unmute %d quiet" % (conf, ids[1]) not in sent
        assert not any(c.startswith("api conference %s undeaf %d" % (conf, ids[2])) for c in sent)
        r = rest(server3, conf, sids[1], Muted="false")        # REST works; nothing came for the restart
        assert r.status_code == 200, r.text
        app.wait(lambda n: n[-1:] == ["participant-unmute"])
        assert app.names()[before:] == ["participant-unmute"], app.names()[before:]
        assert int(app.status.items[-1]["SequenceNumber"]) == before + 1
    finally:
        server3.stop()
        app.http.stop()
        fake.stop()


def test_a_waiting_conference_is_re_armed_and_opened_on_start(tmp_path):
    fake, app = FakeFreeSwitch().start(), App(starts=[False, True])
    engine, server = bridge(tmp_path, fake, app)
    waiter = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=UID % 4).start()
    app.wait(lambda n: n == ["participant-join"])
    conf = app.status.items[0]["ConferenceSid"]
    m = fake.find(waiter.uid)
    assert fake.wait_command("api conference %s play local_stream://moh %d" % (conf, m.id))
    assert not m.hear and not m.speak
    n_cmds = len(fake.commands)
    engine2, server2 = restart(tmp_path, fake, app, server, [waiter])
    try:
        # the wait media loops again (the dead bridge's loop died with it); no callback for the restart
        assert fake.wait_for(lambda: "api conference %s play local_stream://moh %d" % (conf, m.id)
                             in fake.commands[n_cmds:])
        assert app.names() == ["participant-join"]
        assert not m.hear and not m.speak
        starter = FakeCall(fake, "127.0.0.1", engine2.outbound_port, uid=UID % 5).start()
        app.wait(lambda n: "conference-start" in n)
        assert fake.wait_command("api conference %s unmute %d quiet" % (conf, m.id))
        assert fake.wait_for(lambda: m.hear and m.speak)
        assert "api conference %s stop all %d" % (conf, m.id) in fake.commands
        app.wait(lambda n: n.count("participant-join") == 2)
        assert "participant-mute" not in app.names(), app.names()
        assert sorted(app.names()) == sorted(["participant-join", "participant-join", "conference-start"])
        starter.hangup()
    finally:
        server2.stop()
        app.http.stop()
        fake.stop()


def test_an_esl_reconnect_while_a_member_waits_reports_no_mute_and_the_gate_still_opens(tmp_path):
    """The same diff after an ESL drop (same bridge): the waiting member's gate mute is no participant-mute
    (before: a participant-mute at the reconnect), its gate still opens on start, and a reconnect with the
    gate open sends nothing."""
    fake, app = FakeFreeSwitch().start(), App(starts=[False, True])
    engine, server = bridge(tmp_path, fake, app)
    try:
        waiter = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=UID % 6).start()
        app.wait(lambda n: n == ["participant-join"])
        conf = app.status.items[0]["ConferenceSid"]
        m = fake.find(waiter.uid)
        assert fake.wait_command("api conference %s play local_stream://moh %d" % (conf, m.id))
        fake.drop()
        assert engine.esl.wait_ready(2, 5)
        starter = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=UID % 7).start()
        app.wait(lambda n: "conference-start" in n)
        assert fake.wait_for(lambda: m.hear and m.speak)
        app.wait(lambda n: n.count("participant-join") == 2)
        assert "participant-mute" not in app.names(), app.names()
        n_cmds = len(fake.commands)
        fake.drop()                  # a reconnect with the gate open: nothing to do, nothing reported
        assert engine.esl.wait_ready(3, 5)
        assert fake.wait_for(lambda: "api conference json_list" in fake.commands[n_cmds:])
        assert engine.wait_connected(5)
        assert not any(" undeaf " in c or " unmute " in c for c in fake.commands[n_cmds:])
        assert "participant-mute" not in app.names(), app.names()
        starter.hangup()
    finally:
        server.stop()
        app.http.stop()
        fake.stop()


def test_the_engine_marks_gates_it_did_not_close_and_finishes_them_as_asked():
    """Engine level: members a killed bridge left at its gate (listed deaf without hold — also one whose
    quiet unmute ran but not its undeaf) are marked ``waiting`` in the snapshot; a held member is not
    (and stays deaf on start). ResumeGate(started) stops the killed bridge's wait media (its
    play-file-member-done is not reported), undeafs, and unmutes only a member FreeSWITCH still has muted
    and the domain does not; ResumeGate(waiting) loops the wait media again."""
    from fsbridge.conference import commands as c
    from fsbridge.conference import native as n
    from fakes import Sink
    fake, sink = FakeFreeSwitch().start(), Sink()
    closed = fake.add_member("CFG", "u-closed", flags=("mute", "deaf"))
    half = fake.add_member("CFG", "u-half", flags=("deaf",))
    held = fake.add_member("CFG", "u-held", flags=("mute", "deaf"))
    held.hold = True
    waits = fake.add_member("CFX", "u-waits", flags=("mute", "deaf"))
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=2,
                              reconnect_backoff=0.01, max_backoff=0.05, talk_stop_ms=0)
    engine.set_event_sink(sink)
    engine.start()
    try:
        assert engine.wait_connected(5) and fake.wait_for(lambda: sink.snapshots)
        listed = {s.unique_id: s for s in sink.snapshots[0].members}
        assert {u for u, s in listed.items() if s.waiting} == {"u-closed", "u-half", "u-waits"}
        assert listed["u-held"].hold and not listed["u-held"].waiting
        n_cmds = len(fake.commands)
        engine.execute(c.ResumeGate("CFG", closed.id, started=True, muted=False, wait_media=()))
        engine.execute(c.ResumeGate("CFG", half.id, started=True, muted=False, wait_media=()))
        engine.execute(c.StartConference("CFG"))          # nothing left to open; the held member stays deaf
        fake.broadcast(fake.member_event("play-file-member-done", closed, (("File", "local_stream://moh"),)))
        engine.execute(c.ResumeGate("CFX", waits.id, started=False, muted=False,
                                    wait_media=(c.DEFAULT_HOLD_MUSIC,)))
        assert fake.commands[n_cmds:] == [
            "api conference CFG stop all %d" % closed.id, "api conference CFG unmute %d quiet" % closed.id,
            "api conference CFG undeaf %d" % closed.id,
            "api conference CFG stop all %d" % half.id, "api conference CFG undeaf %d" % half.id,
            "api conference CFX stop all %d" % waits.id, "api conference CFX play local_stream://moh %d" % waits.id]
        assert closed.hear and closed.speak and half.hear and half.speak and not held.hear
        engine.execute(c.MuteMember("CFG", closed.id))     # a later event: the gate's were all consumed
        sink.wait(lambda e: e.action == n.MUTE_MEMBER)
        assert [e.action for e in sink.events if e.room == "CFG" and e.action not in (
            n.ADD_MEMBER, n.CONFERENCE_CREATE)] == [n.MUTE_MEMBER]
    finally:
        engine.stop()
        fake.stop()
