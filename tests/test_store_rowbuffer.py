"""Per-call row writes (continuations, quality rows) in the outbox's group commit (fsbridge/store/rowbuffer.py,
issue 21), on a real SQLite file and a real PostgreSQL: they wait for the outbox's commit, every reader commits
them first, the last write of a key wins, a rolled-back batch is written again, and without a shared commit
each write commits at once."""
import pytest
from sqlalchemy import select

from fsbridge.callbacks import Dispatcher
from fsbridge.store import Store
from fsbridge.store import quality as q
from fsbridge.store import tables as t
from fsbridge.store.db import make_engine
from pg_support import db_url  # noqa: F401 - fixture

AC = "AC" + "1" * 32
CA1, CA2 = "CA" + "1" * 32, "CA" + "2" * 32


def shared(url, window_s=30.0):
    """A Store whose row buffer shares a started Dispatcher's group commit (as BridgeCore.start wires it)."""
    s = Store(make_engine(url))
    s.create_all()
    d = Dispatcher(s.engine, group_commit_s=window_s)
    assert d.share_commit(s) and d.share_commit(s.rows)
    d.start()
    return s, d


def committed(url):
    """Continuation call_sids another process sees (a separate engine: no read hook)."""
    other = make_engine(url)
    try:
        with other.connect() as conn:
            return sorted(conn.execute(select(t.call_continuations.c.call_sid)).scalars())
    finally:
        other.dispose()


def test_continuations_wait_for_the_outbox_commit_and_readers_commit_them_first(db_url):
    s, d = shared(db_url)   # a 30 s window: nothing commits by itself during the test
    try:
        s.keep_continuation(CA1, AC, {"room": "R1"})
        s.keep_continuation(CA2, AC, {"room": "R2"})
        assert committed(db_url) == []                     # buffered: really batched
        assert s.continuation(CA1) == {"room": "R1"}       # a read commits the batch first …
        assert committed(db_url) == [CA1, CA2]             # … for everybody
        s.keep_continuation(CA1, AC, {"room": "R3"})       # replace, then delete, then keep again: last wins
        s.drop_continuation(CA2)
        s.keep_continuation(CA2, AC, {"room": "R4"})
        s.drop_continuation(CA2)
        assert committed(db_url) == [CA1, CA2]
        assert s.rows.sync()
        assert committed(db_url) == [CA1]
        assert s.continuation(CA1) == {"room": "R3"} and s.continuation(CA2) is None
        s.drop_continuation(CA1)
        d.stop()                                           # a stopping bridge commits what is buffered
        assert committed(db_url) == []
    finally:
        d.stop()
        s.engine.dispose()


def test_quality_rows_ride_the_batch_and_are_read_back(db_url):
    s, d = shared(db_url)
    try:
        q.save(s.engine, AC, "CF1", CA1, q.CallQuality(packets_received=10, source="freeswitch"), rows=s.rows)
        q.save(s.engine, AC, "CF1", CA1, q.CallQuality(packets_received=20, mos=4.1, source="freeswitch"),
               rows=s.rows)
        assert q.load(s.engine, "CF1", [CA1]) == {
            CA1: q.CallQuality(packets_received=20, mos=4.1, source="freeswitch")}
    finally:
        d.stop()
        s.engine.dispose()


def test_a_rolled_back_batch_is_written_again_under_newer_writes(db_url, monkeypatch):
    s, d = shared(db_url)
    try:
        real, failures = s.rows.write_batch, []

        def flaky(conn, batch):
            real(conn, batch)
            if not failures:
                failures.append(batch)
                raise RuntimeError("disk full")   # the whole transaction rolls back

        monkeypatch.setattr(s.rows, "write_batch", flaky)
        s.keep_continuation(CA1, AC, {"room": "R1"})
        s.keep_continuation(CA2, AC, {"room": "R2"})
        assert not s.rows.sync()                  # rolled back (logged); still buffered
        assert committed(db_url) == []
        s.keep_continuation(CA2, AC, {"room": "R9"})   # newer than the requeued write of CA2
        assert s.rows.sync()
        assert committed(db_url) == [CA1, CA2]
        assert s.continuation(CA2) == {"room": "R9"}
    finally:
        d.stop()
        s.engine.dispose()


def test_a_row_the_database_refuses_is_left_out_and_the_rest_commits(db_url):
    """A quality counter FreeSWITCH reports out of INTEGER range (10**20) makes the batch roll back; the retry
    writes row by row and leaves that row out — it must not hold back the shared commit (callbacks, store
    events, other rows) for ever, retried every 50 ms."""
    s, d = shared(db_url)
    try:
        q.save(s.engine, AC, "CF1", CA1, q.CallQuality(packets_received=10 ** 20, source="freeswitch"), rows=s.rows)
        s.keep_continuation(CA2, AC, {"room": "R2"})
        assert not s.rows.sync()                  # the batch rolled back (logged), everything still buffered
        assert s.rows.sync()                      # the retry: row by row
        assert committed(db_url) == [CA2]
        assert q.load(s.engine, "CF1", [CA1]) == {}
        s.keep_continuation(CA1, AC, {"room": "R1"})   # and later batches go the fast way again
        assert s.rows.sync() and committed(db_url) == [CA1, CA2]
    finally:
        d.stop()
        s.engine.dispose()


def test_without_a_shared_commit_each_write_commits_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'alone.sqlite'}"
    s = Store(make_engine(url))
    s.create_all()
    try:
        s.keep_continuation(CA1, AC, {"room": "R1"})
        assert committed(url) == [CA1]
        s.keep_continuation(CA1, AC, {"room": "R2"})
        assert s.continuation(CA1) == {"room": "R2"}
        s.drop_continuation(CA1)
        assert committed(url) == []
    finally:
        s.engine.dispose()
