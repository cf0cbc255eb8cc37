"""The Bridge on its own (no HTTP): the standalone engine on a simulated clock, the real ConferenceState,
no store and no dispatcher. Checks the joins that race each other, the REST writes' confirmation wait, and
that the engine's event sink never blocks."""
from __future__ import annotations

import gevent
import pytest

from fsbridge.conference.errors import DomainError
from fsbridge.config import Account, Settings
from fsbridge.engines.standalone.engine import StandaloneEngine
from fsbridge.markup.model import Conference
from fsbridge.runtime.bridge import Bridge
from fsbridge.runtime.registry import CallRecord
from fsbridge.engines.standalone.timers import TimerClock

AC = "AC" + "3" * 32


@pytest.fixture
def bridge(tmp_path):
    engine = StandaloneEngine(rate=8000, clock=TimerClock(speed=20))
    settings = Settings(accounts={AC: Account(AC, "t")}, audio_dir=str(tmp_path / "a"),
                        recordings_dir=str(tmp_path / "r"), rate=8000, egress_allow=("127.0.0.0/8",))
    b = Bridge(engine, settings).start()
    yield b
    b.stop()


def _call(bridge, sid):
    leg = bridge.engine.create_call(sid, "silence_stream://-1", sid, "room")
    rec = CallRecord(call_sid=sid, account_sid=AC, from_=sid, to="room", direction="inbound", unique_id=sid)
    rec.leg = leg
    bridge.registry.add(rec)
    return rec, leg


def test_joins_in_flight_together_are_all_mixed(bridge):
    """Two JoinMembers computed before the conference started (both ``waiting``) reach the engine one after
    the other: the second arrives after the start and must be mixed, not left waiting for ever."""
    first, leg1 = _call(bridge, "CA" + "1" * 32)
    j1 = bridge.join_call(first, Conference(name="race"), "twiml", ())
    g1 = gevent.spawn(leg1.join, j1)
    assert bridge.wait_until(lambda: bridge.state.participant_of_call(first.call_sid).status == "connected", 5)
    second, leg2 = _call(bridge, "CA" + "2" * 32)
    third, leg3 = _call(bridge, "CA" + "3" * 32)
    j2 = bridge.join_call(second, Conference(name="race"), "twiml", ())
    j3 = bridge.join_call(third, Conference(name="race"), "twiml", ())
    assert j2.waiting and j3.waiting
    g2 = gevent.spawn(leg2.join, j2)
    assert bridge.wait_until(lambda: bridge.state.conference(j1.room).status == "in-progress", 5)
    g3 = gevent.spawn(leg3.join, j3)
    assert bridge.wait_until(lambda: leg3.member is not None and not leg3.member.waiting, 5)
    assert not leg1.member.waiting and not leg2.member.waiting
    for leg in (leg1, leg2, leg3):
        leg.hangup()
    gevent.joinall([g1, g2, g3], timeout=5)
    assert [e.name for e in bridge.events].count("conference-start") == 1


def test_rest_write_waits_for_the_engine_and_reports_domain_errors(bridge):
    rec, leg = _call(bridge, "CA" + "4" * 32)
    other, leg2 = _call(bridge, "CA" + "5" * 32)
    g = [gevent.spawn(l.join, bridge.join_call(r, Conference(name="w", participant_label=r.from_[:6]), "twiml", ()))
         for r, l in ((rec, leg), (other, leg2))]
    assert bridge.wait_until(lambda: bridge.state.conference(rec.conference_sid).status == "in-progress", 5)
    room = rec.conference_sid
    assert bridge.update_participant(AC, room, rec.call_sid, muted=True) == rec.call_sid
    # returned only after the engine's mute-member was applied: the state says muted at once
    assert bridge.state.participant(room, rec.call_sid).muted is True
    assert leg.member.muted
    with pytest.raises(DomainError) as err:
        bridge.update_participant(AC, room, "CA" + "9" * 32, muted=True)
    assert err.value.code == 20404
    with pytest.raises(DomainError):
        bridge.join_call(_call(bridge, "CA" + "6" * 32)[0],
                         Conference(name="w", participant_label=rec.from_[:6]), "twiml", ())   # 16025
    bridge.kick(AC, room, other.call_sid)
    assert bridge.state.participant_of_call(other.call_sid) is None
    assert g[1].get(timeout=5) == "left"       # kicked: its join returns, the call goes on
    bridge.end_conference(AC, room)
    assert bridge.state.conference(room).status == "completed"
    assert g[0].get(timeout=5) == "left"


def test_sink_never_blocks(bridge):
    """The engine's sink only queues: while another greenlet holds the bridge lock it still returns at once
    (the lock is re-entrant, so it must be held elsewhere for a sink that took it to block)."""
    import gevent.event
    from fsbridge.conference.native import NativeEvent
    held, release = gevent.event.Event(), gevent.event.Event()

    def hold():
        with bridge._lock:
            held.set()
            release.wait(5)
    holder = gevent.spawn(hold)
    assert held.wait(5)
    try:
        with gevent.Timeout(1, AssertionError("the sink blocked on the bridge lock")):
            for i in range(1000):
                bridge._sink(NativeEvent("start-talking", "CFnone", i))
    finally:
        release.set()
    holder.join(5)
    assert bridge.barrier(5)
