"""Twilio Voice Insights v1 Conference Summary routes (issue 22): ``GET /v1/Conferences`` and
``GET /v1/Conferences/{ConferenceSid}``, computed from the stored conference history
(:mod:`fsbridge.store.summary`).

Field names, order and enums: the official twilio SDK's ``client.insights.v1.conferences`` model
(:mod:`fsbridge.wire.insights`); docs/insights.md says where each field comes from. Twilio serves Insights
from ``https://insights.twilio.com`` with the account in the Basic credentials (no AccountSid in the path); an
SDK reaches fsbridge with ``client.insights.base_url = <bridge base URL>``. Resource ``url`` / ``links`` and
the page ``meta`` URLs are absolute (as Twilio's; the SDK follows ``meta.next_page_url`` as is), built on the
configured public base URL, else the request's host URL. Times ISO 8601 UTC.

List filters: ConferenceSid, FriendlyName, Status (in_progress | not_started | completed; summary_timeout
matches nothing), CreatedAfter / CreatedBefore (ISO 8601), EndReason (the Insights enum words); MixerRegion
matches the conference's region; Tags and DetectedIssues match nothing (fsbridge detects no issues);
Subaccount other than the caller's matches nothing. Paging: PageSize / Page / PageToken as the 2010 API
(:mod:`fsbridge.api.paging`). Errors: 401 / 20003 without valid credentials, 404 / 20404 for an unknown or
purged conference, 400 / 21201 for a malformed parameter.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, request

from fsbridge.api import paging, params
from fsbridge.api.auth import basic_account
from fsbridge.api.context import ctx
from fsbridge.api.errors import invalid, not_found
from fsbridge.store.rows import DateRange, PageResult, to_utc
from fsbridge.store.summary import ConferenceSummary, fetch_summary, list_summaries
from fsbridge.wire import insights as wi

CONFERENCES = "/v1/Conferences"
CONFERENCE = "/v1/Conferences/<ConferenceSid>"
PARTICIPANTS = "/Participants"

bp = Blueprint("insights_conferences", __name__)


@bp.before_request
def _auth() -> None:
    """Basic auth (AuthToken or API key): the account is the caller's (Insights paths carry no AccountSid)."""
    g.account_sid = basic_account(ctx().accounts, ctx().api_keys)


def _base() -> str:
    base = ctx().base_url or request.host_url
    return base.rstrip("/")


def iso(value: Optional[datetime]) -> Optional[str]:
    """aware/naive-UTC datetime → ``2021-10-08T02:58:51Z``; None stays None."""
    return None if value is None else to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(start: Optional[datetime], end: Optional[datetime]) -> Optional[int]:
    return None if start is None or end is None else max(0, int((end - start).total_seconds()))


def summary(s: ConferenceSummary, base: str, region: str) -> dict:
    """Insights Conference Summary JSON (fields in :data:`fsbridge.wire.insights.CONFERENCE_SUMMARY_FIELDS`)."""
    c = s.conference
    url = f"{base}{CONFERENCES}/{c.sid}"
    ended = c.status == wi.tw.CONF_COMPLETED
    return {
        "conference_sid": c.sid,
        "account_sid": c.account_sid,
        "friendly_name": c.friendly_name,
        "create_time": iso(c.date_created),
        "start_time": iso(c.started_at),
        "end_time": iso(c.ended_at),
        "duration_seconds": _seconds(c.date_created, c.ended_at),
        "connect_duration_seconds": _seconds(c.started_at, c.ended_at),
        "status": wi.STATUS_FROM_CONFERENCE.get(c.status, wi.STATUS_NOT_STARTED),
        "max_participants": None,
        "max_concurrent_participants": s.max_concurrent_participants,
        "unique_participants": s.unique_participants,
        "end_reason": wi.end_reason(c.reason_conference_ended),
        "ended_by": c.call_sid_ending_conference,
        "mixer_region": c.region or region,
        "mixer_region_requested": c.region,
        "recording_enabled": s.recording_enabled,
        "detected_issues": None,
        "tags": None,
        "tag_info": None,
        "processing_state": wi.PROCESSING_COMPLETE if ended else wi.PROCESSING_IN_PROGRESS,
        "url": url,
        "links": {"conference_participants": url + PARTICIPANTS},
    }


