"""The bridge's core: the conference domain joined to an engine, a store and a callback dispatcher.

Data flow (../shared/DESIGN.md "One call, end to end"): engine → :meth:`BridgeCore._sink` (never blocks: a
queue) → one pump greenlet → ``ConferenceState.apply`` (``ConferenceState.resync`` for an
:class:`~fsbridge.conference.native.EngineSnapshot`) under the bridge's one lock → resulting engine commands
executed, every domain event recorded in the store and enqueued in the dispatcher by
:meth:`BridgeCore._publish` (the one place that reads domain event fields), in SequenceNumber order, under
the same lock. REST writes run a domain intent and wait (bounded by ``confirm_timeout_s``) for the engine's
confirming event (:meth:`BridgeCore._intent`). No HTTP runs in the engine's event path.
"""
from __future__ import annotations

import collections
import logging
import time
from typing import Callable, Deque, Dict, List, Optional

import gevent
import gevent.event
import gevent.lock
import gevent.queue

from fsbridge.callbacks.subscriptions import is_subscribed
from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.conference.events import DomainEvent
from fsbridge.conference.state import ConferenceState
from fsbridge.config import Settings
from fsbridge.egress import EgressPolicy
from fsbridge.engines.base import Engine, EngineError, EngineUnavailable, Timer
from fsbridge.wire import twilio as tw
from fsbridge.runtime.fetch import Fetcher
from fsbridge.textsafe import keep
from fsbridge.runtime.media import MediaResolver
from fsbridge.runtime.writes import CommandOrder, WritesMixin
from fsbridge.runtime.recovery import with_recording_files
from fsbridge.runtime.registry import Registry
from fsbridge.runtime import quality

log = logging.getLogger("fsbridge.runtime.bridge")
cblog = logging.getLogger("fsbridge.events")

_STOP = object()



