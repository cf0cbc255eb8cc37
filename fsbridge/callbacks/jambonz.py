"""jambonz conference statusHook callbacks: DomainEvent → JSON POST.

Sources: ../shared/seeds/jambonz-conference-verb.txt (event, conferenceSid, friendlyName, time, members,
duration; events start end join leave start-talking end-talking) and what jambonz-feature-server really sends
(lib/tasks/conference.js ``_notifyConferenceEvent`` + lib/utils/http-requestor.js): the payload goes through
``snakecase-keys`` so apps receive ``conference_sid``, ``friendly_name``, ``call_sid`` …; the call's
``callInfo`` is merged in; the talk-stop event is emitted as ``stop-talking`` (the docs say ``end-talking``;
:class:`RenderSettings.jambonz_stop_talking` chooses); key order follows jambonz's object construction
(talk events: time, members, event, duration; others: event, duration, time, members), then conference_sid,
friendly_name and the call's CallInfo fields we know, in CallInfo's order (call_sid, from, to, call_id,
sip_status, sip_reason, call_status, account_sid; jambonz's ``direction``, ``trace_id``, ``application_sid``
and ``fs_sip_address`` are left out: the domain does not know them). The call is the participant's; for
``start`` the call whose join started the conference, for ``end`` the call that ended it or left last
(jambonz sends both from that caller's session). ``time`` is ISO-8601
UTC with milliseconds and ``Z``; ``duration`` is seconds since the conference started (ms precision, an integer
when whole, as JavaScript prints it). Body: compact JSON (``JSON.stringify`` spacing), UTF-8.
For a GET hook (jambonz itself sends no parameters then) the same fields go in the query string.
"""
from __future__ import annotations

import json
from typing import Optional

from fsbridge.conference import events as ev
from fsbridge.conference.events import DomainEvent
from fsbridge.wire import JAMBONZ
from fsbridge.wire import jambonz as jz
from fsbridge.wire.jambonz import (ACCOUNT_SID, CALL_SID, CALL_STATUS, CALL_STATUS_WORDS, CONFERENCE_SID,
                                   DURATION, EVENT, FRIENDLY_NAME, FROM, MEMBERS, TIME, TO)
from fsbridge.wire.serialize import iso_ms

from .request import JSON, KIND_STATUS, CallbackRequest, RenderSettings, form_request

#: DomainEvent name → the ``event`` value jambonz sends (talk stop: RenderSettings.jambonz_stop_talking)
_EVENT_WORD = {
    ev.CONFERENCE_START: jz.EV_START,
    ev.CONFERENCE_END: jz.EV_END,
    ev.PARTICIPANT_JOIN: jz.EV_JOIN,
    ev.PARTICIPANT_LEAVE: jz.EV_LEAVE,
    ev.PARTICIPANT_SPEECH_START: jz.START_TALKING,
}
#: ParticipantView.status of a call that was answered (jambonz CallInfo: sip_status 200 from then on)
_ANSWERED = tuple(CALL_STATUS_WORDS)


def _duration(event: DomainEvent):
    if event.started_at is None:
        return 0
    seconds = round((event.timestamp - event.started_at).total_seconds(), 3)
    return int(seconds) if seconds == int(seconds) else seconds


def event_word(event: DomainEvent, settings: RenderSettings = RenderSettings()) -> Optional[str]:
    """The jambonz event name for ``event`` (None when jambonz does not report it)."""
    if event.name == ev.PARTICIPANT_SPEECH_STOP:
        return settings.jambonz_stop_talking
    return _EVENT_WORD.get(event.name)


def payload(event: DomainEvent, settings: RenderSettings = RenderSettings()) -> dict:
    """The statusHook payload as an ordered dict (see module doc for the key order)."""
    word = event_word(event, settings)
    head = {EVENT: word, DURATION: _duration(event), TIME: iso_ms(event.timestamp), MEMBERS: event.member_count}
    if event.name in (ev.PARTICIPANT_SPEECH_START, ev.PARTICIPANT_SPEECH_STOP):
        head = {TIME: head[TIME], MEMBERS: head[MEMBERS], EVENT: word, DURATION: head[DURATION]}
    body = dict(head)
    body[CONFERENCE_SID] = event.conference_sid
    body[FRIENDLY_NAME] = event.friendly_name
    p = event.participant or event.call    # start: the starter's call; end: the call that ended it / left last
    call_sid = p.call_sid if p is not None else event.call_sid_ending_conference
    if call_sid:
        body[CALL_SID] = call_sid
    if p is not None:
        body[FROM] = p.from_
        body[TO] = p.to
        body[jz.CALL_ID] = p.call_sid
        answered = p.status in _ANSWERED
        body[jz.SIP_STATUS], body[jz.SIP_REASON] = jz.SIP_ANSWERED if answered else jz.SIP_TRYING
        body[CALL_STATUS] = CALL_STATUS_WORDS.get(p.status, p.status)
    body[ACCOUNT_SID] = event.account_sid
    return body


def render(event: DomainEvent, settings: RenderSettings = RenderSettings(),
           status_sequence: Optional[int] = None) -> Optional[CallbackRequest]:
    """Render a subscribed ``event`` for a jambonz conference's statusHook; None when not a jambonz event
    (jambonz reports no mute/hold/modify/announcement/recording events on the statusHook). jambonz sends
    no sequence number: ``status_sequence`` is accepted for the common signature and unused."""
    if event_word(event, settings) is None:
        return None
    hook = event.callbacks.status_callback
    data = payload(event, settings)
    if (hook.method or "POST").upper() == "GET":
        pairs = [(k, str(v)) for k, v in data.items()]
        return form_request(dialect=JAMBONZ, kind=KIND_STATUS, event=event, hook_url=hook.url, method="GET",
                            params=pairs, username=hook.username, password=hook.password)
    return CallbackRequest(
        dialect=JAMBONZ, kind=KIND_STATUS, event_name=event.name, account_sid=event.account_sid,
        conference_sid=event.conference_sid, sequence_number=event.sequence_number, method="POST",
        url=hook.url, params=(), body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        content_type=JSON, username=hook.username, password=hook.password,
    )
