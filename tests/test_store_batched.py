"""Store.record in the callback outbox's group commit (fsbridge/store/batch.py, issues 16 / 21), on a real SQLite
file and a real PostgreSQL: the whole of test_store.py again with the store shared by a running Dispatcher, and
what batching adds — rows wait for the outbox's commit, every reader of the engine commits them first, the
duplicate verdict stays exact (buffered, committed, across a restart), a rolled-back batch is written again."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from fsbridge.callbacks import Dispatcher
from fsbridge.conference import events as ev
from fsbridge.store import Store, tables
from fsbridge.store.db import make_engine
from pg_support import db_url  # noqa: F401 - fixture

import test_store
from test_store import AC, CA1, CA2, CF, e, p

# test_store.py's tests, collected again here with the batched ``store`` fixture below
test_lifecycle_and_history = test_store.test_lifecycle_and_history
test_record_is_idempotent_and_never_rolls_back = test_store.test_record_is_idempotent_and_never_rolls_back
test_participant_mute_and_hold_events_are_kept_with_the_event_once = \
    test_store.test_participant_mute_and_hold_events_are_kept_with_the_event_once
test_accounts_are_separate = test_store.test_accounts_are_separate
test_recordings = test_store.test_recordings
test_paging_filters_and_keyset = test_store.test_paging_filters_and_keyset


def batched(url, window_s=0.001):
    """A Store sharing the group commit of a started Dispatcher on the same engine (as the bridge wires it)."""
    s = Store(make_engine(url))
    s.create_all()
    d = Dispatcher(s.engine, group_commit_s=window_s)
    assert d.share_commit(s)
    d.start()
    return s, d


@pytest.fixture
def store(db_url):
    s, d = batched(db_url)
    yield s
    d.stop()
    s.engine.dispose()


def participant_committed(url, call_sid=CA1) -> bool:
    """What another process sees: a separate engine (no read hook of the store's)."""
    other = make_engine(url)
    try:
        with other.connect() as conn:
            return conn.execute(select(tables.participants.c.call_sid).where(
                tables.participants.c.call_sid == call_sid)).first() is not None
    finally:
        other.dispose()


def test_rows_wait_for_the_outbox_commit_and_every_reader_commits_them_first(db_url):
    s, d = batched(db_url, window_s=30.0)   # nothing commits by itself during the test
    try:
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(label="alice")))
        assert not participant_committed(db_url)          # buffered: batching is really on
        row = s.participant(AC, CF, CA1)                  # a REST read right after the write …
        assert row is not None and row.label == "alice"   # … sees it (the read committed the batch first)
        assert participant_committed(db_url)              # and it is durable for everybody now
        assert s.record(e(ev.PARTICIPANT_MUTE, 2, participant=p(label="alice", muted=True)))
        d.stop()                                          # a stopping bridge commits what is buffered
        assert s.participant(AC, CF, CA1).muted is True
    finally:
        d.stop()
        s.engine.dispose()


def test_duplicate_verdict_is_exact_buffered_committed_and_after_a_restart(db_url):
    s, d = batched(db_url, window_s=30.0)
    try:
        for seq in (1, 2, 3):
            assert s.record(e(ev.PARTICIPANT_JOIN if seq == 1 else ev.PARTICIPANT_MUTE, seq,
                              participant=p(muted=seq > 1)))
        assert not s.record(e(ev.PARTICIPANT_MUTE, 3, participant=p(muted=True)))   # still buffered
        s.sync()
        assert not s.record(e(ev.PARTICIPANT_MUTE, 2, participant=p(muted=True)))   # committed
        assert s.record(e(ev.PARTICIPANT_UNMUTE, 6, participant=p(muted=False)))
        assert s.record(e(ev.PARTICIPANT_MUTE, 5, participant=p(muted=True)))        # older, never applied
        s.sync()
    finally:
        d.stop()
        s.engine.dispose()
    s2, d2 = batched(db_url, window_s=30.0)   # the next process: nothing cached
    try:
        assert not s2.record(e(ev.PARTICIPANT_MUTE, 5, participant=p(muted=True)))
        assert not s2.record(e(ev.PARTICIPANT_MUTE, 1, participant=p(muted=True)))
        assert s2.record(e(ev.PARTICIPANT_JOIN, 7, participant=p(CA2)))
        assert not s2.record(e(ev.PARTICIPANT_JOIN, 7, participant=p(CA2)))
        assert s2.participant(AC, CF, CA1).muted is False       # 6 (unmute) is the newest: 5 did not roll back
        assert s2.participant(AC, CF, CA2) is not None
        assert s2.last_sequence(CF) == 7
    finally:
        d2.stop()
        s2.engine.dispose()


