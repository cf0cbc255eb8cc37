"""Test helpers for the conference domain: an "echo engine" and a harness that wires it to ConferenceState.

:class:`EchoEngine` turns each engine command into the native events a well-behaved engine would emit to
confirm it, in FreeSWITCH mod_conference's order (../shared/fixtures/freeswitch/README.md): JoinMember →
add-member (or join-refused past ``max_members``); Mute/Unmute/Hold/Unhold → the matching ``*-member``;
KickMember → kick-member, del-member; EndConference → hup-member + del-member per member, then
conference-destroy; PlayMedia → play-file-done / play-file-member-done for the last item; recordings →
start/pause/resume/stop-recording (stop with ``duration_ms`` = time since start, ``file_size`` 16 000
bytes per second). StartConference, SetCoach and SetExitBeep produce nothing (FreeSWITCH has no event).
The last member leaving also yields conference-destroy. Times come from a fake clock (µs) that advances
1 ms per event; :meth:`EchoEngine.advance` moves it on.

:class:`Harness` owns a :class:`~fsbridge.conference.state.ConferenceState` and an EchoEngine: every
intent helper runs the intent, feeds its commands to the engine, applies the resulting native events
(and the commands *they* produce) until quiet, and returns the domain events produced. Example::

    h = Harness()
    h.join("CAmary", "Team Meeting")
    events = h.join("CAalice", "Team Meeting")
    assert [e.name for e in events] == ["participant-join", "conference-start"]

For tests only; imports nothing beyond the domain.
"""
from __future__ import annotations

import itertools
from typing import Dict, List, Optional, Tuple

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.conference.events import DomainEvent
from fsbridge.conference.native import EngineSnapshot, MemberSnapshot, NativeEvent
from fsbridge.conference.state import ConferenceState, Outcome
from fsbridge.markup.model import Conference
from fsbridge.wire import TWIML

ACCOUNT = "AC" + "0" * 31 + "1"
T0_US = 1_795_000_000_000_000   # 2026-11-18, an arbitrary engine time


