"""Twilio Participant resource routes (2010-04-01): list, create (dial out), fetch, update, delete (kick).

``{CallSid}`` in the path is a CallSid or a participant label (Twilio). Participants who left stay
fetchable (status ``complete``) — fsbridge keeps history — but the list shows those present, as Twilio's
does; updating or kicking one who left is an impossible transition → 409 / 21220, never a silent no-op.

* ``GET Participants.json`` — filters Muted, Hold, Coaching (true|false); paging. Join order.
* ``POST Participants.json`` — dial ``To`` from ``From`` into the conference (``{ConferenceSid}`` may be a
  ConferenceSid or, as in Twilio, a friendly name). Every parameter of Twilio's CreateParticipant is accepted and
  validated by type/enum (:mod:`fsbridge.api.participant_params`, one attribute table), which builds the typed
  ``<Dial><Conference>`` handed to ``ConferenceControl.add_participant``; which ones take effect is documented
  in docs/rest.md. 201 with the participant (status ``queued`` until the call joins; ``queue_time`` "0").
* ``POST Participants/{CallSid}.json`` — Muted, Hold, HoldUrl, HoldMethod, AnnounceUrl, AnnounceMethod,
  WaitUrl, WaitMethod, BeepOnExit, EndConferenceOnExit, Coaching, CallSidToCoach (Twilio UpdateParticipant);
  ``Coaching=true`` needs a CallSidToCoach (given or already set). Returns the participant as updated,
  answered from the domain (no store read) for a connected participant named by CallSid.
* ``DELETE Participants/{CallSid}.json`` — kick; 204.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, Dict, Tuple

from flask import Blueprint, g, request
from werkzeug.datastructures import MultiDict

from fsbridge.api import paging, params, participant_params, paths, render
from fsbridge.api.context import conference_or_404, ctx, live_control, participant_or_404
from fsbridge.api.errors import conflict, invalid, not_found
from fsbridge.store.rows import ParticipantRow
from fsbridge.wire import twilio as tw
from fsbridge.wire.twilio import (ANNOUNCE_METHOD, ANNOUNCE_URL, BEEP_ON_EXIT_PARAM, CALL_SID_TO_COACH, COACHING,
                                  END_CONFERENCE_ON_EXIT, HOLD, HOLD_METHOD, HOLD_URL, MUTED, WAIT_METHOD,
                                  WAIT_URL)

Parser = Callable[[MultiDict, str], object]


def _sid(prefix) -> Parser:
    return lambda src, name: params.sid(src, name, prefix)


# Twilio UpdateParticipant body parameters → (ConferenceControl.update_participant keyword, parser).
UPDATE_PARAMS: Dict[str, Tuple[str, Parser]] = {
    MUTED: ("muted", params.boolean), HOLD: ("hold", params.boolean),
    HOLD_URL: ("hold_url", params.url), HOLD_METHOD: ("hold_method", params.method),
    ANNOUNCE_URL: ("announce_url", params.url), ANNOUNCE_METHOD: ("announce_method", params.method),
    WAIT_URL: ("wait_url", params.url), WAIT_METHOD: ("wait_method", params.method),
    BEEP_ON_EXIT_PARAM: ("beep_on_exit", params.boolean),
    END_CONFERENCE_ON_EXIT: ("end_conference_on_exit", params.boolean),
    COACHING: ("coaching", params.boolean), CALL_SID_TO_COACH: ("call_sid_to_coach", _sid("CA")),
}
# Changes that act on the participant (a *Method alone does nothing).
_ACTING = ("muted", "hold", "hold_url", "announce_url", "wait_url", "beep_on_exit", "end_conference_on_exit",
           "coaching", "call_sid_to_coach")


def parse_update(form: MultiDict, current: ParticipantRow) -> dict:
    """UpdateParticipant body → keyword arguments for ``ConferenceControl.update_participant`` (only those
    given). Checks Coaching=true has someone to coach (given now or already set)."""
    kwargs = {}
    for name, (key, parse) in UPDATE_PARAMS.items():
        if name not in form:   # absent: every parser gives None (a write names one or two of the twelve)
            continue
        value = parse(form, name)
        if value is not None:
            kwargs[key] = value
    if kwargs.get("coaching") and not (kwargs.get("call_sid_to_coach") or current.call_sid_to_coach):
        raise invalid(f"{COACHING}=true requires {CALL_SID_TO_COACH}")
    return kwargs


# Updates whose effect on the row is exactly the value asked (Muted, Hold, EndConferenceOnExit): when the engine
# did not confirm a Muted/Hold in time, the answer still shows what was asked (as the row read before would).
_ROW_FIELDS = ("muted", "hold", "end_conference_on_exit")


def _stored(account_sid: str, conference_sid: str, call_sid: str):
    """The participant as the store holds it, from the control's domain (no store read, no flush of the group
    commit: issue 21), or None where the control cannot tell (not connected, a label, a control without
    ``stored_participant``) — the caller reads the store then."""
    control = ctx().control
    fetch = getattr(control, "stored_participant", None)
    return fetch(account_sid, conference_sid, call_sid) if fetch is not None else None


def update(account_sid: str, conference_sid: str, who: str, form: MultiDict) -> ParticipantRow:
    """Shared by the Twilio and Telnyx routes: validate, check the participant is present, call
    ``update_participant``; the participant as updated — as a GET right after shows it. A connected participant
    named by CallSid is looked up and answered from the domain's record of what the store holds (no store
    read); any other (a label, one who left or is still joining, a control without that record) is read from
    the store as before."""
    current = _stored(account_sid, conference_sid, who) or participant_or_404(account_sid, conference_sid, who)
    kwargs = parse_update(form, current)
    if not any(k in kwargs for k in _ACTING):
        return current
    if not current.present:
        raise conflict(f"Participant {current.call_sid} has left conference {conference_sid}")
    with live_control() as control:
        call_sid = control.update_participant(account_sid, conference_sid, current.call_sid, **kwargs) \
            or current.call_sid
    after = _stored(account_sid, conference_sid, call_sid)
    if after is None:
        if not any(k in kwargs for k in ("coaching", "call_sid_to_coach", "wait_url")):
            after = current   # Muted / Hold / EndConferenceOnExit: the row read before, the change applied
        else:
            after = ctx().store.participant(account_sid, conference_sid, call_sid)
            if after is None:
                raise not_found()
    unconfirmed = {k: kwargs[k] for k in _ROW_FIELDS if k in kwargs and getattr(after, k) != kwargs[k]}
    return replace(after, date_updated=datetime.now(timezone.utc), **unconfirmed) if unconfirmed else after


def kick(account_sid: str, conference_sid: str, who: str) -> None:
    """Shared DELETE: the participant must be present (409 / 21220 otherwise)."""
    current = participant_or_404(account_sid, conference_sid, who)
    if not current.present:
        raise conflict(f"Participant {current.call_sid} has already left conference {conference_sid}")
    with live_control() as control:
        control.kick(account_sid, conference_sid, current.call_sid)


def progress_hook(options: dict):
    """The call-progress StatusCallback of a create request (``status_callback``, ``status_callback_method``,
    ``status_callback_event`` options: Participants create / Calls.json) → ProgressHook, or None without a
    StatusCallback. Twilio: no StatusCallbackEvent = ``completed`` only."""
    from fsbridge.runtime.progress import COMPLETED, ProgressHook
    url = options.get("status_callback")
    if not url:
        return None
    return ProgressHook(url, options.get("status_callback_method") or "POST",
                        tuple(options.get("status_callback_event") or (COMPLETED,)))


def create(account_sid: str, conference_sid_or_name: str, form: MultiDict) -> ParticipantRow:
    """Shared create: validate, dial out through ``add_participant``, return the participant row (the
    bridge records it ``queued`` at once; a placeholder built from the request for a control that does
    not)."""
    store = ctx().store
    req = participant_params.parse(form)
    from_, to = req.from_, req.to
    if params.is_sid(conference_sid_or_name, "CF"):
        conf = conference_or_404(account_sid, conference_sid_or_name)
        if conf.status == tw.CONF_COMPLETED:
            raise conflict(f"Conference {conf.sid} is completed")
    dial = req.dial(conference_sid_or_name)
    with live_control() as control:
        hook = progress_hook(req.options)
        extra = {"progress": hook} if hook is not None else {}   # controls without call progress still work
        call_sid = control.add_participant(account_sid, conference_sid_or_name, from_, to, dial,
                                           timeout_s=req.options.get("timeout"), **extra)
    conf = (store.conference(account_sid, conference_sid_or_name)
            or store.live_conference_by_name(account_sid, conference_sid_or_name))
    row = store.participant(account_sid, conf.sid, call_sid) if conf else None
    if row is not None:
        return row
    now = datetime.now(timezone.utc)
    noun = dial.conference
    return ParticipantRow(
        conference_sid=conf.sid if conf else None, call_sid=call_sid, account_sid=account_sid,
        label=noun.participant_label, muted=noun.muted, hold=False, coaching=noun.coach is not None,
        call_sid_to_coach=noun.coach, end_conference_on_exit=noun.end_conference_on_exit,
        start_conference_on_enter=noun.start_conference_on_enter, beep=noun.beep, status=tw.P_QUEUED,
        from_=from_, to=to, date_created=now, date_updated=now, left_at=None, last_sequence=0)


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
    return render.json_response(list_page(g.account_sid, ConferenceSid, request.args, paths.build(
        paths.TW_PARTICIPANTS, AccountSid=AccountSid, ConferenceSid=ConferenceSid), render.participant))


@bp.post(paths.rule(paths.TW_PARTICIPANTS))
def create_participant(AccountSid: str, ConferenceSid: str):
    """Twilio CreateParticipant → 201 + participant."""
    row = create(g.account_sid, ConferenceSid, request.form)
    body = render.participant(row, queue_time="0")
    resp = render.json_response(body)
    resp.status_code = 201
    return resp


@bp.get(paths.rule(paths.TW_PARTICIPANT))
def fetch_participant(AccountSid: str, ConferenceSid: str, CallSid: str):
    """Twilio FetchParticipant (CallSid or label)."""
    return render.json_response(render.participant(participant_or_404(g.account_sid, ConferenceSid, CallSid)))


@bp.post(paths.rule(paths.TW_PARTICIPANT))
def update_participant(AccountSid: str, ConferenceSid: str, CallSid: str):
    """Twilio UpdateParticipant."""
    return render.json_response(render.participant(update(g.account_sid, ConferenceSid, CallSid, request.form)))


@bp.delete(paths.rule(paths.TW_PARTICIPANT))
def delete_participant(AccountSid: str, ConferenceSid: str, CallSid: str):
    """Twilio DeleteParticipant (kick) → 204."""
    kick(g.account_sid, ConferenceSid, CallSid)
    return "", 204
