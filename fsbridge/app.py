"""``fsbridge serve``: one gevent process — engine (standalone by default), REST API (gevent WSGIServer),
callback dispatcher, store — configured by a TOML file, ``FSBRIDGE_*`` variables and flags (fsbridge.config).

``fsbridge serve [--config FILE] [--engine standalone|freeswitch] [--esl HOST:PORT] [--host H] [--port P]
[--clock realtime|fast] [--database-url URL] [--log-level LEVEL]``

Logs one line per call step (logger ``fsbridge.runtime.call``), per domain event (``fsbridge.events``) and per
callback delivery (``fsbridge.callbacks``). Prints ``fsbridge serving on http://HOST:PORT`` once listening
(port 0 → the bound port). SIGTERM/SIGINT: stop accepting requests, hang up calls, stop the engine and the
dispatcher — undelivered callbacks stay in the outbox and are sent on the next start.

:class:`BridgeServer` is the same composition for in-process use (tests, ``fsbridge demo``).
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import os
import signal
import sys
from typing import Optional

LOG_FORMAT = "%(asctime)s %(levelname)-5s %(name)s: %(message)s"

log = logging.getLogger("fsbridge.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` flags (each overrides the config file and environment)."""
    parser.add_argument("--config", help="TOML config file (default: $FSBRIDGE_CONFIG)")
    parser.add_argument("--engine", choices=("standalone", "freeswitch"), help="conference engine")
    parser.add_argument("--esl", metavar="HOST:PORT", help="FreeSWITCH event socket (implies --engine freeswitch)")
    parser.add_argument("--host", help="REST API listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="REST API port (0 = any free port)")
    parser.add_argument("--clock", help="standalone engine clock: realtime (default), fast, or a speed factor N")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default sqlite:///fsbridge.sqlite)")
    parser.add_argument("--log-level", default=os.environ.get("FSBRIDGE_LOG_LEVEL", "INFO"),
                        help="logging level (default INFO)")


def settings_from_args(args: argparse.Namespace):
    """Settings: file/env (fsbridge.config.load) overlaid by the flags."""
    from fsbridge import config
    s = config.load(getattr(args, "config", None))
    kw = {}
    if getattr(args, "esl", None):
        host, port = config.esl_address(args.esl, "--esl")
        kw.update(esl_host=host, esl_port=port, engine="freeswitch")
    if getattr(args, "engine", None):
        kw["engine"] = args.engine
    for name in ("host", "port", "clock", "database_url"):
        value = getattr(args, name, None)
        if value is not None:
            kw[name] = value
    return config.validate(dataclasses.replace(s, **kw))


def make_engine(settings):
    """The engine the settings ask for: ``StandaloneEngine`` (clock realtime or fast) or ``FreeSwitchEngine``."""
    if settings.engine == "freeswitch":
        from fsbridge.config import check_esl_password
        check_esl_password(settings)   # no silent ClueCon (#14)
        from fsbridge.engines.freeswitch import FreeSwitchEngine
        from fsbridge.engines.standalone.media import render_say   # Say → a WAV FreeSWITCH plays
        return FreeSwitchEngine(settings.esl_host, settings.esl_port, settings.esl_password,
                                outbound_host=settings.outbound_host, outbound_port=settings.outbound_port,
                                rate=settings.rate, say=render_say)
    from fsbridge.engines.standalone.engine import StandaloneEngine
    from fsbridge.engines.standalone.timers import TimerClock
    from fsbridge.config import clock_speed
    clock = TimerClock(speed=clock_speed(settings.clock))
    return StandaloneEngine(rate=settings.rate, clock=clock, capture_heard=settings.capture_heard)


class BridgeServer:
    """The whole bridge in this process: store + dispatcher + engine + Bridge + REST API on a gevent WSGI
    server. ``settings``: fsbridge.config.Settings; ``engine``: an engine to use instead of
    :func:`make_engine`. After :meth:`start`: ``port`` (bound), ``base_url``, ``bridge``, ``store``,
    ``dispatcher``, ``app`` (Flask)."""

    def __init__(self, settings, engine=None, *, dispatcher_kw: Optional[dict] = None):
        self.settings = settings
        self._engine = engine
        self.dispatcher_kw = dispatcher_kw or {}
        self.bridge = None
        self.store = None
        self.dispatcher = None
        self.app = None
        self.http = None
        self.port: Optional[int] = None
        self.base_url: Optional[str] = None
        self.observability = None   # metrics + console (fsbridge.observability), set by start()
        self.retention = None       # conference log purger (fsbridge.store.retention), set by start()
        self.exports = None         # Bulk Export job runner (fsbridge.api.bulkexport_jobs), set by start()
        self.insights = None        # Insights Event Stream (fsbridge.api.insights_stream), when configured
        self.cluster = None         # fsbridge.cluster.node.ClusterNode when settings.cluster is set (issue 18)

    def start(self) -> "BridgeServer":
        """Build everything, bind the HTTP port and start serving (returns at once)."""
        from fsbridge.api import server_class
        from fsbridge.api.app import create_app
        from fsbridge.callbacks.dispatcher import Dispatcher
        from fsbridge.runtime.bridge import Bridge
        from fsbridge.api.calls import calls_blueprint
        from fsbridge.store import Store
        from fsbridge.store.db import make_engine as make_db

        s = self.settings
        os.makedirs(s.audio_dir, exist_ok=True)
        os.makedirs(s.recordings_dir, exist_ok=True)
        from fsbridge.dbfile import restrict
        restrict(s.database_url)   # 0600: the outbox holds hook credentials (#14)
        db = make_db(s.database_url)
        self.store = Store(db)
        if s.cluster is not None:   # issue 18: one node of a cluster on this PostgreSQL (creates the tables)
            from fsbridge.cluster.node import ClusterNode
            self.cluster = ClusterNode(s, db, self.store, server_cls=server_class())
            self.cluster.join()
            self.cluster.start()
        self.store.create_all()
        # Bind first so that port 0 is known before anything needs the public base URL.
        self.http = server_class()((s.host, s.port), None, log=None)   # TCP_NODELAY: no 40 ms Nagle stall
        self.http.init_socket()
        self.port = self.http.socket.getsockname()[1]
        self.base_url = s.base_url(self.port)
        accounts = s.auth_tokens()
        telnyx_keys = {sid: a.telnyx_private_key for sid, a in s.accounts.items() if a.telnyx_private_key}
        jambonz = {sid: a.jambonz_secret for sid, a in s.accounts.items() if a.jambonz_secret}
        from fsbridge.callbacks.http import Transport
        from fsbridge.egress import EgressPolicy
        egress = EgressPolicy.from_settings(s)
        egress.add_own(s.host, self.port)   # never fetch from ourselves (port 0 is bound by now)
        kw = dict(self.dispatcher_kw)
        kw.setdefault("transport", Transport(egress=egress))
        user_update = kw.pop("on_update", None)

        def on_update(outbox_id, state, attempts, error):
            if self.bridge is not None:
                self.bridge.callback_update(outbox_id, state, attempts, error)
            if user_update is not None:
                user_update(outbox_id, state, attempts, error)
        kw.setdefault("sequence", restart_sequence(db))   # statusCallback SequenceNumbers continue (issue 15)
        if self.cluster is not None:
            kw.setdefault("node", s.cluster.node)   # issue 18: one outbox, a dispatcher per node (callbacks/leases)
            kw.setdefault("lease_s", s.cluster.failure_timeout)   # a dead node's queues move with its rooms
        self.dispatcher = Dispatcher(db, accounts, self.base_url, telnyx_private_key=telnyx_keys or None,
                                     jambonz_secret=jambonz or None, on_update=on_update, **kw)
        engine = self._engine if self._engine is not None else make_engine(s)
        bridge_store = self.cluster.bridge_store() if self.cluster is not None else self.store
        self.bridge = Bridge(engine, s, store=bridge_store, dispatcher=self.dispatcher)
        self.bridge.fetcher.egress = egress
        sinks = {sid: a.insights_webhook_url for sid, a in s.accounts.items() if a.insights_webhook_url}
        if sinks:   # issue 22: Insights Event Stream webhooks of the accounts that configured one
            from fsbridge.api.insights_stream import InsightsStream
            self.insights = InsightsStream(self.store, self.dispatcher, sinks, self.base_url)
            self.bridge.listeners.append(self.insights.on_event)
            self.bridge.quality_listeners.append(self.insights.on_quality)
        telnyx_keys = {a.telnyx_api_key: sid for sid, a in s.accounts.items() if a.telnyx_api_key}
        from fsbridge.api.bulkexport_jobs import ExportRunner   # issue 22: Bulk Export jobs + their webhook
        self.exports = ExportRunner(db, s.exports_dir, dispatcher=self.dispatcher)
        self.app = create_app(self.store, self.bridge, accounts, base_url=self.base_url, telnyx_keys=telnyx_keys,
                              api_keys=s.api_keys(), exports=self.exports)
        from urllib.parse import urlparse
        prefix = urlparse(self.base_url).path.rstrip("/")
        from fsbridge.observability import attach
        self.observability = attach(self)   # /metrics, /healthz, /readyz, /console (before the bridge starts)
        self.app.register_blueprint(calls_blueprint(self.bridge, prefix), url_prefix=prefix or None)
        self.app.config["MAX_CONTENT_LENGTH"] = s.max_body_bytes   # fsbridge.api.limits: 413 before reading
        if self.cluster is not None:   # call moves, room bookkeeping, REST writes carried to the owner
            from fsbridge.api import twilio_conferences
            from fsbridge.api.app import TWILIO_BLUEPRINTS
            self.cluster.attach(self.bridge, self.app, tuple(bp.name for bp in TWILIO_BLUEPRINTS),
                                twilio_conferences.bp.name)   # the one whose <Sid> is a ConferenceSid
        self.http.application = self.app
        engine.set_call_handler(self.bridge.on_call)   # FreeSWITCH: calls from the outbound socket → sessions
        self.bridge.start()
        self.http.start()
        from fsbridge.store.retention import RetentionPurger   # issue 22: conference log retention
        self.retention = RetentionPurger(db, s.retention_months, s.retention_interval).start()
        self.exports.resume()   # jobs interrupted by a stop are redone
        log.info("fsbridge serving on %s (engine %s, database %s)", self.base_url, s.engine, s.database_url)
        if not s.accounts:
            log.warning("no account configured: the REST API refuses every request (see docs/runtime.md)")
        for num in s.numbers.values():
            log.info("number %s → %s %s (%s, account %s)", num.number, num.voice_method, num.voice_url,
                     num.dialect, num.account)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting HTTP, hang up calls, stop engine and dispatcher (outbox persisted)."""
        log.info("fsbridge stopping")
        if self.retention is not None:
            self.retention.stop()
        if self.observability is not None:
            self.observability.close()   # end the console's event streams so the HTTP stop is not held
        if self.http is not None:
            self.http.stop(timeout=timeout)
        if self.bridge is not None:
            self.bridge.stop(timeout)
        if self.cluster is not None:   # after the bridge: its rooms ended and were released
            self.cluster.stop()
        log.info("fsbridge stopped")


def restart_sequence(db):
    """A statusCallback SequenceNumber counter that continues each conference after what its outbox rows
    already carry (:func:`fsbridge.callbacks.outbox.last_status_sequence`): a conference recovered after a
    restart numbers its leave/end callbacks after the last one sent."""
    from fsbridge.callbacks import outbox
    from fsbridge.callbacks.subscriptions import StatusSequence

    def lookup(conference_sid: str) -> int:
        with db.connect() as conn:
            return outbox.last_status_sequence(conn, conference_sid)
    return StatusSequence(lookup=lookup)


def setup_logging(level: str = "INFO") -> None:
    """One readable line per record on stderr (format in docs/runtime.md)."""
    logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO), format=LOG_FORMAT,
                        stream=sys.stderr)
    from fsbridge import redact
    redact.install()   # credentials in URLs / Authorization values never reach the log (#14)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``fsbridge serve``; returns the exit status (0 after SIGTERM/SIGINT)."""
    from gevent import monkey
    monkey.patch_all()
    import gevent
    import gevent.event

    from fsbridge.config import ConfigError

    setup_logging(args.log_level)
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"fsbridge serve: {exc}", file=sys.stderr)
        return 2
    server = BridgeServer(settings)
    try:
        server.start()
    except Exception as exc:
        log.exception("cannot start: %s", exc)
        return 1
    print(f"fsbridge serving on {server.base_url}", flush=True)
    # Start-up objects (modules, tables, compiled statements) never die: move them out of the collector's
    # sight so a full collection does not stall the hub for ~100 ms (bench/README.md, REST).
    gc.collect()
    gc.freeze()
    done = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, done.set)
    gevent.signal_handler(signal.SIGINT, done.set)
    done.wait()
    server.stop()
    return 0
