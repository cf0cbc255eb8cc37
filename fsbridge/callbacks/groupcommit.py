"""Group commit of outbox writes: many inserts and outcome marks in one transaction.

Committing every callback on its own costs a transaction per event (≈ 20 % of the CPU of a callback, issue
16). :class:`GroupWriter` instead gives each new row its id at once (so ``Dispatcher.enqueue`` still returns
it), keeps the row in memory, and commits every buffered row and delivery outcome together as soon as the process
has nothing else ready to run (a gevent idle watcher: everything already arriving joins the batch), at the
latest once the batching window (``window_s``, the dispatcher's default 1 ms) has passed since the first of them — or at once when ``max_batch`` items
are waiting, or when :meth:`flush` is called. Only after the commit are the rows handed on (``after_commit``):
a callback is never attempted before its row is durable. A crash loses at most the last window's rows (they
were never attempted). Other writers join the same transaction as *sources* (:meth:`GroupWriter.add_source`:
the store's buffered DomainEvents, :mod:`fsbridge.store.batch`): their batch is written first, so a callback
never leaves before the store rows it describes are committed.

Ids: on PostgreSQL blocks of ``id_block`` values of the table's sequence (one round trip per block, not per
event); a node that takes a conference over from another (cluster leases) starts a fresh block, and rows of a
batch that would sort before the other node's still-open rows of the same conference are given fresh ids
(``before_commit`` asks for it), so per-conference id order stays the order of writing. On SQLite a counter
started from ``max(id)`` — one writing process per SQLite file (fsbridge's model; a conflicting id found at
commit is renumbered and logged). Nothing holds a transaction open across a greenlet switch (a SQLite write lock held
over a switch would stall the store's writes in the same process).
"""
from __future__ import annotations

import json
import logging
from typing import Callable, List, Optional

import gevent
import gevent.event
import gevent.lock
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from fsbridge.store.db import WalCheckpointer, sqlite_file

from . import outbox as ob
from .request import CallbackRequest

log = logging.getLogger("fsbridge.callbacks")

_PG_MARKS = ("UPDATE callback_outbox AS o SET state = v.state, attempts = v.attempts, last_error = v.err, "
             "next_attempt_at = v.next_at, delivered_at = v.done_at "
             "FROM (VALUES %s) AS v(id, state, attempts, err, next_at, done_at) WHERE o.id = v.id")
_PG_MARK_ROW = "(%s::integer, %s::varchar, %s::integer, %s::text, %s::float8, %s::float8)"


