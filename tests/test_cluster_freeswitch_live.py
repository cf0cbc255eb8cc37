"""Two live FreeSWITCH instances, one bridge each, one PostgreSQL (issue #18, live part): callers dialled
into each box join, and REST through either bridge controls the callers of both — a write for a room the
other bridge runs is carried there (FreeSWITCH's own member list shows the flag); a caller of box 2 dialling
a room box 1 runs is moved there over SIP and both callers are members of that one FreeSWITCH conference.
In-process bridges (the ``[cluster]`` settings given directly); calls are ``loopback/<ext>`` legs parked on
their box, as in tests/test_freeswitch_live_e2e.py.

Environment (skipped unless the first two are set; marker ``freeswitch``):
  FSBRIDGE_TEST_CLUSTER_ESL=host:port:password,host:port:password   the two event sockets
  FSBRIDGE_TEST_CLUSTER_SOCKET=host:port,host:port                  their dialplans' ``socket`` addresses
  FSBRIDGE_TEST_CLUSTER_SIP=host:port,host:port                     their SIP profiles (default 5060, 5070)
  FSBRIDGE_TEST_CLUSTER_SIP_AUTH=user:pw,user:pw                    what node 1 / node 2 answer the *other*
                                                                    box's challenge with (a directory user)
"""
from __future__ import annotations

import json
import os
import uuid

import gevent
import pytest
import requests
from flask import Flask, Response, request

from cluster_support import fresh_database
from fsbridge.config import Number
from fsbridge.config_cluster import ClusterSettings
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.local import CallbackLog, HttpApp, start_bridge

pytestmark = [pytest.mark.freeswitch, pytest.mark.skipif(
    len(os.environ.get("FSBRIDGE_TEST_CLUSTER_ESL", "").split(",")) != 2,
    reason="set FSBRIDGE_TEST_CLUSTER_ESL and FSBRIDGE_TEST_CLUSTER_SOCKET (two FreeSWITCH instances)")]

AC = "AC" + "9" * 32
TOKEN = "cluster-live-token"
SECRET = "cluster-live-secret-0123456789"
NUMBER = "7200"


def _boxes():
    esl = os.environ.get("FSBRIDGE_TEST_CLUSTER_ESL", "")
    sock = os.environ.get("FSBRIDGE_TEST_CLUSTER_SOCKET", "")
    sip = os.environ.get("FSBRIDGE_TEST_CLUSTER_SIP", "127.0.0.1:5060,127.0.0.1:5070").split(",")
    auth = (os.environ.get("FSBRIDGE_TEST_CLUSTER_SIP_AUTH") or ",").split(",")
    if len(esl.split(",")) != 2 or len(sock.split(",")) != 2:
        pytest.skip("set FSBRIDGE_TEST_CLUSTER_ESL and FSBRIDGE_TEST_CLUSTER_SOCKET (two FreeSWITCH instances)")
    out = []
    for e, s, address, cred in zip(esl.split(","), sock.split(","), sip, auth):
        host, port, password = e.rsplit(":", 2)
        shost, sport = s.rsplit(":", 1)
        out.append((host, int(port), password, shost, int(sport), address, cred or None))
    return out


class App:
    """Caller ``<room>-<name>`` joins room ``<room>`` labelled ``<name>``; status callbacks recorded."""

    def __init__(self):
        self.callbacks = CallbackLog()
        app = Flask("cluster-live-app")

        @app.post("/voice")
        def voice():
            room, _, who = request.form.get("From", "").partition("-")
            return Response(f'<Response><Dial><Conference beep="false" participantLabel="{who}" statusCallback="/cb" '
                            f'statusCallbackEvent="join leave mute">{room}</Conference></Dial></Response>',
                            mimetype="text/xml")

        @app.post("/cb")
        def cb():
            self.callbacks.add(request.form.to_dict())
            return Response("", status=204)

        self.http = HttpApp(app).start()


def members(engine, room_sid):
    body = engine.esl.api("conference %s json_list" % room_sid)
    if not body.strip().startswith("["):
        return {}
    return {m["caller_id_name"]: m["flags"] for c in json.loads(body) for m in c["members"] if m.get("type") == "caller"}


