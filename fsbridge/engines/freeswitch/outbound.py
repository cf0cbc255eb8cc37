"""Outbound-socket calls: FreeSWITCH's dialplan hands a call to fsbridge with
``socket 127.0.0.1:8084 async full``; each connection becomes a :class:`FreeSwitchCallLeg` (the
:class:`~fsbridge.engines.base.CallLeg` the runtime drives) handed to ``on_call(leg)`` in its own greenlet.

Protocol facts used (FreeSWITCH 1.10.12 fixtures, outbound/*.outbound_session and README 27–30):

* ``connect`` is answered by the channel data as a URL-encoded ``command/reply`` (finding 27).
* ``myevents`` delivers this channel's events; ``event plain CUSTOM conference::maintenance`` adds *this
  channel's* member events (add-member, kick-member, del-member — finding 28), which is how the leg learns
  its Member-ID.
* ``sendmsg`` ``call-command: execute`` replies ``+OK`` at once; completion is CHANNEL_EXECUTE_COMPLETE with
  ``Application-UUID`` = the ``Event-UUID`` we sent (finding 28). The ``conference`` app's completion is how
  a join ends: caller hung up (CHANNEL_HANGUP first, ``Answer-State: hangup``), kicked / room ended /
  hup (channel still answered), or refused when full — no member id at all (findings 26, 29).
* ``linger`` keeps the socket after hangup so the final events arrive; plain ``linger`` never closes: the
  app must send ``exit`` (finding 30) — :meth:`FreeSwitchCallLeg.close` does.

greenswitch's ``OutboundSession``/``OutboundESLServer`` are subclassed: the strict parser, a blocking
accept (no 0.1 s polling) and port 0 (greenswitch exits the process when the bound port is 0).
"""
from __future__ import annotations

import logging
import uuid as uuidlib
from typing import Callable, Dict, Iterable, Optional

import gevent
import gevent.event
import gevent.socket
from greenswitch import esl as gesl

from fsbridge.conference import native as n
from fsbridge.conference.commands import JoinMember
from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch import render, wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage
from fsbridge.engines.freeswitch.transport import StrictESLMixin

log = logging.getLogger(__name__)

H_VAR_CALL_SID = wire.VARIABLE_PREFIX + render.CALL_SID_VAR


class FsOutboundSession(StrictESLMixin, gesl.OutboundSession):
    """greenswitch ``OutboundSession`` with the strict parser and timeouts (:class:`StrictESLMixin`).

    Handlers: register with ``register_handle`` ('*' = every event, 'DISCONNECT' = disconnect notices,
    'CLOSED' = the socket ended, 'conference::maintenance' = member events).
    """

    def __init__(self, client_address, sock, timeout: float = 10.0):
        gesl.ESLProtocol.__init__(self)
        self._strict_init()
        self.send_timeout = timeout
        self.client_address = client_address
        self.sock = sock
        self.sock_file = sock.makefile("rb")
        self.connected = True
        self.session_data: Optional[ESLMessage] = None
        self.expected_events = {}
        self._outbound_connected = False

    def connect(self):
        """``connect`` → the channel data (an :class:`ESLMessage`; headers decoded, finding 27)."""
        reply = self.send(wire.CMD_CONNECT)
        self.session_data = reply
        self._outbound_connected = True
        return reply