def test_a_rolled_back_batch_is_written_again_with_its_callback_config(db_url, monkeypatch):
    s, d = batched(db_url, window_s=30.0)
    try:
        cfg = ev.CallbackConfig(status_callback=ev.Hook("http://127.0.0.1:9/cb"), status_events=("join",))
        real_apply, failures = s._apply, []

        def flaky(conn, event):
            real_apply(conn, event)       # writes (and caches) the conference's callback config …
            if not failures:
                failures.append(event)
                raise RuntimeError("disk full")   # … then the transaction rolls back

        monkeypatch.setattr(s, "_apply", flaky)
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(), callbacks=cfg))
        assert not s.sync()                 # rolled back (logged); still buffered
        assert not participant_committed(db_url)
        assert not s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(), callbacks=cfg))   # still pending
        s.sync()
        assert participant_committed(db_url)
        assert [c.callbacks for c in s.live_conferences()] == [cfg]   # the config row was not skipped
    finally:
        d.stop()
        s.engine.dispose()


def test_a_store_on_another_engine_keeps_its_own_commits(tmp_path):
    s = Store(make_engine(f"sqlite:///{tmp_path / 'a.sqlite'}"))
    s.create_all()
    d = Dispatcher(make_engine(f"sqlite:///{tmp_path / 'b.sqlite'}"))
    try:
        assert not d.share_commit(s)
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p()))
        assert participant_committed(f"sqlite:///{tmp_path / 'a.sqlite'}")
    finally:
        d.stop()


@st.composite
def deliveries(draw):
    """Histories of two conferences (joins, talking / mute / hold changes, a leave, maybe the end), interleaved,
    mostly in order with some events moved late and some duplicated; and where the batches end."""
    events = []
    for cf in ("CF" + "a" * 32, "CF" + "b" * 32):
        calls = ["CA%032x" % (i + (16 if cf.endswith("b") else 0)) for i in range(draw(st.integers(1, 3)))]
        hist = [e(ev.PARTICIPANT_JOIN, i + 1, cf=cf, participant=p(c, label="p%d" % i, from_="+1555"))
                for i, c in enumerate(calls)]
        hist.append(e(ev.CONFERENCE_START, len(hist) + 1, cf=cf, at=1))
        kinds = (ev.PARTICIPANT_SPEECH_START, ev.PARTICIPANT_SPEECH_STOP, ev.PARTICIPANT_MUTE, ev.PARTICIPANT_HOLD,
                 ev.PARTICIPANT_LEAVE)
        for kind, who, flag in draw(st.lists(st.tuples(st.sampled_from(kinds), st.sampled_from(calls),
                                                        st.booleans()), max_size=12)):
            hist.append(e(kind, len(hist) + 1, cf=cf, at=len(hist), participant=p(
                who, muted=flag and kind == ev.PARTICIPANT_MUTE, hold=flag and kind == ev.PARTICIPANT_HOLD,
                status="complete" if kind == ev.PARTICIPANT_LEAVE else "connected")))
        if draw(st.booleans()):
            hist.append(e(ev.CONFERENCE_END, len(hist) + 1, cf=cf, at=99, reason_conference_ended="x"))
        events.append(hist)
    merged = draw(st.permutations([0] * len(events[0]) + [1] * len(events[1])))
    order = [events[k].pop(0) for k in merged]
    for _ in range(draw(st.integers(0, 3))):   # an event delivered late
        if len(order) > 2:
            i = draw(st.integers(0, len(order) - 2))
            order.append(order.pop(i))
    order += draw(st.lists(st.sampled_from(order), max_size=3))   # duplicates
    cuts = draw(st.sets(st.integers(0, len(order)), max_size=6))
    return order, cuts


def dump(engine):
    """Every store table's rows (applied rows without their wall-clock recorded_at)."""
    out = {}
    with engine.connect() as conn:
        for table in (tables.conferences, tables.participants, tables.applied_events, tables.conference_callbacks):
            cols = [c for c in table.c if c.name != "recorded_at"]
            out[table.name] = sorted(tuple(r) for r in conn.execute(select(*cols)))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=deliveries())
