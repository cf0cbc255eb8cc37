"""Day files of the Bulk Export (issue 22): one UTC day of Conferences and Participants in one gzip'd JSON-lines
file — written by ``fsbridge export --day`` (:mod:`fsbridge.ops.export`) and by the REST Bulk Export jobs
(:mod:`fsbridge.api.bulkexport_jobs`).

The file holds one JSON object per line, exactly as the REST API renders the resource (:mod:`fsbridge.api.render`:
Twilio 2010-04-01 field names, RFC 2822 dates): first every Conference created that UTC day (``date_created``
in [day 00:00, next day 00:00)), oldest first — lines with ``sid`` ``CF…`` and ``subresource_uris``; then every
Participant created that UTC day, oldest first — lines with ``call_sid`` and ``conference_sid``. Rows are read
in keyset batches (bounded memory); the file is written beside its final name and renamed into place, so a
reader never sees half a file.
"""
from __future__ import annotations

import gzip
import json
import os
from datetime import date, datetime, timedelta
from typing import Callable, Iterator, Optional, Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine

from fsbridge.api import render
from fsbridge.store import tables as t
from fsbridge.store.rows import ConferenceRow, ParticipantRow

BATCH = 500


def file_name(day: date) -> str:
    """``conferences-YYYY-MM-DD.jsonl.gz``."""
    return f"conferences-{day.isoformat()}.jsonl.gz"


def _after(keys: Sequence, values: Sequence):
    """SQL condition: the row's ``keys`` tuple sorts strictly after ``values`` (lexicographic, ascending)."""
    first = keys[0] > values[0]
    if len(keys) == 1:
        return first
    return or_(first, and_(keys[0] == values[0], _after(keys[1:], values[1:])))


def _rows(engine: Engine, table, keys: Sequence, start: datetime, end: datetime, account: Optional[str],
          from_mapping: Callable) -> Iterator:
    """``table`` rows with date_created in [start, end) (and of ``account`` if given), ordered by ``keys``
    (ascending columns, date_created first, unique together), read in keyset batches of :data:`BATCH`;
    each row passed through ``from_mapping``."""
    conds = [table.c.date_created >= start, table.c.date_created < end]
    if account:
        conds.append(table.c.account_sid == account)
    after = None
    while True:
        where = conds if after is None else conds + [_after(keys, after)]
        q = select(table).where(*where).order_by(*keys).limit(BATCH)
        with engine.connect() as conn:
            batch = conn.execute(q).mappings().all()
        for m in batch:
            yield from_mapping(m)
        if len(batch) < BATCH:
            return
        after = [batch[-1][k.name] for k in keys]


def _conferences(engine: Engine, start: datetime, end: datetime, account: Optional[str]) -> Iterator:
    """Conferences with date_created in [start, end), ordered by (date_created, sid), in keyset batches."""
    c = t.conferences
    return _rows(engine, c, (c.c.date_created, c.c.sid), start, end, account, ConferenceRow.from_mapping)


def export_day(engine: Engine, day: date, out_dir: str, *, account: Optional[str] = None,
               region: str = render.DEFAULT_REGION, name: Optional[str] = None) -> str:
    """Write ``out_dir/conferences-DAY.jsonl.gz`` (or ``out_dir/name``; see the module docstring); returns
    its path."""
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name or file_name(day))
    tmp = path + ".part"
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for row in _conferences(engine, start, end, account):
            gz.write(json.dumps(render.conference(row, region), ensure_ascii=False).encode() + b"\n")
        for row in _participants(engine, start, end, account):
            gz.write(json.dumps(render.participant(row), ensure_ascii=False).encode() + b"\n")
    os.replace(tmp, path)
    return path


def _participants(engine: Engine, start: datetime, end: datetime, account: Optional[str]) -> Iterator:
    """Participants with date_created in [start, end), by (date_created, conference_sid, call_sid), batched."""
    p = t.participants
    return _rows(engine, p, (p.c.date_created, p.c.conference_sid, p.c.call_sid), start, end, account,
                 ParticipantRow.from_mapping)


__all__ = ["BATCH", "export_day", "file_name"]
