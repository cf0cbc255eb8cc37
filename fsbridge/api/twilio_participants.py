"""Twilio Participant resource routes (2010-04-01): list, create (dial out), fetch, update, delete (kick).

``{CallSid}`` in the path is a CallSid or a participant label (Twilio). Participants who left stay
fetchable (status ``complete``) — fsbridge keeps history — but the list shows those present, as Twilio's
does; updating or kicking one who left is an impossible transition → 409 / 21220, never a silent no-op.

* ``GET Participants.json`` — filters Muted, Hold, Coaching (true|false); paging. Join order.
* ``POST Participants.json`` — dial ``To`` from ``From`` into the conference (``{ConferenceSid}`` may be a
  ConferenceSid or, as in Twilio, a friendly name). Every parameter of Twilio's CreateParticipant is accepted,
  validated by type/enum, and handed to ``ConferenceControl.add_participant`` under its snake_case name
  (``StatusCallbackEvent`` → ``status_callback_event`` as a list); which ones take effect is documented in
  docs/rest.md. 201 with the participant (status ``queued`` until the call joins; ``queue_time`` "0").
* ``POST Participants/{CallSid}.json`` — Muted, Hold, HoldUrl, HoldMethod, AnnounceUrl, AnnounceMethod,
  WaitUrl, WaitMethod, BeepOnExit, EndConferenceOnExit, Coaching, CallSidToCoach (Twilio UpdateParticipant);
  ``Coaching=true`` needs a CallSidToCoach (given or already set). Returns the participant re-read.
* ``DELETE Participants/{CallSid}.json`` — kick; 204.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Callable, Dict, Tuple

from flask import Blueprint, g, jsonify, request
from werkzeug.datastructures import MultiDict

from fsbridge.api import fields, paging, params, paths, render
from fsbridge.api.context import conference_or_404, ctx, live_control, participant_or_404
from fsbridge.api.errors import FROM_MISSING, TO_MISSING, conflict, invalid, not_found
from fsbridge.store.rows import ParticipantRow

MUTED = "Muted"
HOLD = "Hold"
COACHING = "Coaching"
CALL_SID_TO_COACH = "CallSidToCoach"
HOLD_URL = "HoldUrl"
HOLD_METHOD = "HoldMethod"
ANNOUNCE_URL = fields.ANNOUNCE_URL
ANNOUNCE_METHOD = fields.ANNOUNCE_METHOD
WAIT_URL = "WaitUrl"
WAIT_METHOD = "WaitMethod"
BEEP_ON_EXIT = "BeepOnExit"
END_CONFERENCE_ON_EXIT = "EndConferenceOnExit"
FROM = "From"
TO = "To"

BEEP = ("true", "false", "onEnter", "onExit")
CONFERENCE_RECORD = ("true", "false", "record-from-start", "do-not-record")
TRIM = ("trim-silence", "do-not-trim")
JITTER = ("off", "small", "medium", "large")
RECORDING_CHANNELS = ("mono", "dual")
RECORDING_TRACK = ("inbound", "outbound", "both")
MACHINE_DETECTION = ("Enable", "DetectMessageEnd")
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
CONFERENCE_EVENTS = ("start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement")
RECORDING_EVENTS = ("in-progress", "completed", "absent")

Parser = Callable[[MultiDict, str], object]


def _enum(allowed) -> Parser:
    return lambda src, name: params.choice(src, name, allowed)


def _words(allowed) -> Parser:
    return lambda src, name: params.words(src, name, allowed)


def _int(lo=None, hi=None) -> Parser:
    return lambda src, name: params.integer(src, name, lo, hi)


def _sid(prefix) -> Parser:
    return lambda src, name: params.sid(src, name, prefix)


# Twilio CreateParticipant body parameters (spec order) → parser. From/To are handled separately.
CREATE_PARAMS: Dict[str, Parser] = {
    "StatusCallback": params.url, "StatusCallbackMethod": params.method,
    "StatusCallbackEvent": _words(CALL_EVENTS), "Label": lambda s, n: params.text(s, n, 128),
    "Timeout": _int(5, 600), "Record": params.boolean, MUTED: params.boolean, "Beep": _enum(BEEP),
    "StartConferenceOnEnter": params.boolean, END_CONFERENCE_ON_EXIT: params.boolean,
    WAIT_URL: params.url, WAIT_METHOD: params.method, "EarlyMedia": params.boolean,
    "MaxParticipants": _int(2, 250), "ConferenceRecord": _enum(CONFERENCE_RECORD),
    "ConferenceTrim": _enum(TRIM), "ConferenceStatusCallback": params.url,
    "ConferenceStatusCallbackMethod": params.method,
    "ConferenceStatusCallbackEvent": _words(CONFERENCE_EVENTS),
    "RecordingChannels": _enum(RECORDING_CHANNELS), "RecordingStatusCallback": params.url,
    "RecordingStatusCallbackMethod": params.method, "SipAuthUsername": params.text,
    "SipAuthPassword": params.text, "Region": params.text,
    "ConferenceRecordingStatusCallback": params.url, "ConferenceRecordingStatusCallbackMethod": params.method,
    "RecordingStatusCallbackEvent": _words(RECORDING_EVENTS),
    "ConferenceRecordingStatusCallbackEvent": _words(RECORDING_EVENTS),
    COACHING: params.boolean, CALL_SID_TO_COACH: _sid("CA"), "JitterBufferSize": _enum(JITTER),
    "Byoc": _sid("BY"), "CallerId": params.text, "CallReason": lambda s, n: params.text(s, n, 255),
    "RecordingTrack": _enum(RECORDING_TRACK), "TimeLimit": _int(1, 86400),
    "MachineDetection": _enum(MACHINE_DETECTION), "MachineDetectionTimeout": _int(3, 59),
    "MachineDetectionSpeechThreshold": _int(1000, 6000),
    "MachineDetectionSpeechEndThreshold": _int(500, 5000),
    "MachineDetectionSilenceTimeout": _int(2000, 10000), "AmdStatusCallback": params.url,
    "AmdStatusCallbackMethod": params.method, "Trim": _enum(TRIM), "CallToken": params.text,
    "ClientNotificationUrl": params.url, "CallerDisplayName": params.text,
}

# Twilio UpdateParticipant body parameters → (ConferenceControl.update_participant keyword, parser).
UPDATE_PARAMS: Dict[str, Tuple[str, Parser]] = {
    MUTED: ("muted", params.boolean), HOLD: ("hold", params.boolean),
    HOLD_URL: ("hold_url", params.url), HOLD_METHOD: ("hold_method", params.method),
    ANNOUNCE_URL: ("announce_url", params.url), ANNOUNCE_METHOD: ("announce_method", params.method),
    WAIT_URL: ("wait_url", params.url), WAIT_METHOD: ("wait_method", params.method),
    BEEP_ON_EXIT: ("beep_on_exit", params.boolean),
    END_CONFERENCE_ON_EXIT: ("end_conference_on_exit", params.boolean),
    COACHING: ("coaching", params.boolean), CALL_SID_TO_COACH: ("call_sid_to_coach", _sid("CA")),
}
# Changes that act on the participant (a *Method alone does nothing).
_ACTING = ("muted", "hold", "hold_url", "announce_url", "wait_url", "beep_on_exit", "end_conference_on_exit",
           "coaching", "call_sid_to_coach")


def snake(name: str) -> str:
    """Twilio parameter name → snake_case key (``StatusCallbackEvent`` → ``status_callback_event``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def parse_create(form: MultiDict) -> Tuple[str, str, dict]:
    """CreateParticipant body → (From, To, options keyed in snake_case, only the parameters given)."""
    from_, to = params.text(form, FROM), params.text(form, TO)
    if not to:
        raise invalid(f"Required parameter {TO} is missing", TO_MISSING)
    if not from_:
        raise invalid(f"Required parameter {FROM} is missing", FROM_MISSING)
    options = {}
    for name, parse in CREATE_PARAMS.items():
        value = parse(form, name)
        if value is not None:
            options[snake(name)] = value
    if options.get("coaching") and not options.get("call_sid_to_coach"):
        raise invalid(f"{COACHING}=true requires {CALL_SID_TO_COACH}")
    return from_, to, options


def parse_update(form: MultiDict, current: ParticipantRow) -> dict:
    """UpdateParticipant body → keyword arguments for ``ConferenceControl.update_participant`` (only those
    given). Checks Coaching=true has someone to coach (given now or already set)."""
    kwargs = {}
    for name, (key, parse) in UPDATE_PARAMS.items():
        value = parse(form, name)
        if value is not None:
            kwargs[key] = value
    if kwargs.get("coaching") and not (kwargs.get("call_sid_to_coach") or current.call_sid_to_coach):
        raise invalid(f"{COACHING}=true requires {CALL_SID_TO_COACH}")
    return kwargs


def update(account_sid: str, conference_sid: str, who: str, form: MultiDict) -> ParticipantRow:
    """Shared by the Twilio and Telnyx routes: validate, check the participant is present, call
    ``update_participant``, re-read the participant."""
    current = participant_or_404(account_sid, conference_sid, who)
    kwargs = parse_update(form, current)
    if not any(k in kwargs for k in _ACTING):
        return current
    if not current.present:
        raise conflict(f"Participant {current.call_sid} has left conference {conference_sid}")
    with live_control() as control:
        call_sid = control.update_participant(account_sid, conference_sid, current.call_sid, **kwargs)
    row = ctx().store.participant(account_sid, conference_sid, call_sid or current.call_sid)
    if row is None:
        raise not_found()
    return row


def kick(account_sid: str, conference_sid: str, who: str) -> None:
    """Shared DELETE: the participant must be present (409 / 21220 otherwise)."""
    current = participant_or_404(account_sid, conference_sid, who)
    if not current.present:
        raise conflict(f"Participant {current.call_sid} has already left conference {conference_sid}")
    with live_control() as control:
        control.kick(account_sid, conference_sid, current.call_sid)


def create(account_sid: str, conference_sid_or_name: str, form: MultiDict) -> ParticipantRow:
    """Shared create: validate, dial out through ``add_participant``, return the participant row (the
    bridge records it ``queued`` at once; a placeholder built from the request for a control that does
    not)."""
    store = ctx().store
    from_, to, options = parse_create(form)
    if params.is_sid(conference_sid_or_name, "CF"):
        conf = conference_or_404(account_sid, conference_sid_or_name)
        if conf.status == "completed":
            raise conflict(f"Conference {conf.sid} is completed")
    with live_control() as control:
        call_sid = control.add_participant(account_sid, conference_sid_or_name, from_, to, options)
    conf = (store.conference(account_sid, conference_sid_or_name)
            or store.live_conference_by_name(account_sid, conference_sid_or_name))
    row = store.participant(account_sid, conf.sid, call_sid) if conf else None
    if row is not None:
        return row
    now = datetime.now(timezone.utc)
    return ParticipantRow(
        conference_sid=conf.sid if conf else None, call_sid=call_sid, account_sid=account_sid,
        label=options.get("label"), muted=bool(options.get("muted")), hold=False,
        coaching=bool(options.get("coaching")), call_sid_to_coach=options.get("call_sid_to_coach"),
        end_conference_on_exit=bool(options.get("end_conference_on_exit")),
        start_conference_on_enter=options.get("start_conference_on_enter", True),
        beep=options.get("beep", "true"), status="queued", from_=from_, to=to, date_created=now,
        date_updated=now, left_at=None, last_sequence=0)


bp = Blueprint("twilio_participants", __name__)


def list_page(account_sid: str, conference_sid: str, args, path: str, render_one) -> dict:
    """Shared by the Twilio and Telnyx list routes: Muted / Hold / Coaching filters + paging → envelope."""
    muted, hold, coaching = (params.boolean(args, MUTED), params.boolean(args, HOLD),
                             params.boolean(args, COACHING))
    page = paging.parse(args)
    conference_or_404(account_sid, conference_sid)
    result = ctx().store.list_participants(account_sid, conference_sid, muted=muted, hold=hold,
                                           coaching=coaching, page=page.request)
    kept = {k: v for k, v in args.items(multi=True) if k in (MUTED, HOLD, COACHING)}
    return paging.envelope(path, kept, page, result, "participants", render_one)


@bp.get(paths.rule(paths.TW_PARTICIPANTS))
def list_participants(AccountSid: str, ConferenceSid: str):
    """Twilio ListParticipant → ``{"participants": [...], <paging fields>}``."""
    return jsonify(list_page(g.account_sid, ConferenceSid, request.args, paths.build(
        paths.TW_PARTICIPANTS, AccountSid=AccountSid, ConferenceSid=ConferenceSid), render.participant))


@bp.post(paths.rule(paths.TW_PARTICIPANTS))
def create_participant(AccountSid: str, ConferenceSid: str):
    """Twilio CreateParticipant → 201 + participant."""
    row = create(g.account_sid, ConferenceSid, request.form)
    body = render.participant(row, queue_time="0")
    resp = jsonify(body)
    resp.status_code = 201
    return resp


@bp.get(paths.rule(paths.TW_PARTICIPANT))
def fetch_participant(AccountSid: str, ConferenceSid: str, CallSid: str):
    """Twilio FetchParticipant (CallSid or label)."""
    return jsonify(render.participant(participant_or_404(g.account_sid, ConferenceSid, CallSid)))


@bp.post(paths.rule(paths.TW_PARTICIPANT))
def update_participant(AccountSid: str, ConferenceSid: str, CallSid: str):
    """Twilio UpdateParticipant."""
    return jsonify(render.participant(update(g.account_sid, ConferenceSid, CallSid, request.form)))


@bp.delete(paths.rule(paths.TW_PARTICIPANT))
def delete_participant(AccountSid: str, ConferenceSid: str, CallSid: str):
    """Twilio DeleteParticipant (kick) → 204."""
    kick(g.account_sid, ConferenceSid, CallSid)
    return "", 204
