"""Domain events: what the conference domain reports (→ store, callbacks, logs), one frozen class per kind
(as h11 ``_events.py``).

Each class carries its Twilio event word as the class constant ``NAME`` (``event.name`` reads it):
Twilio's ``StatusCallbackEvent`` value (``conference-start``,
``participant-join`` …) or, for recordings, ``recording-in-progress|recording-completed|recording-absent``
(Twilio RecordingStatus), or ``conference-record-end`` (the deprecated eventCallbackUrl event).
The callbacks layer decides whether an event is sent (subscriptions) and which statusCallback
SequenceNumber it gets, then renders it in the conference's dialect; the store records every event.
Delivery bookkeeping is not part of an event. Sources: twilio-twiml-conference-noun.txt parameter table,
twilio-conference-events-announcement.txt, telnyx-texml-conference.txt, jambonz-conference-verb.txt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as fields_of
from datetime import datetime
from typing import ClassVar, Dict, Optional, Tuple, Type

from fsbridge.markup.model import Hook

# The event words and the recording status words are Twilio's (fsbridge.wire.twilio); re-exported here as the
# domain's event names.
from fsbridge.wire import TWIML
from fsbridge.wire.twilio import (  # noqa: F401
    ANNOUNCEMENT_END, ANNOUNCEMENT_FAIL, CONFERENCE_END, CONFERENCE_RECORD_END, CONFERENCE_START,
    PARTICIPANT_HOLD, PARTICIPANT_JOIN, PARTICIPANT_LEAVE, PARTICIPANT_MODIFY, PARTICIPANT_MUTE,
    PARTICIPANT_SPEECH_START, PARTICIPANT_SPEECH_STOP, PARTICIPANT_UNHOLD, PARTICIPANT_UNMUTE, P_CONNECTED,
    REC_COMPLETED, RECORDING_ABSENT, RECORDING_COMPLETED, RECORDING_IN_PROGRESS, RECORDING_STATUS_WORDS)


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
    status: str = P_CONNECTED
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

    dialect: str = TWIML
    status_callback: Optional[Hook] = None
    status_events: Tuple[str, ...] = ()
    recording_status_callback: Optional[Hook] = None
    recording_status_events: Tuple[str, ...] = (REC_COMPLETED,)
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
    """What every conference event carries (the envelope); subclasses add their own fields.

    ``sequence_number``: per conference, strictly increasing from 1 over every event (the history ordinal
    the store keys on). ``timestamp``: the engine's event time (timezone-aware UTC). ``callbacks``: the
    conference's :class:`CallbackConfig` (where its callbacks would go). ``member_count``: members after the
    event. ``started_at``: when the conference started (jambonz ``duration``). ``participant``: the
    participant the event is about (None for conference-level events and conference-wide announcements).
    """

    NAME: ClassVar[str] = ""

    account_sid: str
    conference_sid: str
    friendly_name: str
    sequence_number: int
    timestamp: datetime
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    member_count: int = 0
    started_at: Optional[datetime] = None
    participant: Optional[ParticipantView] = None

    @property
    def name(self) -> str:
        """The Twilio event word of this kind (``conference-start``, ``participant-join`` …)."""
        return self.NAME

    # Fields only some kinds carry read as None on the others, so a renderer can ask any event.
    reason_conference_ended = call_sid_ending_conference = participant_label_ending_conference = None
    reason = reason_participant_left = participant_call_status = None
    announce_url = reason_announcement_failed = None
    recording = None
    call = None   # ConferenceStarted / ConferenceEnded: the call that started / ended it


@dataclass(frozen=True)
class ConferenceStarted(DomainEvent):
    """The start rule held (≥ 2 members, one with startConferenceOnEnter). ``call``: the participant whose
    join started it (TeXML's and jambonz's start callbacks carry its call; Twilio's do not)."""
    NAME: ClassVar[str] = CONFERENCE_START
    call: Optional[ParticipantView] = None


@dataclass(frozen=True)
class ConferenceEnded(DomainEvent):
    """The conference completed. ``reason_conference_ended``: ReasonConferenceEnded;
    ``call_sid_ending_conference`` / ``participant_label_ending_conference``: who ended it (None for the
    API); ``reason``: human-readable text (Twilio ``Reason``). ``call``: the participant that ended it, else
    the last one who left (TeXML's and jambonz's end callbacks carry its call; Twilio's do not)."""
    NAME: ClassVar[str] = CONFERENCE_END
    call: Optional[ParticipantView] = None
    reason_conference_ended: Optional[str] = None
    call_sid_ending_conference: Optional[str] = None
    participant_label_ending_conference: Optional[str] = None
    reason: Optional[str] = None


@dataclass(frozen=True)
class ParticipantJoined(DomainEvent):
    """The engine confirmed the member (add-member)."""
    NAME: ClassVar[str] = PARTICIPANT_JOIN


@dataclass(frozen=True)
class ParticipantLeft(DomainEvent):
    """The participant left (or a visible join failed). ``reason_participant_left``: ReasonParticipantLeft;
    ``participant_call_status``: ParticipantCallStatus."""
    NAME: ClassVar[str] = PARTICIPANT_LEAVE
    reason_participant_left: Optional[str] = None
    participant_call_status: Optional[str] = None


@dataclass(frozen=True)
class ParticipantMuted(DomainEvent):
    """The participant was muted (StatusCallbackEvent ``participant-mute``)."""
    NAME: ClassVar[str] = PARTICIPANT_MUTE


@dataclass(frozen=True)
class ParticipantUnmuted(DomainEvent):
    """The participant was unmuted (``participant-unmute``)."""
    NAME: ClassVar[str] = PARTICIPANT_UNMUTE


@dataclass(frozen=True)
class ParticipantHeld(DomainEvent):
    """The participant was put on hold (``participant-hold``)."""
    NAME: ClassVar[str] = PARTICIPANT_HOLD


@dataclass(frozen=True)
class ParticipantUnheld(DomainEvent):
    """The participant was taken off hold (``participant-unhold``)."""
    NAME: ClassVar[str] = PARTICIPANT_UNHOLD


@dataclass(frozen=True)
class ParticipantModified(DomainEvent):
    """Exit beep, endConferenceOnExit, coaching or waitUrl changed through the API."""
    NAME: ClassVar[str] = PARTICIPANT_MODIFY


@dataclass(frozen=True)
class SpeechStarted(DomainEvent):
    """The participant started talking (``participant-speech-start``; jambonz ``start-talking``)."""
    NAME: ClassVar[str] = PARTICIPANT_SPEECH_START


@dataclass(frozen=True)
class SpeechStopped(DomainEvent):
    """The participant stopped talking (``participant-speech-stop``; jambonz ``end-talking`` / ``stop-talking``)."""
    NAME: ClassVar[str] = PARTICIPANT_SPEECH_STOP


@dataclass(frozen=True)
class AnnouncementEnded(DomainEvent):
    """An AnnounceUrl finished playing. ``participant``: None for a conference-wide announcement."""
    NAME: ClassVar[str] = ANNOUNCEMENT_END
    announce_url: Optional[str] = None


@dataclass(frozen=True)
class AnnouncementFailed(DomainEvent):
    """An AnnounceUrl could not be played; ``reason_announcement_failed``: the engine's error."""
    NAME: ClassVar[str] = ANNOUNCEMENT_FAIL
    announce_url: Optional[str] = None
    reason_announcement_failed: Optional[str] = None


@dataclass(frozen=True)
class RecordingEvent(DomainEvent):
    """Base of the recording events; ``recording``: the recording now."""
    recording: Optional[RecordingView] = None


@dataclass(frozen=True)
class RecordingStarted(RecordingEvent):
    """A recording is in progress (recordingStatusCallbackEvent ``in-progress``)."""
    NAME: ClassVar[str] = RECORDING_IN_PROGRESS


@dataclass(frozen=True)
class RecordingCompleted(RecordingEvent):
    """A recording finished with audio (recordingStatusCallbackEvent ``completed``)."""
    NAME: ClassVar[str] = RECORDING_COMPLETED


@dataclass(frozen=True)
class RecordingAbsent(RecordingEvent):
    """A recording with no audio (0 ms or 0 bytes)."""
    NAME: ClassVar[str] = RECORDING_ABSENT


@dataclass(frozen=True)
class ConferenceRecordEnded(RecordingEvent):
    """The deprecated eventCallbackUrl event (only when no recordingStatusCallback is set)."""
    NAME: ClassVar[str] = CONFERENCE_RECORD_END


#: event word → class, for every kind
EVENT_TYPES: Dict[str, Type[DomainEvent]] = {
    cls.NAME: cls for cls in (
        ConferenceStarted, ConferenceEnded, ParticipantJoined, ParticipantLeft, ParticipantMuted,
        ParticipantUnmuted, ParticipantHeld, ParticipantUnheld, ParticipantModified, SpeechStarted,
        SpeechStopped, AnnouncementEnded, AnnouncementFailed, RecordingStarted, RecordingCompleted,
        RecordingAbsent, ConferenceRecordEnded)
}


def make(name: str, **fields) -> DomainEvent:
    """The event of kind ``name`` (an event word) built from ``fields`` (for fakes, tests and benches that
    build events by word); fields that kind does not carry are ignored, so a caller can pass one uniform
    set. Raises KeyError for an unknown name, TypeError for a missing envelope field."""
    cls = EVENT_TYPES[name]
    own = {f.name for f in fields_of(cls)}
    return cls(**{k: v for k, v in fields.items() if k in own})
