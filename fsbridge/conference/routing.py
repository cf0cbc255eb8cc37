"""Native engine events and resync (a part of :class:`~fsbridge.conference.state.ConferenceState`): finds
the conference and participant an engine event is about and routes it to that
:class:`~fsbridge.conference.room.Conference` (``_ROUTES``: action → handler, as data). Unknown rooms,
members and repeats are ignored. ``resync`` applies the events :func:`fsbridge.conference.resync.reconcile`
finds, through the same handlers.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional, Tuple

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference import tables as T
from fsbridge.conference.model import MemberRecord
from fsbridge.conference.native import EngineSnapshot, NativeEvent
from fsbridge.conference.outcome import EMPTY, Out, Outcome, dt
from fsbridge.conference.resync import reattach, reconcile, vanished
from fsbridge.conference.room import Conference


class NativeRouting:
    """apply / resync of :class:`~fsbridge.conference.state.ConferenceState`."""

    def _member_of_event(self, event: NativeEvent) -> Tuple[Optional[Conference], Optional[MemberRecord]]:
        conf = self._confs.get(event.room)
        if conf is None:
            return None, None
        m = None
        if event.unique_id is not None:
            cs = self._by_uid.get(event.unique_id)
            if cs is not None:
                m = conf.members.get(cs)
        if m is None:
            m = conf.member_by_id(event.member_id)
        if m is not None and m.status not in (R.P_CONNECTING, R.P_CONNECTED):
            m = None
        return conf, m

    def apply(self, event: NativeEvent) -> Outcome:
        """Consume one engine event (FreeSWITCH mod_conference ``Action`` semantics, see native.py).

        Unknown rooms/members and repeats are ignored (empty Outcome), so an engine may repeat itself:
        a conference still starts and ends exactly once. Never raises for engine input.
        """
        handler = self._ROUTES.get(event.action)
        if handler is None:
            return EMPTY
        out = Out()
        handler(self, out, event, dt(event.timestamp_us))
        return out.outcome()

    def _joined_of(self, event: NativeEvent) -> Tuple[Optional[Conference], Optional[MemberRecord]]:
        conf, m = self._member_of_event(event)
        return (conf, m) if conf is not None and m is not None and m.joined else (None, None)

    def _on_add_member(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        if event.unique_id is not None and event.unique_id in self._cancelled:
            room = self._cancelled.pop(event.unique_id)
            if event.member_id is not None:
                out.commands.append(C.KickMember(room=room, member_id=event.member_id))
            return
        conf, m = self._member_of_event(event)
        if conf is not None and m is not None and event.member_id is not None:
            conf.on_add_member(out, m, event.member_id, ts)

    def _on_del_member(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._joined_of(event)
        if m is not None:
            conf.leave(out, m, ts, event.hangup_cause)

    def _on_kick(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._joined_of(event)
        if m is not None:
            conf.on_kicked(m)

    def _on_flag(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._joined_of(event)
        if m is not None:
            conf.on_flag(out, m, event.action, ts)

    def _on_talk(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._joined_of(event)
        if m is not None:
            conf.on_talk(out, m, event.action, ts)

    def _on_hangup(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        """A channel ended. A pending join is dropped; a connected member leaves (if del-member is lost)."""
        if event.unique_id is None:
            return
        self._cancelled.pop(event.unique_id, None)
        call_sid = self._by_uid.get(event.unique_id)
        conf = self._confs.get(self._by_call.get(call_sid or "", ""))
        if conf is None:
            return
        m = conf.members[call_sid]
        if m.joined:
            conf.leave(out, m, ts, event.hangup_cause or "NORMAL_CLEARING")
        elif m.status == R.P_CONNECTING:   # answered, hung up before the room took it
            conf.fail_pending(out, m, ts, R.CALL_COMPLETED)

    def _on_join_refused(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        if event.unique_id is None:
            return
        self._cancelled.pop(event.unique_id, None)
        conf, m = self._member_of_event(event)
        if conf is not None and m is not None and m.member_id is None:
            conf.fail_pending(out, m, ts)

    def _on_play_done(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        conf = self._confs.get(event.room)
        if conf is None or event.file is None:
            return
        member_id = event.member_id if event.action == N.PLAY_FILE_MEMBER_DONE else None
        if event.action == N.PLAY_FILE_MEMBER_DONE and member_id is None and event.unique_id is not None:
            _, m = self._member_of_event(event)
            member_id = m.member_id if m else None
        conf.on_play_done(out, event, member_id, ts)

    def _on_recording(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        conf = self._confs.get(event.room)
        if conf is not None and event.path is not None:
            conf.on_recording(out, event, ts)

    def _on_destroy(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        conf = self._confs.get(event.room)
        if conf is not None:
            conf.on_destroy(out, ts)

    _ROUTES = {
        N.ADD_MEMBER: _on_add_member, N.DEL_MEMBER: _on_del_member,
        N.KICK_MEMBER: _on_kick, N.HUP_MEMBER: _on_kick,
        **dict.fromkeys(T.FLAGS, _on_flag),
        N.START_TALKING: _on_talk, N.STOP_TALKING: _on_talk,
        N.PLAY_FILE: _on_play_done, N.PLAY_FILE_DONE: _on_play_done, N.PLAY_FILE_MEMBER_DONE: _on_play_done,
        N.START_RECORDING: _on_recording, N.PAUSE_RECORDING: _on_recording,
        N.RESUME_RECORDING: _on_recording, N.STOP_RECORDING: _on_recording,
        N.CONFERENCE_DESTROY: _on_destroy,
        N.CHANNEL_HANGUP_COMPLETE: _on_hangup,
        N.JOIN_REFUSED: _on_join_refused,
    }

    # ------------------------------------------------------------------ resync
    def resync(self, snapshot: EngineSnapshot) -> Outcome:
        """Reconcile with what the engine has now (:class:`EngineSnapshot`: after an engine (re)connect,
        FreeSWITCH ``json_list``; at start-up) — the one resync path of both engines.

        The difference is found by :func:`fsbridge.conference.resync.reconcile` and applied as the native
        events a live stream would carry, so the typed events are the live ones: connected participants
        the engine no longer lists leave (participant-leave, then the end rules); differing hold/mute flags
        are adopted (participant-hold/-unhold, -mute/-unmute; mute only when held on neither side); a
        speaker the engine no longer reports talking stops; pending joins it lists join (participant-join,
        start rule). Joins that outlived their conference are kicked. Members of unknown rooms or with
        unknown channel ids are ignored.

        Before that: members listed with their CallSid are re-attached (conferences restored from the store
        after a bridge restart, :meth:`restore`), and conferences whose room the engine no longer has
        (:func:`~fsbridge.conference.resync.vanished`) end at once: recordings complete from
        ``snapshot.files``, participants leave with ``snapshot.lost_cause``, then conference-end
        (``Conference.lost``). After it, restored conferences the engine still has lose their REST dial-outs
        that were still queued (the bridge that placed them is gone).
        """
        out = Out()
        ts = dt(snapshot.timestamp_us)
        reattach(self, snapshot)
        files = {path: (size, ms) for path, size, ms in snapshot.files}
        for conf in vanished(self, snapshot):
            conf.lost(out, ts, snapshot.timestamp_us, files, snapshot.lost_cause)
        for event in reconcile(self, snapshot, out):
            self._ROUTES[event.action](self, out, event, dt(event.timestamp_us))
        for sid in sorted(self._restored):
            conf = self._confs.get(sid)
            if conf is not None and conf.status != R.CONF_COMPLETED:
                conf.adopted(out, ts)
        self._restored.clear()
        return out.outcome()


__all__ = ["NativeRouting"]
