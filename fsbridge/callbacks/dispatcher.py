"""Durable, ordered, retried delivery of conference callbacks.

``Dispatcher.enqueue(event)`` renders the event in its conference's dialect, commits the request to the
outbox (:mod:`fsbridge.callbacks.outbox`) and returns — no HTTP in the caller's greenlet (the caller may be an
ESL event handler). One worker greenlet per conference sends that conference's callbacks strictly in
enqueue order: a callback is sent only after the previous one was delivered or given up, so a slow or dead
receiver delays only its own conference. Each attempt is signed (Twilio ``X-Twilio-Signature`` with the
account's AuthToken, Telnyx Ed25519, jambonz HMAC) and bounded by connect/read timeouts; connection failures,
timeouts and 5xx are retried with exponential backoff (computed by urllib3's ``Retry``) until the deadline or
the URL's own ``#rc=``/``#rp=`` budget; other answers (3xx, 4xx) give up at once. On ``start()`` every
undelivered row of the outbox is queued again, so events survive a restart (at-least-once delivery; the
Twilio idempotency token lets receivers drop a duplicate).

HTTP goes through :mod:`.http` (keep-alive connections per app host; retries and redirects are the
dispatcher's). New rows and "delivered"/"retrying"/"failed" marks are group-committed (:mod:`.groupcommit`,
``group_commit_s``); a crash between delivery and that commit re-sends the callback after restart
(receivers de-duplicate by idempotency token / SequenceNumber). With ``node=`` several dispatchers share one
PostgreSQL outbox through per-conference leases (:mod:`.leases`); the store can share the group commit
(:mod:`.sharing`). Greenlets: the process is gevent monkey-patched by the entry points (and tests/conftest.py).
"""
from __future__ import annotations

import base64
import logging
import time
from collections import deque
from typing import Callable, Dict, Mapping, Optional, Union
from urllib.parse import unquote, urlsplit, urlunsplit

import gevent
import gevent.event
from urllib3.util.retry import Retry

from fsbridge.conference.events import CONFERENCE_END, DomainEvent
from fsbridge.wire import TWIML
from fsbridge.wire.jambonz import STOP_TALKING

from . import outbox, overrides, signing
from .http import Transport, TransportError
from .overrides import CLASS_4XX, CLASS_5XX, CLASS_FATAL, DeliveryPolicy
from .groupcommit import GroupWriter
from .sharing import SharedCommit
from .render import render
from .request import CallbackRequest, RenderSettings
from .subscriptions import StatusSequence

log = logging.getLogger("fsbridge.callbacks")

USER_AGENT = "fsbridge-callbacks/0.1"


