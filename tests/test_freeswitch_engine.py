"""FreeSwitchEngine against the fake FreeSWITCH (real TCP on port 0): the ESL connection, events, snapshots, ESL drop → reconnect → resync, dial-out, errors."""
import time

import gevent
import gevent.event
import gevent.queue
import gevent.socket
import pytest

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch.engine import parse_json_list
from fsbridge.engines.freeswitch.transport import FsInboundESL, SUBSCRIPTION
from fakes import FakeCall, fixture
from fs_support import SUB, engine, fake, members_of, run_call, sink  # noqa: F401 - fixtures


def test_connects_authenticates_and_subscribes_custom_last(engine, fake):
    assert SUBSCRIPTION == SUB
    # then the resync: FreeSWITCH's core UUID (did it restart? issue 15), the rooms
    assert fake.commands[:4] == ["auth ClueCon", SUB, "api eval ${core_uuid}", "api conference json_list"]
    assert engine.available

def test_wrong_password_is_engine_unavailable(fake):
    conn = FsInboundESL("127.0.0.1", fake.port, "wrong", timeout=2)
    with pytest.raises(EngineUnavailable):
        conn.connect()

def test_replayed_recorded_events_reach_the_sink(engine, fake, sink):
    count = fake.replay("conference_lifecycle/events_plain.esl.txt")
    assert count > 50
    sink.wait(lambda e: e.action == n.CONFERENCE_DESTROY)
    adds = [(e.member_id, e.room) for e in sink.events if e.action == n.ADD_MEMBER]
    assert adds == [(8, "life"), (9, "life"), (10, "life")]
    assert n.CHANNEL_HANGUP_COMPLETE in sink.actions()

def test_forged_header_event_is_rejected_on_the_wire(engine, fake, sink):
    inner = ("Event-Name: CUSTOM\nEvent-Subclass: conference%3A%3Amaintenance\nConference-Name: CF1\n"
             "Member-ID: 7\nUnique-ID: real-uuid\nCaller-Caller-ID-Name: Bob%0AUnique-ID%3A%20x\n"
             "Event-Date-Timestamp: 1795312372174627\nAction: add-member\n\n").encode()
    fake.broadcast(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner)
    ev = sink.wait(lambda e: e.action == n.ADD_MEMBER)
    assert ev.unique_id == "real-uuid"
    assert dict(ev.extra)["Caller-Caller-ID-Name"] == "Bob\nUnique-ID: x"
    assert engine.unique_id("CF1", 7) == "real-uuid"

def test_unreadable_event_is_dropped_and_the_connection_survives(engine, fake, sink):
    bad = b'{"Event-Name": "CUSTOM", '
    fake.conns[0].send(b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(bad) + bad)
    m, = members_of(fake, "CFU", 1)
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.member_id == m.id)
    assert engine.esl.conn.parse_errors == 1 and engine.esl.connections == 1

def test_snapshot_from_json_list(engine, fake):
    a, b = members_of(fake, "CFS", 2)
    fake.rooms["CFS"][b.id].speak = False
    fake.rooms["CFS"][a.id].hold = True
    snap = {s.member_id: s for s in engine.snapshot()}
    assert set(snap) == {a.id, b.id}
    assert snap[b.id].muted and not snap[b.id].hold and snap[b.id].unique_id == b.uid
    assert snap[a.id].hold and not snap[a.id].muted  # json_list reports hold as can_speak false

def test_parse_recorded_json_list():
    snap = parse_json_list(fixture("lists/lists_json_list.json").read_text())
    by_id = {s.member_id: s for s in snap}
    assert set(by_id) == {42, 43, 44, 46}
    assert by_id[42].muted and not by_id[42].hold
    assert by_id[43].hold and not by_id[43].muted
    assert by_id[46].unique_id == "1ee0a824-18a2-4a81-ac94-6be14678505c"
    assert parse_json_list("") == [] and parse_json_list("-ERR No active conferences.") == []

