"""Twilio Conference resource routes (2010-04-01): list, fetch, update (end / announce).

* ``GET Conferences.json`` — filters FriendlyName, Status (init|in-progress|completed), DateCreated /
  DateCreated< / DateCreated>, DateUpdated (same forms); paging (fsbridge.api.paging). Newest first.
* ``GET Conferences/{Sid}.json``.
* ``POST Conferences/{Sid}.json`` — ``Status=completed`` ends the conference (reason
  conference-ended-via-api); ``AnnounceUrl`` (+ ``AnnounceMethod`` GET|POST, default POST) plays to the
  whole room. Ending a completed conference or announcing into it → 409 / 21220. Returns the conference
  re-read from the store.
Source: ../shared/seeds/twilio-conference-resource.txt and the spec's ListConference / FetchConference /
UpdateConference operations.
"""
from __future__ import annotations

from flask import Blueprint, g, request

from fsbridge.api import paging, params, paths, render
from fsbridge.api.context import conference_or_404, ctx, live_control
from fsbridge.api.errors import conflict
from fsbridge.wire.twilio import (ANNOUNCE_METHOD, ANNOUNCE_URL, CONF_COMPLETED, CONFERENCE_STATUSES,
                                  CONFERENCE_UPDATE_STATUSES, DATE_CREATED, DATE_UPDATED, FRIENDLY_NAME, STATUS)

bp = Blueprint("twilio_conferences", __name__)


def list_page(account_sid: str, args, path: str, render_one) -> dict:
    """Shared by the Twilio and Telnyx list routes: parse filters + paging from ``args`` and return the
    page envelope for ``path`` with each conference rendered by ``render_one``."""
    friendly_name = params.text(args, FRIENDLY_NAME, 128)
    status = params.choice(args, STATUS, CONFERENCE_STATUSES)
    created = params.date_filter(args, DATE_CREATED)
    updated = params.date_filter(args, DATE_UPDATED)
    page = paging.parse(args)
    result = ctx().store.list_conferences(account_sid, friendly_name=friendly_name, status=status,
                                          created=created, updated=updated, page=page.request)
    kept = {k: v for k, v in args.items(multi=True)
            if k in (FRIENDLY_NAME, STATUS) or k.startswith((DATE_CREATED, DATE_UPDATED))}
    return paging.envelope(path, kept, page, result, "conferences", render_one)


def update(account_sid: str, conference_sid: str, form) -> None:
    """Shared by the Twilio and Telnyx update routes: Status=completed and/or AnnounceUrl/AnnounceMethod."""
    row = conference_or_404(account_sid, conference_sid)
    status = params.choice(form, STATUS, CONFERENCE_UPDATE_STATUSES)
    announce_url = params.url(form, ANNOUNCE_URL)
    announce_method = params.method(form, ANNOUNCE_METHOD) or "POST"
    if (status or announce_url) and row.status == CONF_COMPLETED:
        raise conflict(f"Conference {conference_sid} is already completed")
    if announce_url:
        with live_control() as control:
            control.announce(account_sid, conference_sid, announce_url, announce_method)
    if status == CONF_COMPLETED:
        with live_control() as control:
            control.end_conference(account_sid, conference_sid)


@bp.get(paths.rule(paths.TW_CONFERENCES))
def list_conferences(AccountSid: str):
    """Twilio ListConference → ``{"conferences": [...], <paging fields>}``."""
    region = ctx().region
    return render.json_response(list_page(g.account_sid, request.args, paths.build(paths.TW_CONFERENCES,
                                                                      AccountSid=AccountSid),
                             lambda r: render.conference(r, region)))


@bp.get(paths.rule(paths.TW_CONFERENCE))
def fetch_conference(AccountSid: str, Sid: str):
    """Twilio FetchConference."""
    return render.json_response(render.conference(conference_or_404(g.account_sid, Sid), ctx().region))


@bp.post(paths.rule(paths.TW_CONFERENCE))
def update_conference(AccountSid: str, Sid: str):
    """Twilio UpdateConference: Status=completed and/or AnnounceUrl/AnnounceMethod."""
    update(g.account_sid, Sid, request.form)
    return render.json_response(render.conference(conference_or_404(g.account_sid, Sid), ctx().region))
