"""The standalone engine's commands: one handler per :mod:`fsbridge.conference.commands` type, found through
the :data:`COMMANDS` table (``{Command type: handler}``, as mod_conference's ``conference_api_sub_commands[]``)."""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Tuple

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.engines.base import EngineError

from .media import ENTER_TONE, MediaError, check_media
from .recorder import Recorder
from .rooms import _Member, _Room, _RoomPlay
from .sources import Playlist

log = logging.getLogger("fsbridge.engines.standalone.engine")


class CommandsMixin:
    """Command handlers of :class:`StandaloneEngine` (each raises EngineError when refused)."""

    def _do_JoinMember(self, cmd: C.JoinMember) -> None:
        call = self._calls.get(cmd.unique_id)
        if call is None or call.hung_up:
            raise EngineError(f"No such channel {cmd.unique_id}")
        if call.member is not None:
            raise EngineError(f"{cmd.unique_id} is already in conference {call.member.room.name}")
        call._start_join()
        call.answer()
        call._stop_play(False)
        room = self._rooms.get(cmd.room)
        if room is None:
            room = _Room(self, cmd.room, cmd.max_members)
            self._rooms[cmd.room] = room
            self._emit(N.CONFERENCE_CREATE, room)
        if len(room.members) >= min(room.max_members, cmd.max_members):
            self._emit(N.JOIN_REFUSED, room, call.unique_id,
                       extra=(("Caller-Caller-ID-Number", call.from_),))
            call._finish_join("refused")
            if not room.members:
                self._destroy_room(room)
            return
        slot = room.alloc_slot()
        m = _Member(next(self._ids), call, room, slot, cmd)
        room.members[m.id] = m
        room.slot_member[slot] = m
        self._members[m.id] = m
        call.member = m
        call.jitter = None
        if cmd.waiting:
            m.wait_media = Playlist(cmd.wait_media, self._opener, loop=True) if cmd.wait_media else None
        room.dirty = True
        self._emit(N.ADD_MEMBER, room, member=m)
        if cmd.enter_beep and not cmd.waiting and self._others_hearing(room, m):
            room.beeps.append(_RoomPlay(Playlist([ENTER_TONE], self._opener), exclude={m.id}))

    # ------------------------------------------------------------------------ commands ----------
    def _do_StartConference(self, cmd: C.StartConference) -> None:
        room = self._room(cmd.room)
        done_refs: List[str] = []
        beep = False
        for m in room.members.values():
            if m.waiting and not m.entering:
                beep = beep or m.enter_beep
                if m.wait_media is not None:
                    ref = m.wait_media.current or m.wait_media.last
                    if ref not in done_refs:
                        done_refs.append(ref)
                    m.wait_media = None
                if m.enter_media:   # heard first; the tick mixes the member when it ended
                    m.entering = True
                    m.wait_media = Playlist(m.enter_media, self._opener)
                else:
                    m.waiting = False
        room.dirty = True
        for ref in done_refs:
            self._emit(N.PLAY_FILE_DONE, room, file=ref)
        if beep and len(room.members) > 1:
            room.beeps.append(_RoomPlay(Playlist([ENTER_TONE], self._opener)))

    def _do_MuteMember(self, cmd: C.MuteMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.muted = True
        m.room.talk.reset(m.slot)   # FreeSWITCH: no stop-talking when a talker is muted (note 21)
        m.room.dirty = True
        self._emit(N.MUTE_MEMBER, m.room, member=m)

    def _do_UnmuteMember(self, cmd: C.UnmuteMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.muted = False
        m.room.dirty = True
        self._emit(N.UNMUTE_MEMBER, m.room, member=m)

    def _do_HoldMember(self, cmd: C.HoldMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.hold = True
        m.hold_media = Playlist(cmd.media, self._opener, loop=True) if cmd.media else None
        m.room.talk.reset(m.slot)
        m.room.dirty = True
        self._emit(N.HOLD_MEMBER, m.room, member=m)

    def _do_UnholdMember(self, cmd: C.UnholdMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        was = m.hold_media
        m.hold = False
        m.hold_media = None
        m.room.dirty = True
        self._emit(N.UNHOLD_MEMBER, m.room, member=m)
        if was is not None:   # FreeSWITCH: unhold stops the hold file → play-file-member-done (note 17)
            self._emit(N.PLAY_FILE_MEMBER_DONE, m.room, member=m, file=was.current or was.last)

    def _do_KickMember(self, cmd: C.KickMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        self._remove_member(m, "left", kicked=True)

    def _do_SetCoach(self, cmd: C.SetCoach) -> None:
        m = self._member(cmd.room, cmd.coach_member_id)
        if cmd.coached_member_id is not None and cmd.coached_member_id not in m.room.members:
            raise EngineError(f"Non-Existant ID {cmd.coached_member_id}")
        m.coach_of = cmd.coached_member_id
        m.room.dirty = True

    def _do_SetExitBeep(self, cmd: C.SetExitBeep) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.exit_beep = cmd.enabled

    def _do_PlayMedia(self, cmd: C.PlayMedia) -> None:
        room = self._room(cmd.room)
        for ref in cmd.media:
            try:
                check_media(ref)
            except MediaError as exc:
                if cmd.member_id is None:   # FreeSWITCH: play-file with Error (note 14); member: -ERR only
                    self._emit(N.PLAY_FILE, room, file=ref, error="File could not be played")
                raise EngineError(f"-ERR (play) {exc}") from exc
        pl = Playlist(cmd.media, self._opener)
        if cmd.member_id is not None:
            m = self._member(cmd.room, cmd.member_id)
            m.plays.append(pl)
            room.dirty = True
            return
        room.announcements.append(_RoomPlay(pl))
        if len(room.announcements) == 1:
            self._emit(N.PLAY_FILE, room, file=cmd.media[0] if cmd.media else "")

    def _do_StartRecording(self, cmd: C.StartRecording) -> None:
        room = self._room(cmd.room)
        if cmd.path in room.recorders:
            raise EngineError(f"already recording {cmd.path}")
        try:
            room.recorders[cmd.path] = Recorder(cmd.path, self.rate, trim_silence=cmd.trim_silence)
        except Exception as exc:
            raise EngineError(f"cannot record to {cmd.path}: {exc}") from exc
        self._emit(N.START_RECORDING, room, path=cmd.path)

    def _recorder(self, room_name: str, path: str) -> Tuple[_Room, Recorder]:
        room = self._room(room_name)
        r = room.recorders.get(path)
        if r is None:
            raise EngineError(f"not recording {path}")
        return room, r

    def _do_PauseRecording(self, cmd: C.PauseRecording) -> None:
        room, r = self._recorder(cmd.room, cmd.path)
        r.pause()
        self._emit(N.PAUSE_RECORDING, room, path=cmd.path)

    def _do_ResumeRecording(self, cmd: C.ResumeRecording) -> None:
        room, r = self._recorder(cmd.room, cmd.path)
        r.resume()
        self._emit(N.RESUME_RECORDING, room, path=cmd.path)

    def _do_StopRecording(self, cmd: C.StopRecording) -> None:
        """Idempotent: a recording (or room) that already ended is not an error — the engine stops open
        recordings itself when the room is destroyed, and the domain may ask again."""
        room = self._rooms.get(cmd.room)
        if room is None or cmd.path not in room.recorders:
            log.debug("stop of recording %s in %s: already stopped", cmd.path, cmd.room)
            return
        self._stop_recording(room, cmd.path)

    def _stop_recording(self, room: _Room, path: str) -> None:
        r = room.recorders.pop(path)
        info = r.close()
        self._emit(N.STOP_RECORDING, room, path=path, duration_ms=info["duration_ms"], file_size=info["file_size"],
                   extra=(("Samples-Out", str(info["samples"])), ("Samplerate", str(self.rate)),
                          ("Milliseconds-Elapsed", str(info["duration_ms"])),
                          ("Record-File-Size", str(info["file_size"]))))

    def _do_EndConference(self, cmd: C.EndConference) -> None:
        self._end_room(self._room(cmd.room))


#: Command type → handler(engine, command)
def _do_SendDtmf(self, cmd: C.SendDtmf) -> None:
    """The member's caller receives the digits (its leg's ``received_dtmf``), as FreeSWITCH's conference dtmf."""
    m = self._member(cmd.room, cmd.member_id)
    m.call.received_dtmf.append(cmd.digits)


COMMANDS: Dict[type, Callable[[Any, Any], None]] = {
    C.SendDtmf: _do_SendDtmf,
    C.JoinMember: CommandsMixin._do_JoinMember,
    C.StartConference: CommandsMixin._do_StartConference,
    C.MuteMember: CommandsMixin._do_MuteMember,
    C.UnmuteMember: CommandsMixin._do_UnmuteMember,
    C.HoldMember: CommandsMixin._do_HoldMember,
    C.UnholdMember: CommandsMixin._do_UnholdMember,
    C.KickMember: CommandsMixin._do_KickMember,
    C.SetCoach: CommandsMixin._do_SetCoach,
    C.SetExitBeep: CommandsMixin._do_SetExitBeep,
    C.PlayMedia: CommandsMixin._do_PlayMedia,
    C.StartRecording: CommandsMixin._do_StartRecording,
    C.PauseRecording: CommandsMixin._do_PauseRecording,
    C.ResumeRecording: CommandsMixin._do_ResumeRecording,
    C.StopRecording: CommandsMixin._do_StopRecording,
    C.EndConference: CommandsMixin._do_EndConference,
}
