"""ESL transport: greenswitch's protocol classes with fsbridge's strict parser, timeouts and a send lock,
plus the inbound connection (its reconnecting supervisor: reconnect.py).

greenswitch 0.0.19 is kept for what it does well — the handler registry (``register_handle``) and the
serial event-processing greenlet — and three of its methods are replaced (:class:`StrictESLMixin`):

* ``receive_events``: reads whole messages with :func:`esl_parse.read_message` (split, then decode; inner
  ``Content-Length`` bodies; ``text/event-json``) instead of greenswitch's decode-then-split reader that
  lets ``%0A`` in a caller name forge headers (DESIGN.md "Known traps").
* ``handle_event``: routes replies to the waiting command (FIFO, as FreeSWITCH answers in order) and
  events to greenswitch's queue (with ``inline_handlers``: to the handlers at once, in the reader). On EOF
  every waiting command fails at once.
* ``send``: a lock around "enqueue waiter + write" so concurrent greenlets cannot interleave commands and
  replies; a timeout; :class:`~fsbridge.engines.base.EngineUnavailable` at once when not connected.

Wire names come from :mod:`wire`.
"""
from __future__ import annotations

import logging
import socket
import uuid as uuidlib
from typing import List, Optional

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
    #: run the event handlers in the reader greenlet instead of greenswitch's handler greenlet (one hand-off —
    #: a queue put and a greenlet wake-up — less per event; issue 21). Only for handlers that never block:
    #: a handler waiting for an ESL reply would wait for the reader it runs in. A handler that raises is
    #: logged (``_safe_exec_handler``) and the reader goes on; order is the wire's either way.
    inline_handlers: bool = False

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
        self._deliver(_CLOSED)

    def start_event_handlers(self):  # noqa: D401 - greenswitch API name
        """Spawn the reader greenlet, and greenswitch's handler greenlet unless :attr:`inline_handlers`."""
        self._receive_events_greenlet = gevent.spawn(self.receive_events)
        if not self.inline_handlers:
            self._process_events_greenlet = gevent.spawn(self.process_events)

    def _deliver(self, event) -> None:
        """Hand one event (or ``_CLOSED``) to its handlers: at once in the reader (:attr:`inline_handlers`),
        else through greenswitch's queue to the handler greenlet."""
        if self.inline_handlers:
            self._run_handlers(event)
        else:
            self._esl_event_queue.put(event)

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
            self._deliver(msg)
        elif ctype == esl_parse.RUDE_REJECTION:
            self.connected = False
            self._auth_request_event.set()
        elif msg.event is not None:
            ev = msg.event
            ev.data = ev.body
            self._deliver(ev)
        elif msg.error is not None:
            self.parse_errors += 1
            log.warning("unreadable ESL event dropped: %s", msg.error)
        # log/data and text/event-xml: ignored (never subscribed)

    def process_events(self):  # noqa: D401 - greenswitch API name
        """Handler greenlet (greenswitch's dispatch rules, without its 1 s polling)."""
        while True:
            event = self._esl_event_queue.get()
            if event is _CLOSED:
                self._run_handlers(event)
                return
            self._run_handlers(event)
            event = None   # the last event is not pinned while waiting for the next (issue 21)

    def _run_handlers(self, event) -> None:
        """greenswitch's dispatch rules for one event: ``CLOSED`` for the end of the connection, ``DISCONNECT``
        for a disconnect notice, the subclass of a CUSTOM event, else the Event-Name; ``*`` when none match.
        Each handler's exception is logged, never raised."""
        if event is _CLOSED:
            handlers = self.event_handlers.get("CLOSED")
        elif event.get(esl_parse.CONTENT_TYPE) == esl_parse.DISCONNECT_NOTICE:
            handlers = self.event_handlers.get("DISCONNECT")
        elif event.get(wire.H_EVENT_NAME) == wire.EV_CUSTOM:
            handlers = self.event_handlers.get(event.get(wire.H_SUBCLASS))
        else:
            handlers = self.event_handlers.get(event.get(wire.H_EVENT_NAME))
        if not handlers and event is not _CLOSED and "*" in self.event_handlers:
            handlers = self.event_handlers["*"]
        for h in list(handlers or ()):
            self._safe_exec_handler(h, event)

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