class FreeSwitchCallLeg:
    """One outbound-socket call as a :class:`~fsbridge.engines.base.CallLeg`.

    ``unique_id`` (channel Unique-ID), ``from_`` (Caller-Caller-ID-Number), ``to``
    (Caller-Destination-Number), ``call_sid`` (``variable_fsbridge_call_sid`` for fsbridge dial-outs, else
    None), ``channel_data`` (every connect header), ``hung_up``, ``member_id``/``room`` while in a room.
    ``on_event(NativeEvent)`` receives JOIN_REFUSED and ``on_join(JoinMember)`` is told before each join
    (both set by the engine). ``ended`` is set at CHANNEL_HANGUP_COMPLETE or when the socket closed. Methods block the calling greenlet
    only; all replies/events are read by the session's own greenlets.
    """

    def __init__(self, session: FsOutboundSession, on_event: Optional[Callable[[n.NativeEvent], None]] = None):
        self.session = session
        data = session.session_data or ESLMessage()
        self.channel_data: Dict[str, str] = dict(data.headers)
        self.unique_id: str = data.get(wire.H_UNIQUE_ID, "")
        self.from_: str = data.get(wire.H_CALLER_NUMBER, "")
        self.to: str = data.get(wire.H_DEST_NUMBER, "")
        self.call_sid: Optional[str] = data.get(H_VAR_CALL_SID)
        self.hung_up = False
        self.member_id: Optional[int] = None
        self.room: Optional[str] = None
        self.on_event = on_event
        self.on_join: Optional[Callable[[JoinMember], None]] = None
        self.profile = render.PROFILE
        self._joined_seen = False
        self._waiters: Dict[str, gevent.event.AsyncResult] = {}
        self._dtmf: Optional[Callable[[str], None]] = None
        self._closed = False
        self.ended = gevent.event.Event()
        session.register_handle("*", self._on_event)
        session.register_handle(wire.CONFERENCE_SUBCLASS, self._on_conference)
        session.register_handle("DISCONNECT", self._on_disconnect)
        session.register_handle("CLOSED", self._on_closed)

    # -- setup / teardown -------------------------------------------------------------------------
    def setup(self, linger: bool = True) -> None:
        """``myevents``, ``event plain CUSTOM conference::maintenance``, ``linger`` (outbound/basic)."""
        self.session.send(wire.CMD_MYEVENTS)
        self.session.send(wire.OUTBOUND_CONFERENCE_EVENTS)
        if linger:
            self.session.send(wire.CMD_LINGER)

    def close(self) -> None:
        """End the session: hang up if still up, send ``exit`` (plain linger never closes — finding 30),
        close the socket. Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.hung_up and self.session.connected:
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
            for app, arg in plan.variables:
                self._execute(app, arg, wait=False)
            ev = self._execute(render.APP_CONFERENCE, plan.conference_arg, lock=True, timeout=None)
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

    # -- internals --------------------------------------------------------------------------------
    def _execute(self, app: str, arg: Optional[str], wait: bool = True, lock: bool = False,
                 timeout: Optional[float] = 60.0) -> Optional[ESLMessage]:
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
        waiter = gevent.event.AsyncResult()
        if wait:
            self._waiters[event_uuid] = waiter
        reply = self.session.send("\n".join(lines))
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
        elif name == wire.EV_DTMF and self._dtmf is not None:
            # not in this handler greenlet (greenswitch runs handlers serially — DESIGN.md "Known traps"):
            # the runtime's callback blocks on ESL (hangupOnStar → leave → api hup) or worse
            gevent.spawn(self._run_dtmf, self._dtmf, ev.get(wire.H_DTMF_DIGIT, ""))

    @staticmethod
    def _run_dtmf(callback: Callable[[str], None], digit: str) -> None:
        try:
            callback(digit)
        except Exception:
            log.exception("DTMF callback failed")

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


class _NoApplication:
    """Placeholder for greenswitch's required ``application`` argument (fsbridge uses ``on_call``)."""

    def __init__(self, session):
        self.session = session

    def run(self):
        """Never used."""


