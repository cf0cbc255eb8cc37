"""Which statusCallbackEvent / statusEvents word subscribes to which domain event.

Twilio statusCallbackEvent words: start end join leave mute hold modify speaker announcement
(twilio-twiml-conference-noun.txt); TeXML: start end join leave speaker (telnyx-texml-conference.txt);
jambonz statusEvents: start end join leave start-talking end-talking (jambonz-conference-verb.txt; its code
emits ``stop-talking``, accepted as well). Recording events: recordingStatusCallbackEvent words
in-progress completed absent; the deprecated eventCallbackUrl gets conference-record-end only when no
recordingStatusCallback is set.
"""
from __future__ import annotations

from fsbridge.conference import events as ev
from fsbridge.conference.events import CallbackConfig
from fsbridge.markup import jambonz, texml, twiml
from fsbridge.markup.model import JAMBONZ, TEXML, TWIML

_WORDS = {
    ev.CONFERENCE_START: ("start",),
    ev.CONFERENCE_END: ("end",),
    ev.PARTICIPANT_JOIN: ("join",),
    ev.PARTICIPANT_LEAVE: ("leave",),
    ev.PARTICIPANT_MUTE: ("mute",),
    ev.PARTICIPANT_UNMUTE: ("mute",),
    ev.PARTICIPANT_HOLD: ("hold",),
    ev.PARTICIPANT_UNHOLD: ("hold",),
    ev.PARTICIPANT_MODIFY: ("modify",),
    ev.PARTICIPANT_SPEECH_START: ("speaker", "start-talking"),
    ev.PARTICIPANT_SPEECH_STOP: ("speaker", "end-talking", "stop-talking"),
    ev.ANNOUNCEMENT_END: ("announcement",),
    ev.ANNOUNCEMENT_FAIL: ("announcement",),
}

#: the words each dialect's parser accepts (markup is their one spelling); jambonz also its alias stop-talking
_DIALECT_WORDS = {
    TWIML: frozenset(twiml.CONFERENCE_EVENTS),
    TEXML: frozenset(texml.CONFERENCE_EVENTS),
    JAMBONZ: frozenset(jambonz.STATUS_EVENTS) | {alias for alias, _ in jambonz.STATUS_EVENT_ALIASES},
}


def is_status_event(name: str) -> bool:
    """True for the events a statusCallback receives (conference-*, participant-*, announcement-*); False
    for recording events and conference-record-end, which go to their own URLs (Twilio)."""
    return name in _WORDS


def is_subscribed(name: str, config: CallbackConfig) -> bool:
    """True when a DomainEvent called ``name`` should be sent under ``config`` (it is recorded either way).

    Status events need a ``status_callback`` and one of the event's words in ``status_events`` that the
    dialect knows; recording events need ``recording_status_callback`` and the status word in
    ``recording_status_events``; conference-record-end needs ``event_callback_url`` and no
    recordingStatusCallback (Twilio: eventCallbackUrl is deprecated).
    """
    if name in ev.RECORDING_STATUS_WORDS:
        return (config.recording_status_callback is not None
                and ev.RECORDING_STATUS_WORDS[name] in config.recording_status_events)
    if name == ev.CONFERENCE_RECORD_END:
        return bool(config.event_callback_url) and config.recording_status_callback is None
    if config.status_callback is None:
        return False
    known = _DIALECT_WORDS.get(config.dialect, _DIALECT_WORDS[TWIML])
    return any(w in config.status_events and w in known for w in _WORDS.get(name, ()))
