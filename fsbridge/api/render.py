"""Store rows → Twilio 2010-04-01 resource JSON (snake_case fields, RFC 2822 dates, relative ``uri``).

Fields and enums are exactly those of the schemas ``api.v2010.account.conference``,
``api.v2010.account.conference.participant`` and ``api.v2010.account.conference.conference_recording`` in
../shared/specs/twilio_api_v2010_conferences.json — no more, no fewer (a test checks). Choices where
fsbridge differs from Twilio's hosting: ``region`` is the configured region label (default ``us1``: the
audio is mixed by this bridge); ``price`` is null and ``price_unit`` ``USD``; ``duration`` of a recording
still running is ``"-1"`` as Twilio shows it; ``queue_time`` is only set on the create-participant response.
"""
from __future__ import annotations

import json

from fsbridge.api import paths
from fsbridge.store.rows import ConferenceRow, ParticipantRow, RecordingRow
from fsbridge.wire.serialize import rfc2822_rest
from fsbridge.wire.twilio import API_VERSION, RECORDING_RUNNING

DEFAULT_REGION = "us1"


def json_response(body):
    """``body`` (a resource dict or list envelope of str/int/bool/None) as Flask's ``jsonify`` renders it
    outside debug mode — compact separators, ASCII escapes, keys in insertion order, a trailing newline,
    ``application/json`` — without its provider's per-call indirections (hot REST routes, issue 16 goal 3)."""
    from flask import current_app
    return current_app.response_class(json.dumps(body, separators=(",", ":")) + "\n", mimetype="application/json")


def conference(row: ConferenceRow, region: str = DEFAULT_REGION) -> dict:
    """Twilio Conference resource JSON."""
    ids = dict(AccountSid=row.account_sid, ConferenceSid=row.sid)
    return {
        "account_sid": row.account_sid,
        "date_created": rfc2822_rest(row.date_created),
        "date_updated": rfc2822_rest(row.date_updated),
        "api_version": API_VERSION,
        "friendly_name": row.friendly_name,
        "region": row.region or region,
        "sid": row.sid,
        "status": row.status,
        "uri": paths.build(paths.TW_CONFERENCE, AccountSid=row.account_sid, Sid=row.sid),
        "subresource_uris": {
            "participants": paths.build(paths.TW_PARTICIPANTS, **ids),
            "recordings": paths.build(paths.TW_RECORDINGS, **ids),
        },
        "reason_conference_ended": row.reason_conference_ended,
        "call_sid_ending_conference": row.call_sid_ending_conference,
    }


def participant(row: ParticipantRow, queue_time: Optional[str] = None) -> dict:
    """Twilio Participant resource JSON (``queue_time`` only on create, as Twilio)."""
    return {
        "account_sid": row.account_sid,
        "call_sid": row.call_sid,
        "label": row.label,
        "call_sid_to_coach": row.call_sid_to_coach,
        "coaching": bool(row.coaching),
        "conference_sid": row.conference_sid,
        "date_created": rfc2822_rest(row.date_created),
        "date_updated": rfc2822_rest(row.date_updated),
        "end_conference_on_exit": bool(row.end_conference_on_exit),
        "muted": bool(row.muted),
        "hold": bool(row.hold),
        "start_conference_on_enter": bool(row.start_conference_on_enter),
        "status": row.status,
        "queue_time": queue_time,
        "uri": paths.build(paths.TW_PARTICIPANT, AccountSid=row.account_sid,
                           ConferenceSid=row.conference_sid, CallSid=row.call_sid)
        if row.conference_sid else None,
    }


def recording(row: RecordingRow) -> dict:
    """Twilio Conference Recording resource JSON."""
    if row.duration_s is not None:
        duration = str(row.duration_s)
    elif row.status in RECORDING_RUNNING:
        duration = "-1"
    else:
        duration = None
    return {
        "account_sid": row.account_sid,
        "api_version": API_VERSION,
        "call_sid": row.call_sid,
        "conference_sid": row.conference_sid,
        "date_created": rfc2822_rest(row.date_created),
        "date_updated": rfc2822_rest(row.date_updated),
        "start_time": rfc2822_rest(row.start_time or row.date_created),
        "duration": duration,
        "sid": row.sid,
        "price": None,
        "price_unit": "USD",
        "status": row.status,
        "channels": int(row.channels or 1),
        "source": row.source,
        "error_code": row.error_code,
        "encryption_details": None,
        "uri": paths.build(paths.TW_RECORDING, AccountSid=row.account_sid,
                           ConferenceSid=row.conference_sid, Sid=row.sid),
    }
