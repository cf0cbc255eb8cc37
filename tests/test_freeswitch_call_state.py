"""Nothing of a call stays in the FreeSWITCH engine once it ended (issue 21 item 4: memory back to idle after
calls end). Calls through the fake FreeSWITCH use every per-call/per-member table — the wait gate, hold,
mute, talk debouncing — then hang up; every such table must be empty afterwards."""

import gevent
import gevent.event

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fakes import FakeCall
from fs_support import engine, fake, sink  # noqa: F401 - fixtures

N = 6


def per_call_tables(engine):
    """The engine's tables that hold something per call, member or job (name → container)."""
    out = {"outbound.legs": engine.outbound.legs, "outbound._sessions": engine.outbound._sessions,
           "mapper.members": engine.mapper.members, "mapper.flags": engine.mapper.flags,
           "talk._d": engine.mapper.talk._d, "talk._meta": engine.mapper.talk._meta}
    for name in ("_jobs", "_pending_wait", "_waiting", "_held", "_hold_media", "_suppress", "_coach",
                 "_file_strings", "_api_max_members"):
        out[name] = getattr(engine, name)
    return out


def test_every_per_call_table_is_empty_after_the_calls_ended(engine, fake, sink):
    results = {}

    def on_call(leg):
        i = int(leg.unique_id[-2:])
        results[leg.unique_id] = result = gevent.event.AsyncResult()
        leg.answer()
        result.set(leg.join(c.JoinMember("CFM%d" % (i % 2), leg.unique_id, "CA%02d" % i, waiting=i % 2 == 0,
                                         muted=i == 1, max_members=3 if i % 2 else 250)))
    engine.set_call_handler(on_call)
    calls = [FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="44444444-0000-4000-8000-0000000000%02d" % i)
             .start() for i in range(N)]
    adds = [sink.wait(lambda e, uid=call.uid: e.action == n.ADD_MEMBER and e.unique_id == uid) for call in calls]
    used = {name for name, t in per_call_tables(engine).items() if t}
    engine.execute(c.StartConference("CFM0"))
    engine.execute(c.HoldMember(adds[2].room, adds[2].member_id))
    engine.execute(c.MuteMember(adds[3].room, adds[3].member_id))
    engine.execute(c.SetCoach(adds[1].room, adds[1].member_id, adds[3].member_id))
    talker = fake.find(calls[5].uid)
    fake.broadcast(fake.member_event("start-talking", talker))
    sink.wait(lambda e: e.action == n.START_TALKING and e.unique_id == calls[5].uid)
    used |= {name for name, t in per_call_tables(engine).items() if t}
    assert used >= {"outbound.legs", "outbound._sessions", "mapper.members", "mapper.flags", "talk._d",
                    "_waiting", "_held", "_hold_media", "_coach"}   # the tables were in use …
    for call in calls:
        call.hangup()
    for call in calls:
        assert results[call.uid].get(timeout=5) == "hangup"
        assert call.closed.wait(5)
    sink.wait(lambda e: e.action == n.CHANNEL_HANGUP_COMPLETE and e.unique_id == calls[-1].uid)
    gevent.joinall(list(engine.outbound._sessions), timeout=5)
    # … and empty once every call ended (the engine's handler greenlet has mapped every event by now: the
    # last CHANNEL_HANGUP_COMPLETE came after every del-member on the same socket)
    assert {name: t for name, t in per_call_tables(engine).items() if t} == {}


def test_an_idle_esl_session_pins_no_event():
    """A call sitting in its room reads nothing for minutes: neither the reader greenlet (its last raw message)
    nor the handler greenlet (its last event) may keep that ≈ 190-header message alive meanwhile."""
    import gc
    import weakref

    import gevent.socket

    from fakes.esl import plain_event
    from fsbridge.engines.freeswitch.outbound import FsOutboundSession

    ours, theirs = gevent.socket.socketpair()
    session = FsOutboundSession(("127.0.0.1", 0), ours, timeout=2)
    session.start_event_handlers()
    seen, handled = [], gevent.event.Event()

    def handler(ev):
        seen.append(weakref.ref(ev))
        handled.set()
    session.register_handle("*", handler)
    theirs.sendall(plain_event([("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), ("Unique-ID", "u1")] +
                               [("variable_v%d" % i, "x" * 20) for i in range(190)]))
    assert handled.wait(5)
    gevent.idle()   # both greenlets are blocked again: the reader on the socket, the handler on its queue
    gc.collect()
    try:
        assert seen[0]() is None
    finally:
        session.stop()
        theirs.close()
