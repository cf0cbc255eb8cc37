"""Pure rules of a Twilio conference, as small functions (no state, no I/O).

Sources: twilio-twiml-conference-noun.txt (beep, jitterBufferSize, startConferenceOnEnter, statusCallback
"set by the first Participant"), telnyx-texml-conference.txt, jambonz-conference-verb.txt.
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

from fsbridge.conference.events import CallbackConfig
from fsbridge.markup import model as markup

_BEEP = {"true": (True, True), "false": (False, False), "onEnter": (True, False), "onExit": (False, True)}
_JITTER_MS = {"small": 20, "medium": 40, "large": 60, "off": None}


def beep_flags(beep: str) -> Tuple[bool, bool]:
    """Twilio ``beep`` mode → ``(enter_beep, exit_beep)``: true → both, false → neither, onEnter, onExit.
    Unknown values count as Twilio's default ``true``."""
    return _BEEP.get(beep, (True, True))


def beep_mode(value) -> str:
    """Normalise a beep value to Twilio's four strings. ``value``: a mode string (the Conference noun's
    ``beep``; unknown → Twilio's default ``true``) or an ``(enter, exit)`` pair of bools (the inverse of
    :func:`beep_flags`, used when BeepOnExit is changed via the API)."""
    if isinstance(value, tuple):
        return next(k for k, v in _BEEP.items() if v == (bool(value[0]), bool(value[1])))
    return value if value in _BEEP else "true"


def jitter_buffer_ms(size: str) -> Optional[int]:
    """Twilio ``jitterBufferSize`` → milliseconds: small 20, medium 40, large 60, off None (default large)."""
    return _JITTER_MS.get(size, 60)


def should_start(joined: Iterable) -> bool:
    """The start rule: at least two participants are in the conference and at least one of them has
    startConferenceOnEnter=true (Twilio statusCallbackEvent ``start``; with the defaults the conference
    starts when the second participant joins — the 2016 Team Meeting). ``joined``: objects with a
    ``start_conference_on_enter`` attribute (connected participants)."""
    members = list(joined)
    return len(members) >= 2 and any(m.start_conference_on_enter for m in members)


def callback_config(conference: markup.Conference, dialect: str) -> CallbackConfig:
    """The conference's callback settings, taken from its first participant's ``conference`` noun.

    TwiML/TeXML: statusCallback + statusCallbackMethod, statusCallbackEvent, recordingStatusCallback(+Method,
    +Event), eventCallbackUrl. jambonz: statusHook (a :class:`Hook`) + statusEvents.
    """
    status = conference.status_hook
    if status is None and conference.status_callback:
        status = markup.Hook(conference.status_callback, conference.status_callback_method or "POST")
    rec = None
    if conference.recording_status_callback:
        rec = markup.Hook(conference.recording_status_callback,
                          conference.recording_status_callback_method or "POST")
    return CallbackConfig(
        dialect=dialect, status_callback=status, status_events=tuple(conference.status_callback_event),
        recording_status_callback=rec,
        recording_status_events=tuple(conference.recording_status_callback_event),
        event_callback_url=conference.event_callback_url or None)