class Dispatcher(SharedCommit):
    """Sends conference callbacks from a durable outbox, ordered per conference.

    ``db_engine``: a SQLAlchemy engine (``fsbridge.store.db.make_engine("sqlite:///…")``); the outbox table is
    created if missing. ``accounts``: ``{AccountSid: AuthToken}`` for Twilio signatures (unknown account →
    sent unsigned, with a warning). ``base_url``: the bridge's public base URL (recording URLs in callbacks).
    ``telnyx_private_key``: Ed25519 key (object, PEM, or base64 raw seed) for Telnyx signatures, or
    ``{AccountSid: key}``. ``jambonz_secret``: webhook secret (str) or ``{AccountSid: secret}``. ``clock()`` →
    seconds (float) and ``sleep(seconds)``: injectable for simulated time. ``deadline_s``: how long after
    enqueue a callback is retried (seconds). ``connect_timeout_s`` / ``read_timeout_s``: per attempt (URL
    ``#ct=``/``#rt=`` override). ``backoff_factor`` / ``backoff_max_s`` / ``backoff_jitter_s``: urllib3 ``Retry``
    backoff between attempts (0, 2f, 4f, … capped, seconds).
    ``transport``: the :class:`~fsbridge.callbacks.http.Transport` to use (e.g. one trusting a private CA). ``jambonz_stop_talking``: event name sent to jambonz apps on
    talk-stop (see :mod:`.jambonz`). ``on_update(outbox_id, state, attempts, last_error)``: called after every
    state change (logs, metrics, tests); runs in the worker greenlet and must not block.
    ``sequence``: the statusCallback SequenceNumber counter (:class:`.subscriptions.StatusSequence`; default a
    fresh one — every conference counts from 1; pass one with a ``lookup`` to continue after a restart).
    ``group_commit_s``: batching window of outbox writes (seconds, default 1 ms; :mod:`.groupcommit`; 0 = the
    next turn of the event loop; None = one commit per write). ``node``: this dispatcher's node name — set it to share one PostgreSQL outbox with dispatchers on
    other nodes (:mod:`.leases`: per-conference leases of ``lease_s`` seconds, ``SKIP LOCKED`` claims,
    LISTEN/NOTIFY wake-ups); None = the only dispatcher of its database (SQLite's model).
    """

    def __init__(
        self,
        db_engine,
        accounts: Optional[Mapping[str, str]] = None,
        base_url: str = "http://127.0.0.1:8080",
        telnyx_private_key=None,
        jambonz_secret: Union[str, Mapping[str, str], None] = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = gevent.sleep,
        deadline_s: float = 3600.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 15.0,
        backoff_factor: float = 0.5,
        backoff_max_s: float = 30.0,
        backoff_jitter_s: float = 0.0,
        transport: Optional[Transport] = None,
        jambonz_stop_talking: str = STOP_TALKING,
        on_update: Optional[Callable[[int, str, int, Optional[str]], None]] = None,
        sequence: Optional[StatusSequence] = None,
        group_commit_s: Optional[float] = 0.001,
        node: Optional[str] = None,
        lease_s: float = 10.0,
    ):
        self.engine = db_engine
        outbox.create(db_engine)
        self.accounts = dict(accounts or {})
        self.settings = RenderSettings(base_url=base_url.rstrip("/"), jambonz_stop_talking=jambonz_stop_talking)
        self.telnyx_key = ({sid: signing.load_ed25519_private_key(k) for sid, k in telnyx_private_key.items()}
                           if isinstance(telnyx_private_key, Mapping)
                           else signing.load_ed25519_private_key(telnyx_private_key))
        self.jambonz_secret = jambonz_secret
        self.clock = clock
        self.sleep = sleep
        self.policy = DeliveryPolicy(connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s,
                                     deadline_s=deadline_s)
        self._urls = overrides.UrlPlans(self.policy)
        self.retry = Retry(total=None, connect=None, read=None, redirect=None, status=None, other=None,
                           backoff_factor=backoff_factor, backoff_max=backoff_max_s, backoff_jitter=backoff_jitter_s)
        self.transport = transport or Transport()
        self.on_update = on_update
        #: statusCallback SequenceNumbers per conference (counted here, once, for what is actually sent)
        self.sequence = sequence if sequence is not None else StatusSequence()
        self.group_commit_s, self._sources = group_commit_s, []   # _sources: co-writers (sharing.py: the store)
        self._writer: Optional[GroupWriter] = None  # one connection, group commits (no round trip per event)
        self._queues: Dict[str, deque] = {}
        self._workers: Dict[str, gevent.Greenlet] = {}
        self._live: Dict[int, object] = {}   # row id → CallbackRequest, while this process handles it
        self._aliases: Dict[int, int] = {}   # id returned by enqueue → id after a renumbering (leases)
        self._idle = gevent.event.Event()
        self._idle.set()
        self._running = False
        self.leases = None
        if node is not None:
            from .leases import Leases
            self.leases = Leases(self, node, lease_s)

    # ------------------------------------------------------------------ public API
    def enqueue(self, event: Union[DomainEvent, CallbackRequest]) -> Optional[int]:
        """Render ``event`` (a CallbackRequest as is: #22 webhooks, :mod:`.insights`) and commit it; the row id.

        Fast and non-blocking (the row is buffered and group-committed within ``group_commit_s``; before
        :meth:`start` it is committed at once; no HTTP). A URL that can never work
        (:func:`.overrides.url_problem`) is logged as an error and recorded ``failed`` at once (it does not hold up the conference's queue). Events enqueued before :meth:`start`
        wait in the outbox. Raises ValueError for an unknown dialect (:func:`.render.render`).
        """
        req = event if isinstance(event, CallbackRequest) else render(event, self.settings, self.sequence)
        if req is not event and event.name == CONFERENCE_END:   # the last status event of the instance
            self.sequence.forget(event.conference_sid)
        if req is None:
            return None
        return self.enqueue_request(req)

    def enqueue_request(self, req: CallbackRequest) -> Optional[int]:
        """Commit a rendered request (as :meth:`enqueue`; :mod:`.call_progress`: key = CallSid); → outbox id."""
        problem = self._urls.problem(req.url)
        state = outbox.FAILED if problem else outbox.PENDING   # a URL that can never work: failed at once
        row_id = self._conn().insert(req, self.clock(), state=state, last_error=problem or None)
        self._live[row_id] = req   # committed within group_commit_s; then _committed pushes a pending row
        if problem:
            log.error("callback %s (%s) will never be sent: %s", outbox.log_label(req), req.dialect, problem)
            self._notify(row_id, outbox.FAILED, 0, problem)
            return row_id
        if self._running:
            self._idle.clear()
        else:   # not delivering: nothing to batch for, commit now (readers see the row at once)
            self._flush()
            row_id = self._aliases.get(row_id, row_id)
        return row_id

    def start(self) -> "Dispatcher":
        """Start delivering: queue every undelivered outbox row (restart recovery), then new events."""
        if self._running:
            return self
        self._running = True
        self._flush()
        if self.leases is not None:
            self.leases.start()
            return self
        with self.engine.connect() as conn:
            rows = outbox.load_open(conn)
        for row in rows:
            self._push(row)
        if rows:
            log.info("callbacks: resuming %d undelivered callback(s) from the outbox", len(rows))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop all workers (in-flight attempts are abandoned; their rows stay open for the next start) and
        commit the outcomes already known."""
        self._running = False
        if self.leases is not None:
            self.leases.stop()
        gevent.killall(list(self._workers.values()), timeout=timeout)
        self._workers.clear()
        self._queues.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._idle.set()

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until every queued callback is delivered or given up; False on timeout (seconds)."""
        return self._idle.wait(timeout)

    def status(self, outbox_id: Optional[int] = None, *, conference_sid: Optional[str] = None):
        """Delivery status: ``status(id)`` → :class:`~fsbridge.callbacks.outbox.DeliveryStatus` or None;
        ``status(conference_sid="CF…")`` → list of them in queue order."""
        self._flush()
        with self.engine.connect() as conn:
            if conference_sid is not None:
                return outbox.conference_status(conn, conference_sid)
            return outbox.status(conn, self._aliases.get(outbox_id, outbox_id))

    def describe(self, outbox_id: int) -> Optional[str]:
        """How the log names outbox row ``outbox_id``: event, the app's SequenceNumber, ConferenceSid and
        room name (:func:`.outbox.log_label`); None when unknown. Reads the row, so it works after a restart."""
        outbox_id = self._aliases.get(outbox_id, outbox_id)
        req = self._live.get(outbox_id)
        if req is not None:
            return outbox.log_label(req)
        self._flush()
        with self.engine.connect() as conn:
            return outbox.describe(conn, outbox_id)

    def purge(self, max_age_s: float = 7 * 86400.0) -> int:
        """Delete delivered/failed outbox rows older than ``max_age_s`` seconds; return the count. Rows still
        pending or retrying are kept whatever their age."""
        self._flush()
        with self.engine.begin() as conn:
            return outbox.purge(conn, self.clock() - max_age_s)

    # ------------------------------------------------------------------ outbox writes
    def _conn(self) -> GroupWriter:
        if self._writer is None:
            self._writer = GroupWriter(
                self.engine, self.group_commit_s, after_commit=self._committed, on_renumber=self._renumbered,
                before_commit=self.leases.before_commit if self.leases is not None else None, sources=self._sources)
        return self._writer

    def _write_mark(self, row_id: int, state: str, attempts: int, error: Optional[str] = None,
                    next_at: Optional[float] = None, done_at: Optional[float] = None):
        self._conn().mark(dict(row_id=row_id, new_state=state, new_attempts=attempts, new_error=error,
                               next_at=next_at, done_at=done_at))

    def _renumbered(self, old: int, new: int) -> None:
        req = self._live.pop(old, None)
        if req is not None:
            self._live[new] = req
        if len(self._aliases) > 10000:
            self._aliases.clear()
        self._aliases[old] = new
        log.info("callbacks: outbox row %d is row %d (renumbered after a conference was taken over)", old, new)

    def _flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def _committed(self, rows) -> None:
        """The group writer made ``rows`` durable: queue the pending ones (cluster: those whose conference
        lease this node holds; the holder of any other is woken by NOTIFY)."""
        if self._running:
            for row in rows:
                if row.state == outbox.PENDING and (self.leases is None or self.leases.holds(row.queue_key)):
                    self._push(row)
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self._workers and (self._writer is None or not self._writer.pending):
            self._idle.set()

    # ------------------------------------------------------------------ queues
    def _push(self, row: outbox.OutboxRow) -> None:
        q = self._queues.get(row.queue_key)
        if q is None:
            q = self._queues[row.queue_key] = deque()
        q.append(row)
        self._idle.clear()
        if row.queue_key not in self._workers:
            self._workers[row.queue_key] = gevent.spawn(self._run_queue, row.queue_key, q)

    def _run_queue(self, key: str, q: deque) -> None:
        try:
            while q:
                if self.leases is not None and not self.leases.holds(key):
                    raise _LeaseLost(key)
                self._deliver(q[0])
                q.popleft()
        except _LeaseLost:   # the rows stay open; whoever holds the lease next sends them
            log.warning("callbacks: queue %s paused here: its lease is not (or no longer) held", key)
            q.clear()
        except Exception:  # a bug, not a delivery failure: keep the row open for the next start
            log.exception("callbacks: queue %s stopped", key)
        finally:
            if self._workers.get(key) is gevent.getcurrent():
                del self._workers[key]
                if not q:
                    self._queues.pop(key, None)
            self._maybe_idle()

    # ------------------------------------------------------------------ delivery
    def _deliver(self, row: outbox.OutboxRow) -> None:
        req = row.request
        url, policy = self._urls.plan(req.url)   # normalised once (signed == sent), memoised per URL
        deadline_at = row.created_at + policy.deadline_s
        retry = self.retry
        attempts = row.attempts
        retries = 0
        while True:
            failure, error = self._attempt(req, url, policy)
            attempts += 1
            now = self.clock()
            if failure is None:
                self._write_mark(row.id, outbox.DELIVERED, attempts, done_at=now)
                self._notify(row.id, outbox.DELIVERED, attempts, None)
                return
            retry = retry.increment(method=req.method, url=url)
            delay = retry.get_backoff_time()
            budget_left = policy.max_retries is None or retries < policy.max_retries
            if failure not in policy.retry_on or not budget_left or now + delay > deadline_at:
                why = ("not retryable" if failure not in policy.retry_on
                       else "retry budget spent" if not budget_left else "deadline passed")
                self._write_mark(row.id, outbox.FAILED, attempts, error)
                log.error("callback %s to %s given up after %d attempt(s) (%s): %s", outbox.log_label(req),
                          url, attempts, why, error)
                self._notify(row.id, outbox.FAILED, attempts, error)
                return
            retries += 1
            self._write_mark(row.id, outbox.RETRYING, attempts, error, next_at=now + delay)
            log.warning("callback %s to %s failed (%s); retry %d in %.1fs", outbox.log_label(req), url, error,
                        retries, delay)
            self._notify(row.id, outbox.RETRYING, attempts, error)
            self.sleep(delay)
            if self.leases is not None and not self.leases.holds(row.queue_key):
                raise _LeaseLost(row.queue_key)

    def _notify(self, row_id: int, state: str, attempts: int, error: Optional[str]) -> None:
        if self.on_update is not None:
            try:
                self.on_update(row_id, state, attempts, error)
            except Exception:
                log.exception("callbacks: on_update hook failed")
        if state != outbox.RETRYING:
            self._live.pop(row_id, None)

    def _headers(self, req, url: str) -> Dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        headers.update(req.headers)
        if req.content_type:
            headers["Content-Type"] = req.content_type
        token = self.accounts.get(req.account_sid)
        if req.dialect == TWIML and not token:
            log.warning("callbacks: no AuthToken for account %s; sending unsigned", req.account_sid)
        headers.update(signing.webhook_headers(
            req.dialect, url=url, body=req.body, params=req.params if req.method == "POST" else None,
            timestamp=int(self.clock()), auth_token=token, telnyx_key=_for_account(self.telnyx_key, req.account_sid),
            jambonz_secret=_for_account(self.jambonz_secret, req.account_sid)))
        return headers

    def _attempt(self, req, url: str, policy: DeliveryPolicy):
        """One HTTP attempt → ``(None, None)`` on 2xx, else ``(failure class, error text)``."""
        url, userinfo = _split_userinfo(url)
        headers = self._headers(req, url)
        if req.username or userinfo:
            creds = f"{req.username}:{req.password or ''}" if req.username else userinfo
            headers["Authorization"] = "Basic " + base64.b64encode(creds.encode("utf-8")).decode("ascii")
        try:
            status = self.transport.request(
                req.method, url, req.body if req.method == "POST" else None, headers,
                policy.connect_timeout_s, policy.read_timeout_s,
            )
        except TransportError as exc:
            return exc.failure, str(exc)
        if 200 <= status < 300:
            return None, None
        if status >= 500:
            return CLASS_5XX, f"HTTP {status}"
        if 400 <= status < 500:
            return CLASS_4XX, f"HTTP {status}"
        return CLASS_FATAL, f"HTTP {status} (redirects are not followed)"


class _LeaseLost(Exception):
    """This node may no longer send the queue's callbacks (cluster mode, :mod:`.leases`)."""


def _for_account(secret, account_sid: str):
    """``secret`` itself, or its entry for ``account_sid`` when it is a per-account mapping (None if absent)."""
    return secret.get(account_sid) if isinstance(secret, Mapping) else secret


def _split_userinfo(url: str):
    """``(url without user:pass@, "user:pass" or None)`` — credentials in a callback URL become basic auth
    (Twilio honours ``https://user:pass@host/…``)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), unquote(userinfo)


__all__ = ["Dispatcher", "USER_AGENT"]