class BridgeCore(WritesMixin):
    """ConferenceState (+ one lock) ⇄ engine, store, dispatcher: pump, publish, confirmations, waiters.

    ``engine``: an :class:`~fsbridge.engines.base.Engine` (standalone or FreeSWITCH). ``settings``: a
    :class:`~fsbridge.config.Settings` (accounts, numbers, dirs, timeouts). ``store``: an object with
    ``record(DomainEvent)`` (fsbridge.store.Store) or None. ``dispatcher``: an object with
    ``enqueue(DomainEvent)`` (fsbridge.callbacks.Dispatcher) or None; the bridge starts and stops it.
    Built from the settings: ``state`` (a ConferenceState writing recordings to ``settings.recordings_dir``,
    timed by the engine clock), ``fetcher`` / ``media`` (the runtime's HTTP client / media resolver) and
    ``confirm_timeout_s`` (s a REST write waits for the engine's confirming event).
    """

    def __init__(self, engine: Engine, settings: Optional[Settings] = None, *, store=None, dispatcher=None):
        self.engine = engine
        self.settings = settings or Settings()
        self.store = store
        self.dispatcher = dispatcher
        self.state = ConferenceState(recordings_dir=self.settings.recordings_dir,
                                     clock=lambda: self.now_us() / 1e6)
        self.fetcher = Fetcher(timeout_s=self.settings.fetch_timeout,
                               connect_timeout_s=self.settings.connect_timeout,
                               egress=EgressPolicy.from_settings(self.settings))
        self.media = MediaResolver(self.settings.audio_dir, self.fetcher,
                                   say=engine.render_say, max_bytes=self.settings.audio_cache_max_bytes)
        self.confirm_timeout_s = self.settings.confirm_timeout
        self.registry = Registry()
        # recent DomainEvents, in order (debugging, tests; the store has the history): 2000 at most —
        # 100 000 held ~60 MB of views in a long run (bench/soak.py, issue 15)
        self.events: Deque[DomainEvent] = collections.deque(maxlen=2_000)
        self.listeners: List[Callable[[DomainEvent], None]] = []
        self.quality_listeners: List[Callable] = []   # (account, conference, call, CallQuality) — #22
        self._lock = gevent.lock.RLock()
        self._inbox: gevent.queue.Queue = gevent.queue.Queue()
        self._waiters: Dict[tuple, List[gevent.event.Event]] = {}
        self._pump_greenlet: Optional[gevent.Greenlet] = None
        self._sessions: Dict[str, gevent.Greenlet] = {}
        self._originated: Dict[str, dict] = {}       # CallSid → what an originated call runs once answered
        self._outbox: Dict[int, Optional[str]] = {}   # outbox id → log label (the app's SequenceNumber, room)
        self._applied = gevent.event.Event()      # pulsed after every applied engine event
        self._reconciled = gevent.event.Event()   # cleared while restored conferences await a snapshot
        self._order = CommandOrder()              # REST commands sent outside the lock, in order per target
        self._reconciled.set()
        self.running = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "BridgeCore":
        """Subscribe to the engine, start the pump, the engine and the dispatcher (if any)."""
        if self.running:
            return self
        self.running = True
        self.engine.warm_up()
        if self.store is not None and hasattr(self.dispatcher, "share_commit"):
            self.dispatcher.share_commit(self.store)   # store writes in the outbox's group commit (#16/#21)
            if getattr(self.store, "rows", None) is not None:   # per-call rows too (store/rowbuffer.py, #21)
                self.dispatcher.share_commit(self.store.rows)
        self._restore()
        self.engine.set_event_sink(self._sink)
        if getattr(self.store, "engine_value", None) is not None:   # e.g. FreeSWITCH's core_uuid (issue 15)
            self.engine.set_state_store(self.store)
        self._pump_greenlet = gevent.spawn(self._pump)
        self.engine.start()
        if self.dispatcher is not None:
            self.dispatcher.start()
        log.info("bridge started (engine %s)", type(self.engine).__name__)
        return self

    def _restore(self) -> None:
        """Start-up reconciliation, step 1 (issue 15): conferences the store has as not completed (left by a
        crash) become live domain conferences again; the engine's first EngineSnapshot then adopts or ends
        them through the one resync path (:meth:`_apply_snapshot`)."""
        loader = getattr(self.store, "live_conferences", None)
        if loader is None:
            return
        try:
            stored = loader()
        except Exception:
            log.exception("loading the stored live conferences failed")
            return
        with self._lock:
            added = self.state.restore(stored)
            if added:
                self._reconciled.clear()   # set again by the first applied EngineSnapshot
        if added:
            log.warning("recovery: %d conference(s) left open by the previous run: %s", len(added),
                        ", ".join(added))

    def stop(self, timeout: float = 5.0) -> None:
        """Hang up every call, let their last events through, stop the engine, the pump and (if any)
        the dispatcher (the outbox keeps what was not delivered). Bounded by ``timeout`` seconds per phase.

        An engine whose calls outlive the bridge (``calls_outlive_bridge``: FreeSWITCH) is drained instead
        (issue 15): new calls are refused first (``refuse_calls``), calls in a conference are detached
        (left in their rooms, adopted by the next bridge's start-up resync), the others hung up."""
        if not self.running:
            return
        keep = bool(self.engine.calls_outlive_bridge)
        if keep:   # drain (issue 15): refuse new calls first, leave calls in rooms for the next bridge
            try:
                self.engine.refuse_calls()
            except Exception:
                log.exception("engine refuse_calls failed")
        detached = []
        for rec in self.registry.active():
            session = rec.session
            if session is None:
                continue
            try:
                leg = session.leg
                if keep and rec.member_id is not None and hasattr(leg, "detach"):
                    session.detach()
                    detached.append(rec.call_sid)
                    g = self._sessions.get(rec.call_sid)
                    if g is not None:    # stop its verbs first (no action URL), then let go of the socket
                        g.kill(block=True, timeout=timeout)   # (its end may clear rec.session: call_ended)
                    leg.detach()
                else:
                    session.kill()
            except Exception:
                log.exception("call %s: kill failed", rec.call_sid)
        if detached:
            log.warning("shutdown: %d call(s) left in their conferences for the next bridge: %s", len(detached),
                        ", ".join(detached))
        gevent.joinall(list(self._sessions.values()), timeout=timeout)
        self.barrier(timeout)
        try:
            self.engine.stop()
        except Exception:
            log.exception("engine stop failed")
        self.barrier(timeout)
        self.running = False
        self._inbox.put(_STOP)
        if self._pump_greenlet is not None:
            self._pump_greenlet.join(timeout)
        if self.dispatcher is not None:
            try:
                self.dispatcher.wait_idle(min(timeout, 2.0))   # a short grace for the last callbacks
                self.dispatcher.stop()
            except Exception:
                log.exception("dispatcher stop failed")
        log.info("bridge stopped")

    # ------------------------------------------------------------------ time
    def now_us(self) -> int:
        """Engine time, µs since the epoch (:meth:`Engine.now_us`: the standalone clock, else wall time)."""
        return self.engine.now_us()

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Timer:
        """Run ``fn`` after ``seconds`` of engine time (:meth:`Engine.call_later`); returns a Timer
        (``cancel()``)."""
        return self.engine.call_later(seconds, fn)

    # ------------------------------------------------------------------ engine events
    def _sink(self, event) -> None:
        """The engine's event sink: queue and return (never blocks, never does I/O)."""
        self._inbox.put(event)

    def _pump(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            if isinstance(item, gevent.event.Event):
                item.set()
                continue
            try:
                if isinstance(item, N.EngineSnapshot):
                    self._apply_snapshot(item)
                else:
                    self._apply_native(item)
            except Exception:
                log.exception("applying %s failed", item)

    def barrier(self, timeout: Optional[float] = None) -> bool:
        """Wait until every engine event queued before this call has been applied (True) or ``timeout``
        seconds passed (False; default ``confirm_timeout_s``)."""
        if not self.running or gevent.getcurrent() is self._pump_greenlet:
            return True
        marker = gevent.event.Event()
        self._inbox.put(marker)
        return marker.wait(self.confirm_timeout_s if timeout is None else timeout)

    def _apply_native(self, event) -> None:
        with self._lock:
            if event.action == N.ADD_MEMBER and event.unique_id:
                rec = self.registry.joined(event.unique_id, event.room, event.member_id, event.timestamp_us)
                if rec is not None:
                    rec.status = tw.CALL_IN_PROGRESS
            elif event.action == N.DEL_MEMBER and event.unique_id:
                self.registry.left(event.unique_id, event.timestamp_us)
            outcome = self.state.apply(event)
            self._publish(outcome.events)
            self._execute(outcome.commands)
            self._resolve(event)
        # issue 22: RTP / emulated-network quality at hangup — a database write, kept out of the domain lock
        # (REST writes wait on that lock); still in the pump greenlet, so in event order
        quality.on_native(self, event)
        pulse, self._applied = self._applied, gevent.event.Event()
        pulse.set()

    def restore_and_resync(self, stored, snapshot_of) -> list:
        """Make ``stored`` conferences (``StoredConference`` s, e.g. of a dead cluster node) live domain
        conferences and apply ``snapshot_of(added sids)`` — an EngineSnapshot built under the bridge's lock —
        through the one resync path, atomically; returns the ConferenceSids added (cluster/failover.py)."""
        with self._lock:
            added = self.state.restore(stored)
            self._apply_snapshot(snapshot_of(added))
        return list(added)

    def _apply_snapshot(self, snapshot: "N.EngineSnapshot") -> None:
        """An engine's snapshot after a (re)connect: the domain's one resync path
        (``ConferenceState.resync``), published and executed like any applied event."""
        with self._lock:
            snapshot = with_recording_files(self.state, snapshot)
            listed = {m.unique_id: m for m in snapshot.members}
            for rec in self.registry.active():
                if rec.member_id is not None and rec.unique_id not in listed:
                    self.registry.left(rec.unique_id, snapshot.timestamp_us)
                elif rec.member_id is None and rec.unique_id in listed:
                    m = listed[rec.unique_id]
                    self.registry.joined(rec.unique_id, m.room, m.member_id, snapshot.timestamp_us)
                    rec.status = tw.CALL_IN_PROGRESS
            outcome = self.state.resync(snapshot)
            self._publish(outcome.events)
            self._execute(outcome.commands)
            self._reconciled.set()
        adopt = getattr(self, "adopt_calls", None)   # runtime/adoption.py: calls a previous bridge left
        if adopt is not None:
            adopt(snapshot.members)
        pulse, self._applied = self._applied, gevent.event.Event()
        pulse.set()

    def wait_until(self, predicate: Callable[[], bool], timeout: Optional[float] = None) -> bool:
        """Block until ``predicate()`` (checked after every applied engine event) is true, or ``timeout``
        seconds (default ``confirm_timeout_s``) passed; returns ``predicate()``."""
        deadline = time.monotonic() + (self.confirm_timeout_s if timeout is None else timeout)
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return bool(predicate())
            self._applied.wait(left)
        return True

    def wait_left(self, call_sid: str, timeout: Optional[float] = None) -> bool:
        """Block until the domain no longer has ``call_sid`` in a conference (its del-member / join-refused /
        hangup was applied) or ``timeout`` passed."""
        return self.wait_until(lambda: self.state.participant_of_call(call_sid) is None, timeout)

    def _publish(self, events) -> None:
        for e in events:
            self.events.append(e)
            p = e.participant
            who = f" {p.call_sid}" + (f" ({p.label})" if p and p.label else "") if p else ""
            extra = f" reason={e.reason_conference_ended}" if e.reason_conference_ended else ""
            if self.store is not None:   # a failure is logged and retried with invalid text replaced (#14)
                keep(self.store.record, e, "store.record", log)
            sent = None
            if self.dispatcher is not None:
                row_id = keep(self.dispatcher.enqueue, e, "dispatcher.enqueue", log)
                if row_id is not None:
                    sent = self._outbox[row_id] = self.dispatcher.describe(row_id)
            # the app's numbering (its SequenceNumber) in the log, beside the domain's history ordinal
            cblog.info("conference %s %r %s%s%s (history #%d; %s)", e.conference_sid, e.friendly_name, e.name, who,
                       extra, e.sequence_number, f"callback {sent}" if sent else
                       ("no callback" if is_subscribed(e) else "not subscribed"))
            for listener in list(self.listeners):
                try:
                    listener(e)
                except Exception:
                    log.exception("event listener failed")

    def callback_update(self, outbox_id: int, state: str, attempts: int, error: Optional[str]) -> None:
        """The dispatcher's ``on_update``: log one line per callback outcome (delivered / retrying / failed)."""
        label = self._outbox.get(outbox_id)
        if label is None and self.dispatcher is not None:   # not enqueued by this process (restart): the row says
            label = self.dispatcher.describe(outbox_id)
            if state == "retrying" and label is not None:
                self._outbox[outbox_id] = label
        if state != "retrying":
            self._outbox.pop(outbox_id, None)
        label = label or f"callback {outbox_id}"
        text = f"{label}: {state} after {attempts} attempt(s)" + (f" ({error})" if error else "")
        (cblog.info if state == "delivered" else cblog.warning)("callback %s", text)

    def _execute(self, commands, raise_unavailable: bool = False) -> None:
        for cmd in commands:
            if isinstance(cmd, C.JoinMember):
                log.warning("unexpected JoinMember outside a call's join: %s", cmd)
                continue
            if isinstance(cmd, C.EndConferenceAfter):   # a domain timer (jambonz endConferenceDuration)
                self.call_later(cmd.delay_s, lambda room=cmd.room, token=cmd.token: self._grace_over(room, token))
                continue
            try:
                self.engine.execute(cmd)
            except EngineUnavailable:
                if raise_unavailable:
                    raise
                log.error("engine unavailable: %s dropped", type(cmd).__name__)
            except EngineError as exc:
                if isinstance(cmd, (C.EndConference, C.StopRecording)):
                    # the engine ends a room by itself when an endConferenceOnExit member leaves (FreeSWITCH
                    # endconf; the standalone engine does the same): nothing left to end
                    log.info("engine: %s not needed (%s)", type(cmd).__name__, exc)
                else:
                    log.warning("engine refused %s: %s", type(cmd).__name__, exc)

    def distribute_dtmf(self, call_sid: str, digits: str) -> None:
        """jambonz distributeDtmf: send ``digits`` pressed by ``call_sid`` to the others in its conference."""
        with self._lock:
            self._execute(self.state.distribute_dtmf(call_sid, digits).commands)

    def _grace_over(self, room: str, token: int) -> None:
        """EndConferenceAfter's timer: the domain ends the conference unless its pending end was cancelled."""
        with self._lock:
            outcome = self.state.grace_over(room, token)
            self._publish(outcome.events)
            self._execute(outcome.commands)

    def engine_available(self) -> bool:
        """False while the engine is unreachable (REST writes answer 503), and — when the store restored
        conferences at start — until the engine's first snapshot reconciled them (before that their members'
        engine ids are unknown: a write would address nobody). While the engine is up and that snapshot is on
        its way (a moment after start), waits for it, at most ``confirm_timeout_s``."""
        if not self.engine.available:
            return False
        return self._reconciled.is_set() or self._reconciled.wait(self.confirm_timeout_s)
