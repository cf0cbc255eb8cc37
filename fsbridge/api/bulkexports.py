"""Twilio Bulk Export v1 routes (issue 22), scoped to the authenticated account (Basic auth, as on
``bulkexports.twilio.com``; an SDK reaches fsbridge with ``client.bulkexports.base_url = <bridge base URL>``):

* ``POST /v1/Exports/{ResourceType}/Jobs`` — CreateExportCustomJob: ``StartDay``, ``EndDay`` (``YYYY-MM-DD``,
  inclusive, the end before today UTC — a day still running cannot be exported exactly; at most
  :data:`MAX_DAYS` days), ``FriendlyName`` (required), ``WebhookUrl`` + ``WebhookMethod`` (both or neither),
  ``Email`` (kept and shown; fsbridge sends no e-mail). 201 with the ExportCustomJob; the job runs in the
  background (:mod:`fsbridge.api.bulkexport_jobs`) and POSTs the signed completion webhook when finished.
* ``GET /v1/Exports/{ResourceType}/Jobs`` — ListExportCustomJob (newest first, ``{"jobs", "meta"}``).
* ``GET /v1/Exports/Jobs/{JobSid}`` — FetchJob.
* ``GET /v1/Exports/{ResourceType}/Days`` — ListDay (``{"days", "meta"}``, newest file first).
* ``GET /v1/Exports/{ResourceType}/Days/{Day}`` — FetchDay: **307** with ``Location`` and
  ``{"redirect_to": …}`` (as Twilio, whose SDK does not follow the redirect) to a signed download link,
  valid :data:`LINK_TTL_S` seconds, that needs no credentials (like Twilio's pre-signed file links).
* ``GET /v1/Exports/{ResourceType}/Days/{Day}/File?Token=…`` — the day's gzip JSON-lines file
  (:mod:`fsbridge.api.export_files`); 404 without a valid, unexpired token.

ResourceType: ``Conferences`` (its file holds that day's Conferences and Participants); any other → 404.
Errors: 401 / 20003 without valid credentials, 404 / 20404, 400 / 21201 for a malformed parameter, 21205 for a
bad WebhookUrl, 503 / 20503 when this API runs no export jobs. Field names: the SDK's models
(:mod:`fsbridge.wire.bulkexports`).
"""
from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from flask import Blueprint, g, jsonify, request, send_file
from itsdangerous import BadSignature, URLSafeTimedSerializer

from fsbridge.api import paging, params
from fsbridge.api.auth import basic_account
from fsbridge.api.context import ctx
from fsbridge.api.errors import UNAVAILABLE, ApiError, invalid, not_found
from fsbridge.api.insights import listing
from fsbridge.conference.ids import new_sid
from fsbridge.store import exports as st
from fsbridge.store.rows import naive_utc_now
from fsbridge.wire import bulkexports as bx

JOBS = "/v1/Exports/<ResourceType>/Jobs"
JOB = "/v1/Exports/Jobs/<JobSid>"
DAYS = "/v1/Exports/<ResourceType>/Days"
DAY = "/v1/Exports/<ResourceType>/Days/<Day>"
FILE = "/v1/Exports/<ResourceType>/Days/<Day>/File"
MAX_DAYS = 366
LINK_TTL_S = 3600
_SALT = "fsbridge.bulkexport.download"
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

bp = Blueprint("bulkexports", __name__)


@bp.before_request
def _auth() -> None:
    """Basic auth for every route except the signed file download."""
    if request.endpoint != f"{bp.name}.download_day":
        g.account_sid = basic_account(ctx().accounts, ctx().api_keys)


def _base() -> str:
    return (ctx().base_url or request.host_url).rstrip("/")


def _resource(resource_type: str) -> str:
    if resource_type not in bx.RESOURCE_TYPES:
        raise not_found()
    return resource_type


def _day(raw: Optional[str], name: str) -> date:
    if raw is None:
        raise invalid(f"{name} is required")
    try:
        if not _DAY_RE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid(f"{name} must be a day YYYY-MM-DD, not {raw[:40]!r}") from None


def details(job: st.ExportJob) -> list:
    """The job's ``details``: status groups ``{"status", "count", "days"}`` — days written under Completed, the
    others under the job's own status (Submitted / Running / Failed)."""
    from fsbridge.api.bulkexport_jobs import day_range
    done = list(job.days_done)
    rest = [d for d in day_range(job.start_day, job.end_day) if d not in set(done)]
    groups = []
    if done:
        groups.append({"status": bx.COMPLETED if job.status != bx.COMPLETED_EMPTY else bx.COMPLETED_EMPTY,
                       "count": len(done), "days": done})
    if rest:
        groups.append({"status": job.status if job.status not in (bx.COMPLETED, bx.COMPLETED_EMPTY)
                       else bx.FAILED, "count": len(rest), "days": rest})
    return groups


def render_job(job: st.ExportJob) -> dict:
    """ExportCustomJob JSON (:data:`fsbridge.wire.bulkexports.JOB_FIELDS`)."""
    return {"friendly_name": job.friendly_name, "resource_type": job.resource_type, "start_day": job.start_day,
            "end_day": job.end_day, "webhook_url": job.webhook_url, "webhook_method": job.webhook_method,
            "email": job.email, "job_sid": job.job_sid, "details": details(job),
            "job_queue_position": None, "estimated_completion_time": None}


