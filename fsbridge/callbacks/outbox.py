"""The durable callback outbox: one row per rendered callback, written before any attempt.

Table ``callback_outbox`` on :data:`fsbridge.store.db.metadata` (SQLite file by default, PostgreSQL works).
Rows keep the rendered, unsigned request (signatures are made per attempt), its per-conference queue key and
its delivery state:

* ``pending``   — written, not yet attempted;
* ``retrying``  — at least one attempt failed, another is due at ``next_attempt_at``;
* ``delivered`` — a 2xx came back (``delivered_at``);
* ``failed``    — given up: URL can never work, retry budget/deadline spent, or a non-retryable answer.

Queue order is ``id`` order within ``queue_key`` (the conference SID). Times are the dispatcher clock's
seconds (Unix time unless a test clock is injected).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Optional
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, String, Table, Text, bindparam, delete, select, update
from sqlalchemy.engine import Connection

from fsbridge.store.db import WalCheckpointer, create_tables, metadata, sqlite_file

from .request import KIND_STATUS, CallbackRequest
from .twilio import FRIENDLY_NAME, SEQUENCE_NUMBER
from .jambonz import FRIENDLY_NAME as JAMBONZ_FRIENDLY_NAME

PENDING = "pending"
RETRYING = "retrying"
DELIVERED = "delivered"
FAILED = "failed"
OPEN_STATES = (PENDING, RETRYING)

outbox = Table(
    "callback_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue_key", String(64), nullable=False),
    Column("dialect", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("event_name", String(64), nullable=False),
    Column("account_sid", String(64), nullable=False),
    Column("conference_sid", String(64), nullable=False),
    Column("sequence_number", Integer, nullable=False),
    Column("method", String(8), nullable=False),
    Column("url", Text, nullable=False),
    Column("params", Text, nullable=False, default="[]"),
    Column("body", LargeBinary, nullable=False, default=b""),
    Column("content_type", String(64)),
    Column("headers", Text, nullable=False, default="[]"),
    Column("username", String(255)),
    Column("password", String(255)),
    Column("state", String(16), nullable=False, default=PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float),
    Column("delivered_at", Float),
    Index("ix_callback_outbox_open", "state", "queue_key", "id"),
    Index("ix_callback_outbox_conference", "conference_sid", "id"),
)


@dataclass(frozen=True)
class DeliveryStatus:
    """A callback's delivery state (for the REST layer and logs).

    ``state``: pending|retrying|delivered|failed; ``attempts``: HTTP attempts made; ``last_error``: the last
    failure ("connection refused …", "HTTP 503", "unsupported URL scheme …"); times in clock seconds.
    """

    id: int
    conference_sid: str
    sequence_number: int
    event_name: str
    kind: str
    url: str
    state: str
    attempts: int
    last_error: Optional[str]
    created_at: float
    next_attempt_at: Optional[float]
    delivered_at: Optional[float]


@dataclass
class OutboxRow:
    """An outbox row as the dispatcher works on it (``request`` rebuilt from the stored columns)."""

    id: int
    queue_key: str
    request: CallbackRequest
    attempts: int
    created_at: float
    state: str


# Statements are built once and executed with parameter dicts (SQLAlchemy caches their compiled form).
_INSERT = outbox.insert()
_MARK = (update(outbox).where(outbox.c.id == bindparam("row_id"))
         .values(state=bindparam("new_state"), attempts=bindparam("new_attempts"),
                 last_error=bindparam("new_error"), next_attempt_at=bindparam("next_at"),
                 delivered_at=bindparam("done_at")))


def create(engine) -> None:
    """Create ``callback_outbox`` if missing (under the schema lock, :func:`fsbridge.store.db.create_tables`)."""
    create_tables(engine, outbox)


def insert(conn: Connection, req: CallbackRequest, now: float, state: str = PENDING,
           last_error: Optional[str] = None) -> int:
    """Write ``req`` (queue key = its conference SID) and return the row id."""
    result = conn.execute(_INSERT, dict(
        queue_key=req.conference_sid, dialect=req.dialect, kind=req.kind, event_name=req.event_name,
        account_sid=req.account_sid, conference_sid=req.conference_sid, sequence_number=req.sequence_number,
        method=req.method, url=req.url, params=json.dumps(req.params), body=req.body,
        content_type=req.content_type, headers=json.dumps(req.headers), username=req.username,
        password=req.password, state=state, attempts=0, last_error=last_error, created_at=now,
        next_attempt_at=None, delivered_at=None,
    ))
    return int(result.inserted_primary_key[0])


def mark_many(conn: Connection, marks) -> None:
    """Record the outcomes of attempts in one statement: ``marks`` = dicts with ``row_id``, ``new_state``
    (pending|retrying|delivered|failed), ``new_attempts``, ``new_error`` (text or None), ``next_at`` and
    ``done_at`` (clock seconds or None)."""
    if marks:
        conn.execute(_MARK, list(marks))


class Writer:
    """All outbox writes of one dispatcher, through one SQLAlchemy connection (SQLite or PostgreSQL).
    Not for concurrent use from OS threads; under gevent each call runs to completion without yielding.

    On a SQLite file, SQLite would run WAL checkpoints inside a commit (copying the log back with an fsync,
    up to ≈ 20 ms — a stall of the whole gevent hub): this connection turns them off and a PASSIVE checkpoint
    runs every ``checkpoint_every`` commits in an OS thread (:class:`fsbridge.store.db.WalCheckpointer`,
    ``checkpoint_runner``), which does not block writers.
    """

    def __init__(self, engine, checkpoint_every: int = 200, checkpoint_runner=None):
        self.conn = engine.connect()
        self._checkpoints = WalCheckpointer(sqlite_file(engine), checkpoint_every, checkpoint_runner)
        if self._checkpoints.db_file:
            self.conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            self.conn.commit()

    def insert(self, req: CallbackRequest, now: float, state: str = PENDING,
               last_error: Optional[str] = None) -> int:
        """Commit ``req`` as a new row; return its id."""
        with self.conn.begin():
            row_id = insert(self.conn, req, now, state, last_error)
        self._checkpoints.committed()
        return row_id

    def mark_many(self, marks) -> None:
        """Commit many outcomes (dicts as :func:`mark_many` takes them) in one transaction."""
        if not marks:
            return
        with self.conn.begin():
            mark_many(self.conn, marks)
        self._checkpoints.committed()

    def close(self) -> None:
        """Give the connection back to the pool."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _row(r) -> OutboxRow:
    req = CallbackRequest(
        dialect=r.dialect, kind=r.kind, event_name=r.event_name, account_sid=r.account_sid,
        conference_sid=r.conference_sid, sequence_number=r.sequence_number, method=r.method, url=r.url,
        params=tuple(tuple(p) for p in json.loads(r.params)), body=bytes(r.body or b""),
        content_type=r.content_type, headers=tuple(tuple(h) for h in json.loads(r.headers)),
        username=r.username, password=r.password,
    )
    return OutboxRow(id=r.id, queue_key=r.queue_key, request=req, attempts=r.attempts, created_at=r.created_at,
                     state=r.state)


