"""The conference history store: DomainEvents in, Twilio-resource-shaped rows out.

``Store(db_engine)``: ``create_all()`` creates every table on the shared metadata (store tables and any
other module's, e.g. the callback outbox); ``record(event)`` applies one
:class:`fsbridge.conference.events.DomainEvent` — idempotent per (conference_sid, sequence_number), and an
event older than a row's last applied one never rolls that row back. Queries (:mod:`fsbridge.store.queries`) serve the REST
API: list with filters + paging (offset or keyset), fetch by Sid / CallSid / label; delete a recording.

Event → row mapping (sources: Twilio Conference / Participant / Conference Recording resources and the
statusCallbackEvent list in twilio-twiml-conference-noun.txt):

* any event: the conference row exists (status ``init`` until ``conference-start``), ``date_updated`` = the
  newest event's time;
* ``conference-start`` → status ``in-progress`` (unless already completed, whenever it arrives);
  ``conference-end`` → ``completed`` (final) with reason_conference_ended / call_sid_ending_conference, and
  every participant still present is marked left (status ``complete``);
* any event carrying ``participant``: the participant row takes that full state; ``participant-leave`` sets
  ``left_at`` (status ``complete`` unless the view says ``failed``);
* any event carrying ``recording``: the recording row takes that state (status from the view, else from the
  event name ``recording-<status>``).

One row no DomainEvent creates: a REST dial-out's ``queued`` participant (Twilio sends no callback for it)
— :meth:`Store.record_queued` writes it (and its conference row) with ``last_sequence`` 0, so every event
of that participant (join, or participant-leave ``participant_add_failed`` → status ``failed``) overrides it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Dict, Optional, Tuple

from sqlalchemy import event as sa_event
from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fsbridge.conference import events as ev
from fsbridge.store import participant_events, tables as t
from fsbridge.store.batch import BatchedRecords
from fsbridge.store.db import WalCheckpointer, create_tables, metadata, sqlite_file
from fsbridge.store.queries import Queries
from fsbridge.store.recovery import Recovery
from fsbridge.store.rows import RecordingRow, naive_utc_now, to_naive_utc, to_utc
from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw

# Participant statuses that mean "no longer in the conference" (Twilio participant_enum_status).
LEFT_STATUSES = ("complete", "failed")


class Store(Queries, Recovery, BatchedRecords):
    """Conference / participant / recording history on one SQLAlchemy engine (SQLite file or PostgreSQL).

    Greenlet-safe: every method opens its own connection from the engine's pool. Once a callback dispatcher
    shares its group commit (:meth:`share_commit`, :mod:`fsbridge.store.batch`), ``record`` buffers and the
    outbox's transaction writes the events; every connection checked out of the engine commits them first.
    """

    def __init__(self, db_engine: Engine, checkpoint_every: int = 200,
                 checkpoint_runner: Optional[Callable[[Callable[[], None]], object]] = None) -> None:
        """``db_engine``: from :func:`fsbridge.store.db.make_engine`. Every statement goes through
        SQLAlchemy Core (prebuilt once here), on SQLite and PostgreSQL alike.

        SQLite file: automatic WAL checkpoints (run by SQLite inside a commit, up to ≈ 20 ms — a stall of the
        whole gevent hub) are turned off on the store's connections; a PASSIVE checkpoint runs every
        ``checkpoint_every`` commits in an OS thread (:class:`fsbridge.store.db.WalCheckpointer`).
        """
        self.engine = db_engine
        self._db_file = sqlite_file(db_engine)
        self._checkpoints = WalCheckpointer(self._db_file, checkpoint_every, checkpoint_runner)
        if self._db_file and not sa_event.contains(db_engine, "connect", _no_autocheckpoint):
            sa_event.listen(db_engine, "connect", _no_autocheckpoint)
        self._stmts: Dict[tuple, object] = {}
        self._config_known: Dict[str, bool] = {}   # conferences whose CallbackConfig is kept (recovery.py)
        self._init_batch()   # group commit shared with the callback outbox, once wired (batch.py)
        c, p, r, a = t.conferences, t.participants, t.recordings, t.applied_events
        self._ins_applied = insert(a).values(conference_sid=bindparam("cf"), sequence_number=bindparam("seq"),
                                             name=bindparam("name"), recorded_at=bindparam("at"))
        self._sel_applied = select(a.c.sequence_number).where(a.c.conference_sid == bindparam("cf"),
                                                              a.c.sequence_number == bindparam("seq"))
        self._sel_last_seq = select(func.max(a.c.sequence_number)).where(a.c.conference_sid == bindparam("cf"))
        self._upd_conf_start = update(c).where(c.c.sid == bindparam("cf"), c.c.status == tw.CONF_INIT).values(
            status=tw.CONF_IN_PROGRESS, started_at=bindparam("at"))
        self._upd_conf_end = update(c).where(c.c.sid == bindparam("cf")).values(
            status=tw.CONF_COMPLETED, ended_at=bindparam("at"), reason_conference_ended=bindparam("reason"),
            call_sid_ending_conference=bindparam("call"),
            participant_label_ending_conference=bindparam("label"))
        self._sel_conf = select(c).where(c.c.sid == bindparam("sid"), c.c.account_sid == bindparam("acc"))
        # conference-end: whoever is still present has left (their last_sequence is kept, so a participant
        # event older than the end that arrives later still lands — and is then closed by _upd_close_late)
        self._upd_leave_all = update(p).where(
            p.c.conference_sid == bindparam("cf"), p.c.left_at.is_(None),
        ).values(left_at=bindparam("ts"), status="complete", date_updated=bindparam("ts"))
        ended = select(c.c.ended_at).where(c.c.sid == bindparam("cf"), c.c.status == tw.CONF_COMPLETED)
        self._upd_close_late = update(p).where(
            p.c.conference_sid == bindparam("cf"), p.c.call_sid == bindparam("call"),
            ended.exists(),
        ).values(left_at=func.coalesce(p.c.left_at, ended.scalar_subquery()),
                 status=case((or_(*[p.c.status == x for x in LEFT_STATUSES]), p.c.status), else_="complete"))
        part = select(p).where(p.c.account_sid == bindparam("acc"), p.c.conference_sid == bindparam("cf"))
        self._sel_part_call = part.where(p.c.call_sid == bindparam("who"))
        self._sel_part_label = part.where(p.c.label == bindparam("who")).order_by(
            p.c.left_at.is_(None).desc(), p.c.date_created.desc()).limit(1)
        self._sel_rec = select(r).where(r.c.sid == bindparam("sid"), r.c.account_sid == bindparam("acc"),
                                        r.c.conference_sid == bindparam("cf"))

    # ------------------------------------------------------------------ schema
    def create_all(self) -> None:
        """Create every table declared on :data:`fsbridge.store.db.metadata` that does not exist yet."""
        create_tables(self.engine, metadata)

    # ------------------------------------------------------------------ writes
    def record(self, event: ev.DomainEvent) -> bool:
        """Apply one DomainEvent (and keep it in :mod:`fsbridge.store.participant_events` if it is a participant
        mute / unmute / hold / unhold). Returns False (and changes nothing) if this (conference_sid,
        sequence_number) was already recorded, True otherwise. One transaction per event — or, once the
        callback outbox shares its group commit (:meth:`share_commit`, :mod:`fsbridge.store.batch`), buffered
        and committed with the outbox's next batch (readers of the engine see it: they commit it first)."""
        if self._schedule is not None:
            return self._record_buffered(event)
        params = {"cf": event.conference_sid, "seq": event.sequence_number, "name": event.name, "at": naive_utc_now()}
        try:
            with self.engine.begin() as conn:
                conn.execute(self._ins_applied, params)
                self._apply(conn, event)
                participant_events.keep(conn, [event])
        except IntegrityError:
            if self._already_applied(event.conference_sid, event.sequence_number):
                return False
            raise
        self._committed()
        return True

    def _committed(self) -> None:
        """Count a commit (a PASSIVE WAL checkpoint off the hub every ``checkpoint_every``)."""
        self._checkpoints.committed()

    def _first(self, stmt, params: dict):
        """First row of a prebuilt read statement as a column mapping (None if no row), on a pooled
        connection."""
        with self.engine.connect() as conn:
            return conn.execute(stmt, params).mappings().first()

    def _already_applied(self, conference_sid: str, seq: int) -> bool:
        return self._first(self._sel_applied, {"cf": conference_sid, "seq": seq}) is not None

    # Statements are built once (bound parameters, memoized cache keys): an ad-hoc SQLAlchemy statement
    # costs ~4× more CPU than executing a prebuilt one, and the REST write path runs several per request.
    def _update_stmt(self, table, key_cols: Tuple[str, ...], set_cols: Tuple[str, ...], guard: bool = True):
        """``UPDATE table SET <set_cols> WHERE <key_cols> [AND last_sequence < :w_seq]`` (cached).
        Parameters: ``v_<col>`` for values, ``w_<col>`` / ``w_seq`` for the WHERE clause."""
        cache_key = (table.name, key_cols, set_cols, guard)
        stmt = self._stmts.get(cache_key)
        if stmt is None:
            conds = [table.c[k] == bindparam("w_" + k) for k in key_cols]
            if guard:
                conds.append(table.c.last_sequence < bindparam("w_seq"))
            stmt = update(table).where(*conds).values({c: bindparam("v_" + c) for c in set_cols})
            self._stmts[cache_key] = stmt
        return stmt

    def _upsert(self, conn: Connection, table, key: dict, values: dict, seq: int, insert_defaults: dict) -> bool:
        """Update the row ``key`` with ``values`` if its last_sequence < ``seq``; insert it (``key`` +
        ``insert_defaults`` + ``values``) if it does not exist. Returns True if a row was written."""
        stmt = self._update_stmt(table, tuple(key), tuple(values))
        params = {"v_" + k: v for k, v in values.items()}
        params.update({"w_" + k: v for k, v in key.items()}, w_seq=seq)
        if conn.execute(stmt, params).rowcount:
            return True
        if self._exists(conn, table, key):
            return False  # the row already reflects a newer event
        row = {**key, **insert_defaults, **values}
        insert_key = ("insert", table.name, tuple(row))
        ins = self._stmts.get(insert_key)
        if ins is None:
            ins = insert(table).values({c: bindparam("i_" + c) for c in row})
            self._stmts[insert_key] = ins
        conn.execute(ins, {"i_" + c: v for c, v in row.items()})
        return True

    def _insert_missing(self, conn: Connection, table, key: dict, values: dict) -> bool:
        """Insert the row ``key`` + ``values`` unless a row with ``key`` exists; True if inserted."""
        if self._exists(conn, table, key):
            return False
        conn.execute(insert(table).values({**key, **values}))
        return True

    def _exists(self, conn: Connection, table, key: dict) -> bool:
        """True when ``table`` has a row matching every ``key`` column (statement built once per shape)."""
        exists_key = ("exists", table.name, tuple(key))
        exists = self._stmts.get(exists_key)
        if exists is None:
            exists = select(func.count()).select_from(table).where(
                *[table.c[k] == bindparam("w_" + k) for k in key])
            self._stmts[exists_key] = exists
        return bool(conn.execute(exists, {"w_" + k: v for k, v in key.items()}).scalar())

    def _apply(self, conn: Connection, event: ev.DomainEvent) -> None:
        ts = to_naive_utc(event.timestamp) or naive_utc_now()
        seq = event.sequence_number
        c = t.conferences
        # date_updated / last_sequence follow the newest event; the status follows its own order
        # (init → in-progress → completed, never back), whatever order the events arrive in.
        late = not self._upsert(conn, c, *self._conference_values(event, ts), seq, self._conference_defaults(event, ts))
        if isinstance(event, ev.ConferenceStarted):
            conn.execute(self._upd_conf_start, {"cf": event.conference_sid,
                                                 "at": to_naive_utc(event.started_at) or ts})
        elif isinstance(event, ev.ConferenceEnded):
            conn.execute(self._upd_conf_end, {
                "cf": event.conference_sid, "at": ts, "reason": event.reason_conference_ended,
                "call": event.call_sid_ending_conference, "label": event.participant_label_ending_conference})
        if event.participant is not None:
            self._apply_participant(conn, event, ts, late)
            if isinstance(event, ev.ParticipantJoined):
                self._keep_config(conn, event)
        if isinstance(event, ev.ConferenceEnded):
            conn.execute(self._upd_leave_all, {"cf": event.conference_sid, "ts": ts})
        if event.recording is not None:
            self._apply_recording(conn, event, ts)

    @staticmethod
    def _conference_values(event: ev.DomainEvent, ts: datetime) -> Tuple[dict, dict]:
        """(row key, column values) every event writes to its conference row (if newer than the row's)."""
        return {"sid": event.conference_sid}, {"date_updated": ts, "last_sequence": event.sequence_number}

    @staticmethod
    def _conference_defaults(event: ev.DomainEvent, ts: datetime) -> dict:
        """The columns of a conference row an event creates."""
        return dict(account_sid=event.account_sid, friendly_name=event.friendly_name, status=tw.CONF_INIT,
                    dialect=event.callbacks.dialect if event.callbacks else TWIML,
                    date_created=to_naive_utc(event.started_at) or ts)

    def _apply_participant(self, conn: Connection, event: ev.DomainEvent, ts: datetime, late: bool) -> None:
        key, values = self._participant_values(event, ts)
        if self._upsert(conn, t.participants, key, values, event.sequence_number,
                        {"date_created": ts, "from_": "", "to": ""}) and late:
            # an event delivered after a newer one of its conference (maybe the end): nobody is present in a
            # completed room
            conn.execute(self._upd_close_late, {"cf": event.conference_sid, "call": key["call_sid"]})

    def _participant_values(self, event: ev.DomainEvent, ts: datetime) -> Tuple[dict, dict]:
        """(row key, column values) an event carrying a participant view writes to its participant row."""
        view = event.participant
        values = dict(
            account_sid=event.account_sid, label=view.label, muted=view.muted, hold=view.hold,
            coaching=view.coaching, call_sid_to_coach=view.call_sid_to_coach,
            end_conference_on_exit=view.end_conference_on_exit,
            start_conference_on_enter=view.start_conference_on_enter, beep=view.beep,
            status=view.status, date_updated=ts, last_sequence=event.sequence_number,
        )
        if view.from_:  # a view without From/To does not erase the known ones
            values["from_"] = view.from_
        if view.to:
            values["to"] = view.to
        if isinstance(event, ev.ParticipantLeft) or view.status in LEFT_STATUSES:
            values["left_at"] = ts
            values["status"] = view.status if view.status in LEFT_STATUSES else "complete"
        elif isinstance(event, ev.ParticipantJoined):
            values["left_at"] = None
        return {"conference_sid": event.conference_sid, "call_sid": view.call_sid}, values

    def _apply_recording(self, conn: Connection, event: ev.DomainEvent, ts: datetime) -> None:
        view = event.recording
        status = view.status or ev.RECORDING_STATUS_WORDS.get(event.name, tw.REC_IN_PROGRESS)
        values = dict(
            account_sid=event.account_sid, conference_sid=event.conference_sid, status=status,
            start_time=to_naive_utc(view.start_time), duration_s=view.duration_s,
            file_size=view.file_size, channels=view.channels, source=view.source,
            date_updated=ts, last_sequence=event.sequence_number,
        )
        if view.path:
            values["path"] = view.path
        self._upsert(conn, t.recordings, {"sid": view.sid}, values, event.sequence_number,
                     {"date_created": ts, "path": ""})

    def record_queued(self, conference, participant) -> bool:
        """Record a queued REST dial-out (Twilio create Participant answers it with status ``queued``).

        ``conference``: the domain's :class:`~fsbridge.conference.model.ConferenceInfo` (its row is created,
        status ``init``, if no event created it yet); ``participant``: its
        :class:`~fsbridge.conference.events.ParticipantView` (status ``queued``). Both rows get
        ``last_sequence`` 0: any later event wins, and a row an event already wrote is left alone.
        Returns True if the participant row was written."""
        ts = to_naive_utc(participant.date_created) or naive_utc_now()
        with self.engine.begin() as conn:
            self._insert_missing(conn, t.conferences, {"sid": conference.sid}, dict(
                account_sid=conference.account_sid, friendly_name=conference.friendly_name, status=tw.CONF_INIT,
                dialect=conference.dialect, region=conference.region,
                date_created=to_naive_utc(conference.date_created) or ts,
                date_updated=to_naive_utc(conference.date_updated) or ts, last_sequence=0))
            written = self._insert_missing(conn, t.participants, {"conference_sid": conference.sid,
                                                               "call_sid": participant.call_sid}, dict(
                account_sid=participant.account_sid or conference.account_sid, label=participant.label,
                muted=participant.muted, hold=participant.hold, coaching=participant.coaching,
                call_sid_to_coach=participant.call_sid_to_coach,
                end_conference_on_exit=participant.end_conference_on_exit,
                start_conference_on_enter=participant.start_conference_on_enter, beep=participant.beep,
                status=participant.status, from_=participant.from_, to=participant.to, date_created=ts,
                date_updated=ts, left_at=None, last_sequence=0))
        self._committed()
        return written

    def set_recording_status(self, account_sid: str, conference_sid: str, recording_sid: str,
                             status: str) -> bool:
        """Record a confirmed pause / resume (``status`` = paused | in-progress) of a running recording —
        the one recording change no DomainEvent reports (Twilio has no paused/resumed status callback).
        Only a recording that is in-progress or paused changes; returns True if it did."""
        if status not in tw.RECORDING_RUNNING:
            raise ValueError(f"status must be paused or in-progress, not {status!r}")
        r = t.recordings
        with self.engine.begin() as conn:
            return bool(conn.execute(update(r).where(
                r.c.sid == recording_sid, r.c.account_sid == account_sid, r.c.conference_sid == conference_sid,
                r.c.status.in_(tw.RECORDING_RUNNING),
            ).values(status=status, date_updated=naive_utc_now())).rowcount)

    def delete_recording(self, account_sid: str, conference_sid: str, recording_sid: str
                         ) -> Optional[RecordingRow]:
        """Remove a recording row (Twilio DELETE Recording). Returns the removed row (the caller removes
        its audio file), or None if there is no such recording for this account and conference."""
        with self.engine.begin() as conn:
            row = self._recording(conn, account_sid, conference_sid, recording_sid)
            if row is None:
                return None
            conn.execute(delete(t.recordings).where(t.recordings.c.sid == recording_sid))
            return row


def _no_autocheckpoint(dbapi_conn, _record) -> None:
    """SQLite connect hook: no automatic WAL checkpoints on this connection (the Store runs them)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


__all__ = ["Store", "LEFT_STATUSES", "to_utc"]
