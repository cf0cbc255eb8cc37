"""Issue 21 item 3: no caller is lost to the bridge's own timeouts while FreeSWITCH is slow.

A storm of calls reaches the outbound socket of a FreeSwitchEngine whose ``command_timeout`` is short,
while the fake FreeSWITCH answers ``connect`` slowly and one call at a time (a CPU-bound FreeSWITCH). Before
the fix the session's ``connect`` waited ``command_timeout`` and most callers were hung up with
"FreeSWITCH did not answer 'connect' in time"; now every call reaches the handler, setups queue
(backpressure) and the slow ones are logged."""

import logging

import gevent
import gevent.event
import gevent.lock
import pytest

from fsbridge.engines.freeswitch.engine import FreeSwitchEngine
from fakes import FakeCall
from fs_support import fake, sink  # noqa: F401 - fixtures

CALLS = 40
DELAY = 0.03          # s per connect reply, served one after another: the last waits CALLS × DELAY = 1.2 s
COMMAND_TIMEOUT = 0.2  # the engine's api timeout, far below the storm's wait


@pytest.fixture
def slow_engine(fake, sink):  # noqa: F811 - fixture
    """A started engine with a short command timeout and a small setup gate."""
    e = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=COMMAND_TIMEOUT,
                         reconnect_backoff=0.01, max_backoff=0.05, talk_stop_ms=0)
    e.set_event_sink(sink)
    e.start()
    assert e.wait_connected(5)
    e.outbound.slow_setup = 0.5
    e.outbound._setup_gate = gevent.lock.BoundedSemaphore(8)
    yield e
    e.stop()


def test_a_storm_with_a_slow_connect_reply_loses_no_caller(slow_engine, fake, caplog):  # noqa: F811
    arrived, all_in = [], gevent.event.Event()

    def on_call(leg):
        arrived.append(leg.unique_id)
        leg.answer()
        if len(arrived) == CALLS:
            all_in.set()
        leg.wait_ended()
    slow_engine.set_call_handler(on_call)
    lock = gevent.lock.Semaphore()
    caplog.set_level(logging.INFO, logger="fsbridge")
    calls = [FakeCall(fake, "127.0.0.1", slow_engine.outbound_port, uid="51000000-0000-4000-8000-%012d" % i,
                      connect_delay=DELAY, connect_lock=lock).start() for i in range(CALLS)]
    assert all_in.wait(30), "only %d of %d calls reached the handler" % (len(arrived), CALLS)
    assert sorted(arrived) == sorted(c.uid for c in calls)
    assert not [r for r in caplog.records if "did not answer" in r.getMessage() or r.levelno >= logging.ERROR]
    slow = [r.getMessage() for r in caplog.records if "slow call setup" in r.getMessage()]
    assert slow and "'connect' answered in" in slow[-1] and "waiting their turn" in slow[-1]
    assert slow_engine.outbound.connection_count == CALLS
    for call in calls:
        call.hangup()
    for call in calls:
        assert call.closed.wait(10)
    with gevent.Timeout(10):
        while slow_engine.outbound.connection_count or slow_engine.outbound._setup_waiting:
            gevent.sleep(0.01)  # poll of a counter with a deadline, not a synchronisation sleep
    assert slow_engine.outbound.legs == {}


def test_the_setup_deadline_grows_with_the_slowest_recent_setup(slow_engine):
    server = slow_engine.outbound
    assert server.setup_deadline() == server.setup_timeout == 60.0
    server._setup_times.extend([0.5, 40.0, 2.0])
    assert server.setup_deadline() == 160.0
