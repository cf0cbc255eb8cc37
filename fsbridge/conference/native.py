"""Native engine events: what an engine reports to the domain (engine → ``ConferenceState.apply``).

Both engines emit exactly these, with the same fields, so the domain cannot tell them apart. The
``action`` values are FreeSWITCH mod_conference's ``Action`` header values (CUSTOM conference::maintenance)
plus two channel-level names; this module is the one place those wire names live.

Rooms: the engine room name is the ConferenceSid (``CF…``), so friendly names of different accounts and
successive instances of one name never collide. Members are identified by the engine's ``member_id``
(FreeSWITCH ``Member-ID``) and the channel ``unique_id`` (FreeSWITCH ``Unique-ID``; the standalone engine
uses the CallSid). Times are the engine's own (FreeSWITCH ``Event-Date-Timestamp``, µs since the epoch).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

CONFERENCE_CREATE = "conference-create"
CONFERENCE_DESTROY = "conference-destroy"
ADD_MEMBER = "add-member"
DEL_MEMBER = "del-member"
MUTE_MEMBER = "mute-member"
UNMUTE_MEMBER = "unmute-member"
DEAF_MEMBER = "deaf-member"
UNDEAF_MEMBER = "undeaf-member"
HOLD_MEMBER = "hold-member"
UNHOLD_MEMBER = "unhold-member"
KICK_MEMBER = "kick-member"
HUP_MEMBER = "hup-member"
START_TALKING = "start-talking"
STOP_TALKING = "stop-talking"
PLAY_FILE = "play-file"
PLAY_FILE_DONE = "play-file-done"
PLAY_FILE_MEMBER_DONE = "play-file-member-done"
START_RECORDING = "start-recording"
STOP_RECORDING = "stop-recording"
PAUSE_RECORDING = "pause-recording"
RESUME_RECORDING = "resume-recording"
DTMF_MEMBER = "dtmf-member"
# Channel-level (not conference::maintenance):
CHANNEL_HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
DTMF = "DTMF"
# The hangup cause of calls that ended with their engine (standalone: the bridge process died;
# FreeSWITCH cause CRASH): ``EngineSnapshot.lost_cause`` at start-up.
CAUSE_CRASH = "CRASH"
# A join the engine refused (FreeSWITCH: the conference app returned with no member id, e.g. max-members).
JOIN_REFUSED = "join-refused"

ACTIONS = frozenset(
    v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str) and k not in ("ACTIONS", "CAUSE_CRASH")
)


@dataclass(frozen=True)
class NativeEvent:
    """One engine event.

    ``action``: one of the constants above. ``room``: engine room name (= ConferenceSid).
    ``timestamp_us``: engine time, µs since the Unix epoch. ``unique_id``: channel id or None for
    room-level events. ``member_id``: engine member id (int) or None.
    Optional, by action: ``file`` (play-file*, the media that finished), ``path`` (*-recording),
    ``error`` (play-file with ``Error:``; a failed playback), ``hangup_cause`` (del-member /
    CHANNEL_HANGUP_COMPLETE, FreeSWITCH cause names like ``NORMAL_CLEARING``), ``duration_ms``
    (stop-talking talking-duration-ms; stop-recording Milliseconds-Elapsed), ``file_size``
    (stop-recording Record-File-Size, bytes), ``digits`` (DTMF), ``member_type`` (``moderator``|``member``),
    ``conference_size`` (members after the event), ``extra``: other (name, value) header pairs.
    """

    action: str
    room: str
    timestamp_us: int
    unique_id: Optional[str] = None
    member_id: Optional[int] = None
    file: Optional[str] = None
    path: Optional[str] = None
    error: Optional[str] = None
    hangup_cause: Optional[str] = None
    duration_ms: Optional[int] = None
    file_size: Optional[int] = None
    digits: Optional[str] = None
    member_type: Optional[str] = None
    conference_size: Optional[int] = None
    extra: Tuple[Tuple[str, str], ...] = field(default=())


@dataclass(frozen=True)
class MemberSnapshot:
    """A member as the engine lists it (FreeSWITCH ``conference <room> json_list``), for resync after a
    reconnect. ``muted``/``hold``/``deaf``/``talking`` are the engine's flags. ``call_sid``: the CallSid the
    channel carries (FreeSWITCH channel variable ``fsbridge_call_sid``), when the engine read it — how a
    member of a conference restored from the store is re-attached to its participant after a bridge restart."""

    room: str
    member_id: int
    unique_id: str
    muted: bool = False
    deaf: bool = False
    hold: bool = False
    talking: bool = False
    call_sid: Optional[str] = None
    #: the engine keeps the member at its wait gate (not mixed: neither heard nor hearing); ``muted``/``deaf``
    #: then describe the gate, not the participant (the domain answers with a ResumeGate command)
    waiting: bool = False


@dataclass(frozen=True)
class EngineSnapshot:
    """Everything an engine has now, for the domain's one resync path (``ConferenceState.resync``): taken
    after an ESL (re)connect, or at start-up. ``timestamp_us``: when it was taken (µs since the epoch).
    ``members``: every member of every room (FreeSWITCH ``conference json_list``). ``rooms``: the rooms
    (ConferenceSids) the engine has, with or without members. ``skip``: channel Unique-IDs whose live events
    were already reported after the snapshot was taken (they may postdate it: FreeSWITCH maps events in
    another greenlet while ``json_list`` runs); resync leaves those members as the live stream has them.

    A live conference whose room is not in ``rooms`` *vanished* (the engine ended it unseen, restarted, or —
    standalone — the process that held it died): its running recordings complete from ``files``
    (``(path, file_size bytes, duration_ms)`` read from disk by the runtime; a path not listed completes
    ``absent``) and its members leave with ``lost_cause`` as their hangup cause (a FreeSWITCH cause name such
    as ``CRASH`` when the engine knows the calls ended with the room; None: unknown, the calls may go on)."""

    timestamp_us: int
    members: Tuple[MemberSnapshot, ...] = ()
    rooms: Tuple[str, ...] = ()
    skip: Tuple[str, ...] = ()
    files: Tuple[Tuple[str, int, int], ...] = ()
    lost_cause: Optional[str] = None