class OutboundServer(gesl.OutboundESLServer):
    """The outbound-socket server (``socket <host>:<port> async full``).

    ``on_call(leg)`` runs in the session's own greenlet with a set-up :class:`FreeSwitchCallLeg`
    (connected, ``myevents``, member events, ``linger``). It may block for the whole call or return at
    once (the runtime's ``Bridge.on_call`` spawns the call's session); either way the socket is kept until
    the call ended (CHANNEL_HANGUP_COMPLETE) and then closed with ``exit``. If ``on_call`` raises, the call
    is hung up. ``engine``: a :class:`~.engine.FreeSwitchEngine` this server serves (it then routes
    JOIN_REFUSED and join bookkeeping to that engine, replacing the engine's own server). ``port`` 0 picks a free port (tests); :attr:`bound_port` is the real one after
    :meth:`start`. ``on_event`` receives JOIN_REFUSED NativeEvents of legs. ``profile``: the
    mod_conference profile joins use.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8084,
                 on_call: Optional[Callable[[FreeSwitchCallLeg], None]] = None,
                 on_event: Optional[Callable[[n.NativeEvent], None]] = None,
                 max_connections: int = 500, timeout: float = 10.0, profile: str = render.PROFILE,
                 engine=None):
        super().__init__(bind_address=host, bind_port=port, application=_NoApplication,
                         max_connections=max_connections)
        self.on_call = on_call
        self.on_event = on_event
        self.prepare_leg: Optional[Callable[[FreeSwitchCallLeg], None]] = None
        self.bound_port = None
        self.timeout = timeout
        self.profile = profile
        self.legs: Dict[str, FreeSwitchCallLeg] = {}
        self._accept_greenlet: Optional[gevent.Greenlet] = None
        self._sessions = set()
        if engine is not None:
            engine.attach_outbound(self)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    def start(self) -> int:
        """Bind, listen and accept in a greenlet; returns the bound port."""
        self.server = gevent.socket.socket()
        self.server.setsockopt(gevent.socket.SOL_SOCKET, gevent.socket.SO_REUSEADDR, 1)
        self.server.bind((self.bind_address, self.bind_port[0]))
        self.server.listen(128)
        self.bound_port = self.server.getsockname()[1]
        self._running = True
        self._accept_greenlet = gevent.spawn(self.listen)
        return self.bound_port

    def listen(self):
        """Accept loop (blocking accept; greenswitch's version polls every 0.1 s and cannot bind port 0)."""
        while self._running:
            try:
                sock, addr = self.server.accept()
            except OSError:
                if not self._running:
                    return
                raise
            g = gevent.spawn(self._session, sock, addr)
            self._sessions.add(g)
            g.link(self._sessions.discard)

    def _session(self, sock, addr) -> None:
        session = FsOutboundSession(addr, sock, timeout=self.timeout)
        session.start_event_handlers()
        leg = None
        try:
            if self.connection_count >= self.max_connections:
                log.warning("outbound socket: %d calls, refusing another", self.connection_count)
                return
            session.connect()
            leg = FreeSwitchCallLeg(session, on_event=self.on_event)
            leg.profile = self.profile
            if self.prepare_leg is not None:
                self.prepare_leg(leg)
            leg.setup()
            self.connection_count += 1
            self.legs[leg.unique_id] = leg
            if self.on_call is None:
                log.warning("call %s arrived but no call handler is set; hanging up", leg.unique_id)
                return
            self.on_call(leg)
            # the handler may return at once (the runtime runs the call in its own greenlet): keep the
            # socket until the call has ended, then close it (exit — finding 30)
            leg.wait_ended()
        except EngineUnavailable:
            log.info("outbound socket from %s closed early", addr)
        except Exception:
            log.exception("outbound call handler failed")
        finally:
            if leg is not None:
                self.connection_count -= 1
                self.legs.pop(leg.unique_id, None)
                leg.close()
            else:
                session.stop()

    def stop(self) -> None:
        """Stop accepting and end every session (their legs are closed)."""
        self._running = False
        if self.server is not None:
            try:
                self.server.close()
            except OSError:
                pass
        if self._accept_greenlet is not None:
            self._accept_greenlet.kill(block=True, timeout=2)
        gevent.killall(list(self._sessions), block=True, timeout=2)
