"""When the outbox's group commit (callbacks/groupcommit.py) commits: as soon as the process is idle for new
rows (issue 21: a quiet bridge adds no batching delay), and outcome marks alone wait for the next row's
commit. Real SQLite files and PostgreSQL; synchronisation by events and ``gevent.idle()``, no sleeps.
"""
import gevent
import gevent.event

from fsbridge.callbacks import outbox as ob
from fsbridge.callbacks.groupcommit import GroupWriter
from fsbridge.callbacks.request import CallbackRequest

from fixtures.callbacks import AC
from fixtures.callbacks import engine  # noqa: F401,F811 - fixture

HOUR = 3600.0   # a batching window no test may wait for


def _req(seq: int) -> CallbackRequest:
    return CallbackRequest(dialect="twiml", kind="status", event_name="participant-join", account_sid=AC,
                           conference_sid="CFgc", sequence_number=seq, method="POST", url="http://127.0.0.1:9/cb")


def _writer(engine, committed, **kw):
    ob.create(engine)

    def after(rows):
        committed.append([r.id for r in rows])
        done.set()
    done = gevent.event.Event()
    return GroupWriter(engine, after_commit=after, **kw), done


def test_a_row_is_committed_once_the_process_is_idle_not_after_the_window(engine):
    committed = []
    w, done = _writer(engine, committed, window_s=HOUR)
    try:
        row_id = w.insert(_req(1), 1.0)
        assert done.wait(10), "the row waited for the (one-hour) window"
        assert committed == [[row_id]] and w.commits == 1 and w.pending == 0
        with engine.connect() as conn:
            assert ob.status(conn, row_id).state == "pending"
    finally:
        w.close()


def test_rows_buffered_in_one_turn_share_one_commit(engine):
    committed = []
    w, done = _writer(engine, committed, window_s=HOUR)
    try:
        ids = [w.insert(_req(seq), 1.0) for seq in (1, 2, 3)]   # no switch between them: one batch
        assert done.wait(10)
        assert committed == [ids] and w.commits == 1
    finally:
        w.close()


def test_marks_alone_wait_for_the_next_rows_commit(engine):
    committed = []
    w, done = _writer(engine, committed, window_s=HOUR, marks_window_s=HOUR)
    try:
        first = w.insert(_req(1), 1.0)
        assert done.wait(10)
        done.clear()
        w.mark(dict(row_id=first, new_state=ob.DELIVERED, new_attempts=1, new_error=None, next_at=None,
                    done_at=2.0))
        gevent.idle()   # the process is idle: a row would have been committed by now, the mark waits
        assert w.commits == 1 and w.pending == 1
        second = w.insert(_req(2), 2.0)
        assert done.wait(10)
        assert w.commits == 2 and w.pending == 0 and committed[-1] == [second]
        with engine.connect() as conn:
            assert ob.status(conn, first).state == "delivered"
    finally:
        w.close()


def test_marks_alone_are_committed_within_their_window(engine):
    committed = []
    w, done = _writer(engine, committed, window_s=HOUR, marks_window_s=0.0)
    try:
        first = w.insert(_req(1), 1.0)
        assert done.wait(10)
        w.mark(dict(row_id=first, new_state=ob.DELIVERED, new_attempts=1, new_error=None, next_at=None,
                    done_at=2.0))
        for _ in range(1000):   # wait on the writer's own progress (no wall-clock sleep)
            if w.pending == 0:
                break
            gevent.idle()
        assert w.pending == 0 and w.commits == 2
        with engine.connect() as conn:
            assert ob.status(conn, first).state == "delivered"
    finally:
        w.close()


def test_the_committer_wakes_once_per_commit(engine):
    """The wait for the idle moment is armed by the writer's caller, not by a first wake-up of the committer
    (issue 21: greenlet hand-offs per event)."""
    import greenlet
    committed = []
    w, done = _writer(engine, committed, window_s=HOUR)
    wakes = []

    def trace(event, args):
        if event in ("switch", "throw") and args[1] is w._committer:
            wakes.append(event)
    try:
        w.insert(_req(1), 1.0)
        assert done.wait(10)
        done.clear()
        previous = greenlet.settrace(trace)
        try:
            w.insert(_req(2), 1.0)
            w.mark(dict(row_id=1, new_state="delivered", new_attempts=1, new_error=None, next_at=None, done_at=2.0))
            assert done.wait(10)
        finally:
            greenlet.settrace(previous)
        assert w.commits == 2 and w.pending == 0
        assert wakes == ["switch"]
    finally:
        w.close()