def test_esl_drop_mid_conference_reconnects_and_resyncs(engine, fake, sink):
    a, b = members_of(fake, "CFD", 2)
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.member_id == b.id)
    assert sorted(engine.members("CFD")) == [a.id, b.id]
    fake.accepting = False
    fake.drop()
    assert engine.esl.down_event.wait(5)
    # while down: commands fail at once, never hang
    t0 = time.monotonic()
    with pytest.raises(EngineUnavailable):
        engine.execute(c.MuteMember("CFD", a.id))
    with pytest.raises(EngineUnavailable):
        engine.snapshot()
    with pytest.raises(EngineUnavailable):
        engine.originate("1001", "1000", "CA1")
    assert time.monotonic() - t0 < 0.5
    assert not engine.available
    # meanwhile in FreeSWITCH: b left, c joined, a was put on hold (no connection heard it)
    fake.remove_member(b, "hangup", "NORMAL_CLEARING")
    c3 = fake.add_member("CFD", "uid-new")
    fake.rooms["CFD"][a.id].hold = True
    assert fake.wait_for(lambda: fake.refused > 0)
    fake.accepting = True
    assert engine.esl.wait_ready(2, 5)
    assert engine.esl.connections == 2
    assert sorted(engine.members("CFD")) == [a.id, c3.id]  # no phantom b, no lost c
    # what FreeSWITCH has now reaches the sink as one EngineSnapshot per connection (the domain's resync
    # path turns it into participant events: tests/test_conference_engine_events.py, test_freeswitch_e2e.py)
    assert len(sink.snapshots) == 2
    snap = {m.member_id: m for m in sink.snapshots[-1].members}
    assert sorted(snap) == [a.id, c3.id] and snap[c3.id].unique_id == c3.uid
    assert snap[a.id].hold and not snap[c3.id].hold and sink.snapshots[-1].rooms == ("CFD",)
    assert not [e for e in sink.events if e.action in (n.DEL_MEMBER, n.HOLD_MEMBER)]   # no engine-made events
    engine.execute(c.MuteMember("CFD", c3.id))
    sink.wait(lambda e: e.action == n.MUTE_MEMBER and e.member_id == c3.id)

def test_esl_loss_and_reconnect_are_logged(engine, fake, caplog):
    """Live: FreeSWITCH restarted under a running bridge and the log said only "connect failed" — neither
    that the connection was lost nor that it came back."""
    caplog.set_level("INFO", logger="fsbridge.engines.freeswitch.transport")
    fake.drop()
    assert engine.esl.wait_ready(2, 5)
    text = [r.getMessage() for r in caplog.records]
    port = fake.port
    assert "FreeSWITCH ESL 127.0.0.1:%d connection lost; reconnecting" % port in text
    assert "FreeSWITCH ESL 127.0.0.1:%d connected and resynced (connection 2)" % port in text
    lost = next(r for r in caplog.records if "connection lost" in r.getMessage())
    assert lost.levelname == "WARNING"

def test_originate_pending_when_esl_drops_fails(engine, fake):
    fake.bgapi_results["originate"] = None  # FreeSWITCH accepts the bgapi but the result never comes
    job = engine.originate("1001", "1000", "CA5")
    fake.accepting = False
    fake.drop()
    with pytest.raises(EngineUnavailable):
        job.wait(5)
    assert not job.done

def test_dial_out_originate_and_background_job(engine, fake):
    job = engine.originate("1001", "+15550001111", "CA9", timeout_s=20)
    cmd = fake.wait_command("bgapi originate")
    first, job_header = cmd.split("\n")
    port = engine.outbound_port
    assert first == ("bgapi originate {origination_uuid=%s,origination_caller_id_number=+15550001111,"
                     "origination_caller_id_name=+15550001111,origination_callee_id_number=1001,"
                     "origination_callee_id_name=1001,originate_timeout=20,fsbridge_call_sid=CA9,"
                     "hangup_after_conference=false}user/1001 '&socket(127.0.0.1:%d async full)'"
                     % (job.unique_id, port))
    assert job_header == "Job-UUID: %s" % job.job_uuid
    assert job.wait(5) == ("answered", job.unique_id)
    fake.bgapi_results["originate"] = "-ERR USER_BUSY\n"
    busy = engine.originate("sip:bob@example.com", "+1555", "CA10", timeout_s=5)
    assert "}sofia/internal/bob@example.com " in fake.wait_command("bgapi originate {origination_uuid=%s" % busy.unique_id)
    assert busy.wait(5) == ("busy", "USER_BUSY")

def test_dialled_call_arrives_with_its_call_sid(engine, fake):
    box = gevent.event.AsyncResult()
    engine.set_call_handler(box.set)
    FakeCall(fake, "127.0.0.1", engine.outbound_port, variables=(("variable_fsbridge_call_sid", "CA77"),)).start()
    assert box.get(timeout=5).call_sid == "CA77"

def test_error_replies_raise_engine_error(engine, fake):
    with pytest.raises(EngineError) as exc:
        engine.execute(c.MuteMember("nosuch", 1))
    assert "not found" in str(exc.value)
    members_of(fake, "CFE", 1)
    with pytest.raises(EngineError):
        engine.execute(c.KickMember("CFE", 999))  # -ERR Non-Existant ID 999
