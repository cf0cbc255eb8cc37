"""One outbound-socket call as the runtime drives it: :class:`FreeSwitchCallLeg` (answer, play, the
``conference`` app for a join, DTMF, hangup), over the session the :class:`~.outbound.OutboundServer`
accepted. Protocol facts: the module docstring of :mod:`.outbound`."""
from __future__ import annotations

import logging
import uuid as uuidlib
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import gevent
import gevent.event

from fsbridge.conference import native as n
from fsbridge.conference.commands import JoinMember
from fsbridge.engines.base import AudioFork, EngineError, EngineUnavailable
from fsbridge.engines.freeswitch import fork as audio_fork
from fsbridge.engines.freeswitch import render, wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage

log = logging.getLogger("fsbridge.engines.freeswitch.outbound")

H_VAR_CALL_SID = wire.VARIABLE_PREFIX + render.CALL_SID_VAR
H_VAR_MEMBER_ID = wire.VARIABLE_PREFIX + render.MEMBER_ID_VAR


def run_dtmf(callback: Callable[[str], None], digit: str) -> None:
    """Call ``callback(digit)`` (one DTMF digit, ``"0"``–``"9"``, ``*``, ``#``, ``A``–``D``), logging rather
    than raising what it raises: run in a greenlet of its own per digit, by both the socket leg and the adopted
    leg (:mod:`.adopted`), so a failing runtime callback cannot kill the ESL handler."""
    try:
        callback(digit)
    except Exception:
        log.exception("DTMF callback failed")


