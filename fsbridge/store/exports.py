"""Bulk Export bookkeeping (issue 22): export jobs and the day files they produced, per account.

Tables on :data:`fsbridge.store.db.metadata` (created by ``Store.create_all``; SQLite and PostgreSQL):

* ``fsb_export_jobs``: one row per ExportCustomJob (``JS…``): the request (resource type, friendly name,
  start/end day ``YYYY-MM-DD``, webhook URL/method, email), its ``status`` (Submitted | Running | Completed |
  CompletedEmptyRecords | Failed, :mod:`fsbridge.wire.bulkexports`), the days done so far (JSON list) and
  ``date_created`` (naive UTC).
* ``fsb_export_days``: one row per (account, resource type, day) file: ``size`` (bytes), ``path`` (the gzip
  JSON-lines file), ``create_date`` (naive UTC), the ``friendly_name`` and ``job_sid`` of the job that last
  wrote it. A later job for the same day replaces the row (and the file).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import List, Optional

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine

from fsbridge.store.db import metadata, replace_row
from fsbridge.store.queries import page_rows
from fsbridge.store.rows import PageRequest, PageResult

jobs = Table(
    "fsb_export_jobs",
    metadata,
    Column("job_sid", String(34), primary_key=True),
    Column("account_sid", String(64), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("friendly_name", String(255), nullable=False),
    Column("start_day", String(10), nullable=False),
    Column("end_day", String(10), nullable=False),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_method", String(8), nullable=True),
    Column("email", String(255), nullable=True),
    Column("status", String(32), nullable=False),
    Column("days_done", Text, nullable=False, default="[]"),
    Column("error", Text, nullable=True),
    Column("date_created", DateTime, nullable=False),
)
Index("ix_fsb_export_jobs_account", jobs.c.account_sid, jobs.c.resource_type, jobs.c.date_created)

days = Table(
    "fsb_export_days",
    metadata,
    Column("account_sid", String(64), primary_key=True),
    Column("resource_type", String(32), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("friendly_name", String(255), nullable=False),
    Column("job_sid", String(34), nullable=False),
    Column("create_date", DateTime, nullable=False),
)


@dataclass(frozen=True)
class ExportJob:
    """One ``fsb_export_jobs`` row; ``days_done``: the days written so far, in order."""

    job_sid: str
    account_sid: str
    resource_type: str
    friendly_name: str
    start_day: str
    end_day: str
    webhook_url: Optional[str]
    webhook_method: Optional[str]
    email: Optional[str]
    status: str
    date_created: datetime
    days_done: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @classmethod
    def from_mapping(cls, m) -> "ExportJob":
        """Build from a row mapping."""
        values = {k: m[k] for k in cls.__dataclass_fields__ if k != "days_done"}
        return cls(days_done=json.loads(m["days_done"] or "[]"), **values)


@dataclass(frozen=True)
class ExportDay:
    """One ``fsb_export_days`` row."""

    account_sid: str
    resource_type: str
    day: str
    size: int
    path: str
    friendly_name: str
    job_sid: str
    create_date: datetime

    @property
    def date_created(self) -> datetime:
        """The keyset time of the Days list (its ``create_date``)."""
        return self.create_date

    @classmethod
    def from_mapping(cls, m) -> "ExportDay":
        """Build from a row mapping."""
        return cls(**{k: m[k] for k in cls.__dataclass_fields__})


def add_job(engine: Engine, job: ExportJob) -> None:
    """Insert a new job row."""
    values = {k: getattr(job, k) for k in ExportJob.__dataclass_fields__ if k != "days_done"}
    with engine.begin() as conn:
        conn.execute(insert(jobs).values(days_done=json.dumps(job.days_done), **values))


def get_job(engine: Engine, job_sid: str) -> Optional[ExportJob]:
    """The job ``job_sid``, or None."""
    with engine.connect() as conn:
        m = conn.execute(select(jobs).where(jobs.c.job_sid == job_sid)).mappings().first()
    return ExportJob.from_mapping(m) if m else None


def set_job(engine: Engine, job_sid: str, *, status: str, days_done: List[str],
            error: Optional[str] = None) -> None:
    """Record a job's progress: ``status`` and the days written so far."""
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.job_sid == job_sid).values(
            status=status, days_done=json.dumps(list(days_done)), error=error))


def open_jobs(engine: Engine, final: tuple) -> List[ExportJob]:
    """Jobs whose status is not in ``final`` (to resume after a restart), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.status.notin_(final))
                            .order_by(jobs.c.date_created, jobs.c.job_sid)).mappings().all()
    return [ExportJob.from_mapping(m) for m in rows]


def list_jobs(engine: Engine, account_sid: str, resource_type: str,
              page: PageRequest = PageRequest()) -> PageResult[ExportJob]:
    """The account's jobs of ``resource_type``, newest first."""
    conds = [jobs.c.account_sid == account_sid, jobs.c.resource_type == resource_type]
    return page_rows(engine, jobs, conds, jobs.c.date_created, jobs.c.job_sid, True, page,
                     ExportJob.from_mapping, lambda j: j.job_sid)


def put_day(engine: Engine, day: ExportDay) -> None:
    """Insert or replace the (account, resource type, day) file row."""
    key = ("account_sid", "resource_type", "day")
    replace_row(engine, days, {k: getattr(day, k) for k in key},
                {k: getattr(day, k) for k in ExportDay.__dataclass_fields__ if k not in key})


def get_day(engine: Engine, account_sid: str, resource_type: str, day: str) -> Optional[ExportDay]:
    """The account's file row for ``day``, or None."""
    with engine.connect() as conn:
        m = conn.execute(select(days).where(days.c.account_sid == account_sid, days.c.resource_type == resource_type,
                                            days.c.day == day)).mappings().first()
    return ExportDay.from_mapping(m) if m else None


def list_days(engine: Engine, account_sid: str, resource_type: str,
              page: PageRequest = PageRequest()) -> PageResult[ExportDay]:
    """The account's day files of ``resource_type``, newest written first."""
    conds = [days.c.account_sid == account_sid, days.c.resource_type == resource_type]
    return page_rows(engine, days, conds, days.c.create_date, days.c.day, True, page,
                     ExportDay.from_mapping, lambda d: d.day)


__all__ = ["ExportDay", "ExportJob", "add_job", "get_day", "get_job", "list_days", "list_jobs", "open_jobs",
           "put_day", "set_job", "jobs", "days"]