def test_batched_records_leave_the_same_rows_as_one_transaction_each(tmp_path_factory, case):
    order, cuts = case
    d = tmp_path_factory.mktemp("b")
    plain = Store(make_engine(f"sqlite:///{d / 'plain.sqlite'}"))
    plain.create_all()
    s, disp = batched(f"sqlite:///{d / 'batched.sqlite'}", window_s=3600.0)
    try:
        expected = [plain.record(x) for x in order]
        got = []
        for i, x in enumerate(order):
            if i in cuts:
                s.sync()
            got.append(s.record(x))
        s.sync()
        assert got == expected
        assert dump(s.engine) == dump(plain.engine)
    finally:
        disp.stop()
        s.engine.dispose()
        plain.engine.dispose()


def test_participant_events_ride_the_batch(db_url):
    """A mute's fsbridge.store.participant_events row is written in the outbox's group commit with the event
    (no transaction of its own), also when the batch is written event by event after a rollback."""
    from fsbridge.store import participant_events

    def kept_elsewhere() -> int:   # what another process sees (no read hook of the store's)
        other = make_engine(db_url)
        try:
            with other.connect() as conn:
                return len(conn.execute(select(participant_events.events)).all())
        finally:
            other.dispose()
    s, d = batched(db_url, window_s=30.0)
    try:
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p()))
        assert s.record(e(ev.PARTICIPANT_MUTE, 2, participant=p(muted=True)))
        assert kept_elsewhere() == 0                 # buffered with its event
        assert s.sync() and kept_elsewhere() == 1
        assert s.record(e(ev.PARTICIPANT_JOIN, 3, participant=p(CA2, label="bad\ud800")))
        assert s.record(e(ev.PARTICIPANT_HOLD, 4, participant=p(CA2, hold=True)))
        assert not s.sync() and s.sync()             # rolled back once, then event by event
        assert set(participant_events.load(s.engine, CF, [CA1, CA2])) == {CA1, CA2}
    finally:
        d.stop()
        s.engine.dispose()


def test_an_event_the_database_refuses_does_not_block_the_others(db_url):
    """Issue 14 under batching: a lone surrogate (no UTF-8 form) in one event rolls its batch back once; the
    batch is then written event by event — that event with the text replaced by U+FFFD — and the outbox and
    every other event go on."""
    s, d = batched(db_url, window_s=30.0)
    try:
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(label="ok")))
        assert s.record(e(ev.PARTICIPANT_JOIN, 2, participant=p(CA2, label="bad\ud800")))
        assert s.record(e(ev.PARTICIPANT_MUTE, 3, participant=p(label="ok", muted=True)))
        assert not s.sync()                          # rolled back (logged), still buffered
        assert not participant_committed(db_url)
        assert s.sync()                              # one by one: nothing lost
        assert s.participant(AC, CF, CA1).muted is True
        assert s.participant(AC, CF, CA2).label == "bad\ufffd"
        assert s.record(e(ev.PARTICIPANT_UNMUTE, 4, participant=p(label="ok")))
        assert s.sync() and s.participant(AC, CF, CA1).muted is False   # and batching goes on
    finally:
        d.stop()
        s.engine.dispose()


def test_a_batch_the_database_cannot_take_stays_buffered_and_nothing_is_lost(db_url, monkeypatch):
    """The database, not an event, fails (locked / unreachable: OperationalError) — twice, so the second try
    is already the event-by-event one: no event is dropped as a poison event, the duplicate verdict still
    counts them, and the next commit writes them all."""
    from sqlalchemy.exc import OperationalError

    s, d = batched(db_url, window_s=30.0)
    try:
        real_apply, calls = s._apply, []

        def down(conn, event):
            calls.append(event.sequence_number)
            if len(calls) <= 2:
                raise OperationalError("UPDATE …", {}, Exception("database is locked"))
            real_apply(conn, event)

        monkeypatch.setattr(s, "_apply", down)
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(label="a")))
        assert s.record(e(ev.PARTICIPANT_JOIN, 2, participant=p(CA2, label="b")))
        assert not s.sync()                   # the whole batch rolled back …
        assert not s.sync()                   # … and again event by event: the database error is not the event's
        assert not participant_committed(db_url) and not participant_committed(db_url, CA2)
        assert not s.record(e(ev.PARTICIPANT_JOIN, 2, participant=p(CA2, label="b")))   # still counted
        assert s.sync()
        assert participant_committed(db_url) and participant_committed(db_url, CA2)
        assert s.participant(AC, CF, CA2).label == "b" and s.last_sequence(CF) == 2
    finally:
        d.stop()
        s.engine.dispose()


