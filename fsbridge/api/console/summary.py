"""The console's Insights summary page of a finished conference (issue 22): ``/console/conferences/<CF>/summary``
renders the Voice Insights v1 Conference Summary and its Participant Summaries (quality metrics included) —
the same JSON the REST API serves at ``/v1/Conferences/<CF>`` (:mod:`fsbridge.api.insights`), linked from
there. Registered on the console blueprint (same Basic auth, another account's conference → 404). The
finished-conferences list and a finished conference's page link here.
"""
from __future__ import annotations

from flask import g, render_template

from fsbridge.api.console.views import bp
from fsbridge.api.context import ctx
from fsbridge.api.errors import not_found
from fsbridge.api.insights import CONFERENCES, _base, summary
from fsbridge.api.insights_participants import summaries
from fsbridge.store.rows import PageRequest
from fsbridge.store.summary import fetch_summary


@bp.get("/conferences/<sid>/summary")
def conference_summary(sid: str):
    """The Insights summary of one conference (any status; the console links finished ones)."""
    account, store, region, base = g.account_sid, ctx().store, ctx().region, _base()
    found = fetch_summary(store.engine, account, sid)
    if found is None:
        raise not_found()
    parts = store.list_participants(account, sid, include_left=True, page=PageRequest(limit=1000)).items
    people = summaries(store.engine, parts, found.conference, base, region)
    return render_template("console/summary.html", conf=found.conference, summary=summary(found, base, region),
                           participants=people, json_url=f"{base}{CONFERENCES}/{sid}")


__all__ = ["conference_summary"]
