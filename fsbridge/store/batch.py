"""Group commit of :meth:`Store.record` (issues 16 / 21): DomainEvents written in the callback outbox's transaction.

One transaction per DomainEvent (BEGIN, applied-table insert, upserts, COMMIT) was the largest single cost of a
status callback on the FreeSWITCH path (37 % of the bridge's CPU, bench/README.md "Callbacks"). Once a
:class:`fsbridge.callbacks.Dispatcher` on the same database engine shares its group commit
(:meth:`BatchedRecords.share_commit`, called by the bridge at start), ``record(event)`` instead

* decides "duplicate?" at once, exactly: (conference, sequence number) already waiting in the batch, or — for a
  number at or below the newest this process knows for the conference (read once per conference from the
  applied table) — already in the applied table; a new number above the newest needs no read (the domain
  numbers a conference's events in order);
* buffers the event and asks the outbox's :class:`~fsbridge.callbacks.groupcommit.GroupWriter` for a commit;
  the writer applies every buffered event (with its :mod:`~fsbridge.store.participant_events` row, if any) in ITS
  transaction, before the outbox rows (so a callback POST, which
  leaves only after that commit, never describes rows that are not committed — invariant (a));
* keeps read-your-writes: any connection checked out of the store's engine (every Queries read, REST handler,
  listener, export) first commits the buffered events (an ``engine_connect`` hook), so a REST GET after a REST
  write — or after any applied event — sees it.

Crash safety is the outbox's: an event buffered when the process dies (≤ one batching window, 1 ms by default)
is lost together with its callback row — neither was acknowledged to anybody (no callback was sent, no REST
reader saw it); the engine's snapshot at the next start reconciles the domain (issue 15). Without a shared
commit (no dispatcher, another database) ``record`` commits each event itself as before.
"""
from __future__ import annotations

import logging
import weakref
from typing import Callable, Dict, List, Optional, Set, Tuple

import gevent
from sqlalchemy import bindparam
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from fsbridge.conference import events as ev
from fsbridge.store import participant_events, tables as t
from fsbridge.store.rows import naive_utc_now, to_naive_utc
from fsbridge.textsafe import scrub

log = logging.getLogger("fsbridge.store")

_KEEP_CONFERENCES = 10_000   # newest-sequence cache size (then emptied but for conferences with events buffered)