def test_the_event_by_event_pass_is_still_one_transaction(db_url, monkeypatch):
    """After a rolled-back batch the events are written one by one, each in a SAVEPOINT — still inside the
    writer's one transaction: nothing of the batch is committed before all of it is (on SQLite too, where the
    driver opens a transaction only before a data statement, so a first SAVEPOINT would be a transaction of
    its own and its RELEASE a commit)."""
    s, d = batched(db_url, window_s=30.0)
    try:
        real_apply, seen = s._apply, []

        def spy(conn, event):
            if not seen:
                seen.append("rolled back")
                raise RuntimeError("disk full")
            seen.append((event.sequence_number, participant_committed(db_url)))   # what others see meanwhile
            real_apply(conn, event)

        monkeypatch.setattr(s, "_apply", spy)
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(label="a")))
        assert s.record(e(ev.PARTICIPANT_JOIN, 2, participant=p(CA2, label="b")))
        assert not s.sync()
        assert s.sync()
        assert seen == ["rolled back", (1, False), (2, False)]   # event 1 not committed while 2 was written
        assert participant_committed(db_url) and participant_committed(db_url, CA2)
    finally:
        d.stop()
        s.engine.dispose()


def test_events_a_stopping_dispatcher_could_not_commit_are_committed_by_the_next_reader(db_url, monkeypatch):
    """The database is down while the dispatcher stops: its last commit fails (logged) and the events stay
    buffered. The next reader of the engine commits them — through a writer the read-your-writes hook creates,
    whose own connect must not start another commit (no recursion)."""
    from sqlalchemy.exc import OperationalError

    import fsbridge.callbacks.dispatcher as dispatcher_module

    s, d = batched(db_url, window_s=30.0)
    try:
        real_apply, down = s._apply, [True]

        def apply(conn, event):
            if down[0]:
                raise OperationalError("INSERT …", {}, Exception("could not connect to server"))
            real_apply(conn, event)

        monkeypatch.setattr(s, "_apply", apply)
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(label="a")))
        d.stop()                                       # its final commit fails (logged): still buffered
        assert not participant_committed(db_url)
        down[0] = False
        made, real_writer = [], dispatcher_module.GroupWriter

        def writer(*args, **kwargs):
            made.append(args)
            if len(made) > 1:   # fail fast instead of recursing (or waiting on an exhausted pool)
                raise RuntimeError("a second writer: the read-your-writes hook recursed")
            return real_writer(*args, **kwargs)

        monkeypatch.setattr(dispatcher_module, "GroupWriter", writer)
        row = s.participant(AC, CF, CA1)               # the read commits them first
        assert row is not None and row.label == "a"
        assert participant_committed(db_url)
        assert len(made) == 1                          # one writer, created once, from inside the hook
    finally:
        d.stop()
        s.engine.dispose()


def test_a_full_newest_cache_forgets_no_conference_with_buffered_events(db_url, monkeypatch):
    """The newest-sequence cache is cleared when full; a conference with events still buffered must keep its
    entry — read back from the database it would be older than the buffered ones, and a late (older) event
    would count as in order and overwrite the newer buffered state."""
    from fsbridge.store import batch

    monkeypatch.setattr(batch, "_KEEP_CONFERENCES", 1)
    other = "CF" + "e" * 32
    s, d = batched(db_url, window_s=30.0)
    try:
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, participant=p()))
        assert s.sync()
        assert s.record(e(ev.PARTICIPANT_MUTE, 3, participant=p(muted=True)))        # buffered, newest
        assert s.record(e(ev.PARTICIPANT_JOIN, 1, cf=other, participant=p(CA2)))    # the cache is full
        assert s.record(e(ev.PARTICIPANT_UNMUTE, 2, participant=p(muted=False)))     # late: older than 3
        assert s.sync()
        assert s.participant(AC, CF, CA1).muted is True                               # 3 is the newest
    finally:
        d.stop()
        s.engine.dispose()
