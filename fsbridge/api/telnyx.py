"""Telnyx TeXML REST routes: ``/v2/texml/Accounts/{account_sid}/Conferences…`` with Telnyx's field names.

Auth: ``Authorization: Bearer <API key>``; ``telnyx_keys`` maps each key to the account id it may act for
(another account's path → 404). Paths are served with and without the ``.json`` suffix (Telnyx documents
both forms). Request parameters are Twilio's (Telnyx mirrors them), parsed by the Twilio modules.

Routes: list / fetch / update (Status=completed, AnnounceUrl) conferences; list / create (dial) / fetch /
update / delete participants (CallSid or label); list a conference's recordings and fetch their audio
(``media_url``; recording status mapped to Telnyx's processing | completed | absent). Resource JSON (Telnyx TeXML ConferenceResource /
ParticipantResource): conference = account_sid, api_version, call_sid_ending_conference, date_created,
date_updated, friendly_name, reason_conference_ended, region, sid, status, subresource_uris, uri;
participant = account_sid, api_version, call_sid, call_sid_legacy, coaching, coaching_call_sid,
coaching_call_sid_legacy, conference_sid, date_created, date_updated, end_conference_on_exit, hold, muted,
status (connecting | connected | completed), uri. Lists use the same paging envelope as Twilio's.
Errors: ``{"errors": [{"code", "title", "detail"}]}`` with Telnyx codes 10009 (authentication), 10005 (not
found), 10015 (bad request), 90018 (call/conference already ended; HTTP 409), 10007 (engine unavailable).
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from fsbridge.api import paths, twilio_conferences, twilio_participants, twilio_recordings
from fsbridge.api.auth import bearer_account, require_same_account
from fsbridge.api.context import conference_or_404, ctx, participant_or_404
from fsbridge.api.errors import ApiError
from fsbridge.store.rows import ConferenceRow, ParticipantRow, RecordingRow
from fsbridge.wire.serialize import rfc2822_rest
from fsbridge.wire.texml import API_VERSION, PARTICIPANT_STATUS, RECORDING_STATUS

_ERROR = {400: ("10015", "Bad Request"), 401: ("10009", "Authentication failed"),
          404: ("10005", "Resource not found"), 405: ("10015", "Method not allowed"),
          409: ("90018", "Call has already ended"), 503: ("10007", "Unexpected error")}

bp = Blueprint("telnyx", __name__)


def _json(path: str) -> str:
    return path + ".json"


def conference(row: ConferenceRow) -> dict:
    """Telnyx TeXML ConferenceResource JSON."""
    ids = dict(account_sid=row.account_sid, conference_sid=row.sid)
    return {
        "account_sid": row.account_sid,
        "api_version": API_VERSION,
        "call_sid_ending_conference": row.call_sid_ending_conference,
        "date_created": rfc2822_rest(row.date_created),
        "date_updated": rfc2822_rest(row.date_updated),
        "friendly_name": row.friendly_name,
        "reason_conference_ended": row.reason_conference_ended,
        "region": row.region or ctx().region,
        "sid": row.sid,
        "status": row.status,
        "subresource_uris": {
            "participants": _json(paths.build(paths.TX_PARTICIPANTS, **ids)),
            "recordings": _json(paths.build(paths.TX_RECORDINGS, **ids)),
        },
        "uri": _json(paths.build(paths.TX_CONFERENCE, **ids)),
    }


def participant(row: ParticipantRow) -> dict:
    """Telnyx TeXML ParticipantResource JSON."""
    return {
        "account_sid": row.account_sid,
        "api_version": API_VERSION,
        "call_sid": row.call_sid,
        "call_sid_legacy": row.call_sid,
        "coaching": bool(row.coaching),
        "coaching_call_sid": row.call_sid_to_coach,
        "coaching_call_sid_legacy": row.call_sid_to_coach,
        "conference_sid": row.conference_sid,
        "date_created": rfc2822_rest(row.date_created),
        "date_updated": rfc2822_rest(row.date_updated),
        "end_conference_on_exit": bool(row.end_conference_on_exit),
        "hold": bool(row.hold),
        "muted": bool(row.muted),
        "status": PARTICIPANT_STATUS.get(row.status, row.status),
        "uri": _json(paths.build(paths.TX_PARTICIPANT, account_sid=row.account_sid,
                                 conference_sid=row.conference_sid or "",
                                 call_sid_or_participant_label=row.call_sid)),
    }


def recording(row: RecordingRow) -> dict:
    """Telnyx TeXML conference recording JSON (``media_url``: the WAV, absolute when ``base_url`` is set)."""
    wav = paths.build(paths.TX_RECORDING_WAV, account_sid=row.account_sid, conference_sid=row.conference_sid,
                      recording_sid=row.sid)
    base = (ctx().base_url or "").rstrip("/")
    return {
        "account_sid": row.account_sid,
        "call_sid": row.call_sid,
        "channels": int(row.channels or 1),
        "conference_sid": row.conference_sid,
        "date_created": rfc2822_rest(row.date_created),
        "date_updated": rfc2822_rest(row.date_updated),
        "duration": row.duration_s,
        "error_code": None if row.error_code is None else str(row.error_code),
        "media_url": base + wav,
        "sid": row.sid,
        "source": row.source,
        "start_time": rfc2822_rest(row.start_time or row.date_created),
        "status": RECORDING_STATUS.get(row.status, row.status),
        "subresource_uris": {},
        "uri": _json(paths.build(paths.TX_RECORDING, account_sid=row.account_sid,
                                 conference_sid=row.conference_sid, recording_sid=row.sid)),
    }


@bp.errorhandler(ApiError)
def _telnyx_error(err: ApiError):
    code, title = _ERROR.get(err.status, ("10007", "Unexpected error"))
    resp = jsonify({"errors": [{"code": code, "title": title, "detail": err.message}]})
    resp.status_code = err.status
    return resp


@bp.before_request
def _authenticate() -> None:
    account = bearer_account(ctx().telnyx_keys)
    require_same_account(account, (request.view_args or {}).get("account_sid", ""))
    g.account_sid = account


def _route(path: str, **kw):
    """Register a view on ``path`` and ``path.json``."""
    def deco(fn):
        bp.add_url_rule(paths.rule(path), view_func=fn, **kw)
        bp.add_url_rule(paths.rule(_json(path)), endpoint=fn.__name__ + "_json", view_func=fn, **kw)
        return fn
    return deco


@_route(paths.TX_CONFERENCES, methods=["GET"])
def list_conferences(account_sid: str):
    """Telnyx: list conference resources (FriendlyName, Status, DateCreated, DateUpdated, paging)."""
    return jsonify(twilio_conferences.list_page(
        g.account_sid, request.args, _json(paths.build(paths.TX_CONFERENCES, account_sid=account_sid)),
        conference))


@_route(paths.TX_CONFERENCE, methods=["GET"])
def fetch_conference(account_sid: str, conference_sid: str):
    """Telnyx: fetch a conference resource."""
    return jsonify(conference(conference_or_404(g.account_sid, conference_sid)))


@_route(paths.TX_CONFERENCE, methods=["POST"])
def update_conference(account_sid: str, conference_sid: str):
    """Telnyx: update a conference resource (Status=completed, AnnounceUrl, AnnounceMethod)."""
    twilio_conferences.update(g.account_sid, conference_sid, request.form)
    return jsonify(conference(conference_or_404(g.account_sid, conference_sid)))


@_route(paths.TX_PARTICIPANTS, methods=["GET"])
def list_participants(account_sid: str, conference_sid: str):
    """Telnyx: list conference participants."""
    return jsonify(twilio_participants.list_page(
        g.account_sid, conference_sid, request.args,
        _json(paths.build(paths.TX_PARTICIPANTS, account_sid=account_sid, conference_sid=conference_sid)),
        participant))


@_route(paths.TX_PARTICIPANTS, methods=["POST"])
def create_participant(account_sid: str, conference_sid: str):
    """Telnyx: dial a new conference participant (Twilio's CreateParticipant parameters) → 201."""
    resp = jsonify(participant(twilio_participants.create(g.account_sid, conference_sid, request.form)))
    resp.status_code = 201
    return resp


@_route(paths.TX_PARTICIPANT, methods=["GET"])
def fetch_participant(account_sid: str, conference_sid: str, call_sid_or_participant_label: str):
    """Telnyx: get a conference participant resource (CallSid or label)."""
    return jsonify(participant(participant_or_404(g.account_sid, conference_sid,
                                                  call_sid_or_participant_label)))


@_route(paths.TX_PARTICIPANT, methods=["POST"])
def update_participant(account_sid: str, conference_sid: str, call_sid_or_participant_label: str):
    """Telnyx: update a conference participant (Muted, Hold, HoldUrl, … as Twilio)."""
    return jsonify(participant(twilio_participants.update(
        g.account_sid, conference_sid, call_sid_or_participant_label, request.form)))


@_route(paths.TX_PARTICIPANT, methods=["DELETE"])
def delete_participant(account_sid: str, conference_sid: str, call_sid_or_participant_label: str):
    """Telnyx: delete a conference participant (kick) → 204."""
    twilio_participants.kick(g.account_sid, conference_sid, call_sid_or_participant_label)
    return "", 204


@_route(paths.TX_RECORDINGS, methods=["GET"])
def list_recordings(account_sid: str, conference_sid: str):
    """Telnyx: list a conference's recordings (DateCreated filters, paging)."""
    return jsonify(twilio_recordings.list_page(
        g.account_sid, conference_sid, request.args,
        _json(paths.build(paths.TX_RECORDINGS, account_sid=account_sid, conference_sid=conference_sid)),
        recording))


@bp.get(paths.rule(paths.TX_RECORDING_WAV))
def recording_audio(account_sid: str, conference_sid: str, recording_sid: str):
    """Telnyx: a recording's audio (``media_url``)."""
    return twilio_recordings.audio(g.account_sid, conference_sid, recording_sid)
