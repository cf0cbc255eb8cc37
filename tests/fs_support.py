"""Shared pieces of the FreeSwitchEngine tests (tests/test_freeswitch_{engine,calls,rooms}.py): the fake
FreeSWITCH, a sink and a started engine as fixtures (import them into the test module), ``run_call``."""

from contextlib import contextmanager

import gevent
import gevent.event
import gevent.queue
import gevent.socket
import pytest

from fsbridge.engines.freeswitch.engine import FreeSwitchEngine
from fakes import FakeCall, FakeFreeSwitch, Sink

SUB = ("event plain CHANNEL_HANGUP_COMPLETE DTMF BACKGROUND_JOB CHANNEL_PROGRESS "
       "CHANNEL_PROGRESS_MEDIA CUSTOM conference::maintenance")


@pytest.fixture
def fake():
    """The fake FreeSWITCH on a real TCP port 0."""
    f = FakeFreeSwitch().start()
    yield f
    f.stop()


@pytest.fixture
def sink():
    """Collects what the engine sends to its event sink."""
    return Sink()


@contextmanager
def started_engine(fake, sink, **options):
    """A FreeSwitchEngine connected to ``fake`` (outbound socket on port 0), stopped on exit; ``options``
    override the test defaults (2 s command timeout, fast reconnects, no talk hangover)."""
    e = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", **{**dict(
        outbound_port=0, command_timeout=2, reconnect_backoff=0.01, max_backoff=0.05, talk_stop_ms=0), **options})
    e.set_event_sink(sink)
    e.start()
    try:
        assert e.wait_connected(5)
        yield e
    finally:
        e.stop()


@pytest.fixture
def engine(fake, sink):
    """A started FreeSwitchEngine connected to ``fake`` (outbound socket on port 0)."""
    with started_engine(fake, sink) as e:
        yield e


def run_call(engine, fake, join_cmd_for, **call_kw):
    """Hand a FakeCall to the engine's outbound socket; the handler answers and joins. Returns
    (call, result AsyncResult, leg AsyncResult)."""
    result, legbox = gevent.event.AsyncResult(), gevent.event.AsyncResult()

    def on_call(leg):
        legbox.set(leg)
        try:
            leg.answer()
            result.set(leg.join(join_cmd_for(leg)))
            leg.hangup()  # the runtime hangs up when its markup ends
        except Exception as exc:  # pragma: no cover - surfaced by result.get
            result.set_exception(exc)
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port, **call_kw).start()
    return call, result, legbox


def members_of(fake, room, count):
    """``count`` new members of the fake's ``room``."""
    return [fake.add_member(room, "uid-%s-%d" % (room, i)) for i in range(count)]