def render_day(d: st.ExportDay, redirect_to: Optional[str] = None) -> dict:
    """Day JSON (:data:`fsbridge.wire.bulkexports.DAY_FIELDS`); ``redirect_to`` only on a fetch."""
    return {"redirect_to": redirect_to, "day": d.day, "size": d.size, "create_date": d.create_date.date().isoformat(),
            "friendly_name": d.friendly_name, "resource_type": d.resource_type}


@bp.post(JOBS)
def create_job(ResourceType: str):
    """CreateExportCustomJob → 201 and the job; the export runs in the background."""
    resource = _resource(ResourceType)
    form = request.form
    start, end = _day(form.get(bx.START_DAY), bx.START_DAY), _day(form.get(bx.END_DAY), bx.END_DAY)
    name = params.text(form, bx.FRIENDLY_NAME, 255)
    if not name:
        raise invalid(f"{bx.FRIENDLY_NAME} is required")
    today = datetime.now(timezone.utc).date()
    if end < start:
        raise invalid(f"{bx.END_DAY} must not be before {bx.START_DAY}")
    if end >= today:
        raise invalid(f"{bx.END_DAY} must be a finished UTC day (before {today.isoformat()})")
    if (end - start).days + 1 > MAX_DAYS:
        raise invalid(f"A job covers at most {MAX_DAYS} days")
    hook, method = params.url(form, bx.WEBHOOK_URL), params.method(form, bx.WEBHOOK_METHOD)
    if (hook is None) != (method is None):
        raise invalid(f"{bx.WEBHOOK_URL} and {bx.WEBHOOK_METHOD} must be given together")
    runner = ctx().exports
    if runner is None:
        raise ApiError(503, UNAVAILABLE, "This bridge runs no export jobs")
    job = st.ExportJob(job_sid=new_sid("JS"), account_sid=g.account_sid, resource_type=resource,
                       friendly_name=name, start_day=start.isoformat(), end_day=end.isoformat(),
                       webhook_url=hook, webhook_method=method, email=params.text(form, bx.EMAIL, 255),
                       status=bx.SUBMITTED, date_created=naive_utc_now())
    st.add_job(ctx().store.engine, job)
    runner.submit(job)
    return jsonify(render_job(job)), 201


@bp.get(JOBS)
def list_jobs(ResourceType: str):
    """ListExportCustomJob → ``{"jobs": [...], "meta": {...}}``, newest first."""
    resource, page = _resource(ResourceType), paging.parse(request.args)
    result = st.list_jobs(ctx().store.engine, g.account_sid, resource, page.request)
    return listing(bx.JOBS_KEY, [render_job(j) for j in result.items],
                   f"{_base()}/v1/Exports/{resource}/Jobs", request.args, page, result)


@bp.get(JOB)
def fetch_job(JobSid: str):
    """FetchJob (the Job resource); 404 for another account's or an unknown job."""
    job = st.get_job(ctx().store.engine, JobSid)
    if job is None or job.account_sid != g.account_sid:
        raise not_found()
    out = render_job(job)
    return jsonify({k: out.get(k) for k in bx.JOB_RESOURCE_FIELDS if k != "url"}
                   | {"url": f"{_base()}/v1/Exports/Jobs/{job.job_sid}"})


@bp.get(DAYS)
def list_days(ResourceType: str):
    """ListDay → ``{"days": [...], "meta": {...}}``."""
    resource, page = _resource(ResourceType), paging.parse(request.args)
    result = st.list_days(ctx().store.engine, g.account_sid, resource, page.request)
    items = [{k: v for k, v in render_day(d).items() if k != "redirect_to"} for d in result.items]
    return listing(bx.DAYS_KEY, items, f"{_base()}/v1/Exports/{resource}/Days", request.args, page, result)


def _serializer(account_sid: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx().accounts[account_sid], salt=_SALT)


@bp.get(DAY)
def fetch_day(ResourceType: str, Day: str):
    """FetchDay → 307 to the signed download link, ``{"redirect_to": link, …}``; 404 when no file."""
    resource = _resource(ResourceType)
    d = st.get_day(ctx().store.engine, g.account_sid, resource, _day(Day, "Day").isoformat())
    if d is None or g.account_sid not in ctx().accounts:
        raise not_found()
    token = _serializer(g.account_sid).dumps([g.account_sid, resource, d.day])
    link = f"{_base()}/v1/Exports/{resource}/Days/{d.day}/File?{bx.DOWNLOAD_TOKEN}={token}"
    response = jsonify(render_day(d, link))
    response.status_code = 307
    response.headers["Location"] = link
    return response


@bp.get(FILE)
def download_day(ResourceType: str, Day: str):
    """The day file, for a valid unexpired token (no credentials); 404 otherwise."""
    token = request.args.get(bx.DOWNLOAD_TOKEN, "")[:2000]
    try:
        _, claimed = URLSafeTimedSerializer("unused", salt=_SALT).loads_unsafe(token)
        account = claimed[0] if isinstance(claimed, list) and len(claimed) == 3 else None
        if account not in ctx().accounts:
            raise BadSignature("unknown account")
        got = _serializer(account).loads(token, max_age=LINK_TTL_S)
    except (BadSignature, TypeError, ValueError):
        raise not_found() from None
    if got != [account, ResourceType, Day]:
        raise not_found()
    d = st.get_day(ctx().store.engine, account, ResourceType, Day)
    if d is None or not os.path.isfile(d.path):
        raise not_found()
    return send_file(d.path, mimetype="application/gzip", as_attachment=True, download_name=f"{Day}.jsonl.gz",
                     max_age=0)


__all__ = ["bp", "render_day", "render_job", "LINK_TTL_S", "MAX_DAYS"]
