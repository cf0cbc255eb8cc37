"""Per-participant call quality (issue 22): what the engine measured on a call's received audio, kept for the
Insights Conference Participant Summary ``metrics``.

Table ``fsb_participant_quality`` (on :data:`fsbridge.store.db.metadata`): one row per (conference, CallSid),
written once when the call hangs up (a later write replaces it): packets received / lost, jitter avg / max
(ms), latency avg / max (ms), MOS (1–5) — each nullable (an engine reports what it has) — and ``source``
(``freeswitch`` | ``standalone``). Purged with its conference by :mod:`fsbridge.store.retention`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

from sqlalchemy import Column, DateTime, Float, Integer, String, Table, select
from sqlalchemy.engine import Engine

from fsbridge.store.db import metadata, replace_row
from fsbridge.store.rows import naive_utc_now

quality = Table(
    "fsb_participant_quality",
    metadata,
    Column("conference_sid", String(34), primary_key=True),
    Column("call_sid", String(64), primary_key=True),
    Column("account_sid", String(64), nullable=False),
    Column("packets_received", Integer, nullable=True),
    Column("packets_lost", Integer, nullable=True),
    Column("jitter_avg_ms", Float, nullable=True),
    Column("jitter_max_ms", Float, nullable=True),
    Column("latency_avg_ms", Float, nullable=True),
    Column("latency_max_ms", Float, nullable=True),
    Column("mos", Float, nullable=True),
    Column("source", String(16), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)


@dataclass(frozen=True)
class CallQuality:
    """Measured quality of one participant's received audio (units in the module docstring; None: unknown)."""

    packets_received: Optional[int] = None
    packets_lost: Optional[int] = None
    jitter_avg_ms: Optional[float] = None
    jitter_max_ms: Optional[float] = None
    latency_avg_ms: Optional[float] = None
    latency_max_ms: Optional[float] = None
    mos: Optional[float] = None
    source: str = ""

    @property
    def loss_percentage(self) -> Optional[float]:
        """Lost / (received + lost) × 100, or None when either count is unknown (0 when nothing was sent)."""
        if self.packets_received is None or self.packets_lost is None:
            return None
        total = self.packets_received + self.packets_lost
        return round(100.0 * self.packets_lost / total, 2) if total else 0.0


_FIELDS = ("packets_received", "packets_lost", "jitter_avg_ms", "jitter_max_ms", "latency_avg_ms",
           "latency_max_ms", "mos", "source")


def save(engine: Engine, account_sid: str, conference_sid: str, call_sid: str, q: CallQuality,
         rows=None) -> None:
    """Insert or replace the row of (``conference_sid``, ``call_sid``). ``rows``: a
    :class:`fsbridge.store.rowbuffer.RowBuffer` on ``engine`` to write it through (the outbox's group commit,
    issue 21), else in a transaction of its own."""
    key = {"conference_sid": conference_sid, "call_sid": call_sid}
    values = dict(account_sid=account_sid, recorded_at=naive_utc_now(), **{k: getattr(q, k) for k in _FIELDS})
    if rows is not None:
        rows.replace(quality, key, values)
    else:
        replace_row(engine, quality, key, values)


def load(engine: Engine, conference_sid: str, call_sids: Iterable[str]) -> Dict[str, CallQuality]:
    """``{call_sid: CallQuality}`` of the given participants of ``conference_sid`` that have a row."""
    sids = list(call_sids)
    if not sids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(quality).where(quality.c.conference_sid == conference_sid,
                                                  quality.c.call_sid.in_(sids))).mappings().all()
    return {m["call_sid"]: CallQuality(**{k: m[k] for k in _FIELDS}) for m in rows}


def parse_extra(extra: Iterable[Tuple[str, str]], names: Tuple[str, ...], source: str) -> Optional[CallQuality]:
    """A :class:`CallQuality` from NativeEvent ``extra`` pairs named by ``names`` (the seven
    :data:`fsbridge.wire.insights.QUALITY_EXTRAS`, in :class:`CallQuality` field order); None when none is
    present. Malformed numbers are ignored (unknown)."""
    got = dict(extra)
    values = {}
    for field_name, name in zip(_FIELDS[:7], names):
        raw = got.get(name)
        if raw is None:
            continue
        try:
            values[field_name] = int(float(raw)) if field_name.startswith("packets") else float(raw)
        except ValueError:
            continue
    return CallQuality(source=source, **values) if values else None


__all__ = ["CallQuality", "load", "parse_extra", "quality", "save"]
