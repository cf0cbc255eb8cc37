"""Command rendering: engine commands → FreeSWITCH API strings and dialplan-application executes.

Modelled on mod_conference's ``conference_api_sub_commands[]`` (conference_api.c): one table,
:data:`API`, of sub-command name → syntax; every ``conference …``/``uuid_setvar``/``originate`` string fsbridge
sends is produced from it. The channel variables and member flags of a join are the other table,
:data:`JOIN_VARS` / :func:`join_plan`.

Pure functions: the live facts they need (which members a room has, which are waiting/held, a member's
channel) come in through a :class:`RoomView`. Media references (commands.py) pass through as FreeSWITCH
understands them: file paths, ``silence_stream://ms``, ``tone_stream://%(…)``, ``local_stream://moh``;
several items become one ``file_string://a!b`` (played in order; mod_dptools file_string).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

from fsbridge.conference import commands as c
from fsbridge.engines.base import EngineError

# --- the table (conference_api.c conference_api_sub_commands[] shapes; FreeSWITCH 1.10.12 fixtures) ---
API: Dict[str, str] = {
    # conference_lifecycle/control: "+OK mute 8", "+OK unmute 8"; "mute 9 quiet" plays no muted-sound
    # (finding 18) — the wait gate ends with the quiet unmute
    "mute": "conference {room} mute {member}",
    "unmute": "conference {room} unmute {member}",
    "unmute_quiet": "conference {room} unmute {member} quiet",
    "deaf": "conference {room} deaf {member}",
    "undeaf": "conference {room} undeaf {member}",
    # hold keeps the member hearing the room (finding 17, FreeSWITCH #796): always paired with deaf
    "hold": "conference {room} hold {member}",
    "hold_media": "conference {room} hold {member} {media}",
    "unhold": "conference {room} unhold {member}",
    "kick": "conference {room} kick {member}",
    "dtmf": "conference {room} dtmf {member} {digits}",
    "hup": "conference {room} hup {member}",
    "hup_all": "conference {room} hup all",
    # relate: "+OK 8->9 nospeak set", "+OK relationship 8->9 cleared." (finding 16)
    "relate_nospeak": "conference {room} relate {member} {other} nospeak",
    "relate_clear": "conference {room} relate {member} {other} clear",
    "play": "conference {room} play {media}",
    "play_member": "conference {room} play {media} {member}",
    "stop_member": "conference {room} stop all {member}",
    "recording_start": "conference {room} recording start {path}",
    "recording_pause": "conference {room} recording pause {path}",
    "recording_resume": "conference {room} recording resume {path}",
    "recording_stop": "conference {room} recording stop {path}",
    # moderated/maxmembers: the reply is the previous limit ("0"), not +OK; any value >= 0 is taken
    "set_max_members": "conference {room} set max_members {value}",
    "json_list_all": "conference json_list",
    "setvar": "uuid_setvar {uuid} {name} {value}",
    "getvar": "uuid_getvar {uuid} {name}",
    "core_uuid": "eval ${{core_uuid}}",
    "channels_json": "show channels as json",
    "transfer": "uuid_transfer {uuid} {dest} XML {context}",
    # hang a channel up now, even inside an event-locked execute (a sendmsg hangup would wait for it)
    "kill": "uuid_kill {uuid} {cause}",
    "unsetvar": "uuid_setvar {uuid} {name}",
    # dial-out (finding 10: set origination_callee_id_* too, or the member shows "Outbound Call")
    "originate": "originate {{{vars}}}{dial} {app}",
}

PROFILE = "fsbridge"
SILENT_SOUND = "silence_stream://1"  # an "empty" enter/exit sound: mutes the profile's tone for one member
JITTER_VAR = "jitterbuffer_msec"
HANGUP_AFTER_VAR = "hangup_after_conference"
ENTER_SOUND_VAR = "conference_enter_sound"
EXIT_SOUND_VAR = "conference_exit_sound"
MAX_MEMBERS_VAR = "conference_max_members"
# mod_conference.c (1.10.12) ignores conference_max_members (and a profile's max-members) of 1, logging
# "conference_max_members variable 1 is invalid, not setting a limit"; `conference <room> set max_members`
# takes any value >= 0 — so a limit of 1 is set through the API once the room exists
MIN_MAX_MEMBERS_VAR = 2
MOH_VAR = "conference_moh_sound"
CALL_SID_VAR = "fsbridge_call_sid"
MEMBER_ID_VAR = "conference_member_id"   # set by mod_conference on a channel that joined a room
# originate variables (finding 10: set the callee id too, or the member shows "Outbound Call")
ORIG_UUID = "origination_uuid"
ORIG_CID_NUMBER = "origination_caller_id_number"
ORIG_CID_NAME = "origination_caller_id_name"
ORIG_CALLEE_NUMBER = "origination_callee_id_number"
ORIG_CALLEE_NAME = "origination_callee_id_name"
ORIG_TIMEOUT = "originate_timeout"

# dialplan applications run on the channel (outbound socket sendmsg execute)
APP_SET = "set"
APP_UNSET = "unset"
#: mod_dptools ``multiset``: ``^^<d>`` then ``name=value`` pairs split on ``<d>``, each applied as ``set`` (an
#: empty value unsets: switch_channel_add_variable_var_check deletes the variable) — one execute, so one
#: CHANNEL_EXECUTE/_COMPLETE pair (≈ 190 headers each) instead of one pair per variable (issue 21)
APP_MULTISET = "multiset"
MULTISET_DELIM = ";"
APP_CONFERENCE = "conference"
APP_PLAYBACK = "playback"
APP_ANSWER = "answer"
# mod_dptools "jitterbuffer <ms>|stop": switch_core_media.c reads jitterbuffer_msec only when RTP starts
# (answer); on a call already answered (freeswitch-conf's dialplan answers before `socket`) only this
# application's SWITCH_MESSAGE_INDICATE_JITTER_BUFFER starts ("Setting Jitterbuffer to 60ms") or stops it
APP_JITTERBUFFER = "jitterbuffer"
JITTER_STOP = "stop"


def api(entry: str, **fields) -> str:
    """Render table entry ``entry`` with ``fields``; every field value is checked by :func:`_word`."""
    try:
        template = API[entry]
    except KeyError:
        raise EngineError("no FreeSWITCH rendering for %r" % entry)
    return template.format(**{k: (v if k in _FREE_FIELDS else _word(v)) for k, v in fields.items()})


_FREE_FIELDS = ("vars", "app")


def _word(value) -> str:
    """One API argument: FreeSWITCH splits ``api`` arguments on spaces, so none may contain whitespace."""
    s = str(value)
    if not s or any(ch.isspace() for ch in s):
        raise EngineError("FreeSWITCH API argument must be one non-empty word: %r" % s)
    return s


def multiset_arg(settings: Sequence[Tuple[str, Optional[str]]]) -> str:
    """``multiset`` argument for ``(variable, value)`` pairs (value None: unset), e.g.
    ``^^;jitterbuffer_msec=60;conference_enter_sound=``. Raises EngineError for a value holding the
    delimiter or white space (it would split into another setting)."""
    out = []
    for name, value in settings:
        if value is not None and (MULTISET_DELIM in value or any(ch.isspace() for ch in value)):
            raise EngineError("channel variable value must be one word without %r: %r" % (MULTISET_DELIM, value))
        out.append("%s=%s" % (name, value or ""))
    return "^^" + MULTISET_DELIM + MULTISET_DELIM.join(out)


def media_ref(media: Sequence[str]) -> str:
    """Media tuple → one FreeSWITCH file string: one item as is, several as ``file_string://a!b!c``.

    Items pass through unchanged (paths, ``silence_stream://``, ``tone_stream://``, ``local_stream://``).
    Raises :class:`EngineError` for an empty tuple or an item with whitespace or ``!``.
    """
    items = [str(m) for m in media]
    if not items:
        raise EngineError("no media")
    for m in items:
        if not m or any(ch.isspace() for ch in m) or "!" in m:
            raise EngineError("unplayable media reference %r" % m)
    return items[0] if len(items) == 1 else "file_string://" + "!".join(items)


class RoomView(Protocol):
    """What rendering needs to know about live rooms (kept by the engine from member events)."""

    def members(self, room: str) -> List[int]:
        """Member ids now in ``room``."""

    def unique_id(self, room: str, member_id: int) -> Optional[str]:
        """Channel Unique-ID of a member, or None."""


@dataclass(frozen=True)
class JoinPlan:
    """The executes for a :class:`~fsbridge.conference.commands.JoinMember`: ``variables`` as ordered
    (app, arg) ``multiset``/``jitterbuffer`` executes, then the ``conference`` execute with
    ``conference_arg``."""

    variables: Tuple[Tuple[str, str], ...]
    conference_arg: str

    def executes(self) -> List[Tuple[str, str]]:
        """Every (application, argument) in send order."""
        return list(self.variables) + [(APP_CONFERENCE, self.conference_arg)]


def join_flags(cmd: c.JoinMember) -> List[str]:
    """Member flags of a join (``+flags{…}``): ``mute`` when muted or waiting, ``deaf`` when waiting
    (fsbridge's wait gate, docs/freeswitch.md), ``endconf`` for endConferenceOnExit (FreeSWITCH ≥ 1.10.10:
    one such member leaving ends the room — DESIGN.md; fixture moderated/endconf), and always ``nomoh``:
    the room's own moh-sound (played while ``count == 1``, mod_conference.c conference_thread_run) stays off
    — wait music is fsbridge's, per waiting member, and Twilio plays nothing to a lone member of a started
    conference."""
    flags = ["nomoh"]
    if cmd.muted or cmd.waiting:
        flags.append("mute")
    if cmd.waiting:
        flags.append("deaf")
    if cmd.end_conference:
        flags.append("endconf")
    return flags


def join_plan(cmd: c.JoinMember, profile: str = PROFILE) -> JoinPlan:
    """Render a join: channel variables first (one ``multiset``), then
    ``conference <room>@<profile>[+flags{a|b}]``.

    Variables (outbound fixture ``basic``: ``set jitterbuffer_msec=60`` before the conference execute; set
    together since issue 21, an empty value unsetting):
    ``jitterbuffer_msec`` (20/40/60; ``unset`` when off) followed by the ``jitterbuffer <ms>`` (``stop``)
    application, which applies it to a call whose RTP is already up (:data:`APP_JITTERBUFFER`), ``hangup_after_conference=false`` (finding 24: an
    endconf member leaving must not hang the others up), ``conference_enter_sound``/``conference_exit_sound``
    (``unset`` → the profile's tone; a 1 ms silence when the beep is off), ``conference_max_members``
    (read when the room is created — finding 26; ``unset`` for a limit below 2, which FreeSWITCH rejects:
    "conference_max_members variable 1 is invalid, not setting a limit" — the engine then sends
    ``conference <room> set max_members 1``, see :data:`MIN_MAX_MEMBERS_VAR`), ``fsbridge_call_sid``
    (correlation in events).
    """
    jitter = int(cmd.jitter_buffer_ms) if cmd.jitter_buffer_ms else None
    settings: List[Tuple[str, Optional[str]]] = [   # (variable, value); None unsets
        (JITTER_VAR, "%d" % jitter if jitter else None),
        (HANGUP_AFTER_VAR, "false"),
        (ENTER_SOUND_VAR, None if cmd.enter_beep else SILENT_SOUND),
        (EXIT_SOUND_VAR, None if cmd.exit_beep else SILENT_SOUND),
        (MAX_MEMBERS_VAR, "%d" % int(cmd.max_members) if int(cmd.max_members) >= MIN_MAX_MEMBERS_VAR else None),
        (CALL_SID_VAR, _word(cmd.call_sid)),
    ]
    v: List[Tuple[str, str]] = [(APP_MULTISET, multiset_arg(settings)),
                                (APP_JITTERBUFFER, "%d" % jitter if jitter else JITTER_STOP)]
    arg = "%s@%s" % (_word(cmd.room), _word(profile))
    flags = join_flags(cmd)
    if flags:
        arg += "+flags{%s}" % "|".join(flags)
    return JoinPlan(tuple(v), arg)


def render(cmd, view: RoomView) -> List[str]:
    """Stateless commands → ordered API strings (without the leading ``api``).

    JoinMember is not here (it is executed on the channel: :func:`join_plan`); StartConference needs the
    engine's wait-gate state (engine.py). Raises :class:`EngineError` for a command it cannot render.
    """
    room = cmd.room
    if isinstance(cmd, c.MuteMember):
        return [api("mute", room=room, member=cmd.member_id)]
    if isinstance(cmd, c.UnmuteMember):
        return [api("unmute", room=room, member=cmd.member_id)]
    if isinstance(cmd, c.HoldMember):
        hold = (api("hold_media", room=room, member=cmd.member_id, media=media_ref(cmd.media))
                if cmd.media else api("hold", room=room, member=cmd.member_id))
        return [hold, api("deaf", room=room, member=cmd.member_id)]
    if isinstance(cmd, c.UnholdMember):
        return [api("unhold", room=room, member=cmd.member_id), api("undeaf", room=room, member=cmd.member_id)]
    if isinstance(cmd, c.KickMember):
        return [api("kick", room=room, member=cmd.member_id)]
    if isinstance(cmd, c.SendDtmf):
        return [api("dtmf", room=room, member=cmd.member_id, digits=cmd.digits)]
    if isinstance(cmd, c.SetCoach):
        return coach_relations(room, cmd.coach_member_id, cmd.coached_member_id, view.members(room))
    if isinstance(cmd, c.SetExitBeep):
        uid = view.unique_id(room, cmd.member_id)
        if uid is None:
            raise EngineError("member %s is not in %s" % (cmd.member_id, room))
        if cmd.enabled:
            return [api("unsetvar", uuid=uid, name=EXIT_SOUND_VAR)]
        return [api("setvar", uuid=uid, name=EXIT_SOUND_VAR, value=SILENT_SOUND)]
    if isinstance(cmd, c.PlayMedia):
        ref = media_ref(cmd.media)
        if cmd.member_id is None:
            return [api("play", room=room, media=ref)]
        return [api("play_member", room=room, media=ref, member=cmd.member_id)]
    if isinstance(cmd, c.StartRecording):
        return [api("recording_start", room=room, path=cmd.path)]
    if isinstance(cmd, c.PauseRecording):
        return [api("recording_pause", room=room, path=cmd.path)]
    if isinstance(cmd, c.ResumeRecording):
        return [api("recording_resume", room=room, path=cmd.path)]
    if isinstance(cmd, c.StopRecording):
        return [api("recording_stop", room=room, path=cmd.path)]
    if isinstance(cmd, c.EndConference):
        return [api("hup_all", room=room)]
    raise EngineError("no FreeSWITCH rendering for %s" % type(cmd).__name__)


def coach_relations(room: str, coach: int, coached: Optional[int], members: Iterable[int]) -> List[str]:
    """``relate`` strings making ``coach`` heard only by ``coached`` (None: by everyone again).

    For every other member X: ``relate coach X nospeak`` unless X is the coached one (``clear``).
    Re-run on every add-member so a newcomer cannot hear the coach (issue #8: "kept right on every add/del").
    """
    out = []
    for m in sorted(set(members)):
        if m == coach:
            continue
        if coached is not None and m != coached:
            out.append(api("relate_nospeak", room=room, member=coach, other=m))
        else:
            out.append(api("relate_clear", room=room, member=coach, other=m))
    return out


def originate(dial: str, app: str, variables: Sequence[Tuple[str, str]]) -> str:
    """``originate {k=v,…}<dial string> <app>`` (``&socket(host:port async full)`` or ``&park()``).

    An application with spaces is single-quoted (FreeSWITCH switch_separate_string keeps a quoted
    argument whole).
    Values may not contain ``,`` ``}`` or whitespace (FreeSWITCH splits the ``{}`` block on commas).
    """
    parts = []
    for k, val in variables:
        val = str(val)
        if any(ch in val for ch in ",}{") or any(ch.isspace() for ch in val) or not _word(k):
            raise EngineError("originate variable %s=%r cannot be rendered" % (k, val))
        parts.append("%s=%s" % (k, val))
    if any(ch.isspace() for ch in app):
        # switch_separate_string groups a single-quoted argument: '&socket(127.0.0.1:8084 async full)'
        if "'" in app:
            raise EngineError("originate application %r cannot be quoted" % app)
        app = "'%s'" % app
    return api("originate", vars=",".join(parts), dial=_word(dial), app=app)
