"""A supervised, reconnecting inbound ESL connection (:class:`ReconnectingESL`) over
:class:`~fsbridge.engines.freeswitch.transport.FsInboundESL`."""
from __future__ import annotations

import logging
from typing import Callable, Optional

import gevent
import gevent.event

from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch.transport import FsInboundESL

log = logging.getLogger("fsbridge.engines.freeswitch.transport")


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
    up/down; ``connections`` counts successful connects. ``inline_handlers``: the handlers never block, run
    them in the reader greenlet (:attr:`StrictESLMixin.inline_handlers`).
    """

    def __init__(self, host: str, port: int, password: str, handlers=(), *,
                 on_up: Optional[Callable[["FsInboundESL"], None]] = None,
                 on_down: Optional[Callable[[], None]] = None,
                 timeout: float = 5.0, backoff: float = 0.25, max_backoff: float = 1.0,
                 inline_handlers: bool = False):
        self.host, self.port, self.password = host, port, password
        self.inline_handlers = inline_handlers
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
            conn.inline_handlers = self.inline_handlers
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

