"""Issue 15 on a live FreeSWITCH (marker ``freeswitch``; skipped unless FSBRIDGE_TEST_ESL is set):

* ``fsbridge serve`` (a real process, FreeSWITCH engine) is SIGKILLed while two callers are in a room:
  FreeSWITCH keeps them there; a new ``fsbridge serve`` on the same config and database adopts them — REST
  mute works on FreeSWITCH and is reported, a hangup is reported, the conference ends with its callbacks;
* the same with ``<Dial action hangupOnStar>``: the adopted calls, taken out by ``*`` or a REST kick, get
  their Dial action requested and its answer run after they come back on the outbound socket (the
  dialplan's next ``socket`` action — freeswitch-conf/dialplan/default/fsbridge.xml);
* FreeSWITCH itself is killed and restarted under a running bridge (only when FSBRIDGE_TEST_FS_KILL and
  FSBRIDGE_TEST_FS_START are set: shell commands that kill -9 / start that FreeSWITCH; the kill command should
  return once the process is gone — a start script that checks a pid file may otherwise see the dying process
  and do nothing, so the start is retried while ESL does not come back): the bridge
  reconnects, ends the room with leave/end callbacks and a completed recording, and serves new calls.

Environment as tests/test_freeswitch_live_e2e.py (FSBRIDGE_TEST_ESL, FSBRIDGE_TEST_SOCKET, FSBRIDGE_TEST_NUMBER,
FSBRIDGE_TEST_CONTEXT). Use a FreeSWITCH nobody else is using for the restart test."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import gevent
import pytest
import requests
from flask import Flask, Response, request

from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.engines.freeswitch.transport import FsInboundESL
from fsbridge.local import CallbackLog, HttpApp, start_bridge

from e2e_support import serve_toml_head
from test_app_serve import Serve
from test_freeswitch_live_e2e import _env, kill_legs

pytestmark = pytest.mark.freeswitch

AC = "AC" + "4" * 32
TOKEN = "live-recovery-token"


class App:
    """Every caller joins ``room`` (recorded, labelled by its From); callbacks recorded. Delivery is
    at-least-once (a callback delivered just before a SIGKILL may come again from the outbox, with the same
    SequenceNumber): repeats are counted in ``repeats``, not recorded twice."""

    def __init__(self, room, dial="", waiters=()):
        self.callbacks, self.recordings, self.after = CallbackLog(), CallbackLog(), CallbackLog()
        self.repeats = []
        app = Flask("live-recovery-app")

        @app.route("/<path:name>", methods=["POST"])
        def route(name):
            form = request.form.to_dict()
            if name in ("cb", "rcb"):
                log = self.callbacks if name == "cb" else self.recordings
                if form in log.items:
                    self.repeats.append(form)
                else:
                    log.add(form)
                return Response("", status=204)
            if name == "after":   # the Dial action: a second of silence, then hang up
                self.after.add(form)
                return Response('<Response><Pause length="1"/><Hangup/></Response>', mimetype="text/xml")
            who = form.get("From", "")   # ``waiters``: labels that join with startConferenceOnEnter="false"
            return Response('<Response><Dial%s><Conference statusCallback="/cb" statusCallbackEvent="start end join '
                            'leave mute" participantLabel="%s" record="record-from-start" recordingStatusCallback='
                            '"/rcb" recordingStatusCallbackEvent="in-progress completed absent"%s>%s</Conference>'
                            '</Dial></Response>' % (dial, who, ' startConferenceOnEnter="false"' if who in waiters
                                                    else "", room), mimetype="text/xml")

        self.http = HttpApp(app).start()

    def names(self):
        return [(c["StatusCallbackEvent"], c.get("ParticipantLabel")) for c in self.callbacks.items]

    def wait(self, pred, timeout=30):
        assert self.callbacks.wait_for(lambda items: pred(self.names()), timeout), self.names()


def esl():
    host, port, password = _env()[:3]
    conn = FsInboundESL(host, port, password, timeout=5)
    conn.connect()
    return conn


def caller(conn, name):
    """A loopback caller ``name`` dials the number (its parked a-leg's uuid is returned)."""
    number, context = _env()[5:7]
    a_leg = str(uuid.uuid4())
    conn.bgapi("originate {origination_uuid=%s,origination_caller_id_number=%s,origination_caller_id_name=%s}"
               "loopback/%s/%s &park()" % (a_leg, name, name, number, context))
    return a_leg


def members(conn, room):
    body = conn.api("conference %s json_list" % room)
    if not body.strip().startswith("["):
        return {}
    return {m["caller_id_name"]: m for c in json.loads(body) for m in c["members"] if m.get("type") == "caller"}


def wait_fs(conn, room, pred, timeout=10):
    with gevent.Timeout(timeout, False):
        while not pred(members(conn, room)):
            gevent.sleep(0.05)
        return True
    return False


def serve_config(tmp_path, app_url):
    host, port, password, sock_host, sock_port, number, _ = _env()
    path = tmp_path / "fsbridge.toml"
    path.write_text(serve_toml_head(tmp_path) + f"""
[engine]
type = "freeswitch"
[freeswitch]
esl_host = "{host}"
esl_port = {port}
esl_password = "{password}"
outbound_host = "{sock_host}"
outbound_port = {sock_port}
[[accounts]]
sid = "{AC}"
auth_token = "{TOKEN}"
[[numbers]]
number = "{number}"
voice_url = "{app_url}/voice"
""")
    return str(path)


def wait_ready(url, timeout=15):
    """Poll ``/readyz`` until 200 (database and FreeSWITCH reachable): what an operator's load balancer waits
    for before sending REST to a restarted bridge — before it, a write answers 20503 (engine unavailable)."""
    with gevent.Timeout(timeout, False):
        while requests.get(url + "/readyz", timeout=5).status_code != 200:
            gevent.sleep(0.05)
        return True
    return False


def rest(url, path, **data):
    full = "%s/2010-04-01/Accounts/%s/%s" % (url, AC, path)
    return requests.post(full, data=data, auth=(AC, TOKEN), timeout=10) if data else \
        requests.get(full, auth=(AC, TOKEN), timeout=10)


class Killed:
    """A bridge (``fsbridge serve``) SIGKILLed while Alice and Bob are in ``app``'s room: ``conn`` (ESL),
    ``legs``, ``cfg``, ``cf`` (ConferenceSid), ``sids`` (label → CallSid); ``second`` is the next bridge the
    test starts. A context manager: on exit the legs, bridges, ESL and app are stopped."""

    def __init__(self, tmp_path, app):
        self.app, self.conn = app, esl()
        self.cfg = serve_config(tmp_path, app.http.url)
        self.legs, self.second = [], None
        self.first = Serve(self.cfg)

    def __enter__(self) -> "Killed":
        try:
            self.legs += [caller(self.conn, "Alice"), caller(self.conn, "Bob")]
            self.app.wait(lambda n: ("conference-start", None) in n)
            self.cf = self.app.callbacks.items[0]["ConferenceSid"]
            self.sids = {c["ParticipantLabel"]: c["CallSid"] for c in self.app.callbacks.items
                         if c.get("ParticipantLabel")}
            self.first.proc.kill()                       # SIGKILL: no drain at all
            self.first.proc.communicate(timeout=30)
            assert wait_fs(self.conn, self.cf, lambda m: set(m) == {"Alice", "Bob"}), "FreeSWITCH dropped the callers"
            self.at_kill = {name: (v["flags"]["can_hear"], v["flags"]["can_speak"])   # (hear, speak): the gate
                            for name, v in members(self.conn, self.cf).items()}
            print("flags when the bridge died (can_hear, can_speak):", self.at_kill)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        kill_legs(self.conn, self.legs)
        if self.first.proc.poll() is None:
            self.first.proc.kill()
        if self.second is not None:
            self.second.stop()
        self.conn.stop()
        self.app.http.stop()


def test_live_bridge_killed_and_restarted_calls_survive_and_are_controllable(tmp_path):
    with Killed(tmp_path, App("live-rec-" + uuid.uuid4().hex[:10])) as k:
        app, conn, legs, cf, sids, cfg = k.app, k.conn, k.legs, k.cf, k.sids, k.cfg
        ids_before = {name: v["id"] for name, v in members(conn, cf).items()}
        before = len(app.callbacks.items)
        second = k.second = Serve(cfg)
        assert wait_ready(second.url), "the restarted bridge never got ready"
        parts = rest(second.url, "Conferences/%s/Participants.json" % cf).json()
        assert sorted(p["label"] for p in parts["participants"]) == ["Alice", "Bob"], parts
        assert {name: v["id"] for name, v in members(conn, cf).items()} == ids_before   # same members, nobody rejoined
        # killed right after conference-start: the wait gate it had not opened yet is opened by the next bridge
        assert wait_fs(conn, cf, lambda m: set(m) == {"Alice", "Bob"} and all(
            v["flags"]["can_hear"] and v["flags"]["can_speak"] for v in m.values())), members(conn, cf)
        r = rest(second.url, "Conferences/%s/Participants/%s.json" % (cf, sids["Alice"]), Muted="true")
        assert r.status_code == 200, r.text
        assert wait_fs(conn, cf, lambda m: not m["Alice"]["flags"]["can_speak"])
        app.wait(lambda n: n[before:] == [("participant-mute", "Alice")])
        conn.api("uuid_kill %s" % legs[1])      # Bob hangs up
        app.wait(lambda n: ("participant-leave", "Bob") in n[before:])
        r = rest(second.url, "Conferences/%s.json" % cf, Status="completed")
        assert r.status_code == 200, r.text
        app.wait(lambda n: ("conference-end", None) in n)
        seqs = [int(c["SequenceNumber"]) for c in app.callbacks.items]
        assert seqs == list(range(1, len(seqs) + 1))


def channel_gone(conn, uuid_, timeout=15):
    with gevent.Timeout(timeout, False):
        while conn.api("uuid_exists %s" % uuid_).strip() == "true":
            gevent.sleep(0.1)
        return True
    return False


def wait_adopted(url, call_sid, timeout=15):
    """The new bridge runs the call again (its Call resource, read from the bridge's calls, exists): from then
    on the call's DTMF reaches it (a digit pressed before that is lost, as with any bridge outage)."""
    with gevent.Timeout(timeout, False):
        while rest(url, "Calls/%s.json" % call_sid).status_code != 200:
            gevent.sleep(0.1)
        return True
    return False


def test_live_adopted_calls_continue_their_application(tmp_path):
    """The bridge is SIGKILLed with Alice and Bob in a room under ``<Dial action hangupOnStar>``; the next
    bridge adopts them. Bob presses ``*`` (DTMF seen on the inbound stream only): he is taken out, the action
    is requested (DialCallStatus=completed), he comes back through the dialplan's next ``socket`` and the
    action's answer (a second of silence, then Hangup) runs on him. Alice is kicked over REST: the same."""
    with Killed(tmp_path, App("live-rec-" + uuid.uuid4().hex[:10], dial=' action="/after" hangupOnStar="true"')) as k:
        app, conn, legs, cf, sids, cfg = k.app, k.conn, k.legs, k.cf, k.sids, k.cfg
        second = k.second = Serve(cfg)
        parts = rest(second.url, "Conferences/%s/Participants.json" % cf).json()
        assert sorted(p["label"] for p in parts["participants"]) == ["Alice", "Bob"], parts
        assert wait_adopted(second.url, sids["Bob"]) and wait_adopted(second.url, sids["Alice"])
        conn.api("uuid_send_dtmf %s *" % legs[1])          # Bob presses *
        assert app.after.wait_for(lambda items: len(items) == 1, 20), "no Dial action for Bob"
        after = app.after.items[0]
        assert (after["CallSid"], after["DialCallStatus"], after["CallStatus"]) == (
            sids["Bob"], "completed", "in-progress")
        assert wait_fs(conn, cf, lambda m: set(m) == {"Alice"})
        assert channel_gone(conn, legs[1]), "Bob was not hung up by the action's <Hangup>"
        r = requests.delete("%s/2010-04-01/Accounts/%s/Conferences/%s/Participants/%s.json" % (
            second.url, AC, cf, sids["Alice"]), auth=(AC, TOKEN), timeout=10)
        assert r.status_code == 204, r.text
        assert app.after.wait_for(lambda items: len(items) == 2, 20), "no Dial action for Alice"
        assert app.after.items[1]["CallSid"] == sids["Alice"]
        assert channel_gone(conn, legs[0]), "Alice was not hung up by the action's <Hangup>"
        app.wait(lambda n: ("conference-end", None) in n)
        seqs = [int(c["SequenceNumber"]) for c in app.callbacks.items]
        assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.skipif(not (os.environ.get("FSBRIDGE_TEST_FS_KILL") and os.environ.get("FSBRIDGE_TEST_FS_START")),
                    reason="FSBRIDGE_TEST_FS_KILL / FSBRIDGE_TEST_FS_START not set")
def test_live_freeswitch_killed_and_restarted_rooms_end_and_new_calls_are_served(tmp_path):
    host, port, password, sock_host, sock_port, number, _ = _env()
    room = "live-rec-" + uuid.uuid4().hex[:10]
    app = App(room)
    engine = FreeSwitchEngine(host, port, password, outbound_host=sock_host, outbound_port=sock_port,
                              command_timeout=5)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                          numbers=[Number(number, AC, app.http.url + "/voice")], engine=engine, fetch_timeout=5.0)
    engine.set_call_handler(server.bridge.on_call)
    legs = []
    try:
        assert engine.wait_connected(10)
        for name in ("Alice", "Bob"):
            caller(engine.esl, name)
        app.wait(lambda n: ("conference-start", None) in n)
        assert app.recordings.wait_for(lambda items: [r["RecordingStatus"] for r in items] == ["in-progress"], 30)
        cf = app.callbacks.items[0]["ConferenceSid"]
        subprocess.run(os.environ["FSBRIDGE_TEST_FS_KILL"], shell=True, check=True, timeout=30)
        assert engine.esl.down_event.wait(10)
        for _ in range(3):   # a start racing the killed process's exit may find it "still running": again
            subprocess.run(os.environ["FSBRIDGE_TEST_FS_START"], shell=True, check=True, timeout=120)
            if engine.esl.wait_ready(2, 20):
                break
        assert engine.esl.wait_ready(2, 1), "FreeSWITCH did not come back"
        app.wait(lambda n: ("conference-end", None) in n, timeout=60)
        tail = [e for e, _ in app.names()[3:]]
        assert tail == ["participant-leave", "participant-leave", "conference-end"], app.names()
        leaves = [c for c in app.callbacks.items if c["StatusCallbackEvent"] == "participant-leave"]
        assert {c["ParticipantCallStatus"] for c in leaves} == {"completed"}   # core_uuid changed: calls ended
        assert app.recordings.wait_for(lambda items: [r["RecordingStatus"] for r in items][-1:] in (
            ["completed"], ["absent"]), 30)
        assert rest(server.base_url, "Conferences/%s.json" % cf).json()["status"] == "completed"
        legs.append(caller(engine.esl, "Carol"))             # new calls are served
        app.wait(lambda n: ("participant-join", "Carol") in n)
        fresh = [c for c in app.callbacks.items if c.get("ParticipantLabel") == "Carol"][0]
        assert fresh["ConferenceSid"] != cf and fresh["SequenceNumber"] == "1"
    finally:
        kill_legs(engine.esl, legs)
        server.stop()
        app.http.stop()


