"""Dialect-neutral verb model: what every markup parser (TwiML, TeXML, jambonz) produces.

All classes are frozen dataclasses. Field names are the snake_case form of Twilio's attribute names
(``startConferenceOnEnter`` → ``start_conference_on_enter``); fields that only one dialect has keep
that dialect's name in snake_case (jambonz ``memberTag`` is mapped onto ``participant_label``,
``joinMuted`` onto ``muted``, ``statusHook`` onto ``status_callback``; Telnyx ``recordBeep`` →
``record_beep``). Defaults here are Twilio's; each parser fills its own dialect's defaults
(TeXML ``trim`` = ``do-not-trim``, jambonz ``beep`` = False).

Sources: ../shared/seeds/twilio-twiml-conference-noun.txt, telnyx-texml-conference.txt,
jambonz-conference-verb.txt and jambonz's verb specification 0.1.13.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

from fsbridge.wire import DIALECTS, JAMBONZ, TEXML, TWIML  # noqa: F401  (the dialect ids live in fsbridge.wire)
from fsbridge.wire import twilio as _tw


@dataclass(frozen=True)
class Hook:
    """A callback URL with its HTTP method and optional basic-auth credentials.

    jambonz hooks are ``"url"`` or ``{url, method, username, password}``; TwiML/TeXML URLs become a Hook
    with the attribute's companion ``*Method`` (default POST).
    """

    url: str
    method: str = "POST"
    username: Optional[str] = None
    password: Optional[str] = None


@dataclass(frozen=True)
class MarkupWarning:
    """A non-fatal markup problem, reported as Twilio does (e.g. code 12200 "Schema validation warning").

    ``code``: Twilio error code (int); ``message``: human-readable text; ``path``: where in the document
    (e.g. ``"Response/Dial/Conference@beep"``).
    """

    code: int
    message: str
    path: str = ""


@dataclass(frozen=True)
class Conference:
    """The ``<Dial><Conference>`` noun / jambonz ``conference`` verb, defaults filled in.

    ``name``: room friendly name (the element text / jambonz ``name``).
    ``beep``: one of ``"true" "false" "onEnter" "onExit"`` (Twilio's four values, as strings).
    ``jitter_buffer_size``: ``small|medium|large|off``. ``max_participants``: int (Twilio ≤ 250).
    ``status_callback_event`` / ``recording_status_callback_event``: tuples of the dialect's event words,
    in document order, e.g. ``("start", "end", "join")``; jambonz ``statusEvents`` are normalised
    (``stop-talking`` → ``end-talking``).
    ``wait_url``: None = default hold music; ``""`` = nothing (Twilio: empty string disables it).
    """

    name: str
    muted: bool = False
    beep: str = _tw.BEEP_TRUE
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    participant_label: Optional[str] = None
    jitter_buffer_size: str = "large"
    wait_url: Optional[str] = None
    wait_method: str = "POST"
    max_participants: int = 250
    record: str = _tw.DO_NOT_RECORD
    region: Optional[str] = None
    trim: str = _tw.TRIM_SILENCE
    coach: Optional[str] = None
    status_callback_event: Tuple[str, ...] = ()
    status_callback: Optional[str] = None
    status_callback_method: str = "POST"
    recording_status_callback: Optional[str] = None
    recording_status_callback_method: str = "POST"
    recording_status_callback_event: Tuple[str, ...] = (_tw.REC_COMPLETED,)
    event_callback_url: Optional[str] = None
    #: Twilio ``recordingConfigurationId`` (offered by twilio-python's ``Dial.conference``); kept, not acted on
    recording_configuration_id: Optional[str] = None
    # Telnyx TeXML only
    record_beep: bool = True
    recording_timeout: int = 0
    # jambonz only
    id: Optional[str] = None
    speak_only_to: Optional[str] = None
    end_conference_duration: Optional[float] = None
    action_hook: Optional[Hook] = None
    wait_hook: Optional[Hook] = None
    enter_hook: Optional[Hook] = None
    status_hook: Optional[Hook] = None
    distribute_dtmf: bool = False
    listen: Optional[object] = None   # a fsbridge.markup.listen.Listen
    record_options: Optional[dict] = None


@dataclass(frozen=True)
class Dial:
    """``<Dial>`` with a Conference noun. ``time_limit`` in seconds (Twilio default 14400);
    ``caller_id``/``timeout`` are accepted and ignored with a Conference (Twilio)."""

    conference: Conference
    action: Optional[str] = None
    method: str = "POST"
    hangup_on_star: bool = False
    time_limit: int = 14400
    caller_id: Optional[str] = None
    timeout: Optional[int] = None
    record: Optional[str] = None


@dataclass(frozen=True)
class Play:
    """``<Play loop=N>url</Play>``; loop 0 = repeat until interrupted (Twilio).

    ``digits``: Twilio ``<Play digits="1w2#"/>`` (DTMF to send; ``url`` is then ``""``), None otherwise.
    """

    url: str
    loop: int = 1
    digits: Optional[str] = None


@dataclass(frozen=True)
class Say:
    """``<Say voice language loop>text</Say>``; loop 0 = repeat until interrupted."""

    text: str
    voice: str = "man"
    language: str = "en-US"
    loop: int = 1


@dataclass(frozen=True)
class Pause:
    """``<Pause length=s>``: silence of ``length`` seconds (Twilio default 1)."""

    length: float = 1.0


@dataclass(frozen=True)
class Redirect:
    """``<Redirect method>url</Redirect>``: fetch ``url`` and continue with its document."""

    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Hangup:
    """``<Hangup/>`` / jambonz ``hangup``: end the call."""


Verb = Union[Dial, Conference, Play, Say, Pause, Redirect, Hangup]


@dataclass(frozen=True)
class Response:
    """A parsed document: its verbs in order, the dialect it was parsed as, and the warnings raised.

    jambonz's top-level ``conference`` verb appears as a bare :class:`Conference` in ``verbs``;
    TwiML/TeXML conferences are always wrapped in a :class:`Dial`.
    """

    verbs: Tuple[Verb, ...] = ()
    dialect: str = TWIML
    warnings: Tuple[MarkupWarning, ...] = field(default=())
