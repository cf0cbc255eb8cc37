"""Twilio conference callbacks: a typed domain event → form-encoded POST (or GET query string).

Sources: ../shared/seeds/twilio-twiml-conference-noun.txt — the statusCallback parameter table ("Sent on"
column), the recordingStatusCallback table, the deprecated eventCallbackUrl (``conference-record-end``, sent
only when no recordingStatusCallback is set); twilio-conference-events-announcement.txt. Every Twilio wire
name lives here; the Telnyx renderer reuses the ones the two dialects share.

Shapes: ``Timestamp``/``RecordingStartTime`` are RFC 2822 (:func:`fsbridge.wire.serialize.rfc2822_callback`) in UTC, day not zero-padded, exactly as the
parameter table shows (``Thu, 1 Jun 2017 20:48:32 +0000``); booleans are ``true``/``false``; numbers are
decimal strings.
"""
from __future__ import annotations

from typing import Optional

from fsbridge.conference import events as ev
from fsbridge.conference.events import DomainEvent
from fsbridge.wire import TWIML
from fsbridge.wire.serialize import bool_str, rfc2822_callback

from .request import KIND_EVENT, KIND_RECORDING, KIND_STATUS, CallbackRequest, RenderSettings, form_request
from .signing import TWILIO_IDEMPOTENCY_HEADER, twilio_idempotency_token

# The wire names and the RecordingUrl path are Twilio's (fsbridge.wire.twilio); re-exported here for the Telnyx
# renderer, which shares most of them.
from fsbridge.wire.twilio import (  # noqa: F401
    ACCOUNT_SID, ANNOUNCE_URL, CALL_SID, CALL_SID_ENDING_CONFERENCE, CALL_SID_TO_COACH, COACHING, CONFERENCE_SID,
    DURATION, END_CONFERENCE_ON_EXIT, EVENT_NAME, FRIENDLY_NAME, HOLD, MUTED, PARTICIPANT_CALL_STATUS,
    PARTICIPANT_LABEL, PARTICIPANT_LABEL_ENDING_CONFERENCE, REASON, REASON_ANNOUNCEMENT_FAILED,
    REASON_CONFERENCE_ENDED, REASON_PARTICIPANT_LEFT, RECORDING_CHANNELS, RECORDING_DURATION, RECORDING_FILE_SIZE,
    RECORDING_PATH, RECORDING_SID, RECORDING_SOURCE, RECORDING_START_TIME, RECORDING_STATUS, RECORDING_URL,
    SEQUENCE_NUMBER, START_CONFERENCE_ON_ENTER, STATUS_CALLBACK_EVENT, TIMESTAMP)

#: the StatusCallbackEvent values Twilio sends to a statusCallback (parameter table)
STATUS_EVENTS = frozenset({
    ev.CONFERENCE_START, ev.CONFERENCE_END, ev.PARTICIPANT_JOIN, ev.PARTICIPANT_LEAVE, ev.PARTICIPANT_MUTE,
    ev.PARTICIPANT_UNMUTE, ev.PARTICIPANT_HOLD, ev.PARTICIPANT_UNHOLD, ev.PARTICIPANT_MODIFY,
    ev.PARTICIPANT_SPEECH_START, ev.PARTICIPANT_SPEECH_STOP, ev.ANNOUNCEMENT_END, ev.ANNOUNCEMENT_FAIL,
})


def recording_url(base_url: str, event: DomainEvent, path: str = RECORDING_PATH) -> str:
    """``base_url`` + the REST path of ``event.recording``."""
    return base_url.rstrip("/") + path.format(
        account_sid=event.account_sid, conference_sid=event.conference_sid, recording_sid=event.recording.sid
    )


def sequence_number(event: DomainEvent, status_sequence: Optional[int] = None) -> str:
    """The ``SequenceNumber`` value: the statusCallback's own 1..N count (``status_sequence``, given by the
    dispatcher's :class:`~.subscriptions.StatusSequence`) when set, else the conference's event ordinal."""
    return str(status_sequence if status_sequence is not None else event.sequence_number)


def idempotency_headers(event: DomainEvent, kind: str):
    """The ``I-Twilio-Idempotency-Token`` header pair: one token per (conference, sequence, target)."""
    return ((TWILIO_IDEMPOTENCY_HEADER, twilio_idempotency_token(event.conference_sid, event.sequence_number,
                                                                 kind, event.name)),)


def _participant_params(p):
    out = [
        (CALL_SID, p.call_sid),
        (MUTED, bool_str(p.muted)),
        (HOLD, bool_str(p.hold)),
        (COACHING, bool_str(p.coaching)),
        (END_CONFERENCE_ON_EXIT, bool_str(p.end_conference_on_exit)),
        (START_CONFERENCE_ON_ENTER, bool_str(p.start_conference_on_enter)),
    ]
    if p.label is not None:
        out.append((PARTICIPANT_LABEL, p.label))
    if p.coaching and p.call_sid_to_coach:
        out.append((CALL_SID_TO_COACH, p.call_sid_to_coach))
    return out


class _SecondCache:
    """``rfc2822_callback`` memoised for the last second seen: callbacks of one second share the text, so the
    date is formatted once per second instead of once per event (issue 16: 12 % of a callback's CPU)."""

    __slots__ = ("key", "text")

    def __init__(self):
        self.key = None
        self.text = ""

    def __call__(self, when) -> str:
        key = int(when.timestamp()) if when.tzinfo is not None else when.replace(microsecond=0)
        if key != self.key:
            self.text, self.key = rfc2822_callback(when), key
        return self.text


