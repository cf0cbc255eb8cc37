"""Telnyx TeXML conference callbacks: DomainEvent → form-encoded POST (or GET query string).

Source: ../shared/seeds/telnyx-texml-conference.txt ("Expected callbacks": join, leave, end, speaker) and
Telnyx's TeXML callback reference (body ``application/x-www-form-urlencoded``). Every status callback carries
exactly the seed's ten fields — AccountSid, CallSid, CallSidLegacy, ConferenceSid, FriendlyName, From,
SequenceNumber, StatusCallbackEvent, Timestamp, To — in the seed's order; fields unknown for the event (e.g.
no participant on a conference-start) are sent empty so the field set never varies. ``Timestamp`` is
``2021-04-28 22:51:29.993535Z`` (UTC, microseconds). Events: start end join leave speaker (speaker →
participant-speech-start / participant-speech-stop). Recording callbacks reuse Twilio's recordingStatusCallback
fields (TeXML is TwiML-compatible there); their ``RecordingUrl`` is the audio file itself, as Telnyx's is (a media
URL, not a REST resource): the bridge serves it at the Twilio recording path + ``.wav``. Telnyx has no
eventCallbackUrl.
Wire names: :mod:`fsbridge.wire.twilio` (shared with Twilio) and :mod:`fsbridge.wire.texml`.
"""
from __future__ import annotations

from typing import Optional

from fsbridge.conference import events as ev
from fsbridge.conference.events import DomainEvent
from fsbridge.wire import TEXML
from fsbridge.wire.serialize import telnyx_time
from fsbridge.wire.texml import CALL_SID_LEGACY
from fsbridge.wire.twilio import FROM, TO

from . import twilio as tw
from .request import KIND_RECORDING, KIND_STATUS, CallbackRequest, RenderSettings, form_request

#: the StatusCallbackEvent values Telnyx sends (seed: start, end, join, leave, speaker)
STATUS_EVENTS = frozenset({ev.CONFERENCE_START, ev.CONFERENCE_END, ev.PARTICIPANT_JOIN, ev.PARTICIPANT_LEAVE,
                           ev.PARTICIPANT_SPEECH_START, ev.PARTICIPANT_SPEECH_STOP})
RECORDING_PATH = tw.RECORDING_PATH + ".wav"


def status_params(event: DomainEvent, status_sequence: Optional[int] = None):
    """The ten seed fields for ``event``, in the seed's order. The call is the event's participant, else
    (conference-start / -end) the event's ``call`` — who started it; who ended it or left last — whose
    CallSid, From and To the seed's ``end`` example carries; else the call that ended the conference."""
    p = event.participant or getattr(event, "call", None)
    call_sid = p.call_sid if p is not None else (event.call_sid_ending_conference or "")
    return [
        (tw.ACCOUNT_SID, event.account_sid),
        (tw.CALL_SID, call_sid),
        (CALL_SID_LEGACY, call_sid),
        (tw.CONFERENCE_SID, event.conference_sid),
        (tw.FRIENDLY_NAME, event.friendly_name),
        (FROM, p.from_ if p is not None else ""),
        (tw.SEQUENCE_NUMBER, tw.sequence_number(event, status_sequence)),
        (tw.STATUS_CALLBACK_EVENT, event.name),
        (tw.TIMESTAMP, telnyx_time(event.timestamp)),
        (TO, p.to if p is not None else ""),
    ]


def render(event: DomainEvent, settings: RenderSettings = RenderSettings(),
           status_sequence: Optional[int] = None) -> Optional[CallbackRequest]:
    """Render a subscribed ``event`` for a TeXML conference; None when Telnyx does not report it (mute,
    hold, modify, announcement, conference-record-end). ``status_sequence``: as :func:`.twilio.render`."""
    cb = event.callbacks
    if event.name in STATUS_EVENTS:
        hook = cb.status_callback
        return form_request(dialect=TEXML, kind=KIND_STATUS, event=event, hook_url=hook.url, method=hook.method,
                            params=status_params(event, status_sequence), username=hook.username, password=hook.password)
    if event.name in ev.RECORDING_STATUS_WORDS:
        hook = cb.recording_status_callback
        if event.recording is None:
            return None
        return form_request(dialect=TEXML, kind=KIND_RECORDING, event=event, hook_url=hook.url,
                            method=hook.method, params=tw.recording_params(event, settings.base_url, RECORDING_PATH),
                            username=hook.username, password=hook.password)
    return None
