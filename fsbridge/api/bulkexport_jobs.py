"""Bulk Export jobs run in the background (issue 22): each day of a job's StartDay..EndDay range becomes one
day file (:func:`fsbridge.api.export_files.export_day`, only the job's account), then the completion webhook
goes through the durable callback outbox (:meth:`fsbridge.callbacks.dispatcher.Dispatcher.enqueue`,
signed with the account's AuthToken).

``ExportRunner(engine, out_dir, dispatcher=None, region="us1", spawn=gevent.spawn)``:

* ``submit(job)`` records nothing itself (the route stored the job) and starts one greenlet for it; days are
  written in order, the job row updated after each (``Running``, days done), then ``Completed`` — or
  ``CompletedEmptyRecords`` when no day had a record — or ``Failed`` (error kept, webhook still sent);
* ``resume()`` (at server start) submits every job not finished yet: an interrupted job is redone;
* ``wait(job_sid, timeout)`` → True once the job is finished (tests, the CLI).

Files: ``out_dir/<AccountSid>/<ResourceType>/<YYYY-MM-DD>.jsonl.gz`` (a later job for the same day replaces
it). Between days the greenlet yields (``gevent.sleep(0)``), so a long job never holds the hub.
"""
from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from typing import Callable, Dict, List, Optional

import gevent
import gevent.event

from fsbridge.api.export_files import export_day
from fsbridge.callbacks.insights import export_webhook
from fsbridge.store import exports as st
from fsbridge.store.rows import naive_utc_now
from fsbridge.wire import bulkexports as bx

log = logging.getLogger("fsbridge.bulkexport")


def day_range(start_day: str, end_day: str) -> List[str]:
    """Every ``YYYY-MM-DD`` from ``start_day`` to ``end_day`` inclusive."""
    first, last = date.fromisoformat(start_day), date.fromisoformat(end_day)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _gzip_has_records(path: str) -> bool:
    import gzip
    with gzip.open(path, "rb") as f:
        return bool(f.read(1))


class ExportRunner:
    """Runs export jobs in greenlets (see the module docstring)."""

    def __init__(self, engine, out_dir: str, dispatcher=None, region: str = "us1",
                 spawn: Callable = gevent.spawn) -> None:
        self.engine = engine
        self.out_dir = out_dir
        self.dispatcher = dispatcher
        self.region = region
        self.spawn = spawn
        self._done: Dict[str, gevent.event.Event] = {}

    def submit(self, job: st.ExportJob) -> None:
        """Run ``job`` in a new greenlet."""
        self._done.setdefault(job.job_sid, gevent.event.Event())
        self.spawn(self._run, job)

    def resume(self) -> int:
        """Submit every unfinished job (after a restart); return how many."""
        pending = st.open_jobs(self.engine, bx.FINAL)
        for job in pending:
            self.submit(job)
        return len(pending)

    def wait(self, job_sid: str, timeout: Optional[float] = None) -> bool:
        """True once ``job_sid`` finished (in this process) within ``timeout`` seconds."""
        event = self._done.setdefault(job_sid, gevent.event.Event())
        return event.wait(timeout)

    def path(self, account_sid: str, resource_type: str, day: str) -> str:
        """Where the day file of that account lives."""
        return os.path.join(self.out_dir, account_sid, resource_type, f"{day}.jsonl.gz")

    def _run(self, job: st.ExportJob) -> None:
        done: List[str] = []
        status, error, any_records = bx.FAILED, None, False
        try:
            st.set_job(self.engine, job.job_sid, status=bx.RUNNING, days_done=done)
            for day in day_range(job.start_day, job.end_day):
                target = self.path(job.account_sid, job.resource_type, day)
                path = export_day(self.engine, date.fromisoformat(day), os.path.dirname(target),
                                  account=job.account_sid, region=self.region, name=os.path.basename(target))
                any_records = any_records or _gzip_has_records(path)
                st.put_day(self.engine, st.ExportDay(
                    account_sid=job.account_sid, resource_type=job.resource_type, day=day,
                    size=os.path.getsize(path), path=path, friendly_name=job.friendly_name, job_sid=job.job_sid,
                    create_date=naive_utc_now()))
                done.append(day)
                st.set_job(self.engine, job.job_sid, status=bx.RUNNING, days_done=done)
                gevent.sleep(0)
            status = bx.COMPLETED if any_records else bx.COMPLETED_EMPTY
        except Exception as exc:   # noqa: BLE001 - a failed job is reported, never a crashed server
            log.exception("bulk export job %s failed", job.job_sid)
            error = f"{type(exc).__name__}: {exc}"
        st.set_job(self.engine, job.job_sid, status=status, days_done=done, error=error)
        if job.webhook_url and self.dispatcher is not None:
            self.dispatcher.enqueue(export_webhook(
                account_sid=job.account_sid, job_sid=job.job_sid, resource_type=job.resource_type,
                friendly_name=job.friendly_name, start_day=job.start_day, end_day=job.end_day, status=status,
                days=done, url=job.webhook_url, method=job.webhook_method or "POST"))
        log.info("bulk export job %s %s (%d day(s))", job.job_sid, status, len(done))
        self._done.setdefault(job.job_sid, gevent.event.Event()).set()


__all__ = ["ExportRunner", "day_range"]
