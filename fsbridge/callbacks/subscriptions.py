"""Delivery bookkeeping, decided once for every domain event: is it sent (which statusCallbackEvent /
statusEvents word subscribes to it), and which statusCallback ``SequenceNumber`` it gets.

Twilio statusCallbackEvent words: start end join leave mute hold modify speaker announcement
(twilio-twiml-conference-noun.txt); TeXML: start end join leave speaker (telnyx-texml-conference.txt);
jambonz statusEvents: start end join leave start-talking end-talking (jambonz-conference-verb.txt; its code
emits ``stop-talking``, accepted as well). Recording events: recordingStatusCallbackEvent words
in-progress completed absent; the deprecated eventCallbackUrl gets conference-record-end only when no
recordingStatusCallback is set.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Union

from fsbridge.conference import events as ev
from fsbridge.conference.events import CallbackConfig, DomainEvent
from fsbridge.wire import JAMBONZ, TEXML, TWIML
from fsbridge.wire import jambonz as jz
from fsbridge.wire import texml as tx
from fsbridge.wire import twilio as tw

_WORDS = {
    ev.CONFERENCE_START: (tw.EV_START,),
    ev.CONFERENCE_END: (tw.EV_END,),
    ev.PARTICIPANT_JOIN: (tw.EV_JOIN,),
    ev.PARTICIPANT_LEAVE: (tw.EV_LEAVE,),
    ev.PARTICIPANT_MUTE: (tw.EV_MUTE,),
    ev.PARTICIPANT_UNMUTE: (tw.EV_MUTE,),
    ev.PARTICIPANT_HOLD: (tw.EV_HOLD,),
    ev.PARTICIPANT_UNHOLD: (tw.EV_HOLD,),
    ev.PARTICIPANT_MODIFY: (tw.EV_MODIFY,),
    ev.PARTICIPANT_SPEECH_START: (tw.EV_SPEAKER, jz.START_TALKING),
    ev.PARTICIPANT_SPEECH_STOP: (tw.EV_SPEAKER,) + jz.TALK_STOP_WORDS,
    ev.ANNOUNCEMENT_END: (tw.EV_ANNOUNCEMENT,),
    ev.ANNOUNCEMENT_FAIL: (tw.EV_ANNOUNCEMENT,),
}

#: the words each dialect accepts (fsbridge.wire is their one spelling); jambonz also its alias stop-talking
_DIALECT_WORDS = {
    TWIML: frozenset(tw.CONFERENCE_EVENTS),
    TEXML: frozenset(tx.CONFERENCE_EVENTS),
    JAMBONZ: frozenset(jz.STATUS_EVENTS) | {alias for alias, _ in jz.STATUS_EVENT_ALIASES},
}


def is_status_event(name: Union[str, DomainEvent]) -> bool:
    """``name``: an event word or a DomainEvent. True for the events a statusCallback receives
    (conference-*, participant-*, announcement-*); False for recording events and conference-record-end,
    which go to their own URLs (Twilio)."""
    return (name if isinstance(name, str) else name.name) in _WORDS


def is_subscribed(name: Union[str, DomainEvent], config: Optional[CallbackConfig] = None) -> bool:
    """True when the DomainEvent ``name`` (an event, or an event word with its ``config``) should be sent
    (it is recorded either way). ``config`` defaults to the event's own ``callbacks``.

    Status events need a ``status_callback`` and one of the event's words in ``status_events`` that the
    dialect knows; recording events need ``recording_status_callback`` and the status word in
    ``recording_status_events``; conference-record-end needs ``event_callback_url`` and no
    recordingStatusCallback (Twilio: eventCallbackUrl is deprecated).
    """
    if not isinstance(name, str):
        config = config if config is not None else name.callbacks
        name = name.name
    if name in ev.RECORDING_STATUS_WORDS:
        return (config.recording_status_callback is not None
                and ev.RECORDING_STATUS_WORDS[name] in config.recording_status_events)
    if name == ev.CONFERENCE_RECORD_END:
        return bool(config.event_callback_url) and config.recording_status_callback is None
    if config.status_callback is None:
        return False
    known = _DIALECT_WORDS.get(config.dialect, _DIALECT_WORDS[TWIML])
    return any(w in config.status_events and w in known for w in _WORDS.get(name, ()))


class StatusSequence:
    """The statusCallback ``SequenceNumber`` count per conference: :meth:`take` gives 1, 2, … for the
    status events actually sent. ``start``: ``{conference_sid: last number already sent}``; ``lookup``:
    ``conference_sid → last number already sent``, asked once when a conference is first seen (e.g.
    :func:`fsbridge.callbacks.outbox.last_status_sequence` after a restart). Neither given: every conference
    starts at 1. Not thread-safe: used under the caller's lock/greenlet order."""

    def __init__(self, start: Optional[Dict[str, int]] = None,
                 lookup: Optional[Callable[[str], int]] = None):
        self._last: Dict[str, int] = dict(start or {})
        self._lookup = lookup

    def take(self, event: DomainEvent) -> Optional[int]:
        """The SequenceNumber for ``event`` if it is a subscribed status event (counted), else None (not
        counted: unsubscribed, or a recording / conference-record-end event)."""
        if not (is_status_event(event) and is_subscribed(event)):
            return None
        cf = event.conference_sid
        if cf not in self._last and self._lookup is not None:
            self._last[cf] = int(self._lookup(cf) or 0)
        n = self._last.get(cf, 0) + 1
        self._last[event.conference_sid] = n
        return n

    def seed(self, conference_sid: str, last: int) -> None:
        """Continue ``conference_sid``'s count after ``last`` (what was already sent)."""
        self._last[conference_sid] = max(self._last.get(conference_sid, 0), last)

    def forget(self, conference_sid: str) -> None:
        """Drop a conference's count (it completed and its last callback was queued)."""
        self._last.pop(conference_sid, None)
