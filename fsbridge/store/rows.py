"""What :class:`fsbridge.store.store.Store` queries return: frozen snapshots of table rows.

Times are timezone-aware UTC ``datetime``s (the tables hold naive UTC). Field names are the column names of
:mod:`fsbridge.store.tables`; the API renders them into Twilio's / Telnyx's wire names.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Generic, List, Mapping, Optional, Tuple, TypeVar


def to_utc(value: Optional[datetime]) -> Optional[datetime]:
    """Naive-UTC (as stored) or aware datetime → aware UTC datetime; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def to_naive_utc(value: Optional[datetime]) -> Optional[datetime]:
    """Aware (any zone) or naive-UTC datetime → naive UTC, the form the tables hold."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def naive_utc_now() -> datetime:
    """The current time as the tables hold it: naive ``datetime`` in UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@lru_cache(maxsize=None)   # one entry per row class
def _field_names(cls) -> Tuple[str, ...]:
    """The dataclass ``cls``'s field names, computed once per class (``dataclasses.fields()`` per row was a
    tenth of a list page's CPU)."""
    return tuple(f.name for f in fields(cls))


class _FromRow:
    """Mixin: build the dataclass from a SQLAlchemy row mapping, converting DateTime columns to aware UTC."""

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]):
        """``row``: ``Row._mapping`` of the matching table; unknown columns are ignored."""
        values = {}
        for name in _field_names(cls):
            v = row[name]
            values[name] = to_utc(v) if isinstance(v, datetime) else v
        return cls(**values)


@dataclass(frozen=True)
class ConferenceRow(_FromRow):
    """One conference instance. ``status``: init | in-progress | completed (Twilio conference_enum_status)."""

    sid: str
    account_sid: str
    friendly_name: str
    status: str
    dialect: str
    region: Optional[str]
    reason_conference_ended: Optional[str]
    call_sid_ending_conference: Optional[str]
    participant_label_ending_conference: Optional[str]
    date_created: datetime
    date_updated: datetime
    started_at: Optional[datetime]
    ended_at: Optional[datetime]
    last_sequence: int


@dataclass(frozen=True)
class ParticipantRow(_FromRow):
    """One participant (a call in a conference), kept after it left (``left_at`` set).

    ``status``: Twilio participant_enum_status (queued|connecting|ringing|connected|complete|failed).
    ``beep``: Twilio beep mode string. ``from_``/``to``: the call's From/To.
    """

    conference_sid: str
    call_sid: str
    account_sid: str
    label: Optional[str]
    muted: bool
    hold: bool
    coaching: bool
    call_sid_to_coach: Optional[str]
    end_conference_on_exit: bool
    start_conference_on_enter: bool
    beep: str
    status: str
    from_: str
    to: str
    date_created: datetime
    date_updated: datetime
    left_at: Optional[datetime]
    last_sequence: int

    @property
    def present(self) -> bool:
        """True while the call is still in the conference."""
        return self.left_at is None


@dataclass(frozen=True)
class RecordingRow(_FromRow):
    """One conference recording. ``status``: Twilio conference_recording_enum_status
    (in-progress|paused|stopped|processing|completed|absent). ``duration_s``: whole seconds;
    ``file_size``: bytes; ``path``: local audio file (WAV)."""

    sid: str
    account_sid: str
    conference_sid: str
    call_sid: Optional[str]
    status: str
    path: str
    start_time: Optional[datetime]
    duration_s: Optional[int]
    file_size: Optional[int]
    channels: int
    source: str
    error_code: Optional[int]
    date_created: datetime
    date_updated: datetime
    last_sequence: int


T = TypeVar("T")

# A keyset position: (date_created as aware UTC datetime, primary id) of the last item of a page.
PageKey = Tuple[datetime, str]


@dataclass(frozen=True)
class PageRequest:
    """Which slice of a list to read: ``limit`` items, skipping ``offset`` — or, when ``after`` is given,
    the items that follow that keyset position (Twilio PageToken) in the list's order."""

    limit: int = 50
    offset: int = 0
    after: Optional[PageKey] = None


@dataclass(frozen=True)
class PageResult(Generic[T]):
    """``items`` of one page; ``has_more``: another page follows; ``last_key``: keyset of the last item."""

    items: List[T]
    has_more: bool
    last_key: Optional[PageKey]


@dataclass(frozen=True)
class DateRange:
    """Half-open UTC interval [``start``, ``end``); either bound may be None (unbounded)."""

    start: Optional[datetime] = None
    end: Optional[datetime] = None
