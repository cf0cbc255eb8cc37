"""Per-participant event times for the Insights Participant Summary ``events`` (issue 22): mute, unmute, hold,
unhold, as Unix milliseconds (Twilio's ``"events": {"mute": [1633705131000]}``).

Table ``fsb_participant_events`` (on :data:`fsbridge.store.db.metadata`): (conference, CallSid, domain event
sequence number) → event key + time. :func:`record` is a Bridge listener (wired by the composition root; it
is called for every published DomainEvent after the store recorded it) and keeps only the four kinds of
:data:`fsbridge.wire.insights.EVENT_KEYS`; a re-published event (same sequence number) is kept once. Purged
with its conference by :mod:`fsbridge.store.retention`.
"""
from __future__ import annotations

from typing import Dict, Iterable, List

from sqlalchemy import BigInteger, Column, Integer, String, Table, bindparam, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

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
_INSERT = insert(events).values(conference_sid=bindparam("cf"), call_sid=bindparam("call"),
                                sequence_number=bindparam("seq"), name=bindparam("name"), at_ms=bindparam("at"))


def record(engine: Engine, event) -> bool:
    """Keep ``event`` (a DomainEvent) if it is a participant mute / unmute / hold / unhold; True when kept."""
    key = EVENT_KEYS.get(event.name)
    if key is None or event.participant is None:
        return False
    try:
        with engine.begin() as conn:
            conn.execute(_INSERT, {"cf": event.conference_sid, "call": event.participant.call_sid,
                                   "seq": event.sequence_number, "name": key,
                                   "at": int(to_utc(event.timestamp).timestamp() * 1000)})
    except IntegrityError:   # the same event again (restart replay): already kept
        return False
    return True


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


__all__ = ["events", "load", "record"]
