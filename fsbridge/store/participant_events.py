"""Per-participant event times for the Insights Participant Summary ``events`` (issue 22): mute, unmute, hold,
unhold, as Unix milliseconds (Twilio's ``"events": {"mute": [1633705131000]}``).

Table ``fsb_participant_events`` (on :data:`fsbridge.store.db.metadata`): (conference, CallSid, domain event
sequence number) → event key + time. Only the four kinds of :data:`fsbridge.wire.insights.EVENT_KEYS` are
kept. :meth:`fsbridge.store.Store.record` writes them with the event itself (:func:`keep`, in the event's own
transaction or the outbox's group commit, :mod:`fsbridge.store.batch`): an event the store already had (same
sequence number) adds nothing. :func:`record` does the same alone (its own transaction). Purged with its
conference by :mod:`fsbridge.store.retention`.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional

from sqlalchemy import BigInteger, Column, Integer, String, Table, bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from fsbridge.store.db import metadata
from fsbridge.store.rows import to_utc
from fsbridge.wire.insights import EVENT_KEYS

events = Table(
    "fsb_participant_events",
    metadata,
    Column("conference_sid", String(34), primary_key=True),
    Column("call_sid", String(64), primary_key=True),
    Column("sequence_number", Integer, primary_key=True, autoincrement=False),
    Column("name", String(16), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)

# Built once (an ``insert().values(...)`` per event cost more CPU than running it; issue 16 goal 3).
_VALUES = dict(conference_sid=bindparam("cf"), call_sid=bindparam("call"), sequence_number=bindparam("seq"),
               name=bindparam("name"), at_ms=bindparam("at"))
_INSERT = insert(events).values(**_VALUES)
# the same, a row already there left alone (keep() runs inside the store's transaction: no IntegrityError there)
_INSERT_NEW = {"sqlite": sqlite_insert(events).values(**_VALUES).on_conflict_do_nothing(),
               "postgresql": pg_insert(events).values(**_VALUES).on_conflict_do_nothing()}


def _row(event) -> Optional[dict]:
    """``_INSERT``'s parameters for a participant mute / unmute / hold / unhold DomainEvent, else None."""
    key = EVENT_KEYS.get(event.name)
    if key is None or event.participant is None:
        return None
    return {"cf": event.conference_sid, "call": event.participant.call_sid, "seq": event.sequence_number,
            "name": key, "at": int(to_utc(event.timestamp).timestamp() * 1000)}


def keep(conn: Connection, new_events: Iterable) -> None:
    """Inside the caller's open transaction on ``conn``: keep the participant mute / unmute / hold / unhold
    events among ``new_events`` (DomainEvents the store has just applied for the first time) in one
    statement. A row already there is left as it is (SQLite / PostgreSQL; other dialects insert plainly)."""
    rows = [r for r in map(_row, new_events) if r is not None]
    if rows:
        conn.execute(_INSERT_NEW.get(conn.dialect.name, _INSERT), rows)


def load(engine: Engine, conference_sid: str, call_sids: Iterable[str]) -> Dict[str, Dict[str, List[int]]]:
    """``{call_sid: {"mute": [ms, …], …}}`` (times ascending) of the given participants that have events."""
    sids = list(call_sids)
    out: Dict[str, Dict[str, List[int]]] = {}
    if not sids:
        return out
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.call_sid, events.c.name, events.c.at_ms).where(
            events.c.conference_sid == conference_sid, events.c.call_sid.in_(sids))
            .order_by(events.c.at_ms, events.c.sequence_number)).all()
    for call_sid, name, at_ms in rows:
        out.setdefault(call_sid, {}).setdefault(name, []).append(int(at_ms))
    return out


__all__ = ["events", "keep", "load"]