class EchoEngine:
    """A fake engine confirming commands with native events (see module docstring).

    ``members``: room → {unique_id: member_id}; ``flags``: (room, member_id) → {"muted", "hold"};
    ``recording_started``: path → start time (µs); ``executed``: every command received, in order.
    ``fail_media``: media names whose PlayMedia fails (play-file with ``error``).
    """

    def __init__(self, t0_us: int = T0_US):
        self.now_us = t0_us
        self.members: Dict[str, Dict[str, int]] = {}
        self.max_members: Dict[str, int] = {}
        self.flags: Dict[Tuple[str, int], set] = {}
        self.recording_started: Dict[str, int] = {}
        self.executed: List[object] = []
        self.fail_media: set = set()
        self._ids = itertools.count(1)

    def advance(self, seconds: float) -> None:
        """Move the engine clock on by ``seconds``."""
        self.now_us += int(seconds * 1_000_000)

    def native(self, action: str, room: str, **kw) -> NativeEvent:
        """A NativeEvent ``action`` in ``room`` stamped 1 ms after the previous one (``kw``: its fields)."""
        self.now_us += 1000
        return NativeEvent(action=action, room=room, timestamp_us=self.now_us, **kw)

    def _uid_of(self, room: str, member_id: int) -> Optional[str]:
        return next((u for u, m in self.members.get(room, {}).items() if m == member_id), None)

    def remove(self, room: str, unique_id: str, hangup_cause: Optional[str] = None) -> List[NativeEvent]:
        """The member with channel ``unique_id`` leaves ``room`` (e.g. its caller hung up):
        del-member (+ conference-destroy when it was the last)."""
        room_members = self.members.get(room, {})
        if unique_id not in room_members:
            return []
        mid = room_members.pop(unique_id)
        self.flags.pop((room, mid), None)
        out = [self.native(N.DEL_MEMBER, room, unique_id=unique_id, member_id=mid, hangup_cause=hangup_cause,
                        conference_size=len(room_members))]
        if not room_members:
            self.members.pop(room, None)
            out.append(self.native(N.CONFERENCE_DESTROY, room))
        return out

    def execute(self, cmd) -> List[NativeEvent]:
        """The native events confirming ``cmd`` (possibly none)."""
        self.executed.append(cmd)
        room = getattr(cmd, "room", None)
        if isinstance(cmd, C.JoinMember):
            room_members = self.members.setdefault(room, {})
            limit = self.max_members.setdefault(room, cmd.max_members)
            if len(room_members) >= limit:
                if not room_members:
                    self.members.pop(room, None)
                return [self.native(N.JOIN_REFUSED, room, unique_id=cmd.unique_id)]
            out = [] if room_members else [self.native(N.CONFERENCE_CREATE, room)]
            mid = next(self._ids)
            room_members[cmd.unique_id] = mid
            self.flags[(room, mid)] = {"muted"} if cmd.muted else set()
            out.append(self.native(N.ADD_MEMBER, room, unique_id=cmd.unique_id, member_id=mid,
                                conference_size=len(room_members)))
            return out
        if isinstance(cmd, (C.MuteMember, C.UnmuteMember, C.HoldMember, C.UnholdMember)):
            uid = self._uid_of(room, cmd.member_id)
            if uid is None:
                return []
            flag = "muted" if isinstance(cmd, (C.MuteMember, C.UnmuteMember)) else "hold"
            on = isinstance(cmd, (C.MuteMember, C.HoldMember))
            (self.flags[(room, cmd.member_id)].add if on else self.flags[(room, cmd.member_id)].discard)(flag)
            action = {C.MuteMember: N.MUTE_MEMBER, C.UnmuteMember: N.UNMUTE_MEMBER,
                      C.HoldMember: N.HOLD_MEMBER, C.UnholdMember: N.UNHOLD_MEMBER}[type(cmd)]
            return [self.native(action, room, unique_id=uid, member_id=cmd.member_id)]
        if isinstance(cmd, C.KickMember):
            uid = self._uid_of(room, cmd.member_id)
            if uid is None:
                return []
            return [self.native(N.KICK_MEMBER, room, unique_id=uid, member_id=cmd.member_id)] + self.remove(room, uid)
        if isinstance(cmd, C.EndConference):
            out: List[NativeEvent] = []
            for uid, mid in list(self.members.get(room, {}).items()):
                out.append(self.native(N.HUP_MEMBER, room, unique_id=uid, member_id=mid))
                out.extend(self.remove(room, uid))
            return out
        if isinstance(cmd, C.PlayMedia):
            last = cmd.media[-1]
            if last in self.fail_media:
                return [self.native(N.PLAY_FILE, room, file=last, error="File could not be played")]
            if cmd.member_id is None:
                return [self.native(N.PLAY_FILE_DONE, room, file=last)]
            return [self.native(N.PLAY_FILE_MEMBER_DONE, room, member_id=cmd.member_id,
                             unique_id=self._uid_of(room, cmd.member_id), file=last)]
        if isinstance(cmd, C.StartRecording):
            self.recording_started[cmd.path] = self.now_us
            return [self.native(N.START_RECORDING, room, path=cmd.path)]
        if isinstance(cmd, C.PauseRecording):
            return [self.native(N.PAUSE_RECORDING, room, path=cmd.path)]
        if isinstance(cmd, C.ResumeRecording):
            return [self.native(N.RESUME_RECORDING, room, path=cmd.path)]
        if isinstance(cmd, C.StopRecording):
            start = self.recording_started.pop(cmd.path, None)
            if start is None:
                return []
            ms = (self.now_us - start) // 1000
            return [self.native(N.STOP_RECORDING, room, path=cmd.path, duration_ms=ms, file_size=16 * ms)]
        return []

    def snapshot(self) -> EngineSnapshot:
        """What the engine has now (for ``ConferenceState.resync``): its rooms and their members."""
        return EngineSnapshot(
            timestamp_us=self.now_us, rooms=tuple(self.members),
            members=tuple(MemberSnapshot(room=room, member_id=mid, unique_id=uid,
                                         muted="muted" in self.flags.get((room, mid), ()),
                                         hold="hold" in self.flags.get((room, mid), ()))
                          for room, ms in self.members.items() for uid, mid in ms.items()))