class BatchedRecords:
    """The group-commit half of :class:`~fsbridge.store.store.Store` (state set up by :meth:`_init_batch`)."""

    def _init_batch(self) -> None:
        self._schedule: Optional[Callable[[], None]] = None   # ask the shared writer for a commit
        self._flush_shared: Optional[Callable[[], None]] = None   # commit the shared writer's batch now
        self._pending: List[Tuple[ev.DomainEvent, dict, bool]] = []   # (event, applied-row params, in order) unwritten
        self._pending_keys: Set[Tuple[str, int]] = set()   # (cf, seq) buffered or in a commit under way
        self._newest: Dict[str, int] = {}   # conference → newest sequence number known applied or buffered
        self._syncing: Set[int] = set()     # ids of greenlets whose own reads must not flush (record's reads)
        self._ins_applied_new: Dict[str, object] = {}   # dialect → applied-row insert ignoring duplicates
        self._careful = False   # write the next batch event by event (after a rolled-back one)

    # ------------------------------------------------------------------ wiring
    def share_commit(self, schedule: Callable[[], None], flush: Callable[[], None]) -> None:
        """Write recorded events through a shared group commit from now on. ``schedule()``: ask for a commit
        within the writer's window (the writer then calls :meth:`take_batch` / :meth:`write_batch` /
        :meth:`batch_committed` or :meth:`batch_failed`); ``flush()``: commit everything buffered now (the
        read-your-writes hook calls it; raises what the database raises)."""
        first = self._schedule is None
        self._schedule, self._flush_shared = schedule, flush
        if first:
            ref = weakref.ref(self)

            def before_read(_conn) -> None:   # SQLAlchemy engine_connect: every Engine.connect()/begin()
                store = ref()
                if store is not None:
                    store.sync()
            sa_event.listen(self.engine, "engine_connect", before_read)

    def sync(self) -> bool:
        """Commit the buffered events now (no-op when none, or when called from ``record``'s own reads).
        False when the commit failed (logged; the events stay buffered, the writer retries them)."""
        if self._pending and self._flush_shared is not None and id(gevent.getcurrent()) not in self._syncing:
            try:
                self._own_read(self._flush_shared)   # the flush's own connects (a new writer) must not recurse
            except Exception:
                log.exception("store: committing the recorded events failed (retried)")
                return False
        return True

    # ------------------------------------------------------------------ record
    def _record_buffered(self, event: ev.DomainEvent) -> bool:
        """Exact duplicate verdict — (cf, seq) buffered, being committed, or in the applied table — then buffer.
        A number above the newest known for the conference needs no read; one at or below it is looked up."""
        cf, seq = key = (event.conference_sid, event.sequence_number)
        if key in self._pending_keys:
            return False
        newest = self._newest.get(cf)
        if newest is None:
            newest = self._own_read(lambda: self.last_sequence(cf))
            if len(self._newest) >= _KEEP_CONFERENCES:   # keep the conferences with events not yet committed:
                busy = {c for c, _ in self._pending_keys}   # read back, their newest would be too old
                self._newest = {c: n for c, n in self._newest.items() if c in busy}
        if seq > newest:
            self._newest[cf] = seq
            in_order = newest > 0   # after an applied event of the conference: its row exists, seq is newest
        else:
            self._newest[cf] = newest
            if self._own_read(lambda: self._already_applied(cf, seq)):
                return False
            in_order = False
        self._pending.append((event, {"cf": cf, "seq": seq, "name": event.name, "at": naive_utc_now()}, in_order))
        self._pending_keys.add(key)
        self._own_read(self._schedule)
        return True

    def _own_read(self, fn):
        """``fn()`` without the read-your-writes flush in this greenlet (record decides on committed rows + its
        own buffer; a flush's own connects must not start another flush)."""
        me = id(gevent.getcurrent())
        self._syncing.add(me)
        try:
            return fn()
        finally:
            self._syncing.discard(me)

    # ------------------------------------------------------------------ the shared writer's side
    def take_batch(self) -> Optional[list]:
        """The buffered events (the writer's next transaction) as ``(event, applied-row params, in_order)``
        triples — ``in_order``: above a sequence number of its conference already applied — or None when there
        are none."""
        if not self._pending:
            return None
        batch, self._pending = self._pending, []
        return batch

    def write_batch(self, conn: Connection, batch: list) -> None:
        """Apply ``batch`` inside the writer's open transaction on ``conn``, with the effect of applying its
        events one by one in order (a (cf, seq) another writer applied meanwhile is skipped, as ``record``
        would have). The applied rows go in one statement; an in-order participant update that creates,
        closes or ends nothing (talking, mute, hold …) only updates its conference and participant rows —
        those updates are deferred and run as one ``executemany`` per statement (SQLite; one by one on
        PostgreSQL), before any other event of a conference with deferred updates and at the end."""
        ins = self._applied_insert(conn.dialect.name)
        if self._careful:   # the last try of this batch rolled back: one event at a time this once
            self._careful = False
            if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
                # pysqlite opens its transaction only before a data statement: a first SAVEPOINT would be the
                # outermost transaction and its RELEASE would commit that event alone, outside this batch
                conn.exec_driver_sql("BEGIN")
            for event, params, _ in batch:
                self._write_alone(conn, ins, event, params)
            return
        new = {(cf, int(seq)) for cf, seq in conn.execute(ins, [params for _, params, _ in batch])}
        participant_events.keep(conn, [e for e, params, _ in batch if (params["cf"], params["seq"]) in new])
        deferred: Dict[tuple, list] = {}   # row → [table, key, merged values, newest seq, first insert defaults]
        cfs: Set[str] = set()              # conferences with deferred updates
        for event, params, in_order in batch:
            if (params["cf"], params["seq"]) not in new:
                continue
            if in_order and _only_updates(event):
                ts = to_naive_utc(event.timestamp) or naive_utc_now()
                seq = event.sequence_number
                for table, (key, values), defaults in (
                        (t.conferences, self._conference_values(event, ts), self._conference_defaults(event, ts)),
                        (t.participants, self._participant_values(event, ts),
                         {"date_created": ts, "from_": "", "to": ""})):
                    item = deferred.get((table.name, *key.values()))
                    if item is None:
                        deferred[(table.name, *key.values())] = [table, key, values, seq, defaults]
                    else:   # the same row again: applied in order, its columns end as the merge of the values
                        item[2] = {**item[2], **values}
                        item[3] = seq
                cfs.add(event.conference_sid)
                continue
            if event.conference_sid in cfs:
                self._write_deferred(conn, deferred)
                deferred, cfs = {}, set()
            self._apply(conn, event)
        self._write_deferred(conn, deferred)

    def _applied_insert(self, dialect: str):
        """INSERT … ON CONFLICT DO NOTHING RETURNING (cf, seq) into the applied table: which rows are new."""
        ins = self._ins_applied_new.get(dialect)
        if ins is None:
            make = pg_insert if dialect == "postgresql" else sqlite_insert
            a = t.applied_events
            ins = make(a).values(conference_sid=bindparam("cf"), sequence_number=bindparam("seq"),
                                 name=bindparam("name"), recorded_at=bindparam("at")).on_conflict_do_nothing(
            ).returning(a.c.conference_sid, a.c.sequence_number)
            self._ins_applied_new[dialect] = ins
        return ins

    def _write_alone(self, conn: Connection, ins, event: ev.DomainEvent, params: dict) -> None:
        """One event in its own SAVEPOINT; failing, again with invalid text replaced (issue 14,
        :func:`fsbridge.textsafe.scrub`); failing again, logged and left out (the rest of the batch is kept)."""
        for attempt in (event, scrub(event)):
            try:
                with conn.begin_nested():
                    if conn.execute(ins, params).first() is not None:
                        self._apply(conn, attempt)
                        participant_events.keep(conn, [attempt])
            except (OperationalError, InterfaceError):
                raise   # the database, not this event (locked, unreachable): the writer retries the batch
            except Exception:
                log.exception("store.record failed for %s #%s", event.conference_sid, event.sequence_number)
                if attempt is event and scrub(event) is not event:
                    continue
                log.error("store.record: event %s #%s LOST (see the traceback above)", event.conference_sid,
                          event.sequence_number)
                return
            if attempt is not event:
                log.error("store.record: event %s #%s kept with invalid text replaced by U+FFFD",
                          event.conference_sid, event.sequence_number)
            return

    def _write_deferred(self, conn: Connection, deferred: Dict[tuple, list]) -> None:
        """Run the deferred upserts (one per row: updates of different rows commute; the rows' merged values
        equal their updates applied in order, all of which succeed: every one is newer than the row). Rows
        with the same UPDATE statement go as one executemany where the driver counts its rows (SQLite); a
        run whose count falls short goes row by row through ``_upsert`` (its guarded UPDATE is a no-op for
        the rows already written; a missing row is inserted, with its first event's insert defaults)."""
        multi = conn.dialect.name != "postgresql" and conn.dialect.supports_sane_multi_rowcount
        runs: Dict[object, list] = {}
        for item in deferred.values():
            table, key, values = item[:3]
            runs.setdefault(self._update_stmt(table, tuple(key), tuple(values)), []).append(item)
        for stmt, run in runs.items():
            if multi and len(run) > 1:
                params = [dict({"v_" + k: v for k, v in values.items()},
                               **{"w_" + k: v for k, v in key.items()}, w_seq=seq)
                          for _, key, values, seq, _ in run]
                if conn.execute(stmt, params).rowcount == len(run):
                    continue
            for table, key, values, seq, defaults in run:
                self._upsert(conn, table, key, values, seq, defaults)

    def batch_committed(self, batch: list) -> None:
        """``batch`` is durable."""
        for event, _, _ in batch:
            self._pending_keys.discard((event.conference_sid, event.sequence_number))

    def batch_failed(self, batch: list, requeue: bool) -> None:
        """The transaction holding ``batch`` rolled back: forget what its writing cached; ``requeue``: buffer
        it again, before anything recorded since (the writer retries); else the writer writes it again at once."""
        self._config_known.clear()   # _keep_config marked these conferences during the rolled-back write
        if requeue:
            self._pending = batch + self._pending
            self._careful = True   # a poison event (issue 14: text the database refuses) must not block the rest


def _only_updates(event: ev.DomainEvent) -> bool:
    """True for an event whose whole effect on the store (in order, conference row present) is the two guarded
    updates of its conference and participant rows: it carries a participant that neither joins nor leaves,
    and it starts, ends and records nothing."""
    view = event.participant
    if view is None or event.recording is not None or view.status in _LEFT:
        return False
    return not isinstance(event, (ev.ParticipantJoined, ev.ParticipantLeft, ev.ConferenceStarted,
                                  ev.ConferenceEnded))


_LEFT = ("complete", "failed")   # store.LEFT_STATUSES (not imported: store.py imports this module)