def test_live_call_stuck_in_socket_is_served_by_the_next_bridge(tmp_path):
    """A bridge that listened but never accepted (hung, or killed with calls in its accept backlog) leaves
    the call in FreeSWITCH's ``socket`` application; the next bridge re-runs its dialplan at start
    (``uuid_transfer``) and serves it."""
    import socket
    host, port, password, sock_host, sock_port, number, _ = _env()
    room = "live-rec-" + uuid.uuid4().hex[:10]
    app = App(room)
    conn = esl()
    dead = socket.socket()
    dead.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    dead.bind((sock_host, sock_port))
    dead.listen(8)                            # never accepts
    leg = caller(conn, "Dora")
    server = None
    try:
        def stuck():
            body = conn.api("show channels as json")
            rows = (json.loads(body).get("rows") or []) if body.strip().startswith("{") else []
            return any(r.get("application") == "socket" for r in rows)
        with gevent.Timeout(10, AssertionError("the call never reached the socket application")):
            while not stuck():
                gevent.sleep(0.1)
        dead.close()
        gevent.sleep(2.5)   # not a sync point: the rescue only takes calls older than rescue.MIN_AGE_S (2 s)
        assert stuck(), "the call left the socket application by itself"
        engine = FreeSwitchEngine(host, port, password, outbound_host=sock_host, outbound_port=sock_port,
                                  command_timeout=5)
        server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                              numbers=[Number(number, AC, app.http.url + "/voice")], engine=engine,
                              fetch_timeout=5.0)
        engine.set_call_handler(server.bridge.on_call)
        assert engine.wait_connected(10)
        app.wait(lambda n: ("participant-join", "Dora") in n)
    finally:
        kill_legs(conn, [leg])
        dead.close()
        if server is not None:
            server.stop()
        conn.stop()
        app.http.stop()
