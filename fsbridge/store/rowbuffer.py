"""Per-call row writes in the outbox's group commit (issue 21 goal 2): call continuations, quality rows.

A joining call wrote its continuation (``fsb_call_continuations``, issue 15) in a transaction of its own — and
that transaction's connect first committed whatever the shared group commit had buffered (the store's
read-your-writes hook, :mod:`fsbridge.store.batch`): two commits per join, two more when the call left its
room, one more for its quality row (issue 22) at the hang-up. :class:`RowBuffer` keeps those writes — "replace
the row with this primary key" or "delete it" — in memory and lets the callback outbox's
:class:`~fsbridge.callbacks.groupcommit.GroupWriter` write them in ITS next transaction (a *source* of the
writer, wired by :meth:`fsbridge.callbacks.Dispatcher.share_commit`), as it does the store's DomainEvents.

Durability is the outbox's: a write is committed within the writer's batching window (2 ms by default); a crash
inside that window loses it, as it loses the callbacks of the same window (a call whose continuation was lost
that way is adopted without one and hung up when it leaves — runtime/adoption.py logs it). Read-your-writes:
every connection checked out of the engine first commits what is buffered (an ``engine_connect`` hook, as the
store's). The last write of a key wins (a delete after a replace in the same batch deletes the row). After a
rolled-back batch the retry writes row by row and leaves out (logs) a row the database refuses, so one bad row
cannot hold back the shared commit.
Without a shared commit (no dispatcher, another database) every write commits at once, as before.
"""
from __future__ import annotations

import logging
import weakref
from typing import Callable, Dict, List, Optional, Tuple

import gevent
from sqlalchemy import Table, and_, bindparam, delete, insert
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from fsbridge.store.db import replace_row

log = logging.getLogger("fsbridge.store")

_Key = Tuple[str, tuple]   # (table name, primary-key values in the table's primary-key column order)


