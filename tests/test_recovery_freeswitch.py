"""FreeSWITCH outages and bridge restarts against the fake FreeSWITCH (real TCP), issue 15:

* the inbound ESL drops mid-conference; meanwhile one caller hangs up (seen on its own outbound socket:
  REST stops listing it at once) and the room vanishes behind fsbridge's back; FreeSWITCH comes back with a
  changed ``json_list`` (no room): the resync completes the recording with its callback and ends the room —
  every callback once, SequenceNumbers gapless;
* the bridge is stopped (drain) with two calls in a recorded room: they stay in the room (``exit``, no
  hangup); a new bridge on the same database adopts them from ``json_list`` + ``uuid_getvar`` — no callbacks
  for the restart itself, REST mute works and continues the SequenceNumbers, a hangup is reported."""
from __future__ import annotations

import numpy as np
import requests
import soundfile as sf
from flask import Flask, Response, request

from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.local import CallbackLog, HttpApp, start_bridge
from fakes import FakeCall, FakeFreeSwitch

AC = "AC" + "9" * 32
TOKEN = "fs-recovery-token"
NUMBER = "7200"
UID = "22222222-0000-4000-8000-00000000000%d"


class App:
    """/voice → a recorded conference; /cb status callbacks, /rec recording callbacks."""

    def __init__(self):
        self.status, self.recordings = CallbackLog(), CallbackLog()
        app = Flask("fs-recovery-app")

        @app.route("/<path:name>", methods=["POST"])
        def route(name):
            form = request.form.to_dict()
            if name in ("cb", "rec"):
                (self.status if name == "cb" else self.recordings).add(form)
                return Response("", status=204)
            return Response('<Response><Dial><Conference statusCallback="/cb" statusCallbackEvent="start end join '
                            'leave mute" record="record-from-start" recordingStatusCallback="/rec" '
                            'recordingStatusCallbackEvent="in-progress completed absent">Desk</Conference></Dial>'
                            '</Response>', mimetype="text/xml")

        self.http = HttpApp(app).start()

    def names(self):
        return [c["StatusCallbackEvent"] for c in self.status.items]

    def wait(self, pred, timeout=15):
        assert self.status.wait_for(lambda items: pred([c["StatusCallbackEvent"] for c in items]), timeout), \
            self.names()


def bridge(tmp_path, fake, app):
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=3,
                              reconnect_backoff=0.01, talk_stop_ms=0)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                          numbers=[Number(NUMBER, AC, app.http.url + "/voice")], engine=engine, fetch_timeout=3.0,
                          capture_heard=False)   # as `fsbridge serve`: an ended call drops its session
    engine.set_call_handler(server.bridge.on_call)
    assert engine.wait_connected(5)
    return engine, server


def rest(server, path, **data):
    url = "%s/2010-04-01/Accounts/%s/%s" % (server.base_url, AC, path)
    if data:
        return requests.post(url, data=data, auth=(AC, TOKEN), timeout=10)
    return requests.get(url, auth=(AC, TOKEN), timeout=10)


def two_callers(fake, engine, app):
    calls = [FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=UID % i).start() for i in (1, 2)]
    app.wait(lambda n: n[:3] == ["participant-join", "participant-join", "conference-start"])
    assert app.recordings.wait_for(lambda items: [r["RecordingStatus"] for r in items] == ["in-progress"], 15)
    return calls, app.status.items[0]["ConferenceSid"]


def test_esl_gap_room_vanished_recording_completed_and_rest_truthful(tmp_path):
    fake, app = FakeFreeSwitch().start(), App()
    engine, server = bridge(tmp_path, fake, app)
    try:
        (first, second), conf = two_callers(fake, engine, app)
        sids = [first.variables["fsbridge_call_sid"], second.variables["fsbridge_call_sid"]]
        fake.accepting = False
        fake.drop()
        assert engine.esl.down_event.wait(5)
        first.hangup("USER_BUSY")     # seen only on its own outbound socket
        app.wait(lambda n: n[-1:] == ["participant-leave"])
        parts = rest(server, "Conferences/%s/Participants.json" % conf).json()["participants"]
        assert [p["call_sid"] for p in parts] == [sids[1]]          # REST: the hangup already seen
        fake.remove_member(fake.find(second.uid), "kick")           # the room ends unseen
        path = str(tmp_path / "bridge" / "recordings" / ("%s.wav" % app.recordings.items[0]["RecordingSid"]))
        sf.write(path, np.zeros(16000 * 3, np.int16), 16000, subtype="PCM_16")   # FreeSWITCH's file
        fake.accepting = True
        assert engine.esl.wait_ready(2, 5)
        app.wait(lambda n: "conference-end" in n)
        assert app.names() == ["participant-join", "participant-join", "conference-start", "participant-leave",
                               "participant-leave", "conference-end"]
        assert [int(c["SequenceNumber"]) for c in app.status.items] == [1, 2, 3, 4, 5, 6]
        assert [c["CallSid"] for c in app.status.items[3:5]] == sids
        assert app.recordings.wait_for(lambda items: [r["RecordingStatus"] for r in items] ==
                                       ["in-progress", "completed"], 15)
        assert app.recordings.items[-1]["RecordingDuration"] == "3"
        assert rest(server, "Conferences/%s.json" % conf).json()["status"] == "completed"
        recs = rest(server, "Conferences/%s/Recordings.json" % conf).json()["recordings"]
        assert [r["status"] for r in recs] == ["completed"]
    finally:
        server.stop()
        app.http.stop()
        fake.stop()


