"""ESL transport: greenswitch's protocol classes with fsbridge's strict parser, timeouts and a send lock,
plus a reconnecting inbound connection.

greenswitch 0.0.19 is kept for what it does well — the handler registry (``register_handle``) and the
serial event-processing greenlet — and three of its methods are replaced (:class:`StrictESLMixin`):

* ``receive_events``: reads whole messages with :func:`esl_parse.read_message` (split, then decode; inner
  ``Content-Length`` bodies; ``text/event-json``) instead of greenswitch's decode-then-split reader that
  lets ``%0A`` in a caller name forge headers (DESIGN.md "Known traps").
* ``handle_event``: routes replies to the waiting command (FIFO, as FreeSWITCH answers in order) and
  events to greenswitch's queue. On EOF every waiting command fails at once.
* ``send``: a lock around "enqueue waiter + write" so concurrent greenlets cannot interleave commands and
  replies; a timeout; :class:`~fsbridge.engines.base.EngineUnavailable` at once when not connected.

Wire names come from :mod:`wire`.
"""
from __future__ import annotations

import logging
import socket
import uuid as uuidlib
from typing import Callable, List, Optional

import gevent
import gevent.event
import gevent.lock
import gevent.socket
from greenswitch import esl as gesl

from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch import esl_parse, wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage

log = logging.getLogger(__name__)

SUBSCRIPTION = wire.SUBSCRIPTION  # re-exported: the inbound subscription (CUSTOM last — finding 1)


def command_ok(text: str) -> bool:
    """True when a command/api reply text signals success (``+OK…``; FreeSWITCH 1.10.12 finding 2/3).
    Bare usage texts and ``-ERR``/``-USAGE`` forms are failures."""
    return text.startswith(wire.REPLY_OK)