def listing(key: str, items: list, path: str, args, page, result):
    """The Insights list response ``{key: items, "meta": {...}}``: page URLs are ``path`` with the request's
    ``args`` (paging parameters replaced); ``page`` is :func:`paging.parse`'s, ``result`` the store's PageResult."""
    kept = [(k, v) for k, v in args.items(multi=True)
            if k not in (paging.PAGE, paging.PAGE_SIZE, paging.PAGE_TOKEN)]

    def url(number: int, token: Optional[str] = None) -> str:
        q = kept + [(paging.PAGE_SIZE, page.page_size), (paging.PAGE, number)]
        if token:
            q.append((paging.PAGE_TOKEN, token))
        return f"{path}?{urlencode(q)}"
    current = paging.encode_token(page.request.after) if page.request.after else None
    return jsonify({
        key: items,
        "meta": {
            "page": page.page,
            "page_size": page.page_size,
            "first_page_url": url(0),
            "previous_page_url": url(page.page - 1) if page.page > 0 else None,
            "url": url(page.page, current),
            "next_page_url": url(page.page + 1, paging.encode_token(result.last_key))
            if result.has_more and result.last_key else None,
            "key": key,
        },
    })


def _time(args, name: str) -> Optional[datetime]:
    raw = params.text(args, name, 64)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(f"{name} must be an ISO 8601 date-time, not {raw[:64]!r}") from None
    return to_utc(value)


def _nothing(args, account_sid: str) -> bool:
    """Filters no fsbridge conference can match (no tags / detected issues, another subaccount, an unknown
    status). The ``MixerRegion`` filter is checked by the caller."""
    if params.text(args, wi.TAGS, 256) or params.text(args, wi.DETECTED_ISSUES, 256):
        return True
    sub = params.text(args, wi.SUBACCOUNT, 64)
    if sub is not None and sub != account_sid:
        return True
    status = params.text(args, wi.STATUS, 32)
    return status is not None and status not in wi.CONFERENCE_FROM_STATUS


@bp.get(CONFERENCES)
def list_conferences():
    """Insights ListConference → ``{"conferences": [...], "meta": {...}}``."""
    args = request.args
    account, region, base = g.account_sid, ctx().region, _base()
    conference_sid = params.text(args, wi.CONFERENCE_SID, 64)
    friendly_name = params.text(args, wi.FRIENDLY_NAME, 128)
    status = params.text(args, wi.STATUS, 32)
    created = DateRange(_time(args, wi.CREATED_AFTER), _time(args, wi.CREATED_BEFORE))
    end_reason = params.text(args, wi.END_REASON, 64)
    mixer_region = params.text(args, wi.MIXER_REGION, 16)
    page = paging.parse(args)
    if _nothing(args, account) or (mixer_region is not None and mixer_region != region):
        result = PageResult(items=[], has_more=False, last_key=None)
    else:
        result = list_summaries(
            ctx().store.engine, account, conference_sid=conference_sid, friendly_name=friendly_name,
            status=wi.CONFERENCE_FROM_STATUS.get(status) if status else None, created=created,
            end_reason=wi.reason_conference_ended(end_reason) if end_reason else None, page=page.request)
    return listing(wi.LIST_KEY, [summary(s, base, region) for s in result.items], f"{base}{CONFERENCES}",
                   args, page, result)


@bp.get(CONFERENCE)
def fetch_conference(ConferenceSid: str):
    """Insights FetchConference: one Conference Summary; 404 when unknown (or purged by retention)."""
    found = fetch_summary(ctx().store.engine, g.account_sid, ConferenceSid)
    if found is None:
        raise not_found()
    return jsonify(summary(found, _base(), ctx().region))


from fsbridge.api import insights_participants  # noqa: E402,F401 - registers the participant routes on bp
