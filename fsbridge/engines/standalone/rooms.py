"""Rooms of the standalone engine: members (slots in numpy arrays), room plays, and the membership rules
(leave, end, destroy) as FreeSWITCH mod_conference applies them."""
from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Deque, Dict, List, Optional

import numpy as np

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.engines.base import EngineError

from .media import EXIT_TONE
from .recorder import Recorder
from .sources import Playlist
from .talk import TalkDetectorBank  # noqa: F401 - the type of _Room.talk

if TYPE_CHECKING:  # pragma: no cover
    from .engine import StandaloneEngine
    from .leg import VirtualCallLeg

log = logging.getLogger("fsbridge.engines.standalone.engine")


class _Member:
    """A call in a room (engine-internal)."""

    __slots__ = ("id", "call", "room", "slot", "muted", "hold", "waiting", "enter_beep", "exit_beep",
                 "end_conference", "gain", "jitter_ms", "hold_media", "wait_media", "plays", "coach_of",
                 "member_type", "enter_media", "entering")

    def __init__(self, mid: int, call: VirtualCallLeg, room: "_Room", slot: int, cmd: C.JoinMember):
        self.id = mid
        self.call = call
        self.room = room
        self.slot = slot
        self.muted = cmd.muted
        self.hold = False
        self.waiting = cmd.waiting
        self.enter_beep = cmd.enter_beep
        self.exit_beep = cmd.exit_beep
        self.end_conference = cmd.end_conference
        self.gain = 1.0
        self.jitter_ms = cmd.jitter_buffer_ms
        self.hold_media: Optional[Playlist] = None
        self.wait_media: Optional[Playlist] = None
        self.plays: Deque[Playlist] = deque()
        self.coach_of: Optional[int] = None   # member id this coach is heard by
        self.member_type = "member"
        self.enter_media = tuple(cmd.enter_media) if cmd.waiting else ()   # jambonz enterHook, after the wait
        self.entering = False   # hearing enter_media: still waiting (not mixed) until it ends


class _RoomPlay:
    """A playback to the whole room; ``exclude`` = member ids that must not hear it (own beep)."""

    __slots__ = ("playlist", "exclude")

    def __init__(self, playlist: Playlist, exclude=()):
        self.playlist = playlist
        self.exclude = set(exclude)


class _Room:
    """One conference: its members are rows of the engine's :class:`~.pool.MemberPool` (``m.slot`` = row)."""

    def __init__(self, engine: "StandaloneEngine", name: str, max_members: int):
        self.engine = engine
        self.pool = engine._pool
        self.name = name
        self.max_members = max_members
        self.members: Dict[int, _Member] = {}
        self._dirty = True
        self.rows = np.zeros(0, np.int64)          # the members' rows, in join order
        self.local: Dict[int, int] = {}             # row → index in ``rows``
        self.coach_of = np.zeros(0, np.int64)       # per index in ``rows``: index of the coached member, −1
        self.has_coach = self.has_gain = False
        self.overlay_members: List[_Member] = []   # members with hold/wait music or private plays
        self.capture_members: List[_Member] = []   # members whose call keeps what it heard
        self.fork_members: List[_Member] = []      # members whose call streams to a websocket (listen)
        self.beeps: List[_RoomPlay] = []
        self.announcements: Deque[_RoomPlay] = deque()
        self.recorders: Dict[str, Recorder] = {}

    @property
    def dirty(self) -> bool:
        """True after a change of membership or member flags (the masks are rebuilt before the next mix)."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self._dirty = value
        if value:
            self.pool.dirty = True

    @property
    def talk(self) -> TalkDetectorBank:
        """The engine-wide talk detector bank (indexed by row = ``member.slot``)."""
        return self.pool.talk

    @property
    def slot_member(self) -> List[Optional[_Member]]:
        """Row → member (engine-wide)."""
        return self.pool.row_member

    def alloc_slot(self) -> int:
        """A free row of the engine's member pool for a member of this room."""
        return self.pool.alloc(None, self)

    def free_slot(self, slot: int) -> None:
        """Release row ``slot``: its input frame zeroed, gain 1, talk state reset (no event)."""
        self.pool.release(slot)
        self.dirty = True

    def rebuild(self) -> None:
        """Write the members' flags into the pool's per-row masks (only after a state change)."""
        pool = self.pool
        ms = list(self.members.values())
        rows = np.array([m.slot for m in ms], np.int64)
        self.rows = rows
        self.local = {m.slot: i for i, m in enumerate(ms)}
        coach_of = np.full(len(ms), -1, np.int64)
        has_gain = False
        for i, m in enumerate(ms):
            s = m.slot
            pool.gain[s] = m.gain
            has_gain = has_gain or m.gain != 1.0
            pool.heard[s] = not (m.muted or m.hold or m.waiting)
            pool.hears[s] = not (m.hold or m.waiting)
            pool.talk_active[s] = not (m.muted or m.hold)
            pool.coach_of[s] = -1
            if m.coach_of is not None and m.coach_of in self.members:
                coach_of[i] = self.local[self.members[m.coach_of].slot]
                pool.coach_of[s] = self.members[m.coach_of].slot
        self.coach_of = coach_of
        self.has_coach = bool((coach_of >= 0).any())
        self.has_gain = has_gain
        self.overlay_members = [m for m in ms if m.hold_media is not None or m.wait_media is not None or m.plays]
        self.capture_members = [m for m in ms if m.call.heard is not None]
        self.fork_members = [m for m in ms if m.call.fork is not None]
        self._dirty = False

    def special(self) -> bool:
        """True when this room needs more than the pool's plain N−1 mix this tick (see tick.py)."""
        return bool(self.has_coach or self.has_gain or self.beeps or self.announcements or self.overlay_members
                    or self.recorders)