class Harness:
    """ConferenceState + EchoEngine, driven to quiescence after every step (see module docstring).

    ``state``, ``engine``: the two halves. ``events``: every DomainEvent so far. ``commands``: every
    command the domain produced. ``natives``: every native event applied. ``uid(call_sid)``: the channel
    id used for a call (``"uuid-" + call_sid``).
    """

    def __init__(self, account_sid: str = ACCOUNT, **state_kw):
        sids = itertools.count(1)
        state_kw.setdefault("new_sid", lambda prefix: f"{prefix}{next(sids):032x}")
        state_kw.setdefault("clock", lambda: self.engine.now_us / 1e6)
        self.engine = EchoEngine()
        self.state = ConferenceState(**state_kw)
        self.account_sid = account_sid
        self.events: List[DomainEvent] = []
        self.commands: List[object] = []
        self.natives: List[NativeEvent] = []

    @staticmethod
    def uid(call_sid: str) -> str:
        """The engine channel id the harness uses for ``call_sid``."""
        return "uuid-" + call_sid

    def run(self, outcome: Outcome) -> List[DomainEvent]:
        """Feed ``outcome``'s commands to the engine and apply what comes back until quiet."""
        produced = list(outcome.events)
        queue = list(outcome.commands)
        self.commands.extend(outcome.commands)
        while queue:
            for native in self.engine.execute(queue.pop(0)):
                self.natives.append(native)
                result = self.state.apply(native)
                produced.extend(result.events)
                queue.extend(result.commands)
                self.commands.extend(result.commands)
        self.events.extend(produced)
        return produced

    def feed(self, natives) -> List[DomainEvent]:
        """Apply native events (e.g. from :meth:`hangup`) and run what they produce."""
        produced: List[DomainEvent] = []
        for native in natives:
            self.natives.append(native)
            produced.extend(self.run(self.state.apply(native)))
        return produced

    def sid_of(self, name: str) -> str:
        """The ConferenceSid of the current instance named ``name``."""
        info = self.state.conference_by_name(self.account_sid, name)
        assert info is not None, f"no conference {name!r} in progress"
        return info.sid

    def room(self, name: str, *call_sids: str) -> str:
        """``call_sids`` join ``name`` in order (default Conference attributes); returns its ConferenceSid."""
        for call_sid in call_sids:
            self.join(call_sid, name)
        return self.sid_of(name)

    def join_pending(self, call_sid: str, name: str, **conf_kw) -> Outcome:
        """``call_sid`` asks to join ``name`` (TwiML, default hold music); the outcome's commands are *not*
        executed, so the engine never adds the member (a join still pending). Raises DomainError."""
        return self.state.join(account_sid=self.account_sid, call_sid=call_sid, unique_id=self.uid(call_sid),
                               conference=Conference(name=name, **conf_kw), dialect=TWIML,
                               wait_media=(C.DEFAULT_HOLD_MUSIC,), timestamp_us=self.engine.now_us)

    # intents ---------------------------------------------------------------------------------------
    def join(self, call_sid: str, name: str, dialect: str = TWIML, from_: str = "", to: str = "",
             wait_media: tuple = (C.DEFAULT_HOLD_MUSIC,), **conf_kw) -> List[DomainEvent]:
        """``call_sid`` dials ``<Conference **conf_kw>name</Conference>``. Raises DomainError."""
        return self.run(self.state.join(account_sid=self.account_sid, call_sid=call_sid,
                                        unique_id=self.uid(call_sid), conference=Conference(name=name, **conf_kw),
                                        dialect=dialect, from_=from_, to=to, wait_media=wait_media,
                                        timestamp_us=self.engine.now_us))

    def dial_out(self, call_sid: str, name: str, dialect: str = TWIML, from_: str = "", to: str = "",
                 **conf_kw) -> List[DomainEvent]:
        """REST create Participant: ``call_sid`` is dialled into ``name`` (queued). Raises DomainError."""
        return self.run(self.state.dial_out(account_sid=self.account_sid, call_sid=call_sid,
                                            conference=Conference(name=name, **conf_kw), dialect=dialect,
                                            from_=from_, to=to, timestamp_us=self.engine.now_us))

    def dial_out_failed(self, call_sid: str, call_status: str, cause: Optional[str] = None) -> List[DomainEvent]:
        """The engine reports the dial-out of ``call_sid`` failed (Twilio ``call_status``)."""
        return self.run(self.state.dial_out_failed(call_sid, call_status, cause, timestamp_us=self.engine.now_us))

    def hangup(self, call_sid: str, cause: str = "NORMAL_CLEARING") -> List[DomainEvent]:
        """The caller hangs up: del-member with ``cause`` (+ conference-destroy if last), then
        CHANNEL_HANGUP_COMPLETE."""
        view = self.state.participant_of_call(call_sid)
        uid = self.uid(call_sid)
        natives = self.engine.remove(view.conference_sid, uid, cause) if view else []
        natives.append(self.engine.native(N.CHANNEL_HANGUP_COMPLETE, "", unique_id=uid, hangup_cause=cause))
        return self.feed(natives)

    def talk(self, call_sid: str, start: bool = True) -> List[DomainEvent]:
        """The engine reports start-talking (``start``) or stop-talking for ``call_sid``."""
        view = self.state.participant_of_call(call_sid)
        action = N.START_TALKING if start else N.STOP_TALKING
        return self.feed([self.engine.native(action, view.conference_sid, unique_id=self.uid(call_sid),
                                          member_id=view.member_id)])

    def mute(self, name: str, who: str, muted: bool = True) -> List[DomainEvent]:
        """REST ``Muted=…`` on participant ``who`` of conference ``name``."""
        return self.run(self.state.set_muted(self.account_sid, self.sid_of(name), who, muted))

    def hold(self, name: str, who: str, hold: bool = True) -> List[DomainEvent]:
        """REST ``Hold=…`` on participant ``who`` of conference ``name``."""
        return self.run(self.state.set_hold(self.account_sid, self.sid_of(name), who, hold))

    def kick(self, name: str, who: str) -> List[DomainEvent]:
        """REST DELETE participant ``who``."""
        return self.run(self.state.kick(self.account_sid, self.sid_of(name), who))

    def end(self, name: str) -> List[DomainEvent]:
        """REST ``Status=completed`` on conference ``name``."""
        return self.run(self.state.end(self.account_sid, self.sid_of(name)))