class RowBuffer:
    """Buffered replace/delete of rows by primary key on ``engine`` (see the module docstring).

    ``replace(table, key, values)`` / ``delete(table, key)``: ``key`` is ``{column: value}`` for every
    primary-key column of ``table``; ``values`` the other columns. Both raise what the database raises only
    when writing at once (no shared commit); buffered writes fail (and are retried) in the writer."""

    def __init__(self, engine: Engine, committed: Optional[Callable[[], None]] = None):
        self.engine = engine
        self._committed = committed   # told after each write committed at once (the store's WAL checkpoints)
        self._ops: Dict[_Key, Tuple[Table, dict, Optional[dict]]] = {}   # key → (table, key, values or None)
        self._schedule: Optional[Callable[[], None]] = None
        self._flush: Optional[Callable[[], None]] = None
        self._flushing: set = set()   # ids of greenlets inside our own flush (their connects must not recurse)
        self._stmts: Dict[tuple, object] = {}
        self._careful = False   # the last batch rolled back: write the next one row by row (write_batch)

    # ------------------------------------------------------------------ wiring (SharedCommit.share_commit)
    def share_commit(self, schedule: Callable[[], None], flush: Callable[[], None]) -> None:
        """Write buffered rows through a shared group commit from now on (``schedule()``: commit within the
        window; ``flush()``: commit now)."""
        first = self._schedule is None
        self._schedule, self._flush = schedule, flush
        if first:
            ref = weakref.ref(self)

            def before_read(_conn) -> None:   # every Engine.connect()/begin(): commit what is buffered first
                buf = ref()
                if buf is not None:
                    buf.sync()
            sa_event.listen(self.engine, "engine_connect", before_read)

    def sync(self) -> bool:
        """Commit the buffered writes now (no-op when none). False when the commit failed (logged; the writes
        stay buffered and the writer retries them)."""
        if not self._ops or self._flush is None:
            return True
        me = id(gevent.getcurrent())
        if me in self._flushing:
            return True
        self._flushing.add(me)
        try:
            self._flush()
        except Exception:
            log.exception("store: committing the buffered row writes failed (retried)")
            return False
        finally:
            self._flushing.discard(me)
        return True

    # ------------------------------------------------------------------ writes
    def replace(self, table: Table, key: dict, values: dict) -> None:
        """Insert or replace the row of ``table`` whose primary key is ``key``."""
        self._put(table, key, dict(key, **values))

    def delete(self, table: Table, key: dict) -> None:
        """Delete the row of ``table`` whose primary key is ``key`` (none: nothing happens)."""
        self._put(table, key, None)

    def _put(self, table: Table, key: dict, row: Optional[dict]) -> None:
        if self._schedule is None:   # no shared commit: at once, in a transaction of its own
            if row is None:
                with self.engine.begin() as conn:
                    conn.execute(self._delete_stmt(table), [self._key_params(table, key)])
            else:
                replace_row(self.engine, table, key, {k: v for k, v in row.items() if k not in key})
            if self._committed is not None:
                self._committed()
            return
        k = (table.name, tuple(key[c.name] for c in table.primary_key.columns))
        self._ops.pop(k, None)   # the newest write of a key goes last (the order is kept per key only)
        self._ops[k] = (table, key, row)
        me = id(gevent.getcurrent())
        if me in self._flushing:
            self._schedule()
            return
        self._flushing.add(me)   # the writer's own first connect (made lazily) must not commit right now
        try:
            self._schedule()
        finally:
            self._flushing.discard(me)

    # ------------------------------------------------------------------ the shared writer's side
    def take_batch(self) -> Optional[list]:
        """The buffered writes as a list of ``(key, (table, key dict, row or None))``, or None."""
        if not self._ops:
            return None
        batch, self._ops = list(self._ops.items()), {}
        return batch

    def write_batch(self, conn: Connection, batch: list) -> None:
        """Apply ``batch`` in the writer's open transaction: per table one DELETE executemany of every key, then
        one INSERT executemany per column set of the rows replaced. After a batch rolled back, the next is
        written row by row (:meth:`_write_alone`): a row the database refuses is left out, not retried forever
        — it would hold back every outbox row and store event of the shared commit (as the store's
        careful mode, store/batch.py)."""
        if self._careful:
            self._careful = False
            if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
                conn.exec_driver_sql("BEGIN")   # else the first SAVEPOINT would be the outermost transaction
            for _, (table, key, row) in batch:
                self._write_alone(conn, table, key, row)
            return
        tables: Dict[str, Tuple[Table, List[dict], Dict[tuple, List[dict]]]] = {}
        for _, (table, key, row) in batch:
            entry = tables.setdefault(table.name, (table, [], {}))
            entry[1].append(self._key_params(table, key))
            if row is not None:
                entry[2].setdefault(tuple(sorted(row)), []).append(row)
        for table, keys, inserts in tables.values():
            conn.execute(self._delete_stmt(table), keys)
            for rows in inserts.values():
                conn.execute(insert(table), rows)

    def _write_alone(self, conn: Connection, table: Table, key: dict, row: Optional[dict]) -> None:
        """One replace/delete in its own SAVEPOINT; a row the database refuses (e.g. an engine-reported counter
        out of INTEGER range) is logged and left out. The database failing as a whole (locked, unreachable)
        raises: the writer retries the batch."""
        try:
            with conn.begin_nested():
                conn.execute(self._delete_stmt(table), [self._key_params(table, key)])
                if row is not None:
                    conn.execute(insert(table), [row])
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception("store: the %s row %r was refused by the database and is LOST", table.name, key)

    def batch_committed(self, batch: list) -> None:
        """``batch`` is durable (nothing kept to forget)."""

    def batch_failed(self, batch: list, requeue: bool) -> None:
        """The transaction holding ``batch`` rolled back; ``requeue``: buffer it again, under the writes made
        since (a newer write of the same key wins)."""
        if requeue:
            self._careful = True   # one row the database refuses must not block the shared commit for ever
            merged = dict(batch)
            for k, op in self._ops.items():
                merged.pop(k, None)
                merged[k] = op
            self._ops = merged

    # ------------------------------------------------------------------ statements
    def _delete_stmt(self, table: Table):
        stmt = self._stmts.get(("delete", table.name))
        if stmt is None:
            stmt = delete(table).where(and_(*[c == bindparam("k_" + c.name) for c in table.primary_key.columns]))
            self._stmts[("delete", table.name)] = stmt
        return stmt

    @staticmethod
    def _key_params(table: Table, key: dict) -> dict:
        return {"k_" + c.name: key[c.name] for c in table.primary_key.columns}


__all__ = ["RowBuffer"]