def _form_fields(method: str, url: str, params) -> list:
    """The (name, value) fields a callback carries: its form parameters (POST), or its URL query (GET, whose
    ``params`` are empty: :func:`.request.form_request` puts them in the URL)."""
    return list(params) if method != "GET" else parse_qsl(urlsplit(url).query)


def log_label(req: CallbackRequest) -> str:
    """How the bridge's log names one callback, with the numbers the app sees (issue 17):
    ``conference-end SequenceNumber 21 for CF… 'room'``. The SequenceNumber is the one in the request's
    form/query (absent for recording callbacks and jambonz, which send none: then ``#<history ordinal>``)."""
    fields = dict(_form_fields(req.method, req.url, req.params))
    seq = fields.get(SEQUENCE_NUMBER)
    name = fields.get(FRIENDLY_NAME)
    if name is None and req.body:
        try:
            name = json.loads(req.body).get(JAMBONZ_FRIENDLY_NAME)
        except (ValueError, AttributeError):
            name = None
    number = f"{SEQUENCE_NUMBER} {seq}" if seq else f"#{req.sequence_number}"
    return f"{req.event_name} {number} for {req.conference_sid}" + (f" {name!r}" if name else "")


def describe(conn: Connection, row_id: int) -> Optional[str]:
    """:func:`log_label` of outbox row ``row_id`` (None when unknown) — works after a restart too."""
    r = conn.execute(select(outbox).where(outbox.c.id == row_id)).first()
    return log_label(_row(r).request) if r is not None else None


def load_open(conn: Connection) -> List[OutboxRow]:
    """Every undelivered, not-given-up row, in id order (what a restarted dispatcher must send)."""
    rows = conn.execute(select(outbox).where(outbox.c.state.in_(OPEN_STATES)).order_by(outbox.c.id))
    return [_row(r) for r in rows]


def _status(r) -> DeliveryStatus:
    return DeliveryStatus(
        id=r.id, conference_sid=r.conference_sid, sequence_number=r.sequence_number, event_name=r.event_name,
        kind=r.kind, url=r.url, state=r.state, attempts=r.attempts, last_error=r.last_error,
        created_at=r.created_at, next_attempt_at=r.next_attempt_at, delivered_at=r.delivered_at,
    )


def status(conn: Connection, row_id: int) -> Optional[DeliveryStatus]:
    """The delivery status of one row (None when unknown)."""
    r = conn.execute(select(outbox).where(outbox.c.id == row_id)).first()
    return _status(r) if r is not None else None


def purge(conn: Connection, before: float) -> int:
    """Delete finished rows (delivered, failed) created before ``before`` (clock seconds); return how many.
    Open rows are never deleted."""
    result = conn.execute(delete(outbox).where(outbox.c.state.in_((DELIVERED, FAILED)),
                                               outbox.c.created_at < before))
    return int(result.rowcount or 0)


def conference_status(conn: Connection, conference_sid: str) -> List[DeliveryStatus]:
    """Delivery statuses of every callback of a conference, in queue order."""
    rows = conn.execute(select(outbox).where(outbox.c.conference_sid == conference_sid).order_by(outbox.c.id))
    return [_status(r) for r in rows]


def last_status_sequence(conn: Connection, conference_sid: str, field: str = SEQUENCE_NUMBER) -> int:
    """The highest statusCallback ``SequenceNumber`` already written for a conference (0 if none): read from
    its status rows' form parameters (POST) or URL query (GET); jambonz rows carry none. For
    :class:`~fsbridge.callbacks.subscriptions.StatusSequence` ``lookup`` after a restart (recovery), so a
    re-adopted conference continues its 1..N. Rows removed by :func:`purge` are not seen."""
    rows = conn.execute(select(outbox.c.method, outbox.c.url, outbox.c.params).where(
        (outbox.c.conference_sid == conference_sid) & (outbox.c.kind == KIND_STATUS)))
    best = 0
    for method, url, params in rows:
        for name, value in _form_fields(method, url, json.loads(params or "[]")):
            if name == field and str(value).isdigit():
                best = max(best, int(value))
    return best
