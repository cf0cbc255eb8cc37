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
import time
from collections import deque
from typing import Callable, Dict, Optional

import gevent
import gevent.event
import gevent.lock
import gevent.socket
from greenswitch import esl as gesl

from fsbridge.conference import native as n
from fsbridge.engines.base import EngineUnavailable
from fsbridge.engines.freeswitch import render, wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage
from fsbridge.engines.freeswitch.leg import FreeSwitchCallLeg
from fsbridge.engines.freeswitch.transport import StrictESLMixin

log = logging.getLogger(__name__)


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

    def connect(self, timeout: Optional[float] = None):
        """``connect`` → the channel data (an :class:`ESLMessage`; headers decoded, finding 27).
        ``timeout`` s (default :attr:`send_timeout`); :class:`EngineError` when it passes."""
        reply = self.send(wire.CMD_CONNECT, timeout=timeout)
        self.session_data = reply
        self._outbound_connected = True
        return reply


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

    Call setup under load (issue 21 item 3): a caller is never hung up by the bridge's own timeouts while
    FreeSWITCH is slow. At most ``max_setup`` sessions run their setup (``connect``, ``myevents``, ``event``,
    ``linger``) at once; the others wait their turn with the socket accepted (backpressure: a CPU-bound
    FreeSWITCH is not handed hundreds of commands at once; FreeSWITCH's ``socket`` app waits for ever for
    ``connect`` — rescue.py). Each setup command waits :meth:`setup_deadline` s: ``setup_timeout``, or 4×
    the slowest of the last 64 setups when that is longer (adaptive). A closed socket still ends the wait
    at once. A setup slower than ``slow_setup`` s is logged with the call, the time and the queue length.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8084,
                 on_call: Optional[Callable[[FreeSwitchCallLeg], None]] = None,
                 on_event: Optional[Callable[[n.NativeEvent], None]] = None,
                 max_connections: int = 500, timeout: float = 10.0, profile: str = render.PROFILE,
                 engine=None, setup_timeout: float = 60.0, max_setup: int = 32, slow_setup: float = 1.0):
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
        self.setup_timeout = setup_timeout
        self.slow_setup = slow_setup
        self._setup_gate = gevent.lock.BoundedSemaphore(max_setup)
        self._setup_waiting = 0
        self._setup_times: deque = deque(maxlen=64)
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
        counted = False
        try:
            refuse = self.connection_count >= self.max_connections or not self._running
            # never close an accepted socket before ``connect``: FreeSWITCH would leave that call stuck in
            # the socket application for ever (docs/freeswitch.md observed-live §4); ``connect`` + ``exit`` hands it to the
            # dialplan's next action instead
            self._setup_waiting += 1
            queued, accepted = True, time.monotonic()
            try:
                with self._setup_gate:
                    self._setup_waiting -= 1
                    queued = False
                    t0 = time.monotonic()
                    session.connect(timeout=self.setup_deadline())
                    took = time.monotonic() - t0
                    if not refuse:
                        leg = FreeSwitchCallLeg(session, on_event=self.on_event)
                        leg.profile = self.profile
                        if self.prepare_leg is not None:
                            self.prepare_leg(leg)
                        leg.setup(timeout=self.setup_deadline())
                    self._setup_done(session, accepted, t0, took)
            finally:
                if queued:  # killed while waiting its turn
                    self._setup_waiting -= 1
            if refuse:
                log.warning("outbound socket: %s, refusing call %s", "draining" if not self._running else
                            "%d calls" % self.connection_count, session.session_data.get(wire.H_UNIQUE_ID, "?")
                            if session.session_data else "?")
                session.send(wire.CMD_EXIT, timeout=2)
                return
            self.connection_count += 1
            counted = True
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
            if counted:
                self.connection_count -= 1
            if leg is not None:
                self.legs.pop(leg.unique_id, None)
                leg.close()
            else:
                session.stop()

    def setups_pending(self) -> int:
        """Accepted sockets whose call is not (yet) a leg: in setup, queued for it, or being refused."""
        return max(0, len(self._sessions) - len(self.legs))

    def setup_deadline(self) -> float:
        """Seconds one setup command may wait for FreeSWITCH: ``setup_timeout``, or 4× the slowest of the
        last 64 setups when that is longer (a FreeSWITCH getting slower gets more time, not hang-ups)."""
        slowest = max(self._setup_times, default=0.0)
        return max(self.setup_timeout, 4.0 * slowest)

    def _setup_done(self, session, accepted: float, t0: float, connect_s: float) -> None:
        now = time.monotonic()
        self._setup_times.append(now - t0)
        if now - accepted >= self.slow_setup:
            data = session.session_data
            log.warning("slow call setup %s: %.2f s from accept (%.2f s queued behind "
                        "other setups, 'connect' answered in %.2f s, myevents/event/linger %.2f s; %d calls "
                        "waiting their turn, next deadline %.0f s)",
                        data.get(wire.H_UNIQUE_ID, "?") if data is not None else "?", now - accepted,
                        t0 - accepted, connect_s, now - t0 - connect_s, self._setup_waiting,
                        self.setup_deadline())

    def close_listener(self) -> None:
        """Stop accepting new calls (the listening socket closes: FreeSWITCH's ``socket`` application fails
        at once and its dialplan continues); sessions already accepted go on."""
        self._running = False
        if self.server is not None:
            try:
                self.server.close()
            except OSError:
                pass

    def stop(self) -> None:
        """Stop accepting and end every session (their legs are closed)."""
        self.close_listener()
        if self._accept_greenlet is not None:
            self._accept_greenlet.kill(block=True, timeout=2)
        gevent.killall(list(self._sessions), block=True, timeout=2)
