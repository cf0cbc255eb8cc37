"""Twilio Voice Insights v1 Conference Participant Summary routes (issue 22):
``GET /v1/Conferences/{ConferenceSid}/Participants`` and ``…/Participants/{ParticipantSid}``, from the stored
participant rows. Registered on :data:`fsbridge.api.insights.bp` (same auth, base URL and paging).

fsbridge has no participant Sid of its own (Twilio's ``CP…``): ``participant_sid`` is the participant's
CallSid, and the fetch route takes the CallSid. Fields: the SDK's ``ConferenceParticipantInstance``
(:data:`fsbridge.wire.insights.PARTICIPANT_SUMMARY_FIELDS`); sources in docs/insights.md; the ones in
:data:`~fsbridge.wire.insights.PARTICIPANT_NO_SOURCE` (call direction, country …) are null; ``metrics`` come
from the call's measured quality (:mod:`fsbridge.store.quality`), ``events`` from
:mod:`fsbridge.store.participant_events`, ``properties`` from the participant row.
List: join order; ``ParticipantSid`` / ``Label`` narrow it to that one participant (a label: the present one,
else the most recent); ``Events`` (mute, unmute, hold, unhold; space/comma separated) keeps the participants
that had any of them.
"""
from __future__ import annotations

from typing import List, Optional

from flask import g, jsonify, request

from fsbridge.api import paging, params
from fsbridge.api.context import ctx
from fsbridge.api.errors import not_found
from fsbridge.api.insights import CONFERENCES, _base, _seconds, bp, iso, listing
from fsbridge.store import participant_events, quality
from fsbridge.store.quality import CallQuality
from fsbridge.store.rows import ConferenceRow, PageRequest, PageResult, ParticipantRow
from fsbridge.store.summary import NEVER_JOINED
from fsbridge.wire import insights as wi

PARTICIPANTS = "/v1/Conferences/<ConferenceSid>/Participants"
MAX_PARTICIPANTS = 10000   # the Events filter reads a conference's participants at once
PARTICIPANT = "/v1/Conferences/<ConferenceSid>/Participants/<ParticipantSid>"


def metrics(q: Optional[CallQuality]) -> Optional[dict]:
    """The summary's ``metrics`` (Twilio's shape: ``inbound`` / ``outbound`` objects of total_packets_lost,
    total_packets_received, packet_loss_percentage, jitter {avg, max}, latency {avg, max} (ms), mos) from the
    call's measured quality — received direction only, so ``outbound`` is null; None without a measurement."""
    if q is None:
        return None
    return {wi.METRICS_INBOUND: {
        wi.M_PACKETS_LOST: q.packets_lost, wi.M_PACKETS_RECEIVED: q.packets_received,
        wi.M_LOSS_PERCENTAGE: q.loss_percentage,
        wi.M_JITTER: {wi.M_AVG: q.jitter_avg_ms, wi.M_MAX: q.jitter_max_ms},
        wi.M_LATENCY: {wi.M_AVG: q.latency_avg_ms, wi.M_MAX: q.latency_max_ms},
        wi.M_MOS: q.mos,
    }, wi.METRICS_OUTBOUND: None}


def properties(p: ParticipantRow) -> dict:
    """The summary's ``properties``: the conference settings of the participant fsbridge keeps (Twilio's keys;
    ``play_early_media`` / ``enter_muted`` have no source and are left out)."""
    return {wi.P_START_CONFERENCE_ON_ENTER: bool(p.start_conference_on_enter),
            wi.P_END_CONFERENCE_ON_EXIT: bool(p.end_conference_on_exit),
            wi.P_BEEP_ON_ENTER: p.beep in (wi.tw.BEEP_TRUE, wi.tw.BEEP_ON_ENTER),
            wi.P_BEEP_ON_EXIT: p.beep in (wi.tw.BEEP_TRUE, wi.tw.BEEP_ON_EXIT)}