class GroupWriter:
    """Buffered outbox writer (one SQLAlchemy connection). Use from one process's greenlets.

    ``engine``: SQLAlchemy engine (SQLite file or PostgreSQL). ``window_s``: seconds the first buffered item
    waits for company at most before the commit — less when the process falls idle first (:meth:`_wait_window`;
    0: at the next turn of the gevent loop, after every greenlet already ready ran; None: commit inside each
    call, the old behaviour). ``max_batch``: items
    that force a commit at once. ``before_commit(conn, rows)``: extra statements inside the same transaction
    before the rows are inserted (cluster leases, NOTIFY); ``rows`` are the :class:`~.outbox.OutboxRow` to
    insert; it returns the rows that need fresh (higher) ids, or None. ``on_renumber(old_id, new_id)``: told
    about each such change. ``id_block``: ids fetched ahead from the PostgreSQL sequence.
    ``after_commit(rows)``: called after each successful commit with the rows it made durable. ``sleep``: the
    greenlet sleep of the batching window. ``sources``: co-writers, as :meth:`add_source` adds them.
    ``marks_window_s``: how long delivery outcomes alone wait for a new row to share its commit before the
    usual window (seconds; default 0). Nothing waits for a mark to be durable, but a crash before it re-sends
    the callback: a longer wait means more duplicates after a crash (tests/test_recovery_serve.py kills
    ``serve`` a few ms after a callback arrived and expects no duplicate).
    """

    def __init__(self, engine, window_s: Optional[float] = 0.002, max_batch: int = 500, checkpoint_every: int = 200,
                 before_commit: Optional[Callable] = None, after_commit: Optional[Callable] = None,
                 on_renumber: Optional[Callable[[int, int], None]] = None, id_block: int = 64,
                 sleep: Callable[[float], None] = gevent.sleep, sources=(), marks_window_s: float = 0.0):
        self.engine = engine
        self.window_s = window_s
        self.marks_window_s = marks_window_s
        self.max_batch = max_batch
        self.before_commit = before_commit
        self.after_commit = after_commit
        self.on_renumber = on_renumber
        self.id_block = id_block
        self._block: List[int] = []         # PostgreSQL: ids fetched ahead, highest first
        self.sleep = sleep
        self.postgres = engine.dialect.name == "postgresql"
        self.conn = engine.connect()
        # ids from the sequence outside any transaction (one round trip, no BEGIN/COMMIT)
        self._seq = engine.connect().execution_options(isolation_level="AUTOCOMMIT") if self.postgres else None
        self._checkpoints = WalCheckpointer(sqlite_file(engine), checkpoint_every)
        if self._checkpoints.db_file:
            self.conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            self.conn.commit()
        self._next_id: Optional[int] = None
        self._rows: List[tuple] = []        # (values dict, OutboxRow)
        self._marks: List[dict] = []
        self._due = gevent.event.Event()
        self._urgent = gevent.event.Event()   # rows or a source's batch wait (a callback waits for them)
        self._committer: Optional[gevent.Greenlet] = None
        self.commits = 0                    # transactions committed (bench/tests)
        self._sources: List = list(sources)   # co-writers in the same transaction (add_source)
        self._flushing = gevent.lock.Semaphore()   # one transaction at a time on self.conn, whoever flushes
        self._flusher = None                # the greenlet inside flush (a nested flush from it is a no-op)
        self._watchers = None               # (idle, timer) armed by _schedule: the committer wakes once, at idle

    def add_source(self, source) -> None:
        """Write ``source``'s batch in every transaction, before the outbox rows. ``source`` has
        ``take_batch()`` → list or None, ``write_batch(conn, batch)`` (inside the transaction),
        ``batch_committed(batch)`` and ``batch_failed(batch, requeue)`` (rolled back; ``requeue``: buffer it
        again, the writer retries). It asks for a commit with :meth:`schedule`."""
        if source not in self._sources:
            self._sources.append(source)

    def schedule(self) -> None:
        """A source has buffered something: commit within the window (at once with no window)."""
        self._schedule()
        self._urgent.set()

    @property
    def pending(self) -> int:
        """Items (rows + marks) waiting for the next commit."""
        return len(self._rows) + len(self._marks)

    def _allocate(self) -> int:
        if self.postgres:
            if not self._block:
                ids = self._seq.exec_driver_sql("SELECT nextval('callback_outbox_id_seq') FROM generate_series(1, %d)"
                                                % int(self.id_block)).scalars().all()
                self._block = sorted((int(i) for i in ids), reverse=True)
            return self._block.pop()
        if self._next_id is None:
            self._next_id = int(self.conn.execute(select(func.max(ob.outbox.c.id))).scalar() or 0) + 1
            self.conn.commit()
        row_id, self._next_id = self._next_id, self._next_id + 1
        return row_id

    def insert(self, req: CallbackRequest, now: float, state: str = ob.PENDING,
               last_error: Optional[str] = None) -> int:
        """Buffer ``req`` as a new row and return its id (``after_commit`` sees it once committed)."""
        row_id = self._allocate()
        values = dict(
            id=row_id, queue_key=req.conference_sid, dialect=req.dialect, kind=req.kind, event_name=req.event_name,
            account_sid=req.account_sid, conference_sid=req.conference_sid, sequence_number=req.sequence_number,
            method=req.method, url=req.url, params=json.dumps(req.params), body=req.body,
            content_type=req.content_type, headers=json.dumps(req.headers), username=req.username,
            password=req.password, state=state, attempts=0, last_error=last_error, created_at=now,
            next_attempt_at=None, delivered_at=None)
        row = ob.OutboxRow(id=row_id, queue_key=req.conference_sid, request=req, attempts=0, created_at=now,
                           state=state)
        self._rows.append((values, row))
        self._schedule()
        self._urgent.set()
        return row_id

    def fresh_block(self) -> None:
        """Forget the ids fetched ahead: the next id is higher than every id handed out so far, by any node."""
        self._block = []

    def mark(self, mark: dict) -> None:
        """Buffer one outcome (a dict as :func:`.outbox.mark_many` takes it)."""
        self._marks.append(mark)
        self._schedule()

    def _schedule(self) -> None:
        if self.window_s is None or self.pending >= self.max_batch:
            self.flush()
            return
        if self._committer is None:
            self._committer = gevent.spawn(self._commit_loop)
        if self._armed_wake():
            return
        self._due.set()

    def _armed_wake(self) -> bool:
        """The plain case (a window, gevent's sleep, no marks window): instead of waking the committer to
        start its wait for the idle moment, start that wait here — an idle watcher and a ``window_s`` timer of
        the hub, kept for reuse — so the committer wakes once per commit, not twice (issue 21: one greenlet
        wake-up less per event and per delivery outcome). False: the committer waits itself (:meth:`_wait_window`)."""
        if not self.window_s or self.sleep is not gevent.sleep or self.marks_window_s:
            return False
        if self._watchers is None:
            loop = gevent.get_hub().loop
            self._watchers = (loop.idle(), loop.timer(self.window_s))
        idle, timer = self._watchers
        if not idle.active and not self._due.is_set():   # (set: the committer is about to take everything)
            idle.start(self._window_over)
            timer.start(self._window_over)
        return True

    def _window_over(self) -> None:
        """Hub callback of the armed watchers: the process fell idle or the window passed — commit now."""
        for w in self._watchers or ():
            w.stop()
        self._due.set()

    def _commit_loop(self) -> None:
        while True:
            self._due.wait()
            if self._watchers is None:   # else the watchers armed by _schedule have waited already
                if self.marks_window_s and not self._urgent.is_set():   # outcome marks only: they may wait for
                    self._urgent.wait(self.marks_window_s)   # the next row's commit (one transaction, not two)
                self._wait_window()
            self._due.clear()
            self._urgent.clear()
            try:
                self.flush()
            except Exception:
                log.exception("callbacks: outbox commit failed; retrying")
                self._due.set()
                self.sleep(min(1.0, max(0.05, self.window_s * 10)))

    def _wait_window(self) -> None:
        """Wait for company: until the process is idle (no greenlet ready, no I/O pending: everything that
        could join this batch has been buffered — a gevent idle watcher) or ``window_s`` passed, whichever
        is first. A quiet bridge commits at once (no added latency, issue 21); a busy one still batches, as
        the idle watcher only fires once the work queued behind this greenlet ran. With an injected
        ``sleep`` (simulated time) or ``window_s`` 0, just ``sleep(window_s)``."""
        if not self.window_s or self.sleep is not gevent.sleep:
            self.sleep(self.window_s)
            return
        idle = gevent.get_hub().loop.idle()
        done = gevent.event.Event()
        idle.start(done.set)
        try:
            done.wait(self.window_s)
        finally:
            idle.stop()
            idle.close()

    def flush(self) -> int:
        """Commit everything buffered now (the sources' batches first), then call ``after_commit``; return the
        number of outbox rows committed. Raises what the database raises (the items stay buffered). Called
        by another greenlet while a commit is under way, it waits for that one and commits what is left;
        from inside a commit (a hook of it), it does nothing."""
        if self._flusher is gevent.getcurrent():
            return 0
        with self._flushing:
            self._flusher = gevent.getcurrent()
            try:
                return self._flush_locked()
            finally:
                self._flusher = None

    def _flush_locked(self) -> int:
        batches = [(src, b) for src, b in ((src, src.take_batch()) for src in self._sources) if b]
        if not self._rows and not self._marks and not batches:
            return 0
        rows, marks = self._rows, self._marks
        self._rows, self._marks = [], []
        try:
            self._commit(rows, marks, batches)
        except Exception:
            self._rows, self._marks = rows + self._rows, marks + self._marks
            for src, b in batches:
                src.batch_failed(b, requeue=True)
            raise
        self.commits += 1
        self._checkpoints.committed()
        for src, b in batches:
            src.batch_committed(b)
        if self.after_commit is not None:
            self.after_commit([row for _, row in rows])
        return len(rows)

    def _insert(self, rows) -> None:
        if self.before_commit is not None:
            stale = self.before_commit(self.conn, [row for _, row in rows])
            if stale:
                self.fresh_block()
                by_id = {row.id: values for values, row in rows}
                for row in sorted(stale, key=lambda r: r.id):
                    old = row.id
                    row.id = by_id[old]["id"] = self._allocate()
                    if self.on_renumber is not None:
                        self.on_renumber(old, row.id)
                rows.sort(key=lambda vr: vr[1].id)
        self.conn.execute(ob._INSERT, [values for values, _ in rows])

    def _write_marks(self, marks) -> None:
        if not marks:
            return
        if self.postgres:   # one statement (psycopg2's executemany would make a round trip per row)
            from psycopg2.extras import execute_values
            marks = list({m["row_id"]: m for m in marks}.values())   # a row's last outcome only
            cur = self.conn.connection.driver_connection.cursor()
            execute_values(cur, _PG_MARKS, [(m["row_id"], m["new_state"], m["new_attempts"], m["new_error"],
                                             m["next_at"], m["done_at"]) for m in marks],
                           template=_PG_MARK_ROW, page_size=1000)
            return
        ob.mark_many(self.conn, marks)

    def _commit(self, rows, marks, batches=()) -> None:
        try:
            with self.conn.begin():
                for src, b in batches:
                    src.write_batch(self.conn, b)
                if rows:
                    self._insert(rows)
                self._write_marks(marks)
        except IntegrityError:
            if self.postgres or not rows:
                raise
            # another writer used our ids (a second process on the SQLite file): renumber and retry once
            self._next_id = None
            for src, b in batches:
                src.batch_failed(b, requeue=False)   # rolled back: forget what writing it cached (written again)
            log.warning("callbacks: outbox ids taken by another writer; renumbering %d row(s)", len(rows))
            for values, row in rows:
                old = row.id
                row.id = values["id"] = self._allocate()
                if self.on_renumber is not None:
                    self.on_renumber(old, row.id)
            with self.conn.begin():
                for src, b in batches:
                    src.write_batch(self.conn, b)
                self._insert(rows)
                self._write_marks(marks)

    def close(self) -> None:
        """Commit what is buffered (errors logged), stop the committer and give the connection back."""
        if self._committer is not None:
            self._committer.kill()
            self._committer = None
        for w in self._watchers or ():
            w.stop()
            w.close()
        self._watchers = None
        try:
            self.flush()
        except Exception:
            log.exception("callbacks: could not commit the last outbox writes")
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._seq is not None:
            self._seq.close()
            self._seq = None
