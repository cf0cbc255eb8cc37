"""fsbridge.store: conference / participant / recording history (SQLAlchemy Core; SQLite or PostgreSQL).

``Store(make_engine(url))`` — see :mod:`fsbridge.store.store`; row types in :mod:`fsbridge.store.rows`.
"""
from fsbridge.store.rows import ConferenceRow, DateRange, PageRequest, PageResult, ParticipantRow, RecordingRow
from fsbridge.store.store import Store

__all__ = ["Store", "ConferenceRow", "ParticipantRow", "RecordingRow", "PageRequest", "PageResult",
           "DateRange"]
from fsbridge.store import exports as _exports  # noqa: E402,F401 - Bulk Export tables on the shared metadata (#22)
from fsbridge.store import quality as _quality  # noqa: E402,F401 - participant quality table (#22)
from fsbridge.store import participant_events as _participant_events  # noqa: E402,F401 - Insights events (#22)
