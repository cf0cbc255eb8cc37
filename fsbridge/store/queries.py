"""Store reads: the queries that serve the REST API (fetch by Sid / CallSid / label; list with filters and
paging, offset or keyset). A part of :class:`fsbridge.store.store.Store` (its prebuilt statements
``_sel_*`` and its ``engine``); rows are :mod:`fsbridge.store.rows` types. Sources: Twilio Conference /
Participant / Conference Recording resources (list filters, paging).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine

from fsbridge.wire.twilio import CONF_COMPLETED
from fsbridge.store import tables as t
from fsbridge.store.rows import (ConferenceRow, DateRange, PageRequest, PageResult, ParticipantRow, RecordingRow,
                                 to_naive_utc)


class Queries:
    """The read half of :class:`~fsbridge.store.store.Store`."""

    def last_sequence(self, conference_sid: str) -> int:
        """Highest DomainEvent sequence_number recorded for the conference (0 if none)."""
        with self.engine.connect() as conn:
            return int(conn.execute(self._sel_last_seq, {"cf": conference_sid}).scalar() or 0)

    def conference(self, account_sid: str, conference_sid: str) -> Optional[ConferenceRow]:
        """The conference with this Sid, if it belongs to ``account_sid``."""
        row = self._first(self._sel_conf, {"sid": conference_sid, "acc": account_sid})
        return ConferenceRow.from_mapping(row) if row else None

    def live_conference_by_name(self, account_sid: str, friendly_name: str) -> Optional[ConferenceRow]:
        """The account's not-yet-completed conference with this friendly name (Twilio: at most one)."""
        c = t.conferences
        with self.engine.connect() as conn:
            row = conn.execute(select(c).where(
                c.c.account_sid == account_sid, c.c.friendly_name == friendly_name, c.c.status != CONF_COMPLETED,
            ).order_by(c.c.date_created.desc()).limit(1)).mappings().first()
        return ConferenceRow.from_mapping(row) if row else None

    def participant(self, account_sid: str, conference_sid: str, call_sid_or_label: str
                    ) -> Optional[ParticipantRow]:
        """A participant by CallSid, else by label (a present participant wins over one who left, then the
        most recent). Includes participants who left."""
        params = {"acc": account_sid, "cf": conference_sid, "who": call_sid_or_label}

        with self.engine.connect() as conn:
            row = (conn.execute(self._sel_part_call, params).mappings().first()
                   or conn.execute(self._sel_part_label, params).mappings().first())
        return ParticipantRow.from_mapping(row) if row else None

    def recording(self, account_sid: str, conference_sid: str, recording_sid: str) -> Optional[RecordingRow]:
        """A recording of this account's conference by RecordingSid."""
        with self.engine.connect() as conn:
            return self._recording(conn, account_sid, conference_sid, recording_sid)

    def _recording(self, conn: Connection, account_sid: str, conference_sid: str, recording_sid: str
                   ) -> Optional[RecordingRow]:
        row = conn.execute(self._sel_rec, {"sid": recording_sid, "acc": account_sid,
                                           "cf": conference_sid}).mappings().first()
        return RecordingRow.from_mapping(row) if row else None

    def account_recording(self, account_sid: str, recording_sid: str) -> Optional[RecordingRow]:
        """A recording of any of this account's conferences by RecordingSid (Twilio FetchRecording)."""
        r = t.recordings
        q = select(r).where(r.c.account_sid == account_sid, r.c.sid == recording_sid)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return RecordingRow.from_mapping(row) if row else None

    # ------------------------------------------------------------------ lists
    def list_conferences(self, account_sid: str, *, friendly_name: Optional[str] = None,
                         status: Optional[str] = None, created: Optional[DateRange] = None,
                         updated: Optional[DateRange] = None, page: PageRequest = PageRequest()
                         ) -> PageResult[ConferenceRow]:
        """The account's conferences, newest first (date_created desc, sid desc), filtered by exact
        friendly name, status, and date_created / date_updated ranges (Twilio ListConference)."""
        c = t.conferences
        conds = [c.c.account_sid == account_sid]
        if friendly_name is not None:
            conds.append(c.c.friendly_name == friendly_name)
        if status is not None:
            conds.append(c.c.status == status)
        conds += date_range(c.c.date_created, created) + date_range(c.c.date_updated, updated)
        return self._page(c, conds, c.c.date_created, c.c.sid, True, page, ConferenceRow.from_mapping,
                          lambda r: r.sid)

    def list_participants(self, account_sid: str, conference_sid: str, *, muted: Optional[bool] = None,
                          hold: Optional[bool] = None, coaching: Optional[bool] = None,
                          include_left: bool = False, page: PageRequest = PageRequest()
                          ) -> PageResult[ParticipantRow]:
        """The conference's participants in join order (date_created asc, call_sid asc). By default only
        those still present (Twilio: "the set of people currently connected"); ``include_left`` adds the
        history. Filters: Twilio ListParticipant Muted / Hold / Coaching."""
        p = t.participants
        conds = [p.c.account_sid == account_sid, p.c.conference_sid == conference_sid]
        if not include_left:
            conds.append(p.c.left_at.is_(None))
        for col, want in ((p.c.muted, muted), (p.c.hold, hold), (p.c.coaching, coaching)):
            if want is not None:
                conds.append(col == want)
        return self._page(p, conds, p.c.date_created, p.c.call_sid, False, page,
                          ParticipantRow.from_mapping, lambda r: r.call_sid)

    def list_recordings(self, account_sid: str, conference_sid: Optional[str], *,
                        created: Optional[DateRange] = None, page: PageRequest = PageRequest()
                        ) -> PageResult[RecordingRow]:
        """The conference's recordings (every conference's when ``conference_sid`` is None: the account-level
        Twilio ListRecording), newest first (Twilio ListConferenceRecording, DateCreated filters)."""
        r = t.recordings
        conds = [r.c.account_sid == account_sid]
        if conference_sid is not None:
            conds.append(r.c.conference_sid == conference_sid)
        conds += date_range(r.c.date_created, created)
        return self._page(r, conds, r.c.date_created, r.c.sid, True, page, RecordingRow.from_mapping,
                          lambda x: x.sid)

    def _page(self, table, conds: List, time_col, id_col, descending: bool, page: PageRequest,
              build: Callable, ident: Callable) -> PageResult:
        return page_rows(self.engine, table, conds, time_col, id_col, descending, page, build, ident)