class StrictESLMixin:
    """Mix into a greenswitch ``ESLProtocol`` subclass (put it first in the bases).

    Replaces greenswitch's reader with :func:`esl_parse.read_message`; events reach greenswitch's
    handlers as :class:`ESLMessage` objects whose ``headers`` (a read-only mapping) holds the *event*
    headers (first value of repeated names) — the same shape greenswitch handlers expect — and whose ``header_list`` keeps all.
    """

    send_timeout: float = 10.0

    def _strict_init(self) -> None:
        self._send_lock = gevent.lock.Semaphore()
        self._closed = gevent.event.Event()
        self.parse_errors = 0

    def receive_events(self):  # noqa: D401 - greenswitch API name
        """Reader greenlet: one :class:`ESLMessage` at a time until EOF or ``stop``."""
        try:
            while self._run:
                try:
                    msg = esl_parse.read_message(self.sock_file)
                except esl_parse.ESLParseError:
                    # A framing error desynchronises the stream: drop the connection.
                    log.exception("ESL framing error; closing the connection")
                    self.parse_errors += 1
                    break
                if msg is None:
                    break
                self.handle_event(msg)
                msg = None   # not pinned while blocked on the next read (≈ 190 headers + raw text: issue 21)
        except Exception:  # socket errors
            log.debug("ESL read ended", exc_info=True)
        finally:
            self._on_eof()

    def _on_eof(self) -> None:
        self.connected = False
        self._run = False
        self._auth_request_event.set()
        pending, self._commands_sent = self._commands_sent, []
        for waiter in pending:
            if not waiter.ready():
                waiter.set_exception(EngineUnavailable("ESL connection closed"))
        try:
            self.sock.close()
        except Exception:
            pass
        self._closed.set()
        self._esl_event_queue.put(_CLOSED)

    def handle_event(self, msg: ESLMessage):  # noqa: D401 - greenswitch API name
        """Route one message: auth request → flag; reply → oldest waiting command; event → handlers."""
        ctype = msg.content_type
        if ctype == esl_parse.AUTH_REQUEST:
            self._auth_request_event.set()
        elif ctype in (esl_parse.COMMAND_REPLY, esl_parse.API_RESPONSE):
            msg.data = msg.get(wire.H_REPLY_TEXT, "") if ctype == esl_parse.COMMAND_REPLY else msg.body
            if self._commands_sent:
                waiter = self._commands_sent.pop(0)
                if not waiter.ready():
                    waiter.set(msg)
            else:
                log.warning("ESL reply with no command waiting: %r", msg.data)
        elif ctype == esl_parse.DISCONNECT_NOTICE:
            if msg.get(wire.H_CONTENT_DISPOSITION) == wire.DISPOSITION_LINGER:
                self._lingering = True
            msg.data = msg.body
            self._esl_event_queue.put(msg)
        elif ctype == esl_parse.RUDE_REJECTION:
            self.connected = False
            self._auth_request_event.set()
        elif msg.event is not None:
            ev = msg.event
            ev.data = ev.body
            self._esl_event_queue.put(ev)
        elif msg.error is not None:
            self.parse_errors += 1
            log.warning("unreadable ESL event dropped: %s", msg.error)
        # log/data and text/event-xml: ignored (never subscribed)

    def process_events(self):  # noqa: D401 - greenswitch API name
        """Handler greenlet (greenswitch's dispatch rules, without its 1 s polling)."""
        while True:
            event = self._esl_event_queue.get()
            if event is _CLOSED:
                handlers = self.event_handlers.get("CLOSED", [])
                for h in list(handlers):
                    self._safe_exec_handler(h, event)
                return
            if event.get(esl_parse.CONTENT_TYPE) == esl_parse.DISCONNECT_NOTICE:
                handlers = self.event_handlers.get("DISCONNECT")
            elif event.get(wire.H_EVENT_NAME) == wire.EV_CUSTOM:
                handlers = self.event_handlers.get(event.get(wire.H_SUBCLASS))
            else:
                handlers = self.event_handlers.get(event.get(wire.H_EVENT_NAME))
            if not handlers and "*" in self.event_handlers:
                handlers = self.event_handlers["*"]
            for h in list(handlers or ()):
                self._safe_exec_handler(h, event)
            event = handlers = None   # the last event is not pinned while waiting for the next (issue 21)

    def send(self, data: str, timeout: Optional[float] = None) -> ESLMessage:
        """Send one command (``data`` without the final blank line) and wait for its reply.

        Raises :class:`EngineUnavailable` at once when not connected or if the connection drops while
        waiting, :class:`EngineError` on timeout (the late reply is then discarded in order).
        ``timeout`` seconds; default :attr:`send_timeout`.
        """
        return self.send_many([data], timeout=timeout)[0]

    def send_many(self, commands: List[str], timeout: Optional[float] = None) -> List[ESLMessage]:
        """Send ``commands`` in one write and wait for their replies, in order (FreeSWITCH reads a socket's
        commands one after another and answers each in turn: pipelining saves a round trip and a wake-up
        per command — a call's setup sends four, issue 21). ``commands``: each without its final blank line;
        returns one reply per command, the *n*-th reply for the *n*-th command (replies are matched FIFO by
        :meth:`handle_event`). ``timeout`` s per reply (default :attr:`send_timeout`). Raises
        :class:`EngineError` on a command holding an empty line (nothing sent) or when a reply is late —
        the replies before it are lost to the caller, the late ones are discarded in order when they come;
        :class:`EngineUnavailable` when not connected, the write fails or the connection drops while
        waiting (then every waiting command fails)."""
        for data in commands:
            if "\n\n" in data.strip("\n"):
                raise EngineError("ESL command contains an empty line")
        waiters = [gevent.event.AsyncResult() for _ in commands]
        with self._send_lock:
            if not self.connected:
                raise EngineUnavailable("FreeSWITCH ESL is not connected")
            self._commands_sent.extend(waiters)
            try:
                self.sock.sendall("".join(d.rstrip("\n") + "\n\n" for d in commands).encode("utf-8"))
            except OSError as exc:
                raise EngineUnavailable("ESL send failed: %s" % exc)
        wait = self.send_timeout if timeout is None else timeout
        replies = []
        for data, waiter in zip(commands, waiters):
            try:
                replies.append(waiter.get(timeout=wait))
            except gevent.Timeout:
                raise EngineError("FreeSWITCH did not answer %r in time" % data.split("\n", 1)[0])
        return replies

    def api(self, command: str, timeout: Optional[float] = None) -> str:
        """``api <command>`` → the response body (text, may lack a trailing newline — finding 2)."""
        return self.send("%s %s" % (wire.CMD_API, command), timeout=timeout).body

    def stop(self):
        """Close the socket and end both greenlets without waiting for FreeSWITCH."""
        self._run = False
        try:
            self.sock.shutdown(gevent.socket.SHUT_RDWR)
        except Exception:
            pass
        try:
            self.sock.close()
        except Exception:
            pass
        for g in (self._receive_events_greenlet, self._process_events_greenlet):
            if g is not None:
                g.join(timeout=2)
                g.kill(block=False)


