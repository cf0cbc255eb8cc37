"""Conference log retention (issue 22): rows older than the configured retention are purged, in small batches.

Twilio keeps Conferences and Participants retrievable through GET for thirteen months after creation
(../shared/seeds/twilio-conference-resource.txt, "Conference Log Retention"); fsbridge does the same with a
configurable retention (``[retention] months = 13``; 0 keeps everything). A purged record is gone from the
database, so GET answers 404 exactly as for an unknown Sid.

:func:`purge` removes, oldest first, *completed* conferences whose ``date_created`` is before the cutoff,
with everything hanging off them: participants, recordings (rows **and** their audio files), quality and
participant-event rows, applied-event marks and the kept callback configuration. A conference still ``init`` /
``in-progress`` is never touched (it is live, or waits for start-up reconciliation). Delivered / failed callback-outbox rows created before
the cutoff go too (open ones never). Each batch of ``batch`` conferences is one short transaction; between
batches ``pause()`` runs (``gevent.sleep(0)`` in the server: live traffic gets the hub back), so a purge of a
large backlog never holds the database or the hub for long.
"""
from __future__ import annotations

import logging
import os
from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from fsbridge.store import tables as t
from fsbridge.store.participant_events import events as participant_events
from fsbridge.store.quality import quality
from fsbridge.store.rows import to_naive_utc
from fsbridge.wire.twilio import CONF_COMPLETED

log = logging.getLogger("fsbridge.store.retention")

#: Twilio's conference log retention, in months
DEFAULT_MONTHS = 13
_COMPLETED = t.conferences.c.status == CONF_COMPLETED


def months_before(now: datetime, months: int) -> datetime:
    """``now`` minus ``months`` calendar months (day clamped to the target month's length), naive UTC."""
    now = to_naive_utc(now)
    total = now.year * 12 + (now.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    day = min(now.day, monthrange(year, month)[1])
    return now.replace(year=year, month=month, day=day)


@dataclass
class PurgeResult:
    """Counts of what one :func:`purge` removed (rows, and audio files unlinked)."""

    conferences: int = 0
    participants: int = 0
    recordings: int = 0
    files: int = 0
    callbacks: int = 0


def purge(engine: Engine, cutoff: datetime, *, batch: int = 50, pause: Callable[[], None] = lambda: None,
          remove_file: Callable[[str], None] = os.remove) -> PurgeResult:
    """Delete completed conferences created before ``cutoff`` (aware or naive UTC) and their participants,
    recordings (rows and files), applied-event marks and callback configurations, plus finished
    callback-outbox rows created before it. ``batch``: conferences per transaction; ``pause()`` runs between
    transactions. A recording file already missing is fine; another OS error on a file is logged and the
    row is removed anyway (the record is past its retention). Returns the counts."""
    cutoff = to_naive_utc(cutoff)
    c, p, r = t.conferences, t.participants, t.recordings
    out = PurgeResult()
    while True:
        with engine.begin() as conn:
            sids = list(conn.execute(select(c.c.sid).where(_COMPLETED, c.c.date_created < cutoff)
                                     .order_by(c.c.date_created).limit(batch)).scalars())
            if not sids:
                break
            paths = [x for x in conn.execute(select(r.c.path).where(r.c.conference_sid.in_(sids))).scalars() if x]
            out.recordings += conn.execute(delete(r).where(r.c.conference_sid.in_(sids))).rowcount or 0
            out.participants += conn.execute(delete(p).where(p.c.conference_sid.in_(sids))).rowcount or 0
            conn.execute(delete(t.applied_events).where(t.applied_events.c.conference_sid.in_(sids)))
            conn.execute(delete(quality).where(quality.c.conference_sid.in_(sids)))
            conn.execute(delete(participant_events).where(participant_events.c.conference_sid.in_(sids)))
            conn.execute(delete(t.conference_callbacks).where(t.conference_callbacks.c.sid.in_(sids)))
            out.conferences += conn.execute(delete(c).where(c.c.sid.in_(sids))).rowcount or 0
        for path in paths:
            try:
                remove_file(path)
                out.files += 1
            except FileNotFoundError:
                pass
            except OSError:
                log.warning("retention: could not remove %s", path, exc_info=True)
        pause()
    out.callbacks = _purge_outbox(engine, cutoff, batch * 10, pause)
    return out


def _purge_outbox(engine: Engine, cutoff: datetime, batch: int, pause: Callable[[], None]) -> int:
    """Finished outbox rows (delivered / failed) created before ``cutoff``, ``batch`` ids per transaction."""
    from fsbridge.store.db import metadata

    box = metadata.tables.get("callback_outbox")
    if box is None:   # the callbacks package is not loaded: no outbox table here
        return 0
    before = cutoff.replace(tzinfo=timezone.utc).timestamp()
    done = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(select(box.c.id).where(box.c.state.in_(("delivered", "failed")),
                                                           box.c.created_at < before).limit(batch)).scalars())
            if not ids:
                return done
            done += conn.execute(delete(box).where(box.c.id.in_(ids))).rowcount or 0
        pause()


class RetentionPurger:
    """Runs :func:`purge` every ``interval`` seconds with the cutoff ``months`` before ``clock()``.

    ``start()`` spawns a gevent greenlet (first purge at once); ``stop()`` kills it. ``months`` 0 → never
    purges. ``run_once()`` does one purge now and returns its :class:`PurgeResult` (None when disabled).
    """

    def __init__(self, engine: Engine, months: int = DEFAULT_MONTHS, interval: float = 3600.0, *,
                 batch: int = 50, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.engine = engine
        self.months = months
        self.interval = interval
        self.batch = batch
        self.clock = clock
        self._greenlet = None

    def run_once(self) -> Optional[PurgeResult]:
        """One purge with cutoff ``months`` before now; None when retention is disabled (months 0)."""
        if self.months <= 0:
            return None
        import gevent

        result = purge(self.engine, months_before(self.clock(), self.months), batch=self.batch,
                       pause=lambda: gevent.sleep(0))
        if result.conferences or result.callbacks:
            log.info("retention purge: %s", result)
        return result

    def _loop(self) -> None:
        import gevent

        while True:
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed purge is retried at the next interval
                log.warning("retention purge failed", exc_info=True)
            gevent.sleep(self.interval)

    def start(self) -> "RetentionPurger":
        """Start the periodic purge (no-op when disabled)."""
        if self.months > 0 and self._greenlet is None:
            import gevent

            self._greenlet = gevent.spawn(self._loop)
        return self

    def stop(self) -> None:
        """Stop the periodic purge."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None


__all__ = ["DEFAULT_MONTHS", "PurgeResult", "RetentionPurger", "months_before", "purge"]