def page_rows(engine: Engine, table, conds: List, time_col, id_col, descending: bool, page: PageRequest,
              build: Callable, ident: Callable) -> PageResult:
    """One page of ``table`` rows matching ``conds``, ordered by (``time_col``, ``id_col``), descending or not;
    offset or keyset paging as ``page`` says (the keyset is (date_created, ``ident(row)``)). ``build`` turns a
    row mapping into the item; at most ``page.limit`` items, ``has_more`` when another page follows."""
    conds = list(conds)
    if page.after is not None:
        at, aid = to_naive_utc(page.after[0]), page.after[1]
        if descending:
            conds.append(or_(time_col < at, and_(time_col == at, id_col < aid)))
        else:
            conds.append(or_(time_col > at, and_(time_col == at, id_col > aid)))
    order: Sequence = (time_col.desc(), id_col.desc()) if descending else (time_col.asc(), id_col.asc())
    q = select(table).where(*conds).order_by(*order).limit(page.limit + 1)
    if page.after is None and page.offset:
        q = q.offset(page.offset)
    with engine.connect() as conn:
        rows = [build(m) for m in conn.execute(q).mappings().all()]
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    last = (rows[-1].date_created, ident(rows[-1])) if rows else None
    return PageResult(items=rows, has_more=has_more, last_key=last)


def date_range(col, rng: Optional[DateRange]) -> List:
    """``col`` within ``rng`` (start inclusive, end exclusive, UTC) as where-conditions; [] for None."""
    if rng is None:
        return []
    out = []
    if rng.start is not None:
        out.append(col >= to_naive_utc(rng.start))
    if rng.end is not None:
        out.append(col < to_naive_utc(rng.end))
    return out


__all__ = ["Queries"]
