"""Store reads: the queries that serve the REST API (fetch by Sid / CallSid / label; list with filters and
paging, offset or keyset). A part of :class:`fsbridge.store.store.Store` (its prebuilt statements
``_sel_*`` and its ``engine``); rows are :mod:`fsbridge.store.rows` types. Sources: Twilio Conference /
Participant / Conference Recording resources (list filters, paging).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.engine import Connection, Engine

from fsbridge.wire.twilio import CONF_COMPLETED
from fsbridge.store import tables as t
from fsbridge.store.rows import (ConferenceRow, DateRange, PageRequest, PageResult, ParticipantRow, RecordingRow,
                                 to_naive_utc)


class Queries:
    """The read half of :class:`~fsbridge.store.store.Store`.

    The REST reads run prebuilt statements with bound parameters (the participant / conference fetches are
    built in ``Store.__init__``; a list's statement is built once per *shape* — which filters are given, which
    paging — and kept in ``_stmts``): building and cache-keying an ad-hoc SQLAlchemy ``select`` per request
    cost more CPU than executing it (issue 16 goal 3, bench/README.md § REST)."""

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
            row = conn.execute(self._sel_part_call, params).mappings().first()
            if row is None:   # not a CallSid of this conference: a label
                row = conn.execute(self._sel_part_label, params).mappings().first()
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
        values = {"acc": account_sid, "name": friendly_name, "status": status}
        values.update(_range_values("c", created))
        values.update(_range_values("u", updated))
        return self._cached_page("conferences", c, values, page, ConferenceRow.from_mapping, lambda r: r.sid)

    def list_participants(self, account_sid: str, conference_sid: str, *, muted: Optional[bool] = None,
                          hold: Optional[bool] = None, coaching: Optional[bool] = None,
                          include_left: bool = False, page: PageRequest = PageRequest()
                          ) -> PageResult[ParticipantRow]:
        """The conference's participants in join order (date_created asc, call_sid asc). By default only
        those still present (Twilio: "the set of people currently connected"); ``include_left`` adds the
        history. Filters: Twilio ListParticipant Muted / Hold / Coaching."""
        values = {"acc": account_sid, "cf": conference_sid, "present": None if include_left else True,
                  "muted": muted, "hold": hold, "coaching": coaching}
        return self._cached_page("participants", t.participants, values, page, ParticipantRow.from_mapping,
                                 lambda r: r.call_sid, required=("acc", "cf"))

    def list_recordings(self, account_sid: str, conference_sid: Optional[str], *,
                        created: Optional[DateRange] = None, page: PageRequest = PageRequest()
                        ) -> PageResult[RecordingRow]:
        """The conference's recordings (every conference's when ``conference_sid`` is None: the account-level
        Twilio ListRecording), newest first (Twilio ListConferenceRecording, DateCreated filters)."""
        values = {"acc": account_sid, "cf": conference_sid}
        values.update(_range_values("c", created))
        return self._cached_page("recordings", t.recordings, values, page, RecordingRow.from_mapping,
                                 lambda x: x.sid)

    def _cached_page(self, kind: str, table, values: Dict[str, object], page: PageRequest, build: Callable,
                     ident: Callable, required: Tuple[str, ...] = ("acc",)) -> PageResult:
        """One page of a list: ``values`` are the list's filters by bound-parameter name (None = filter not
        given); the statement for this shape is built once (:data:`_LISTS` says which conditions and order).
        The ``required`` filters (the account scope) are always in the statement: a None there is bound as
        NULL and matches no row, never widens the list to every account."""
        given = tuple(sorted(k for k, v in values.items() if v is not None or k in required))
        paging = "after" if page.after is not None else ("offset" if page.offset else "first")
        key = ("list", kind, given, paging)
        stmt = self._stmts.get(key)
        if stmt is None:
            stmt = self._stmts[key] = _list_statement(kind, table, given, paging)
        params = {k: values[k] for k in given}
        params["lim"] = page.limit + 1
        if paging == "after":
            params["at"], params["aid"] = to_naive_utc(page.after[0]), page.after[1]
        elif paging == "offset":
            params["off"] = page.offset
        with self.engine.connect() as conn:
            rows = [build(m) for m in conn.execute(stmt, params).mappings().all()]
        return _result(rows, page, ident)


# Each list: its filters (bound-parameter name → condition on the table), the order columns, descending?
_LISTS: Dict[str, Tuple[Dict[str, Callable], Callable, bool]] = {
    "conferences": ({
        "acc": lambda c: c.account_sid == bindparam("acc"),
        "name": lambda c: c.friendly_name == bindparam("name"),
        "status": lambda c: c.status == bindparam("status"),
        "c_start": lambda c: c.date_created >= bindparam("c_start"),
        "c_end": lambda c: c.date_created < bindparam("c_end"),
        "u_start": lambda c: c.date_updated >= bindparam("u_start"),
        "u_end": lambda c: c.date_updated < bindparam("u_end"),
    }, lambda c: (c.date_created, c.sid), True),
    "participants": ({
        "acc": lambda c: c.account_sid == bindparam("acc"),
        "cf": lambda c: c.conference_sid == bindparam("cf"),
        "present": lambda c: c.left_at.is_(None),
        "muted": lambda c: c.muted == bindparam("muted"),
        "hold": lambda c: c.hold == bindparam("hold"),
        "coaching": lambda c: c.coaching == bindparam("coaching"),
    }, lambda c: (c.date_created, c.call_sid), False),
    "recordings": ({
        "acc": lambda c: c.account_sid == bindparam("acc"),
        "cf": lambda c: c.conference_sid == bindparam("cf"),
        "c_start": lambda c: c.date_created >= bindparam("c_start"),
        "c_end": lambda c: c.date_created < bindparam("c_end"),
    }, lambda c: (c.date_created, c.sid), True),
}


def _list_statement(kind: str, table, given: Tuple[str, ...], paging: str):
    """The select of list ``kind`` with the conditions of the ``given`` filters, ordered, paged by bound
    ``lim`` / ``off`` or the keyset (``at``, ``aid``)."""
    filters, order_cols, descending = _LISTS[kind]
    cols = table.c
    time_col, id_col = order_cols(cols)
    return _paged_select(table, [filters[name](cols) for name in given], time_col, id_col, descending,
                         after=(bindparam("at"), bindparam("aid")) if paging == "after" else None,
                         limit=bindparam("lim"), offset=bindparam("off") if paging == "offset" else None)


def _paged_select(table, conds: List, time_col, id_col, descending: bool, after, limit, offset):
    """``select(table)`` where ``conds``, ordered by (``time_col``, ``id_col``) descending or ascending, past
    the keyset ``after`` (``(time, id)`` or None) or skipping ``offset`` rows (or None), at most ``limit`` rows.
    ``after`` / ``limit`` / ``offset`` are values or ``bindparam``s alike (times naive UTC)."""
    conds = list(conds)
    if after is not None:
        at, aid = after
        if descending:
            conds.append(or_(time_col < at, and_(time_col == at, id_col < aid)))
        else:
            conds.append(or_(time_col > at, and_(time_col == at, id_col > aid)))
    order: Sequence = (time_col.desc(), id_col.desc()) if descending else (time_col.asc(), id_col.asc())
    q = select(table).where(*conds).order_by(*order).limit(limit)
    return q if offset is None else q.offset(offset)


def _range_values(prefix: str, rng: Optional[DateRange]) -> Dict[str, object]:
    """A DateRange as the ``<prefix>_start`` / ``<prefix>_end`` parameters (naive UTC; None when unbounded)."""
    if rng is None:
        return {}
    return {f"{prefix}_start": to_naive_utc(rng.start), f"{prefix}_end": to_naive_utc(rng.end)}


def _result(rows: List, page: PageRequest, ident: Callable) -> PageResult:
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    last = (rows[-1].date_created, ident(rows[-1])) if rows else None
    return PageResult(items=rows, has_more=has_more, last_key=last)


def page_rows(engine: Engine, table, conds: List, time_col, id_col, descending: bool, page: PageRequest,
              build: Callable, ident: Callable) -> PageResult:
    """One page of ``table`` rows matching ``conds``, ordered by (``time_col``, ``id_col``), descending or not;
    offset or keyset paging as ``page`` says (the keyset is (date_created, ``ident(row)``)). ``build`` turns a
    row mapping into the item; at most ``page.limit`` items, ``has_more`` when another page follows."""
    after = (to_naive_utc(page.after[0]), page.after[1]) if page.after is not None else None
    q = _paged_select(table, conds, time_col, id_col, descending, after=after, limit=page.limit + 1,
                      offset=page.offset if page.after is None and page.offset else None)
    with engine.connect() as conn:
        rows = [build(m) for m in conn.execute(q).mappings().all()]
    return _result(rows, page, ident)


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