@pytest.fixture
def two_boxes(tmp_path, pg_url):
    boxes = _boxes()
    url, drop = fresh_database(pg_url)
    app = App()
    servers, engines, legs = [], [], []
    try:
        for i, (host, port, password, shost, sport, address, cred) in enumerate(boxes, 1):
            engine = FreeSwitchEngine(host, port, password, outbound_host=shost, outbound_port=sport,
                                      command_timeout=5, reconnect_backoff=0.1, max_backoff=1)
            server = start_bridge(str(tmp_path / f"fs{i}"), accounts={AC: TOKEN}, engine=engine, fetch_timeout=5.0,
                                  numbers=[Number(NUMBER, AC, app.http.url + "/voice")], database_url=url,
                                  cluster=ClusterSettings(node=f"fs{i}", secret=SECRET, heartbeat_interval=0.5,
                                                          failure_timeout=5.0, sip_address=address, sip_auth=cred))
            engine.set_call_handler(server.bridge.on_call)
            assert engine.wait_connected(10), f"cannot reach FreeSWITCH {i} at {host}:{port}"
            servers.append(server)
            engines.append(engine)

        def call(box, name):
            a_leg = str(uuid.uuid4())
            legs.append((box, a_leg))
            engines[box].esl.bgapi("originate {origination_uuid=%s,origination_caller_id_number=%s,"
                                   "origination_caller_id_name=%s}loopback/%s/default &park()"
                                   % (a_leg, name, name, NUMBER))
        yield servers, engines, app, call
    finally:
        for box, leg in legs:
            try:
                engines[box].esl.api("uuid_kill %s" % leg)
            except Exception:
                pass
        for server in servers:
            server.stop()
        app.http.stop()
        drop()


def rest(server, path, **data):
    return requests.post(f"{server.base_url}/2010-04-01/Accounts/{AC}/{path}", data=data, auth=(AC, TOKEN),
                         timeout=10)


def test_rest_through_either_bridge_controls_the_callers_of_both_boxes(two_boxes):
    (b1, b2), (e1, e2), app, call = two_boxes
    call(0, "east-alice")
    call(1, "west-bob")
    assert app.callbacks.wait_for(lambda items: {c["FriendlyName"] for c in items
                                                 if c["StatusCallbackEvent"] == "participant-join"} == {"east", "west"},
                                  20), app.callbacks.items
    joins = {c["FriendlyName"]: c for c in app.callbacks.items if c["StatusCallbackEvent"] == "participant-join"}
    east, west = joins["east"], joins["west"]
    # alice's room runs on box 1: muted through bridge 2; bob's on box 2: muted through bridge 1
    r = rest(b2, f"Conferences/{east['ConferenceSid']}/Participants/{east['CallSid']}.json", Muted="true")
    assert r.status_code == 200 and r.json()["muted"] is True, r.text
    r = rest(b1, f"Conferences/{west['ConferenceSid']}/Participants/{west['CallSid']}.json", Muted="true")
    assert r.status_code == 200 and r.json()["muted"] is True, r.text
    with gevent.Timeout(10, False):
        while not (members(e1, east["ConferenceSid"]).get("east-alice", {}).get("can_speak") is False
                   and members(e2, west["ConferenceSid"]).get("west-bob", {}).get("can_speak") is False):
            gevent.sleep(0.05)   # FreeSWITCH's member list has no event to wait on
    assert members(e1, east["ConferenceSid"])["east-alice"]["can_speak"] is False
    assert members(e2, west["ConferenceSid"])["west-bob"]["can_speak"] is False
    assert app.callbacks.wait_for(lambda items: sorted(c["FriendlyName"] for c in items
                                                       if c["StatusCallbackEvent"] == "participant-mute")
                                  == ["east", "west"], 10)
    # reads through either bridge see both rooms (one PostgreSQL)
    for server in (b1, b2):
        listed = requests.get(f"{server.base_url}/2010-04-01/Accounts/{AC}/Conferences.json",
                              auth=(AC, TOKEN), timeout=10).json()["conferences"]
        assert {c["friendly_name"] for c in listed} >= {"east", "west"}


def test_a_caller_of_box_2_is_moved_over_sip_into_the_room_box_1_runs(two_boxes):
    (b1, b2), (e1, e2), app, call = two_boxes
    call(0, "shared-alice")

    def joins(items):
        return [c for c in items if c["StatusCallbackEvent"] == "participant-join" and c["FriendlyName"] == "shared"]
    assert app.callbacks.wait_for(lambda items: len(joins(items)) == 1, 20), app.callbacks.items
    call(1, "shared-bob")
    assert app.callbacks.wait_for(lambda items: len(joins(items)) == 2, 20), app.callbacks.items
    alice, bob = joins(app.callbacks.items)
    assert alice["ConferenceSid"] == bob["ConferenceSid"] and bob["ParticipantLabel"] == "bob"
    room = alice["ConferenceSid"]
    with gevent.Timeout(10, False):
        while len(members(e1, room)) < 2:
            gevent.sleep(0.05)   # FreeSWITCH's member list has no event to wait on
    assert len(members(e1, room)) == 2, members(e1, room)     # both callers mixed by box 1
    assert members(e2, room) == {}                             # nothing of that room on box 2
    r = rest(b2, f"Conferences/{room}/Participants/{bob['CallSid']}.json", Muted="true")
    assert r.status_code == 200 and r.json()["muted"] is True, r.text
