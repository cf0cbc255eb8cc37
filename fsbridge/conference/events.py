"""Domain events: what the conference domain reports (→ store, callbacks, logs).

``DomainEvent.name`` is Twilio's ``StatusCallbackEvent`` value (``conference-start``,
``participant-join`` …) or, for recordings, ``recording-in-progress|recording-completed|recording-absent``
(Twilio RecordingStatus), or ``conference-record-end`` (the deprecated eventCallbackUrl event).
The callbacks layer renders each event in the conference's dialect; the store records every event,
subscribed or not. Sources: twilio-twiml-conference-noun.txt parameter table, twilio-conference-events-
announcement.txt, telnyx-texml-conference.txt, jambonz-conference-verb.txt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional, Tuple

from fsbridge.markup.model import Hook

CONFERENCE_START = "conference-start"
CONFERENCE_END = "conference-end"
PARTICIPANT_JOIN = "participant-join"
PARTICIPANT_LEAVE = "participant-leave"
PARTICIPANT_MUTE = "participant-mute"
PARTICIPANT_UNMUTE = "participant-unmute"
PARTICIPANT_HOLD = "participant-hold"
PARTICIPANT_UNHOLD = "participant-unhold"
PARTICIPANT_MODIFY = "participant-modify"
PARTICIPANT_SPEECH_START = "participant-speech-start"
PARTICIPANT_SPEECH_STOP = "participant-speech-stop"
ANNOUNCEMENT_END = "announcement-end"
ANNOUNCEMENT_FAIL = "announcement-fail"
RECORDING_IN_PROGRESS = "recording-in-progress"
RECORDING_COMPLETED = "recording-completed"
RECORDING_ABSENT = "recording-absent"
CONFERENCE_RECORD_END = "conference-record-end"

#: recording DomainEvent name → Twilio RecordingStatus / recordingStatusCallbackEvent word
RECORDING_STATUS_WORDS = {
    RECORDING_IN_PROGRESS: "in-progress",
    RECORDING_COMPLETED: "completed",
    RECORDING_ABSENT: "absent",
}


@dataclass(frozen=True)
class ParticipantView:
    """A participant's full state at the time of the event.

    ``beep``: Twilio beep mode string. ``status``: queued|connecting|ringing|connected|complete|failed.
    ``from_``/``to``: the call's From/To (Telnyx callbacks carry them). ``conference_sid``, ``member_id``
    (engine member id, None before add-member), ``account_sid``, ``date_created``/``date_updated``
    (UTC datetimes) are filled in by the conference domain.
    """

    call_sid: str
    label: Optional[str] = None
    muted: bool = False
    hold: bool = False
    coaching: bool = False
    call_sid_to_coach: Optional[str] = None
    end_conference_on_exit: bool = False
    start_conference_on_enter: bool = True
    beep: str = "true"
    status: str = "connected"
    from_: str = ""
    to: str = ""
    # Added by the domain (optional, defaulted): where the participant is and when it was created/updated.
    conference_sid: Optional[str] = None
    member_id: Optional[int] = None
    account_sid: Optional[str] = None
    date_created: Optional[datetime] = None
    date_updated: Optional[datetime] = None


@dataclass(frozen=True)
class CallbackConfig:
    """Where and how a conference's callbacks go; fixed by the first participant (Twilio).

    ``dialect``: twiml|texml|jambonz. ``status_events``: the subscribed statusCallbackEvent / statusEvents
    words. ``recording_status_events``: recordingStatusCallbackEvent words.
    """

    dialect: str = "twiml"
    status_callback: Optional[Hook] = None
    status_events: Tuple[str, ...] = ()
    recording_status_callback: Optional[Hook] = None
    recording_status_events: Tuple[str, ...] = ("completed",)
    event_callback_url: Optional[str] = None


@dataclass(frozen=True)
class RecordingView:
    """A conference recording. ``duration_s``: whole seconds; ``file_size``: bytes; ``path``: local file."""

    sid: str
    status: str
    path: str = ""
    start_time: Optional[datetime] = None
    duration_s: Optional[int] = None
    file_size: Optional[int] = None
    channels: int = 1
    source: str = "Conference"


@dataclass(frozen=True)
class DomainEvent:
    """One conference event, with everything any dialect's callback needs.

    ``sequence_number``: per conference, strictly increasing from 1 over every event (the history ordinal the
    store keys on). ``status_sequence``: the ``SequenceNumber`` a statusCallback receives — it counts only the
    conference status events actually sent there (subscribed conference-*/participant-*/announcement-*), so
    the app sees 1..N with no gaps; None for events not sent to the statusCallback (unsubscribed ones,
    recording events, conference-record-end). ``timestamp``: the engine's event time
    (timezone-aware UTC). ``subscribed``: True when the conference's callback config asks for it (it is
    recorded either way). ``member_count``: members after the event. ``started_at``: when the conference
    started (jambonz ``duration``).
    """

    name: str
    account_sid: str
    conference_sid: str
    friendly_name: str
    sequence_number: int
    timestamp: datetime
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    subscribed: bool = True
    member_count: int = 0
    started_at: Optional[datetime] = None
    participant: Optional[ParticipantView] = None
    reason_conference_ended: Optional[str] = None
    call_sid_ending_conference: Optional[str] = None
    participant_label_ending_conference: Optional[str] = None
    reason: Optional[str] = None
    participant_call_status: Optional[str] = None
    reason_participant_left: Optional[str] = None
    announce_url: Optional[str] = None
    reason_announcement_failed: Optional[str] = None
    recording: Optional[RecordingView] = None
    status_sequence: Optional[int] = None
