"""Conference summaries for the Insights v1 Conference Summary resource (issue 22): a conference row plus what
its participant and recording rows say about it.

``ConferenceSummary``: ``conference`` (:class:`~fsbridge.store.rows.ConferenceRow`),
``max_concurrent_participants`` (most participants present at one instant: joins = participant
``date_created``, leaves = ``left_at``; queued / failed calls never joined and do not count),
``unique_participants`` (distinct caller IDs — the participants' From, their CallSid when From is unknown —
as Twilio's "unique conference participants based on caller ID"), ``recording_enabled`` (the conference has
at least one recording row).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fsbridge.store import tables as t
from fsbridge.wire import twilio as tw
from fsbridge.store.queries import date_range, page_rows
from fsbridge.store.rows import ConferenceRow, DateRange, PageRequest, PageResult

#: participant statuses of calls that never joined the room (Twilio participant_enum_status)
NEVER_JOINED = (tw.P_QUEUED, tw.P_CONNECTING, tw.P_RINGING, tw.P_FAILED)


@dataclass(frozen=True)
class ConferenceSummary:
    """A conference and its computed figures (see the module docstring)."""

    conference: ConferenceRow
    max_concurrent_participants: int
    unique_participants: int
    recording_enabled: bool


def _max_concurrent(spans: List[tuple]) -> int:
    """``spans``: (join, leave or None); the largest number overlapping at one instant (a leave at the same
    instant as a join is counted before it)."""
    points = []
    for joined, left in spans:
        points.append((joined, 1))
        if left is not None:
            points.append((left, -1))
    points.sort(key=lambda x: (x[0], x[1]))
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def _summaries(engine: Engine, rows: List[ConferenceRow]) -> List[ConferenceSummary]:
    if not rows:
        return []
    sids = [r.sid for r in rows]
    p, r = t.participants, t.recordings
    spans: Dict[str, List[tuple]] = {s: [] for s in sids}
    callers: Dict[str, set] = {s: set() for s in sids}
    with engine.connect() as conn:
        for cf, ca, from_, status, joined, left in conn.execute(select(
                p.c.conference_sid, p.c.call_sid, p.c.from_, p.c.status, p.c.date_created, p.c.left_at,
        ).where(p.c.conference_sid.in_(sids))):
            if status in NEVER_JOINED:
                continue
            spans[cf].append((joined, left))
            callers[cf].add(from_ or ca)
        recorded = set(conn.execute(select(r.c.conference_sid).where(r.c.conference_sid.in_(sids))
                                    .distinct()).scalars())
    return [ConferenceSummary(conference=row, max_concurrent_participants=_max_concurrent(spans[row.sid]),
                              unique_participants=len(callers[row.sid]), recording_enabled=row.sid in recorded)
            for row in rows]


def fetch_summary(engine: Engine, account_sid: str, conference_sid: str) -> Optional[ConferenceSummary]:
    """The summary of the account's conference ``conference_sid``, or None."""
    c = t.conferences
    with engine.connect() as conn:
        m = conn.execute(select(c).where(c.c.sid == conference_sid, c.c.account_sid == account_sid)
                         ).mappings().first()
    return _summaries(engine, [ConferenceRow.from_mapping(m)])[0] if m else None


def list_summaries(engine: Engine, account_sid: str, *, conference_sid: Optional[str] = None,
                   friendly_name: Optional[str] = None, status: Optional[str] = None,
                   created: Optional[DateRange] = None, end_reason: Optional[str] = None,
                   page: PageRequest = PageRequest()) -> PageResult[ConferenceSummary]:
    """The account's conference summaries, newest first (date_created desc, sid desc), filtered by Sid,
    friendly name, stored status (init | in-progress | completed), a created range and the stored
    ``reason_conference_ended``; offset or keyset paging as :class:`PageRequest` says."""
    c = t.conferences
    conds = [c.c.account_sid == account_sid]
    for col, want in ((c.c.sid, conference_sid), (c.c.friendly_name, friendly_name), (c.c.status, status),
                      (c.c.reason_conference_ended, end_reason)):
        if want is not None:
            conds.append(col == want)
    conds += date_range(c.c.date_created, created)
    result = page_rows(engine, c, conds, c.c.date_created, c.c.sid, True, page, ConferenceRow.from_mapping,
                       lambda row: row.sid)
    return PageResult(items=_summaries(engine, result.items), has_more=result.has_more, last_key=result.last_key)


__all__ = ["ConferenceSummary", "fetch_summary", "list_summaries", "NEVER_JOINED"]
