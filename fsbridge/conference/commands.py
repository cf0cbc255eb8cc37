"""Engine commands: what the domain asks an engine to do (``ConferenceState`` → ``Engine.execute``).

Dialect-neutral, FreeSWITCH-flavoured vocabulary (member, room, flags). Media references are strings an
engine can play: a local file path, ``silence_stream://<ms>``, ``tone_stream://%(on_ms,off_ms,hz[,hz])``
(FreeSWITCH's syntax, also understood by the standalone engine), or ``local_stream://moh`` for the
engine's default hold music. The runtime resolves URLs and Say text to such references before they reach
a command (e.g. Say → a WAV rendered with espeak-ng).

A command only *asks*: state changes when the engine's native event confirms it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

DEFAULT_HOLD_MUSIC = "local_stream://moh"


@dataclass(frozen=True)
class JoinMember:
    """Put a call into a room. ``room``: ConferenceSid. ``unique_id``: engine channel id of the call.
    ``waiting``: the conference has not started: the member is not mixed and hears ``wait_media`` in a loop
    (empty tuple = silence; Twilio waitUrl=""). ``jitter_buffer_ms``: 20/40/60 or None (off).
    ``enter_beep``/``exit_beep``: play the beep to the others when this member joins/leaves (Twilio beep).
    ``max_members``: the room's limit (Twilio maxParticipants). ``end_conference``: the member ends the room
    on leaving (Twilio endConferenceOnExit)."""

    room: str
    unique_id: str
    call_sid: str
    muted: bool = False
    waiting: bool = False
    wait_media: Tuple[str, ...] = (DEFAULT_HOLD_MUSIC,)
    jitter_buffer_ms: Optional[int] = 60
    enter_beep: bool = True
    exit_beep: bool = True
    max_members: int = 250
    end_conference: bool = False
    #: heard once when the conference starts, after the wait and before the member is mixed (jambonz enterHook:
    #: "just before they are put into a conference after waiting for it to start"); only with ``waiting``
    enter_media: Tuple[str, ...] = ()


@dataclass(frozen=True)
class StartConference:
    """The start rule fired: stop the wait media of every waiting member and mix them (held ones stay held); a
    member with ``enter_media`` hears it first and is mixed when it ended."""

    room: str


@dataclass(frozen=True)
class ResumeGate:
    """A member the engine reported at its wait gate (``MemberSnapshot.waiting``, after an engine reconnect or
    a bridge restart): bring the gate back in line with the domain. ``started``: the conference started
    while the gate was closed (the bridge that should have opened it died, or the engine was out of sight)
    — mix the member now, as :class:`StartConference` would (held members stay deaf, ``muted`` ones stay
    muted); else it keeps waiting and hears its wait media in a loop until StartConference — the engine's own
    for a gate it closed itself, else ``wait_media``. No event."""

    room: str
    member_id: int
    started: bool
    muted: bool = False
    wait_media: Tuple[str, ...] = (DEFAULT_HOLD_MUSIC,)


@dataclass(frozen=True)
class MuteMember:
    """Stop mixing this member's audio into what others hear (FreeSWITCH ``conference <room> mute <id>``)."""

    room: str
    member_id: int


@dataclass(frozen=True)
class UnmuteMember:
    """Undo :class:`MuteMember`."""

    room: str
    member_id: int


@dataclass(frozen=True)
class HoldMember:
    """Neither heard nor hearing the room; hears ``media`` in a loop (FreeSWITCH hold + deaf, #796)."""

    room: str
    member_id: int
    media: Tuple[str, ...] = (DEFAULT_HOLD_MUSIC,)


@dataclass(frozen=True)
class UnholdMember:
    """Undo :class:`HoldMember`."""

    room: str
    member_id: int


@dataclass(frozen=True)
class KickMember:
    """Remove the member from the room; its call continues (Twilio: Dial completes)."""

    room: str
    member_id: int


@dataclass(frozen=True)
class SetCoach:
    """``coach_member_id`` is heard only by ``coached_member_id`` (None = clear: heard by all again).
    The engine keeps this true when members join or leave (FreeSWITCH ``relate … nospeak``)."""

    room: str
    coach_member_id: int
    coached_member_id: Optional[int]


@dataclass(frozen=True)
class SetExitBeep:
    """Change whether the room hears a beep when this member leaves (Twilio BeepOnExit)."""

    room: str
    member_id: int
    enabled: bool


@dataclass(frozen=True)
class PlayMedia:
    """Play ``media`` in order to the whole room, or to one member when ``member_id`` is set.
    Completion is reported by play-file-done / play-file-member-done whose ``file`` is the last item."""

    room: str
    media: Tuple[str, ...]
    member_id: Optional[int] = None


@dataclass(frozen=True)
class StartRecording:
    """Record the room's mix (mono) to ``path``; ``trim_silence`` drops leading/trailing silence."""

    room: str
    path: str
    trim_silence: bool = True


@dataclass(frozen=True)
class PauseRecording:
    """Pause the recording at ``path``."""

    room: str
    path: str


@dataclass(frozen=True)
class ResumeRecording:
    """Resume the recording at ``path``."""

    room: str
    path: str


@dataclass(frozen=True)
class StopRecording:
    """Stop and close the recording at ``path``."""

    room: str
    path: str


@dataclass(frozen=True)
class EndConference:
    """Remove every member and destroy the room; calls continue (FreeSWITCH ``hup all`` with
    ``hangup_after_conference=false``)."""

    room: str


@dataclass(frozen=True)
class SendDtmf:
    """Send DTMF ``digits`` to member ``member_id`` (jambonz ``distributeDtmf``: a member's digits reach the
    others; FreeSWITCH ``conference <room> dtmf <member> <digits>``)."""

    room: str
    member_id: int
    digits: str


@dataclass(frozen=True)
class EndConferenceAfter:
    """Not an engine command: the runtime calls ``ConferenceState.grace_over(room, token)`` after
    ``delay_s`` seconds of engine time (jambonz ``endConferenceDuration``: the conference ends that long after
    its endConferenceOnExit member left, as FreeSWITCH's ``endconference_grace_time`` that jambonz sets)."""

    room: str
    delay_s: float
    token: int


Command = (
    JoinMember | StartConference | MuteMember | UnmuteMember | HoldMember | UnholdMember | KickMember
    | SetCoach | SetExitBeep | PlayMedia | StartRecording | PauseRecording | ResumeRecording
    | StopRecording | EndConference | EndConferenceAfter | SendDtmf
)