class RoomsMixin:
    """Membership of :class:`StandaloneEngine` rooms: lookups, a member leaving, a room ending/destroyed."""

    # ------------------------------------------------------------------------ membership --------
    def _room(self, name: str) -> _Room:
        room = self._rooms.get(name)
        if room is None:
            raise EngineError(f"Conference {name} not found")
        return room

    def _member(self, room_name: str, member_id: int) -> _Member:
        room = self._room(room_name)
        m = room.members.get(member_id)
        if m is None:
            raise EngineError(f"Non-Existant ID {member_id}")
        return m

    def _others_hearing(self, room: _Room, me: Optional[_Member]) -> bool:
        return any(o is not me and not (o.hold or o.waiting) for o in room.members.values())

    def _remove_member(self, m: _Member, reason: str, cause: Optional[str] = None, kicked: bool = False,
                       ending: bool = False) -> None:
        room = m.room
        if room.members.get(m.id) is not m:
            return
        if kicked:
            self._emit(N.KICK_MEMBER, room, member=m)
        for p in list(m.plays):
            self._emit(N.PLAY_FILE_MEMBER_DONE, room, member=m, file=p.last)
        m.plays.clear()
        del room.members[m.id]
        self._members.pop(m.id, None)
        room.free_slot(m.slot)
        for o in room.members.values():   # a coach of someone who left is heard by nobody special now
            if o.coach_of == m.id:
                o.coach_of = None
        self._emit(N.DEL_MEMBER, room, member=m, hangup_cause=cause)
        m.call.member = None
        m.call.last_jitter = m.call.jitter or m.call.last_jitter   # its stats: hangup quality (#22)
        m.call.jitter = None
        self._netbank.left(m.call)
        m.call._finish_join(reason)
        if ending:
            return
        if m.end_conference and room.members:
            self._end_room(room)
            return
        if m.exit_beep and not m.waiting and not m.hold and self._others_hearing(room, None):
            room.beeps.append(_RoomPlay(Playlist([EXIT_TONE], self._opener)))
        if not room.members:
            self._destroy_room(room)

    def _end_room(self, room: _Room) -> None:
        for o in list(room.members.values()):
            self._remove_member(o, "left", ending=True)
        self._destroy_room(room)

    def _destroy_room(self, room: _Room) -> None:
        for path in list(room.recorders):
            self._stop_recording(room, path)
        for rp in list(room.beeps) + list(room.announcements):
            self._emit(N.PLAY_FILE_DONE, room, file=rp.playlist.last)
        room.beeps.clear()
        room.announcements.clear()
        self._emit(N.CONFERENCE_DESTROY, room)
        self._rooms.pop(room.name, None)