class FreeSwitchCallLeg:
    """One outbound-socket call as a :class:`~fsbridge.engines.base.CallLeg`.

    ``unique_id`` (channel Unique-ID), ``from_`` (Caller-Caller-ID-Number), ``to``
    (Caller-Destination-Number), ``call_sid`` (``variable_fsbridge_call_sid`` for fsbridge dial-outs, else
    None), ``channel_data`` (every connect header), ``hung_up``, ``member_id``/``room`` while in a room.
    ``on_event(NativeEvent)`` receives JOIN_REFUSED and ``on_join(JoinMember)`` is told before each join
    (both set by the engine). ``ended`` is set at CHANNEL_HANGUP_COMPLETE or when the socket closed.
    Methods block the calling greenlet only; all replies/events are read by the session's own greenlets.
    """

    def __init__(self, session, on_event: Optional[Callable[[n.NativeEvent], None]] = None):
        self.session = session
        data = session.session_data or ESLMessage()
        self.channel_data: Mapping[str, str] = data.headers   # a read-only view, not a copy (≈ 190 headers: issue 21)
        self.unique_id: str = data.get(wire.H_UNIQUE_ID, "")
        self.from_: str = data.get(wire.H_CALLER_NUMBER, "")
        self.to: str = data.get(wire.H_DEST_NUMBER, "")
        self.call_sid: Optional[str] = data.get(H_VAR_CALL_SID)
        self.hung_up = False
        self.member_id: Optional[int] = None
        self.room: Optional[str] = None
        self.on_event = on_event
        self.on_join: Optional[Callable[[JoinMember], None]] = None
        #: told ``(leg, CHANNEL_HANGUP_COMPLETE event)`` when this socket sees the call's hangup (set by the engine)
        self.on_hangup: Optional[Callable[["FreeSwitchCallLeg", ESLMessage], None]] = None
        #: the call was in a conference before it reached this socket (a re-entry through the dialplan's
        #: next ``socket`` action after a bridge restart: docs/freeswitch.md observed-live §1b)
        self.reentry = H_VAR_MEMBER_ID in self.channel_data
        self.profile = render.PROFILE
        self._joined_seen = False
        self._join_result: Optional[gevent.event.AsyncResult] = None
        self._waiters: Dict[str, gevent.event.AsyncResult] = {}
        self._dtmf: Optional[Callable[[str], None]] = None
        self._forking = False   # a mod_audio_fork stream was started (jambonz listen)
        self._closed = False
        self.ended = gevent.event.Event()
        session.register_handle("*", self._on_event)
        session.register_handle(wire.CONFERENCE_SUBCLASS, self._on_conference)
        session.register_handle("DISCONNECT", self._on_disconnect)
        session.register_handle("CLOSED", self._on_closed)

    # -- setup / teardown -------------------------------------------------------------------------
    def setup(self, linger: bool = True, timeout: Optional[float] = None) -> None:
        """``myevents``, ``nixevent`` of the channel events no leg reads (:data:`wire.OUTBOUND_NIXEVENT`),
        ``event plain CUSTOM conference::maintenance``, ``linger`` (outbound/basic); each waits ``timeout`` s
        for its reply (default: the session's ``send_timeout``). Sent in one write (pipelined, issue 21)."""
        commands = [wire.CMD_MYEVENTS, wire.OUTBOUND_NIXEVENT, wire.OUTBOUND_CONFERENCE_EVENTS]
        if linger:
            commands.append(wire.CMD_LINGER)
        self.session.send_many(commands, timeout=timeout)

    def close(self) -> None:
        """End the session: hang up if still up, send ``exit`` (plain linger never closes — finding 30),
        close the socket. Idempotent; never raises."""
        self._end(hang_up=True)

    def detach(self) -> None:
        """Give the call up without hanging it up (bridge shutdown, issue 15): ``exit`` on its outbound
        socket, then close it. A call in a conference stays there — same member, hearing the room,
        controllable over inbound ESL (docs/freeswitch.md observed-live §1a, §4); when its conference ends the dialplan's
        next action runs (freeswitch-conf: another ``socket`` = the next bridge). Idempotent; never raises."""
        self._end(hang_up=False)

    def _end(self, hang_up: bool) -> None:
        """Once only: hang up first when ``hang_up`` (and the call is still up), send ``exit``, stop the
        session, release what the leg holds. Engine errors on the way are swallowed."""
        if self._closed:
            return
        self._closed = True
        try:
            if hang_up and not self.hung_up and self.session.connected:
                self.hangup()
            if self.session.connected:
                self.session.send(wire.CMD_EXIT, timeout=2)
        except EngineError:
            pass
        self.session.stop()
        self._release_all()

    # -- CallLeg ----------------------------------------------------------------------------------
    def answer(self) -> None:
        """``answer`` and wait for its completion. Raises :class:`EngineUnavailable` if the socket is gone."""
        self._execute(render.APP_ANSWER, None)

    def play(self, media: Iterable[str]) -> bool:
        """``playback`` each item in turn; True when every one completed with ``FILE PLAYED``, False on
        hangup/interruption (outbound/basic: ``Application-Response: FILE PLAYED``)."""
        for item in media:
            if self.hung_up:
                return False
            try:
                ev = self._execute(render.APP_PLAYBACK, render.media_ref([item]))
            except EngineUnavailable:  # the socket is gone: FreeSWITCH hung up or went away
                self.hung_up = True
                return False
            if ev is None or self.hung_up or ev.get(wire.H_APP_RESPONSE) != wire.FILE_PLAYED:
                return False
        return True

    def join(self, command: JoinMember) -> str:
        """Set the join's channel variables, execute ``conference`` and block until it returns.

        Returns ``"hangup"`` (caller gone: CHANNEL_HANGUP first / ``Answer-State: hangup``; or the socket
        is gone), ``"refused"``
        (no member id — max-members, finding 26; a JOIN_REFUSED NativeEvent is emitted) or ``"left"``.
        """
        plan = render.join_plan(command, self.profile)
        if self.on_join is not None:
            self.on_join(command)
        self._joined_seen = False
        self.room = command.room
        try:
            ev = self._execute_all([(app, arg) for app, arg in plan.variables], render.APP_CONFERENCE,
                                   plan.conference_arg)
        except EngineUnavailable:  # the socket is gone: FreeSWITCH hung up or went away
            self.hung_up = True
            ev = None
        joined = self._joined_seen
        self.member_id = None
        if self.hung_up or ev is None or ev.get(wire.H_ANSWER_STATE) == wire.ANSWER_STATE_HANGUP:
            return "hangup"
        if not joined:
            if self.on_event is not None:
                ts = int(ev.get(wire.H_TIMESTAMP) or 0)
                self.on_event(n.NativeEvent(n.JOIN_REFUSED, command.room, ts, self.unique_id,
                                            extra=(("call_sid", command.call_sid),)))
            return "refused"
        return "left"

    def start_join(self, command: JoinMember) -> None:
        """Run :meth:`join` in a greenlet of its own (``engine.execute(JoinMember)``); its outcome (or
        EngineError) goes to :meth:`wait_left`."""
        result = gevent.event.AsyncResult()
        self._join_result = result

        def run():
            try:
                result.set(self.join(command))
            except Exception as exc:  # noqa: BLE001 - handed to wait_left
                result.set_exception(exc)
        gevent.spawn(run)

    def wait_left(self) -> str:
        """After ``engine.execute(JoinMember)``: block until the call left its room ("left", "hangup",
        "refused"; re-raises the join's EngineError). Without a pending join: "hangup" if hung up, else
        "left"."""
        result, self._join_result = self._join_result, None
        if result is None:
            return "hangup" if self.hung_up else "left"
        return result.get()

    def leave(self) -> None:
        """Take the call out of its room (``conference <room> hup <id>``; the join then returns "left"
        because ``hangup_after_conference=false``)."""
        if self.member_id is None or self.room is None:
            return
        body = self.session.api(render.api("hup", room=self.room, member=self.member_id))
        if not body.startswith(wire.REPLY_OK):
            raise EngineError(body.strip())

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the call up with FreeSWITCH cause ``cause``: ``api uuid_kill <uuid> <cause>`` on this
        socket. Not ``sendmsg call-command: hangup`` (outbound/kicked): the conference execute is sent
        with ``event-lock``, so a queued hangup message would wait until the call left the room."""
        if self.hung_up:
            return
        body = self.session.api(render.api("kill", uuid=self.unique_id, cause=cause))
        if not body.startswith(wire.REPLY_OK) and not self.hung_up:
            log.warning("hangup of %s: %s", self.unique_id, body.strip())

    def on_dtmf(self, callback: Optional[Callable[[str], None]]) -> None:
        """Call ``callback(digit)`` for each DTMF event of this channel (None = stop), each in a greenlet
        of its own, so the callback may block (send ESL commands) without holding up this call's events."""
        self._dtmf = callback

    def break_play(self) -> None:
        """Interrupt the current ``playback`` (``api uuid_break <uuid>``: FreeSWITCH sets CF_BREAK and the
        playback returns); an error (nothing playing, socket gone) is logged and ignored."""
        try:
            body = self.session.api(render.api("break", uuid=self.unique_id))
        except EngineError as exc:
            log.debug("uuid_break %s: %s", self.unique_id, exc)
            return
        if not body.startswith(wire.REPLY_OK):
            log.debug("uuid_break %s: %s", self.unique_id, body.strip())

    def start_fork(self, fork: AudioFork) -> None:
        """jambonz listen through mod_audio_fork (:mod:`.fork`): NotSupported when it is not loaded."""
        audio_fork.start(self.session.api, self.unique_id, fork)
        self._forking = True

    def fork_text(self, text: str) -> None:
        """A text frame on the running stream (``uuid_audio_fork … send_text``); never raises."""
        if self._forking and not self.hung_up:
            try:
                audio_fork.send_text(self.session.api, self.unique_id, text)
            except Exception as exc:   # noqa: BLE001 - the socket may be gone: never raise from here
                log.info("listen send_text on %s: %s", self.unique_id, exc)

    def stop_fork(self) -> None:
        """``uuid_audio_fork <uuid> stop`` when a stream was started and the call is up; never raises."""
        if self._forking:
            self._forking = False
            if not self.hung_up:
                try:
                    audio_fork.stop(self.session.api, self.unique_id)
                except Exception as exc:   # noqa: BLE001 - the socket may be gone: never raise from here
                    log.info("listen stop on %s: %s", self.unique_id, exc)

    # -- internals --------------------------------------------------------------------------------
    def transfer(self, dialstring: str, timeout_s: float = 14400.0) -> bool:
        """``bridge`` to ``dialstring`` and wait until it ended (issue 18: a move to the node owning the room);
        True when it was answered (``last_bridge_to`` set on the channel), False when the far end could not be
        reached. Raises EngineError when the application is refused."""
        if self.hung_up:
            return False
        done = self._execute("bridge", dialstring, wait=True, timeout=timeout_s)
        return bool(done is not None and done.get(wire.VARIABLE_PREFIX + "last_bridge_to"))

    @staticmethod
    def _sendmsg(app: str, arg: Optional[str], lock: bool = False) -> Tuple[str, str]:
        """(``sendmsg`` execute command text, its Event-UUID)."""
        event_uuid = str(uuidlib.uuid4())
        lines = [wire.CMD_SENDMSG, "%s: %s" % (wire.SM_CALL_COMMAND, wire.SM_EXECUTE),
                 "%s: %s" % (wire.SM_APP_NAME, app)]
        if arg is not None:
            if "\n" in arg:
                raise EngineError("application argument contains a newline")
            lines.append("%s: %s" % (wire.SM_APP_ARG, arg))
        if lock:
            lines.append("%s: true" % wire.SM_EVENT_LOCK)
        lines.append("%s: %s" % (wire.SM_EVENT_UUID, event_uuid))
        return "\n".join(lines), event_uuid

    def _execute_all(self, before: List[Tuple[str, Optional[str]]], app: str,
                     arg: Optional[str]) -> Optional[ESLMessage]:
        """Execute ``before`` (not waited for) and then ``app`` with ``event-lock``, sent in one write
        (pipelined, issue 21: a join's multiset + jitterbuffer + conference); waits for ``app``'s completion
        without a timeout. Raises :class:`EngineError` when FreeSWITCH refuses one of them; when ``app``
        itself was accepted it would still run (in a conference nobody waits for), so the call is hung up
        first (``uuid_kill`` ... ``NORMAL_TEMPORARY_FAILURE``)."""
        msgs = [self._sendmsg(a, x) for a, x in before] + [self._sendmsg(app, arg, lock=True)]
        waiter = gevent.event.AsyncResult()
        last_uuid = msgs[-1][1]
        self._waiters[last_uuid] = waiter
        try:
            replies = self.session.send_many([text for text, _ in msgs])
        except EngineError:
            self._waiters.pop(last_uuid, None)
            raise
        for (a, _), reply in zip(before + [(app, arg)], replies):
            if not reply.get(wire.H_REPLY_TEXT, "").startswith(wire.REPLY_OK):
                self._waiters.pop(last_uuid, None)
                if replies[-1].get(wire.H_REPLY_TEXT, "").startswith(wire.REPLY_OK):
                    try:
                        self.hangup("NORMAL_TEMPORARY_FAILURE")
                    except EngineError as exc:   # the socket is gone: the call ends anyway
                        log.info("hangup of %s after a refused %s: %s", self.unique_id, a, exc)
                raise EngineError("%s refused: %s" % (a, reply.get(wire.H_REPLY_TEXT)))
        return waiter.get()

    def _execute(self, app: str, arg: Optional[str], wait: bool = True, lock: bool = False,
                 timeout: Optional[float] = 60.0) -> Optional[ESLMessage]:
        text, event_uuid = self._sendmsg(app, arg, lock)
        waiter = gevent.event.AsyncResult()
        if wait:
            self._waiters[event_uuid] = waiter
        reply = self.session.send(text)
        if not reply.get(wire.H_REPLY_TEXT, "").startswith(wire.REPLY_OK):
            self._waiters.pop(event_uuid, None)
            raise EngineError("%s refused: %s" % (app, reply.get(wire.H_REPLY_TEXT)))
        if not wait:
            return None
        try:
            return waiter.get(timeout=timeout)
        except gevent.Timeout:
            self._waiters.pop(event_uuid, None)
            raise EngineError("%s did not complete in %ss" % (app, timeout))

    def _on_event(self, ev: ESLMessage) -> None:
        name = ev.get(wire.H_EVENT_NAME)
        if name == wire.EV_CHANNEL_EXECUTE_COMPLETE:
            waiter = self._waiters.pop(ev.get(wire.H_APP_UUID, ""), None)
            if waiter is not None:
                waiter.set(ev)
        elif name in (wire.EV_CHANNEL_HANGUP, wire.EV_CHANNEL_HANGUP_COMPLETE):
            self.hung_up = True
            if name == wire.EV_CHANNEL_HANGUP_COMPLETE:
                self.ended.set()
                if self.on_hangup is not None:
                    self.on_hangup(self, ev)
        elif name == wire.EV_DTMF and self._dtmf is not None:
            # not in this handler greenlet (greenswitch runs handlers serially — DESIGN.md "Known traps"):
            # the runtime's callback blocks on ESL (hangupOnStar → leave → api hup) or worse
            gevent.spawn(run_dtmf, self._dtmf, ev.get(wire.H_DTMF_DIGIT, ""))

    def _on_conference(self, ev: ESLMessage) -> None:
        if ev.get(wire.H_UNIQUE_ID) != self.unique_id:
            return
        action = ev.get(wire.H_ACTION)
        if action == n.ADD_MEMBER:
            self._joined_seen = True
            self.room = ev.get(wire.H_CONF_NAME, self.room)
            try:
                self.member_id = int(ev.get(wire.H_MEMBER_ID, ""))
            except ValueError:
                pass

    def _on_disconnect(self, ev: ESLMessage) -> None:
        if ev.get(wire.H_CONTENT_DISPOSITION) != wire.DISPOSITION_LINGER:
            self._release_all()

    def _on_closed(self, ev) -> None:
        self.hung_up = True
        self.ended.set()
        self._release_all()

    def wait_ended(self, timeout: Optional[float] = None) -> bool:
        """Block until CHANNEL_HANGUP_COMPLETE arrived or the socket closed (True) or ``timeout`` s."""
        return self.ended.wait(timeout)

    def _release_all(self) -> None:
        waiters, self._waiters = self._waiters, {}
        for w in waiters.values():
            if not w.ready():
                w.set(None)