_CLOSED = ESLMessage(header_list=((wire.H_EVENT_NAME, "__CLOSED__"),))


class FsInboundESL(StrictESLMixin, gesl.InboundESL):
    """greenswitch ``InboundESL`` with the strict parser (see :class:`StrictESLMixin`).

    ``connect()`` raises :class:`EngineUnavailable` if the TCP connect, the auth request or ``auth``
    fails (FreeSWITCH 1.10.12 inbound/auth_fail: ``-ERR invalid`` then a disconnect notice).
    """

    def __init__(self, host: str, port: int, password: str, timeout: float = 5.0):
        gesl.InboundESL.__init__(self, host, port, password, timeout=timeout)
        self._strict_init()
        self.send_timeout = timeout

    def connect(self):
        """TCP connect, wait for ``auth/request``, authenticate. Blocks at most ~2×timeout."""
        try:
            self.sock = gevent.socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise EngineUnavailable("cannot reach FreeSWITCH ESL %s:%s: %s" % (self.host, self.port, exc))
        self.sock.settimeout(None)
        try:   # commands are small request/response writes: no Nagle wait for the previous one's ACK (issue 21)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.sock_file = self.sock.makefile("rb")
        self.connected = True
        self._run = True
        self.start_event_handlers()
        if not self._auth_request_event.wait(timeout=self.timeout) or not self.connected:
            self.stop()
            raise EngineUnavailable("FreeSWITCH ESL sent no auth request")
        reply = self.send("%s %s" % (wire.CMD_AUTH, self.password))
        if reply.get(wire.H_REPLY_TEXT) != wire.AUTH_OK:
            self.stop()
            raise EngineUnavailable("FreeSWITCH ESL authentication failed: %s" % reply.get(wire.H_REPLY_TEXT))

    def bgapi(self, command: str, job_uuid: Optional[str] = None, timeout: Optional[float] = None) -> str:
        """``bgapi <command>`` with a client-chosen ``Job-UUID`` (honoured by FreeSWITCH, finding 4);
        returns the Job-UUID. The result comes later as a BACKGROUND_JOB event."""
        job_uuid = job_uuid or str(uuidlib.uuid4())
        reply = self.send("%s %s\n%s: %s" % (wire.CMD_BGAPI, command, wire.H_JOB_UUID, job_uuid), timeout=timeout)
        text = reply.get(wire.H_REPLY_TEXT, "")
        if not command_ok(text):
            raise EngineError(text)
        return reply.get(wire.H_JOB_UUID) or job_uuid

    def subscribe(self, subscription: str = SUBSCRIPTION) -> None:
        """Send the ``event plain …`` subscription (CUSTOM last — finding 1)."""
        reply = self.send(subscription)
        if not command_ok(reply.get(wire.H_REPLY_TEXT, "")):
            raise EngineError("subscription refused: %s" % reply.get(wire.H_REPLY_TEXT))

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        """Block until the connection is gone (True) or ``timeout`` s passed (False)."""
        return self._closed.wait(timeout)


