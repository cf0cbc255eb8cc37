"""The fake-FreeSWITCH scenarios against a live FreeSWITCH (skipped unless FSBRIDGE_TEST_ESL is set).

Environment:
  FSBRIDGE_TEST_ESL=host:port:password   the event socket (required)
  FSBRIDGE_TEST_OUTBOUND_HOST=addr       where FreeSWITCH can reach this process (default 127.0.0.1; the
                                         outbound socket binds port 0 there and dial-outs name that port)
  FSBRIDGE_TEST_DIAL=dialstring          an answering far end (default loopback/9664/default: the stock
                                         dialplan's music-on-hold extension)
  FSBRIDGE_TEST_PROFILE=name             conference profile (default fsbridge — freeswitch-conf/)

Each test dials out with ``bgapi originate … &socket(<here> async full)``, so the calls arrive on the
outbound socket like dialplan calls do.
"""
import os
import uuid

import gevent
import gevent.event
import pytest

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fakes import Sink

pytestmark = pytest.mark.freeswitch


@pytest.fixture
def live():
    host, port, password = os.environ["FSBRIDGE_TEST_ESL"].rsplit(":", 2)
    out_host = os.environ.get("FSBRIDGE_TEST_OUTBOUND_HOST", "127.0.0.1")
    engine = FreeSwitchEngine(host, int(port), password, outbound_host=out_host, outbound_port=0,
                              profile=os.environ.get("FSBRIDGE_TEST_PROFILE", "fsbridge"),
                              command_timeout=5, reconnect_backoff=0.1, max_backoff=1, talk_stop_ms=0)
    sink = Sink(timeout=15.0)
    engine.set_event_sink(sink)
    calls = {}

    def on_call(leg):
        calls[leg.call_sid] = leg
        plan = plans.get(leg.call_sid)
        if plan is None:
            leg.hangup()
            return
        plan["leg"].set(leg)
        leg.answer()
        plan["result"].set(leg.join(plan["join"](leg)))
        if not leg.hung_up:
            leg.hangup()

    plans = {}
    engine.set_call_handler(on_call)
    engine.start()
    assert engine.wait_connected(10), "cannot connect to %s:%s" % (host, port)
    yield engine, sink, plans
    for leg in list(calls.values()):
        if not leg.hung_up:
            try:
                leg.hangup()
            except Exception:
                pass
    engine.stop()


def dial(engine, plans, join, call_sid=None):
    call_sid = call_sid or "CA" + uuid.uuid4().hex
    plans[call_sid] = {"join": join, "leg": gevent.event.AsyncResult(), "result": gevent.event.AsyncResult()}
    job = engine.originate(os.environ.get("FSBRIDGE_TEST_DIAL", "loopback/9664/default"), "1000", call_sid, 20)
    status, detail = job.wait(30)
    assert status == "answered", detail
    plans[call_sid]["job"] = job
    return plans[call_sid]


def room():
    return "CF" + uuid.uuid4().hex


def test_live_join_mute_hold_announce_record_kick(live, tmp_path):
    engine, sink, plans = live
    r = room()
    a = dial(engine, plans, lambda leg: c.JoinMember(r, leg.unique_id, leg.call_sid))
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == r)
    assert add.unique_id == a["leg"].get(timeout=10).unique_id
    mid = add.member_id
    engine.execute(c.MuteMember(r, mid))
    sink.wait(lambda e: e.action == n.MUTE_MEMBER and e.room == r)
    engine.execute(c.UnmuteMember(r, mid))
    sink.wait(lambda e: e.action == n.UNMUTE_MEMBER and e.room == r)
    engine.execute(c.HoldMember(r, mid))
    sink.wait(lambda e: e.action == n.HOLD_MEMBER and e.room == r)
    snap = [s for s in engine.snapshot() if s.room == r]
    assert [(s.member_id, s.hold) for s in snap] == [(mid, True)]
    engine.execute(c.UnholdMember(r, mid))
    sink.wait(lambda e: e.action == n.UNHOLD_MEMBER and e.room == r)
    tone = "tone_stream://%(200,0,800)"
    engine.execute(c.PlayMedia(r, (tone,)))
    done = sink.wait(lambda e: e.action == n.PLAY_FILE_DONE and e.room == r and e.file == tone)
    assert done.error is None
    path = "/tmp/%s.wav" % r
    engine.execute(c.StartRecording(r, path))
    sink.wait(lambda e: e.action == n.START_RECORDING and e.room == r)
    engine.execute(c.StopRecording(r, path))
    stop = sink.wait(lambda e: e.action == n.STOP_RECORDING and e.room == r)
    assert stop.path == path
    engine.execute(c.KickMember(r, mid))
    assert a["result"].get(timeout=15) == "left"
    sink.wait(lambda e: e.action == n.DEL_MEMBER and e.room == r)


