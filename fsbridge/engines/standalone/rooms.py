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
from .talk import TalkDetectorBank

if TYPE_CHECKING:  # pragma: no cover
    from .engine import StandaloneEngine
    from .leg import VirtualCallLeg

log = logging.getLogger("fsbridge.engines.standalone.engine")


class _Member:
    """A call in a room (engine-internal)."""

    __slots__ = ("id", "call", "room", "slot", "muted", "hold", "waiting", "enter_beep", "exit_beep",
                 "end_conference", "gain", "jitter_ms", "hold_media", "wait_media", "plays", "coach_of",
                 "member_type")

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


class _RoomPlay:
    """A playback to the whole room; ``exclude`` = member ids that must not hear it (own beep)."""

    __slots__ = ("playlist", "exclude")

    def __init__(self, playlist: Playlist, exclude=()):
        self.playlist = playlist
        self.exclude = set(exclude)


class _Room:
    """One conference: member slots as numpy arrays (capacity grows by doubling)."""

    def __init__(self, engine: "StandaloneEngine", name: str, max_members: int):
        self.engine = engine
        self.name = name
        self.max_members = max_members
        self.members: Dict[int, _Member] = {}
        self.capacity = 0
        self.frames = np.zeros((0, engine.frame_len), np.int16)
        self.gain = np.zeros(0, np.float32)
        self.free: List[int] = []
        self.talk = TalkDetectorBank(capacity=0, energy_level=engine.energy_level, hangunder=engine.hangunder,
                                     hangover=engine.hangover, mode=engine.talk_mode, vad_mode=engine.vad_mode,
                                     rate=engine.rate, auto_factor=engine.auto_energy_factor)
        self.dirty = True
        self.heard = self.hears = self.talk_active = np.zeros(0, bool)
        self.coach_of = np.zeros(0, np.int64)
        self.slot_member: List[Optional[_Member]] = []
        self.overlay_members: List[_Member] = []   # members with hold/wait music or private plays
        self.capture_members: List[_Member] = []   # members whose call keeps what it heard
        self.beeps: List[_RoomPlay] = []
        self.announcements: Deque[_RoomPlay] = deque()
        self.recorders: Dict[str, Recorder] = {}

    def alloc_slot(self) -> int:
        """A free member slot index (arrays grow ×2, min 4, when full)."""
        if not self.free:
            old = self.capacity
            new = max(4, old * 2)
            self.frames = np.concatenate([self.frames, np.zeros((new - old, self.frames.shape[1]), np.int16)])
            self.gain = np.concatenate([self.gain, np.ones(new - old, np.float32)])
            self.slot_member += [None] * (new - old)
            self.talk.grow(new)
            self.free = list(range(new - 1, old - 1, -1))
            self.capacity = new
        return self.free.pop()

    def free_slot(self, slot: int) -> None:
        """Release ``slot``: its input frame zeroed, gain 1, talk state reset (no event)."""
        self.frames[slot] = 0
        self.gain[slot] = 1.0
        self.slot_member[slot] = None
        self.talk.reset(slot)
        self.free.append(slot)
        self.dirty = True

    def rebuild(self) -> None:
        """Recompute the per-slot masks from member flags (only after a state change)."""
        cap = self.capacity
        heard = np.zeros(cap, bool)
        hears = np.zeros(cap, bool)
        talk_active = np.zeros(cap, bool)
        coach_of = np.full(cap, -1, np.int64)
        for m in self.members.values():
            s = m.slot
            self.gain[s] = m.gain
            heard[s] = not (m.muted or m.hold or m.waiting)
            hears[s] = not (m.hold or m.waiting)
            talk_active[s] = not (m.muted or m.hold)
            if m.coach_of is not None and m.coach_of in self.members:
                coach_of[s] = self.members[m.coach_of].slot
        self.heard, self.hears, self.talk_active, self.coach_of = heard, hears, talk_active, coach_of
        ms = list(self.members.values())
        self.overlay_members = [m for m in ms if m.hold_media is not None or m.wait_media is not None or m.plays]
        self.capture_members = [m for m in ms if m.call.heard is not None]
        self.dirty = False


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
        m.call.jitter = None
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