def test_bridge_restart_leaves_calls_in_the_room_and_the_next_bridge_adopts_them(tmp_path):
    fake, app = FakeFreeSwitch().start(), App()
    engine, server = bridge(tmp_path, fake, app)
    (first, second), conf = two_callers(fake, engine, app)
    sids = [first.variables["fsbridge_call_sid"], second.variables["fsbridge_call_sid"]]   # set at join
    assert sorted(sids) == sorted(c["CallSid"] for c in app.status.items[:2])
    server.stop()                          # SIGTERM of fsbridge serve: drain
    assert first.closed.wait(5) and second.closed.wait(5)
    assert not first.hung_up and not second.hung_up
    assert sorted(m.uid for m in fake.rooms[conf].values()) == [first.uid, second.uid]   # still in the room
    assert any(r.startswith("exit") for r in first.received)
    before = len(app.status.items)
    for call, sid in zip((first, second), sids):
        fake.api_replies["uuid_getvar %s fsbridge_call_sid" % call.uid] = sid
    engine2, server2 = bridge(tmp_path, fake, app)
    try:
        parts = rest(server2, "Conferences/%s/Participants.json" % conf).json()["participants"]
        assert sorted(p["call_sid"] for p in parts) == sorted(sids)
        m1 = fake.find(first.uid)
        r = rest(server2, "Conferences/%s/Participants/%s.json" % (conf, sids[0]), Muted="true")
        assert r.status_code == 200, r.text
        assert "api conference %s mute %d" % (conf, m1.id) in fake.commands
        app.wait(lambda n: n[-1:] == ["participant-mute"])
        assert app.names()[before:] == ["participant-mute"]           # nothing for the restart itself
        assert int(app.status.items[-1]["SequenceNumber"]) == before + 1
        fake.remove_member(fake.find(second.uid), "hangup", "NORMAL_CLEARING")
        app.wait(lambda n: n[-1:] == ["participant-leave"])
        assert app.status.items[-1]["CallSid"] == sids[1]
        assert int(app.status.items[-1]["SequenceNumber"]) == before + 2
    finally:
        server2.stop()
        app.http.stop()
        fake.stop()


def test_a_changed_core_uuid_marks_the_snapshot_lost_cause():
    """FreeSWITCH restarted (its ``${core_uuid}`` changed between connections): the snapshot says the calls
    of vanished rooms ended with it (hangup cause CRASH); same core (an ESL drop only) or no answer: unknown."""
    from fsbridge.conference import native as n
    from fakes import Sink
    fake, sink = FakeFreeSwitch().start(), Sink()
    core = {"uuid": "core-1"}
    fake.api_replies["eval ${core_uuid}"] = lambda cmd: core["uuid"] + "\n"
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=2,
                              reconnect_backoff=0.01, max_backoff=0.05, talk_stop_ms=0)
    engine.set_event_sink(sink)
    engine.start()
    try:
        assert engine.wait_connected(5)
        fake.drop()
        assert engine.esl.wait_ready(2, 5)
        core["uuid"] = "core-2"
        fake.drop()
        assert engine.esl.wait_ready(3, 5)
        assert fake.wait_for(lambda: len(sink.snapshots) >= 3)
        assert [s.lost_cause for s in sink.snapshots[:3]] == [None, None, n.CAUSE_CRASH]
    finally:
        engine.stop()
        fake.stop()


def test_a_refused_call_gets_connect_then_exit_never_a_bare_close():
    """Over max_connections the outbound server answers ``connect`` then ``exit`` (FreeSWITCH then runs the
    dialplan's next action); closing the socket before ``connect`` would leave the call stuck in ``socket``
    for ever (docs/freeswitch.md observed-live §4)."""
    fake = FakeFreeSwitch().start()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=2,
                              reconnect_backoff=0.01, talk_stop_ms=0)
    engine.set_call_handler(lambda leg: None)
    engine.start()
    try:
        assert engine.wait_connected(5)
        engine.outbound.max_connections = 0
        call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
        assert call.closed.wait(5)
        assert [r.split("\n")[0] for r in call.received] == ["connect", "exit"]
        assert not call.hung_up
    finally:
        engine.stop()
        fake.stop()


def test_calls_stuck_in_socket_are_handed_back_to_the_dialplan_at_start():
    """At the first ESL connection: channels in ``socket`` toward our listener that no bridge took (older than
    2 s, not ours) get ``uuid_transfer <uuid> <dest> XML <context>``; fresh or foreign ones are left alone."""
    import json
    import time
    from fsbridge.engines.freeswitch.rescue import stuck_calls
    now = time.time()

    def row(uuid, data, age, app="socket"):
        return {"uuid": uuid, "application": app, "application_data": data, "dest": "7200",
                "context": "default", "created_epoch": str(int(now - age))}
    fake = FakeFreeSwitch().start()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=2,
                              reconnect_backoff=0.01, talk_stop_ms=0)
    engine.set_call_handler(lambda leg: None)
    engine.outbound.start()
    ours = "127.0.0.1:%d async full" % engine.outbound_port
    body = json.dumps({"row_count": 4, "rows": [row("u-stuck", ours, 30), row("u-fresh", ours, 0),
                                                 row("u-other", "10.0.0.9:8084 async full", 30),
                                                 row("u-conf", "x@fsbridge", 30, app="conference")]})
    assert [u for u, _, _ in stuck_calls(body, ours.split()[0], (), now)] == ["u-stuck"]
    assert stuck_calls("-ERR nope", ours.split()[0], (), now) == []
    fake.api_replies["show channels as json"] = body
    engine.start()
    try:
        assert engine.wait_connected(5)
        assert fake.wait_command("api uuid_transfer u-stuck 7200 XML default")
        assert not any("u-fresh" in c or "u-other" in c for c in fake.commands if "uuid_transfer" in c)
    finally:
        engine.stop()
        fake.stop()