def test_live_coach_and_end_conference(live):
    engine, sink, plans = live
    r = room()
    first = dial(engine, plans, lambda leg: c.JoinMember(r, leg.unique_id, leg.call_sid))
    second = dial(engine, plans, lambda leg: c.JoinMember(r, leg.unique_id, leg.call_sid))
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == r and e.conference_size == 2)
    ids = sorted(e.member_id for e in sink.events if e.action == n.ADD_MEMBER and e.room == r)
    engine.execute(c.SetCoach(r, ids[0], ids[1]))
    engine.execute(c.SetCoach(r, ids[0], None))
    engine.execute(c.EndConference(r))
    sink.wait(lambda e: e.action == n.CONFERENCE_DESTROY and e.room == r)
    assert first["result"].get(timeout=15) == "left" and second["result"].get(timeout=15) == "left"


def test_live_wait_gate_and_start(live):
    engine, sink, plans = live
    r = room()
    dial(engine, plans, lambda leg: c.JoinMember(r, leg.unique_id, leg.call_sid, waiting=True))
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == r)
    snap = [s for s in engine.snapshot() if s.room == r]
    assert snap[0].muted and snap[0].deaf
    engine.execute(c.StartConference(r))
    engine.execute(c.HoldMember(r, add.member_id))  # a later confirmed event orders the check below
    sink.wait(lambda e: e.action == n.HOLD_MEMBER and e.room == r)
    engine.execute(c.UnholdMember(r, add.member_id))
    sink.wait(lambda e: e.action == n.UNHOLD_MEMBER and e.room == r)
    snap = [s for s in engine.snapshot() if s.room == r]
    assert not snap[0].muted and not snap[0].deaf
    assert not [e for e in sink.events if e.room == r and e.action in (n.UNMUTE_MEMBER, n.UNDEAF_MEMBER)]
    engine.execute(c.EndConference(r))


def test_live_max_members_refused(live):
    engine, sink, plans = live
    r = room()
    dial(engine, plans, lambda leg: c.JoinMember(r, leg.unique_id, leg.call_sid, max_members=1))
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == r)
    second = dial(engine, plans, lambda leg: c.JoinMember(r, leg.unique_id, leg.call_sid, max_members=1))
    assert second["result"].get(timeout=15) == "refused"
    sink.wait(lambda e: e.action == n.JOIN_REFUSED and e.room == r)
    engine.execute(c.EndConference(r))


def test_live_reconnect_and_resync(live):
    engine, sink, plans = live
    r = room()
    dial(engine, plans, lambda leg: c.JoinMember(r, leg.unique_id, leg.call_sid))
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == r)
    before = engine.esl.ready_count
    engine.esl.conn.stop()  # our side drops the event socket
    assert engine.esl.wait_ready(before + 1, 15)  # reconnected and resynced
    assert add.member_id in engine.members(r)
    engine.execute(c.MuteMember(r, add.member_id))
    sink.wait(lambda e: e.action == n.MUTE_MEMBER and e.room == r)
    engine.execute(c.EndConference(r))
