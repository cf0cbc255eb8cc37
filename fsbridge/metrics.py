"""Prometheus metrics of one running bridge (``prometheus_client``), served at ``/metrics``.

:class:`Metrics` owns a dedicated :class:`prometheus_client.CollectorRegistry` (one per app, so several
bridges in one process — tests, the demo — never share counters). It is fed by:

* the bridge's event listeners (``Bridge.listeners``): :meth:`Metrics.on_event` counts domain events by name;
* the dispatcher's per-callback outcome hook (``on_update(outbox_id, state, attempts, error)``):
  :meth:`Metrics.callback_update` counts delivered / failed callbacks and retries and observes the delivery
  latency (enqueue → 2xx, seconds) of callbacks enqueued through :meth:`Metrics.timed_enqueue`;
* the callbacks' HTTP transport (:meth:`Metrics.wrap_transport`): each attempt's response code and duration
  (the code is also kept per outbox id for the console's status-callback log: :meth:`response_code`);
* Flask ``before_request``/``after_request`` (:meth:`Metrics.instrument_flask`): REST latency by route rule;
* the standalone engine's tick (:meth:`Metrics.timed_tick`): tick duration histogram;
* a custom collector read at scrape time (:class:`_LiveCollector`): conferences and participants active,
  callback outbox depth (open rows), ESL connected / reconnects (FreeSWITCH engine).

Metric names (all prefixed ``fsbridge_``) are listed in docs/console.md; none carries an account label, so
the exposition reveals nothing per account.
"""
from __future__ import annotations

import collections
import time
import weakref
from typing import Any, Callable, Iterable, Optional

import gevent
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from fsbridge.wire import twilio as tw

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Latency buckets in seconds: REST writes wait for the engine (≤ confirm_timeout), callbacks for the app.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TICK_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


class Metrics:
    """Every fsbridge metric, on its own registry. ``clock()``: monotonic seconds (tests may inject)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("fsbridge_events", "Domain events by name (participant-join, conference-end …)",
                              ["event"], registry=r)
        self.callbacks = Counter("fsbridge_callbacks", "Status callbacks finished, by outcome (delivered|failed)",
                                 ["outcome"], registry=r)
        self.callback_retries = Counter("fsbridge_callback_retries", "Callback attempts that failed and will be "
                                        "retried", registry=r)
        self.callback_responses = Counter("fsbridge_callback_responses", "Callback HTTP attempts by response code "
                                          "(\"error\" = no HTTP answer)", ["code"], registry=r)
        self.callback_latency = Histogram("fsbridge_callback_delivery_seconds", "Enqueue → 2xx of a delivered "
                                          "callback", buckets=LATENCY_BUCKETS, registry=r)
        self.callback_attempt = Histogram("fsbridge_callback_attempt_seconds", "One callback HTTP attempt",
                                          buckets=LATENCY_BUCKETS, registry=r)
        self.rest_latency = Histogram("fsbridge_http_request_seconds", "HTTP requests served, by route rule, "
                                      "method and status", ["route", "method", "status"], buckets=LATENCY_BUCKETS,
                                      registry=r)
        self.tick_time = Histogram("fsbridge_engine_tick_seconds", "Standalone engine: wall time of one 20 ms "
                                   "mixing tick", buckets=TICK_BUCKETS, registry=r)
        self._enqueued: "collections.OrderedDict[int, float]" = collections.OrderedDict()
        self._codes: "collections.OrderedDict[int, str]" = collections.OrderedDict()
        self._last_code: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # greenlet → last code seen
        self._live: Optional[_LiveCollector] = None
        self._children: dict = {}   # (metric, label value) → its child: labels() per callback was ≈ 1 % (issue 21)

    def child(self, metric: Any, value: str) -> Any:
        """``metric.labels(value)`` (one label), memoised — prometheus_client's children are long-lived; at most
        1000 are kept (label values here are event names, outcomes and HTTP codes: a few dozen)."""
        key = (metric, value)
        c = self._children.get(key)
        if c is None:
            c = metric.labels(value)
            if len(self._children) < 1000:
                self._children[key] = c
        return c

    # ------------------------------------------------------------------ feeds
    def on_event(self, event: Any) -> None:
        """A bridge listener: count the domain event by its name (``event.name``, else the class name)."""
        name = getattr(event, "name", None)
        if not isinstance(name, str):
            name = type(event).__name__
        self.child(self.events, name).inc()

    def timed_enqueue(self, enqueue: Callable[..., Optional[int]]) -> Callable[..., Optional[int]]:
        """Wrap a dispatcher's ``enqueue(event) -> outbox id``: remember when each row was enqueued, for the
        delivery latency histogram."""
        def wrapped(*args, **kwargs):
            row_id = enqueue(*args, **kwargs)
            if row_id is not None:
                self._enqueued[row_id] = self.clock()
                while len(self._enqueued) > 100_000:
                    self._enqueued.popitem(last=False)
            return row_id
        wrapped.__doc__ = enqueue.__doc__
        return wrapped

    def callback_update(self, outbox_id: int, state: str, attempts: int, error: Optional[str]) -> None:
        """The dispatcher's ``on_update`` (runs in the delivering greenlet): outcome counters, retries,
        latency; records the attempt's response code for :meth:`response_code`."""
        code = self._last_code.pop(gevent.getcurrent(), None)
        if code is not None:
            self._codes[outbox_id] = code
            while len(self._codes) > 100_000:
                self._codes.popitem(last=False)
        if state == "retrying":
            self.callback_retries.inc()
            return
        if state in ("delivered", "failed"):
            self.child(self.callbacks, state).inc()
            started = self._enqueued.pop(outbox_id, None)
            if state == "delivered" and started is not None:
                self.callback_latency.observe(max(0.0, self.clock() - started))

    def response_code(self, outbox_id: int) -> Optional[str]:
        """The last HTTP response code of that callback ("200", "503", "error"), or None when unknown (not
        attempted, or before this process started)."""
        return self._codes.get(outbox_id)

    def wrap_transport(self, transport: Any) -> Any:
        """A transport with the same ``request(...) -> status`` / ``close()`` that counts response codes and
        times each attempt (see :class:`fsbridge.callbacks.http.Transport`)."""
        return _TimedTransport(transport, self)

    def instrument_flask(self, app: Any) -> None:
        """REST latency by route rule (``/2010-04-01/Accounts/<AccountSid>/Conferences.json``; unmatched
        paths are ``<unmatched>``), method and status, through the app's before/after_request."""
        from flask import g, request

        def _start() -> None:
            g._fsb_metrics_t0 = self.clock()

        def _stop(response):
            t0 = g.pop("_fsb_metrics_t0", None)
            if t0 is not None:
                rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
                self.rest_latency.labels(rule, request.method, str(response.status_code)).observe(
                    max(0.0, self.clock() - t0))
            return response
        app.before_request_funcs.setdefault(None, []).insert(0, _start)
        app.after_request_funcs.setdefault(None, []).append(_stop)

    def timed_tick(self, tick: Callable[[], None]) -> Callable[[], None]:
        """``tick`` (the standalone engine's ``_tick``) wrapped to observe each call's duration in the tick
        histogram; the composition root installs it (before ``engine.start()``)."""
        observe = self.tick_time.observe
        perf = time.perf_counter

        def timed_tick() -> None:
            t0 = perf()
            try:
                tick()
            finally:
                observe(perf() - t0)
        return timed_tick

    def watch(self, *, bridge: Any = None, dispatcher: Any = None, esl: Any = None) -> None:
        """Register the scrape-time collector reading current values from these objects (``esl``: the
        FreeSWITCH engine's ReconnectingESL, given by the composition root; None on the standalone engine)."""
        if self._live is None:
            self._live = _LiveCollector(bridge, dispatcher, esl)
            self.registry.register(self._live)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text exposition format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