class ReconnectingESL:
    """A supervised inbound connection: connect → auth → subscribe → ``on_up(conn)``; when the
    connection drops → ``on_down()``, wait ``backoff`` (doubling up to ``max_backoff`` s), try again.
    The defaults (0.25 s … 1 s) reconnect within 1 s of FreeSWITCH being reachable again: it opens its ESL
    port only when ready, so the first connect that succeeds can resync (issue 15, docs/freeswitch.md observed-live §2).

    ``handlers``: (event key, callable) pairs registered on every new connection (event key as in
    greenswitch: an Event-Name or a CUSTOM subclass or ``*``). Commands while down raise
    :class:`EngineUnavailable` at once (:meth:`api`). ``on_up`` runs in the supervisor greenlet before
    events are processed further, so a resync can run there (FreeSWITCH restarts: fixtures README
    finding 5 — every socket is closed on shutdown). ``connected_event``/``down_event`` are set while
    up/down; ``connections`` counts successful connects.
    """

    def __init__(self, host: str, port: int, password: str, handlers=(), *,
                 on_up: Optional[Callable[["FsInboundESL"], None]] = None,
                 on_down: Optional[Callable[[], None]] = None,
                 timeout: float = 5.0, backoff: float = 0.25, max_backoff: float = 1.0):
        self.host, self.port, self.password = host, port, password
        self.handlers = list(handlers)
        self.on_up, self.on_down = on_up, on_down
        self.timeout, self.backoff, self.max_backoff = timeout, backoff, max_backoff
        self.conn: Optional[FsInboundESL] = None
        self.connected_event = gevent.event.Event()
        self.down_event = gevent.event.Event()
        self.down_event.set()
        self.connections = 0
        self.ready_count = 0
        self._ready_pulse = gevent.event.Event()
        self._running = False
        self._greenlet: Optional[gevent.Greenlet] = None
        self._stop = gevent.event.Event()

    def start(self) -> None:
        """Spawn the supervisor greenlet (returns at once)."""
        if self._running:
            return
        self._running = True
        self._stop.clear()
        self._greenlet = gevent.spawn(self._supervise)

    def stop(self) -> None:
        """Stop reconnecting and close the connection (sends no ``exit``: a closed socket suffices)."""
        self._running = False
        self._stop.set()
        conn = self.conn
        if conn is not None:
            conn.stop()
        if self._greenlet is not None:
            self._greenlet.join(timeout=5)
            self._greenlet.kill(block=False)

    def wait_ready(self, count: int, timeout: Optional[float] = None) -> bool:
        """Block until ``count`` connections have been made *and* their ``on_up`` (resync) has run
        (True), or ``timeout`` s passed (False). ``ready_count`` is the number so far."""
        with gevent.Timeout(timeout, False):
            while self.ready_count < count:
                self._ready_pulse.wait()
        return self.ready_count >= count

    @property
    def is_up(self) -> bool:
        """True while an authenticated, subscribed connection exists."""
        return self.conn is not None and self.conn.connected and self.connected_event.is_set()

    def _supervise(self) -> None:
        delay = self.backoff
        while self._running:
            conn = FsInboundESL(self.host, self.port, self.password, timeout=self.timeout)
            for key, handler in self.handlers:
                conn.register_handle(key, handler)
            try:
                conn.connect()
                conn.subscribe()
            except EngineError as exc:
                # probed every ≤ 1 s: one WARNING per outage, then one every 30 failures (not every probe)
                failures = getattr(self, "_failures", 0) + 1
                self._failures = failures
                (log.warning if failures % 30 == 1 else log.debug)(
                    "FreeSWITCH ESL connect failed%s: %s", "" if failures == 1 else " (%d tries)" % failures, exc)
                conn.stop()
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.max_backoff)
                continue
            delay = self.backoff
            self._failures = 0
            self.conn = conn
            self.connections += 1
            self.down_event.clear()
            self.connected_event.set()
            if self.on_up is not None:
                try:
                    self.on_up(conn)
                except Exception:
                    log.exception("ESL on_up failed")
            self.ready_count += 1
            log.info("FreeSWITCH ESL %s:%d connected and resynced (connection %d)", self.host, self.port,
                     self.connections)
            pulse, self._ready_pulse = self._ready_pulse, gevent.event.Event()
            pulse.set()
            conn.wait_closed()
            if self._running:
                log.warning("FreeSWITCH ESL %s:%d connection lost; reconnecting", self.host, self.port)
            self.connected_event.clear()
            self.down_event.set()
            self.conn = None
            if self.on_down is not None:
                try:
                    self.on_down()
                except Exception:
                    log.exception("ESL on_down failed")
            if self._stop.wait(delay):
                return

    def _live(self) -> FsInboundESL:
        conn = self.conn
        if conn is None or not conn.connected:
            raise EngineUnavailable("FreeSWITCH ESL is not connected")
        return conn

    def api(self, command: str, timeout: Optional[float] = None) -> str:
        """``api`` on the live connection; :class:`EngineUnavailable` at once when down."""
        return self._live().api(command, timeout=timeout)

    def bgapi(self, command: str, job_uuid: Optional[str] = None, timeout: Optional[float] = None) -> str:
        """``bgapi`` on the live connection; returns the Job-UUID."""
        return self._live().bgapi(command, job_uuid=job_uuid, timeout=timeout)