_timestamp = _SecondCache()


def _optional(pairs):
    return [(k, str(v)) for k, v in pairs if v is not None]


def _common_params(event: DomainEvent, status_sequence: Optional[int] = None):
    """The fields every statusCallback (and the deprecated eventCallbackUrl) request starts with, in the
    parameter table's order: ConferenceSid, FriendlyName, AccountSid, SequenceNumber, Timestamp."""
    return [
        (CONFERENCE_SID, event.conference_sid),
        (FRIENDLY_NAME, event.friendly_name),
        (ACCOUNT_SID, event.account_sid),
        (SEQUENCE_NUMBER, sequence_number(event, status_sequence)),
        (TIMESTAMP, _timestamp(event.timestamp)),
    ]


def status_params(event: DomainEvent, status_sequence: Optional[int] = None):
    """The ordered (name, value) pairs of a statusCallback request for ``event`` (parameter table order)."""
    params = _common_params(event, status_sequence) + [(STATUS_CALLBACK_EVENT, event.name)]
    if event.participant is not None and not isinstance(event, (ev.ConferenceStarted, ev.ConferenceEnded)):
        params += _participant_params(event.participant)
    if isinstance(event, ev.ConferenceEnded):
        params += _optional([
            (CALL_SID_ENDING_CONFERENCE, event.call_sid_ending_conference),
            (PARTICIPANT_LABEL_ENDING_CONFERENCE, event.participant_label_ending_conference),
            (REASON_CONFERENCE_ENDED, event.reason_conference_ended),
            (REASON, event.reason),
        ])
    elif isinstance(event, ev.ParticipantLeft):
        params += _optional([
            (PARTICIPANT_CALL_STATUS, event.participant_call_status),
            (REASON_PARTICIPANT_LEFT, event.reason_participant_left),
        ])
    elif isinstance(event, (ev.AnnouncementEnded, ev.AnnouncementFailed)):
        params += _optional([
            (ANNOUNCE_URL, event.announce_url),
            (REASON_ANNOUNCEMENT_FAILED, event.reason_announcement_failed),
        ])
    return params


def recording_params(event: DomainEvent, base_url: str, path: str = RECORDING_PATH):
    """recordingStatusCallback pairs (recordingStatusCallback table). RecordingDuration and
    RecordingStartTime are left out while unknown (e.g. in-progress). ``RecordingUrl`` = ``base_url`` +
    ``path`` (default the Twilio REST path of the recording; Telnyx passes its audio path)."""
    rec = event.recording
    params = [
        (ACCOUNT_SID, event.account_sid),
        (CONFERENCE_SID, event.conference_sid),
        (RECORDING_SID, rec.sid),
        (RECORDING_URL, recording_url(base_url, event, path)),
        (RECORDING_STATUS, ev.RECORDING_STATUS_WORDS.get(event.name, rec.status)),
    ]
    params += _optional([
        (RECORDING_DURATION, rec.duration_s),
        (RECORDING_CHANNELS, rec.channels),
        (RECORDING_START_TIME, rfc2822_callback(rec.start_time) if rec.start_time else None),
        (RECORDING_SOURCE, rec.source),
    ])
    return params


def record_end_params(event: DomainEvent, base_url: str):
    """Deprecated eventCallbackUrl pairs: the statusCallback common fields, then EventName,
    RecordingUrl, Duration (s), RecordingFileSize (bytes)."""
    rec = event.recording
    params = _common_params(event) + [(EVENT_NAME, ev.CONFERENCE_RECORD_END)]
    if rec is not None:
        params.append((RECORDING_URL, recording_url(base_url, event)))
        params += _optional([(DURATION, rec.duration_s), (RECORDING_FILE_SIZE, rec.file_size)])
    return params


def render(event: DomainEvent, settings: RenderSettings = RenderSettings(),
           status_sequence: Optional[int] = None) -> Optional[CallbackRequest]:
    """Render a subscribed ``event`` (the caller decided that: :func:`.subscriptions.is_subscribed`) for a
    TwiML conference; None when the dialect has nothing to send for it.

    * status events (conference-*, participant-*, announcement-*) → ``statusCallback``, SequenceNumber =
      ``status_sequence`` (else the event's ordinal);
    * ``recording-*`` → ``recordingStatusCallback``;
    * ``conference-record-end`` → ``eventCallbackUrl`` (always POST).
    """
    cb = event.callbacks
    if event.name in STATUS_EVENTS:
        hook = cb.status_callback
        return form_request(dialect=TWIML, kind=KIND_STATUS, event=event, hook_url=hook.url, method=hook.method,
                            params=status_params(event, status_sequence), headers=idempotency_headers(event, KIND_STATUS),
                            username=hook.username, password=hook.password)
    if event.name in ev.RECORDING_STATUS_WORDS:
        hook = cb.recording_status_callback
        if event.recording is None:
            return None
        return form_request(dialect=TWIML, kind=KIND_RECORDING, event=event, hook_url=hook.url,
                            method=hook.method, params=recording_params(event, settings.base_url),
                            headers=idempotency_headers(event, KIND_RECORDING),
                            username=hook.username, password=hook.password)
    if isinstance(event, ev.ConferenceRecordEnded):
        return form_request(dialect=TWIML, kind=KIND_EVENT, event=event, hook_url=cb.event_callback_url,
                            method="POST", params=record_end_params(event, settings.base_url),
                            headers=idempotency_headers(event, KIND_EVENT))
    return None