class _TimedTransport:
    """Wraps a callbacks transport: per attempt, the response code (or "error") and the duration."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def request(self, *args, **kwargs) -> int:
        """Forward to the wrapped transport's ``request``; record code and duration."""
        m = self.metrics
        t0 = time.perf_counter()
        code = "error"
        try:
            status = self.inner.request(*args, **kwargs)
            code = str(status)
            return status
        finally:
            m.callback_attempt.observe(time.perf_counter() - t0)
            m.child(m.callback_responses, code).inc()
            m._last_code[gevent.getcurrent()] = code

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _LiveCollector:
    """Gauges read at scrape time: conferences / participants active (the domain's index), callback outbox
    depth (open rows in the outbox table), ESL connected / reconnects (FreeSWITCH engine only)."""

    def __init__(self, bridge: Any, dispatcher: Any, esl: Any) -> None:
        self.bridge = bridge
        self.dispatcher = dispatcher
        self.esl = esl

    def describe(self) -> Iterable:
        """No fixed description (values are read at collect time)."""
        return []

    def collect(self) -> Iterable:
        """Yield the current gauges; a source that cannot be read is skipped."""
        state = getattr(self.bridge, "state", None)
        if state is not None and hasattr(state, "conferences"):
            confs = [c for c in state.conferences() if c.status != tw.CONF_COMPLETED]
            members = sum(int(getattr(c, "member_count", 0) or 0) for c in confs)
            yield _gauge("fsbridge_conferences_active", "Conferences in the domain now", len(confs))
            yield _gauge("fsbridge_participants_active", "Participants in live conferences now", members)
        depth = _outbox_depth(self.dispatcher)
        if depth is not None:
            yield _gauge("fsbridge_callback_outbox_depth", "Callbacks pending or retrying (outbox rows)", depth)
        esl = self.esl
        if esl is not None:
            yield _gauge("fsbridge_esl_connected", "1 while the FreeSWITCH event socket is up",
                         1 if esl.is_up else 0)
            yield _gauge("fsbridge_esl_reconnects", "ESL connections made after the first",
                         max(0, int(esl.connections) - 1))
        available = getattr(self.bridge, "engine_available", None)
        if callable(available):
            yield _gauge("fsbridge_engine_available", "1 while the conference engine accepts commands",
                         1 if available() else 0)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc)
    g.add_metric([], value)
    return g


def _outbox_depth(dispatcher: Any) -> Optional[int]:
    """Open outbox rows (pending + retrying), counted in the database; None without a dispatcher."""
    db = getattr(dispatcher, "engine", None)
    if db is None:
        return None
    from sqlalchemy import func, select

    from fsbridge.callbacks import outbox
    try:
        with db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(outbox.outbox)
                                    .where(outbox.outbox.c.state.in_(outbox.OPEN_STATES))).scalar() or 0)
    except Exception:   # noqa: BLE001 - the database is down: /readyz says so; the gauge is left out
        return None
