"""Several dispatchers (nodes) on one PostgreSQL outbox (fsbridge.callbacks.leases; issue 18 item 4): the real
throw-away PostgreSQL of tests/pg_support.py, real HTTP receivers, two Dispatchers in this process each with
its own engine (connections), as two nodes would have."""
import gevent
import gevent.event
import pytest

from fixtures.callbacks import AC, TOKEN, Receiver, evt
from fsbridge.callbacks import outbox
from fsbridge.callbacks.dispatcher import Dispatcher
from fsbridge.callbacks.leases import Leases
from fsbridge.callbacks.subscriptions import StatusSequence
from fsbridge.store.db import make_engine, metadata
from pg_support import empty_tables, pg_url  # noqa: F401 - fixture

TOKEN_HEADER = "i-twilio-idempotency-token"


@pytest.fixture
def pg(pg_url):  # noqa: F811
    """Two engines on the session's PostgreSQL (emptied), one per node."""
    import fsbridge.callbacks.leases  # noqa: F401 - registers callback_lease on metadata
    engines = [make_engine(pg_url), make_engine(pg_url)]
    metadata.create_all(engines[0])
    empty_tables(engines[0])
    yield engines
    for e in engines:
        e.dispose()


class Delivered(list):
    """Row ids a node reported delivered (its ``on_update``); :meth:`wait` for one of them."""

    def __init__(self):
        super().__init__()
        self.changed = gevent.event.Event()

    def add(self, row_id):
        self.append(row_id)
        self.changed.set()

    def wait(self, row_id, timeout=5.0):
        with gevent.Timeout(timeout, False):
            while row_id not in self:
                self.changed.clear()
                self.changed.wait()
        return row_id in self


def node(engine, name, updates, lease_s=1.0):
    """A dispatcher for node ``name``; its delivered row ids go to ``updates`` (a :class:`Delivered`)."""
    def lookup(cf):   # SequenceNumbers continue across nodes (as fsbridge.app.restart_sequence does)
        with engine.connect() as conn:
            return outbox.last_status_sequence(conn, cf)
    return Dispatcher(engine, {AC: TOKEN}, node=name, lease_s=lease_s, sequence=StatusSequence(lookup=lookup),
                      on_update=lambda row, state, attempts, error: state == "delivered" and updates.add(row))


class HoldingReceiver(Receiver):
    """A :class:`Receiver` that also signals ``arrived`` when a /slow request comes in (before its gate)."""

    def __init__(self):
        super().__init__()
        self.arrived = gevent.event.Event()

    def _app(self, environ, start_response):
        if environ["PATH_INFO"].startswith("/slow"):
            self.arrived.set()
        return super()._app(environ, start_response)


def by_conference(receiver):
    """ConferenceSid → [(SequenceNumber, idempotency token)] in arrival order."""
    out = {}
    for i, req in enumerate(receiver.requests):
        f = receiver.form(i)
        out.setdefault(f["ConferenceSid"], []).append((int(f["SequenceNumber"]), req["headers"][TOKEN_HEADER]))
    return out


def test_two_nodes_deliver_every_callback_once_in_order_and_the_holder_sends_the_others_rows(pg):
    r1, r2 = Receiver().start(), Receiver().start()
    sent_a, sent_b = Delivered(), Delivered()
    # 30 s leases: their rounds run every 10 s, so the 5 s waits below are met only through NOTIFY wake-ups
    a, b = node(pg[0], "node-a", sent_a, 30.0).start(), node(pg[1], "node-b", sent_b, 30.0).start()
    try:
        ids_a, ids_b = [], []
        for seq in range(1, 16):   # interleaved, as two busy nodes would write
            for cf in ("CFa1", "CFa2"):
                ids_a.append(a.enqueue(evt(cf, seq, r1.url())))
            for cf in ("CFb1", "CFb2"):
                ids_b.append(b.enqueue(evt(cf, seq, r2.url())))
            gevent.sleep(0)
        assert r1.wait_for(30, 10) and r2.wait_for(30, 10)
        assert a.wait_idle(5) and b.wait_idle(5)
        # node b writes callbacks of a conference node a holds (e.g. a REST change carried elsewhere):
        # the lease stays with a, which is woken by NOTIFY and sends them after its own, in order
        late = [b.enqueue(evt("CFa1", seq, r1.url())) for seq in (16, 17, 18)]
        assert r1.wait_for(33, 10)
        assert a.wait_idle(5) and b.wait_idle(5)
        assert set(late) <= set(sent_a) and not set(late) & set(sent_b)
        assert set(ids_a) <= set(sent_a) and set(ids_b) <= set(sent_b)
        got1, got2 = by_conference(r1), by_conference(r2)
        assert [s for s, _ in got1["CFa1"]] == list(range(1, 19))
        assert [s for s, _ in got1["CFa2"]] == list(range(1, 16))
        assert [s for s, _ in got2["CFb1"]] == [s for s, _ in got2["CFb2"]] == list(range(1, 16))
        assert len(r1.requests) == 33 and len(r2.requests) == 30   # each once
        assert all(s.state == "delivered" for cf in ("CFa1", "CFb2") for s in a.status(conference_sid=cf))
    finally:
        a.stop()
        b.stop()
        r1.stop()
        r2.stop()