def participant_summary(p: ParticipantRow, conf: ConferenceRow, base: str, region: str,
                        q: Optional[CallQuality] = None, events: Optional[dict] = None) -> dict:
    """Insights Conference Participant Summary JSON; ``q``: the call's measured quality (``metrics``);
    ``events``: its ``{"mute": [Unix ms, …], …}`` (:mod:`fsbridge.store.participant_events`; null when none)."""
    joined = p.date_created if p.status not in NEVER_JOINED else None
    out = {name: None for name in wi.PARTICIPANT_SUMMARY_FIELDS}
    out.update({
        "participant_sid": p.call_sid,
        "label": p.label,
        "conference_sid": p.conference_sid,
        "call_sid": p.call_sid,
        "account_sid": p.account_sid,
        "from": p.from_ or None,
        "to": p.to or None,
        "call_status": wi.CALL_STATUS_FROM_PARTICIPANT.get(p.status),
        "is_moderator": bool(p.start_conference_on_enter or p.end_conference_on_exit),
        "join_time": iso(joined),
        "leave_time": iso(p.left_at) if joined else None,
        "duration_seconds": _seconds(joined, p.left_at),
        "is_coach": bool(p.coaching),
        "coached_participants": [p.call_sid_to_coach] if p.coaching and p.call_sid_to_coach else None,
        "conference_region": conf.region or region,
        "processing_state": wi.PROCESSING_IN_PROGRESS if p.present else wi.PROCESSING_COMPLETE,
        "properties": properties(p),
        "events": events or None,
        "metrics": metrics(q),
        "url": f"{base}{CONFERENCES}/{p.conference_sid}/Participants/{p.call_sid}",
    })
    return out


def summaries(engine, rows: List[ParticipantRow], conf: ConferenceRow, base: str, region: str) -> List[dict]:
    """The Participant Summaries of ``rows`` (participants of ``conf``), with their measured quality and
    events read in one query each."""
    sids = [p.call_sid for p in rows]
    qs, evs = quality.load(engine, conf.sid, sids), participant_events.load(engine, conf.sid, sids)
    return [participant_summary(p, conf, base, region, qs.get(p.call_sid), evs.get(p.call_sid)) for p in rows]


def _conference(conference_sid: str) -> ConferenceRow:
    conf = ctx().store.conference(g.account_sid, conference_sid)
    if conf is None:
        raise not_found()
    return conf


@bp.get(PARTICIPANTS)
def list_participants(ConferenceSid: str):
    """Insights ListConferenceParticipant → ``{"participants": [...], "meta": {...}}``."""
    args, store, region, base = request.args, ctx().store, ctx().region, _base()
    conf = _conference(ConferenceSid)
    who = params.text(args, wi.PARTICIPANT_SID, 64) or params.text(args, wi.LABEL, 128)
    page = paging.parse(args)
    wanted = params.text(args, wi.EVENTS, 256) and params.words(args, wi.EVENTS)
    if wanted:   # participants with any of these events (mute, unmute, hold, unhold), join order, offset paging
        everyone = store.list_participants(g.account_sid, ConferenceSid, include_left=True,
                                           page=PageRequest(limit=MAX_PARTICIPANTS)).items
        evs = participant_events.load(store.engine, ConferenceSid, [p.call_sid for p in everyone])
        hits = [p for p in everyone if set(wanted) & set(evs.get(p.call_sid, {}))]
        start = page.page * page.page_size   # Page × PageSize (the next page's PageToken is not needed)
        items = hits[start:start + page.page_size]
        result = PageResult(items=items, has_more=len(hits) > start + page.page_size,
                            last_key=(items[-1].date_created, items[-1].call_sid) if items else None)
    elif who is not None:
        one = store.participant(g.account_sid, ConferenceSid, who)
        result = PageResult(items=[one] if one is not None and page.page == 0 else [], has_more=False,
                            last_key=None)
    else:
        result = store.list_participants(g.account_sid, ConferenceSid, include_left=True, page=page.request)
    return listing(wi.PARTICIPANTS_LIST_KEY, summaries(store.engine, result.items, conf, base, region),
                   f"{base}{CONFERENCES}/{ConferenceSid}/Participants", args, page, result)


@bp.get(PARTICIPANT)
def fetch_participant(ConferenceSid: str, ParticipantSid: str):
    """Insights FetchConferenceParticipant (``ParticipantSid``: the CallSid); 404 when unknown or purged."""
    conf = _conference(ConferenceSid)
    p = ctx().store.participant(g.account_sid, ConferenceSid, ParticipantSid)
    if p is None or p.call_sid != ParticipantSid:
        raise not_found()
    return jsonify(summaries(ctx().store.engine, [p], conf, _base(), ctx().region)[0])
