"""Inbound ESL handlers run in the reader greenlet (``inline_handlers``, issue 21: one hand-off less per event)
— in wire order, a handler that raises does not stop the reader, ``CLOSED`` handlers run once when the
connection ends, and the engine's own inbound connection uses it."""
import gevent
import gevent.event

from fakes.freeswitch import FakeFreeSwitch, Member
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.engines.freeswitch.reconnect import ReconnectingESL

SUBCLASS = "conference::maintenance"


def _esl(fs, handlers, inline=True):
    esl = ReconnectingESL("127.0.0.1", fs.port, fs.password, handlers, timeout=2, inline_handlers=inline)
    esl.start()
    assert esl.wait_ready(1, timeout=5)
    return esl


def test_handlers_run_in_the_reader_in_order_and_survive_a_raising_handler():
    fs = FakeFreeSwitch().start()
    seen, where, done = [], set(), gevent.event.Event()

    def handler(ev):
        where.add(gevent.getcurrent())
        seen.append(ev.get("Member-ID"))
        if len(seen) == 1:
            raise RuntimeError("a handler bug")
        if len(seen) == 5:
            done.set()

    esl = _esl(fs, [(SUBCLASS, handler)])
    try:
        conn = esl.conn
        assert conn._process_events_greenlet is None   # no handler greenlet, no queue hand-off
        for i in range(5):
            fs.broadcast(fs.member_event("start-talking", Member("r1", str(i + 1), "uid-%d" % i, ())))
        assert done.wait(5)
        assert seen == ["1", "2", "3", "4", "5"]   # the wire's order; the reader went on after the exception
        assert where == {conn._receive_events_greenlet}
    finally:
        esl.stop()
        fs.stop()


def test_closed_handlers_run_once_when_the_connection_ends():
    fs = FakeFreeSwitch().start()
    closed = []
    ended = gevent.event.Event()

    def on_closed(ev):
        closed.append(gevent.getcurrent())
        ended.set()

    esl = _esl(fs, [("CLOSED", on_closed)])
    try:
        reader = esl.conn._receive_events_greenlet
        fs.drop()
        assert ended.wait(5)
        gevent.sleep(0)   # let the reader finish (a second CLOSED would run now)
        assert closed == [reader]
    finally:
        esl.stop()
        fs.stop()


def test_queued_handlers_stay_the_default():
    fs = FakeFreeSwitch().start()
    where, done = [], gevent.event.Event()

    def handler(ev):
        where.append(gevent.getcurrent())
        done.set()

    esl = _esl(fs, [(SUBCLASS, handler)], inline=False)
    try:
        fs.broadcast(fs.member_event("start-talking", Member("r1", "1", "uid-1", ())))
        assert done.wait(5)
        assert where == [esl.conn._process_events_greenlet]
    finally:
        esl.stop()
        fs.stop()


def test_the_engine_runs_its_inbound_handlers_inline():
    engine = FreeSwitchEngine("127.0.0.1", 1, "pw")
    assert engine.esl.inline_handlers is True