def test_a_dead_nodes_conferences_are_taken_over_after_its_lease(pg):
    receiver = HoldingReceiver().start()
    receiver.gate = gevent.event.Event()   # /slow holds every request until the gate opens
    sent_a, sent_b = Delivered(), Delivered()
    a, b = node(pg[0], "node-a", sent_a).start(), node(pg[1], "node-b", sent_b).start()
    try:
        ids = [a.enqueue(evt("CFx", seq, receiver.url("/slow"))) for seq in range(1, 6)]
        ids.append(a.enqueue(evt("CFy", 1, receiver.url("/fast"))))
        assert receiver.arrived.wait(5)   # the first POST of CFx is in flight (held by the receiver)
        assert sent_a.wait(ids[5])        # CFy went through, and node a knows it
        a.stop()                          # node a dies mid-lease: no renewal, no release
        receiver.gate.set()               # the receiver answers the abandoned request (it got it: at-least-once)
        assert receiver.wait_for(1 + 5 + 1, 10)   # b took CFx over after the lease and sent all 5 again from 1
        assert b.wait_idle(5)
        got = by_conference(receiver)
        seqs = [s for s, _ in got["CFx"]]
        assert seqs == [1, 1, 2, 3, 4, 5]   # the in-flight one twice (at-least-once), then in order
        assert got["CFx"][0][1] == got["CFx"][1][1]   # same idempotency token on the duplicate
        assert set(ids[:5]) <= set(sent_b) and ids[5] in sent_a
        assert [s.state for s in b.status(conference_sid="CFx")] == ["delivered"] * 5
    finally:
        b.stop()
        a.stop()
        receiver.gate.set()
        receiver.stop()


def test_leases_need_postgresql(tmp_path):
    d = Dispatcher(make_engine(f"sqlite:///{tmp_path / 'o.sqlite'}"))
    with pytest.raises(ValueError):
        Leases(d, "node-a")


def test_a_survivor_writing_to_a_taken_over_conference_keeps_its_rows_after_the_dead_nodes(pg):
    """The survivor's ids were fetched ahead (a block) before the dead node wrote: its new row for the
    conference it takes over gets a fresh, higher id, so the outbox order stays the order of writing."""
    from sqlalchemy import text
    receiver = Receiver().start()
    sent_a, sent_b = Delivered(), Delivered()
    a, b = node(pg[0], "node-a", sent_a), node(pg[1], "node-b", sent_b)
    try:
        early = b.enqueue(evt("CFz", 1, receiver.url()))          # b's id block is taken now
        dead = [a.enqueue(evt("CFx", seq, receiver.url())) for seq in (1, 2)]
        a.stop()                                                    # a dies before sending anything
        with pg[0].begin() as conn:                                 # ... and its lease has run out
            conn.execute(text("UPDATE callback_lease SET lease_until = 0 WHERE node = 'node-a'"))
        late = b.enqueue(evt("CFx", 3, receiver.url()))
        assert early < dead[0] < dead[1] < late                    # renumbered above the dead node's rows
        b.start()
        assert receiver.wait_for(4, 10) and b.wait_idle(5)
        assert [s for s, _ in by_conference(receiver)["CFx"]] == [1, 2, 3]
        assert {late, *dead} <= set(sent_b) and b.describe(late).startswith("participant-join SequenceNumber 3")
    finally:
        b.stop()
        receiver.stop()
