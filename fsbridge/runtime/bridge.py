"""Bridge: the conference domain joined to an engine, a store and a callback dispatcher, in one process.

Data flow (../shared/DESIGN.md "One call, end to end"):

* engine → :meth:`Bridge._sink` (never blocks: a queue) → one pump greenlet → ``ConferenceState.apply`` under
  the bridge's one lock → resulting engine commands executed, every :class:`DomainEvent` recorded in the store
  and enqueued in the dispatcher (in SequenceNumber order, under the same lock);
* calls → :class:`~fsbridge.runtime.session.CallSession` (one greenlet per call) → :meth:`join_call`;
* REST API → the :class:`~fsbridge.runtime.control.ConferenceControl` methods below: each runs the domain
  intent, sends its commands, then waits (bounded by ``confirm_timeout_s``) for the engine's confirming event
  (mute-member, hold-member, del-member, conference-destroy, *-recording).

No HTTP runs in the engine's event path: URL fetches (announce/hold media) happen in the caller's greenlet
before the lock is taken.
"""
from __future__ import annotations

import collections
import logging
import time
from typing import Callable, Deque, Dict, List, Optional, Tuple

import gevent
import gevent.event
import gevent.lock
import gevent.queue

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.conference.events import DomainEvent
from fsbridge.conference.ids import is_sid, new_sid
from fsbridge.conference.reasons import CALL_FAILED, DIAL_OUT_FAILED_STATUSES, P_QUEUED
from fsbridge.conference.state import ConferenceState, Outcome
from fsbridge.config import Settings
from fsbridge.egress import EgressPolicy
from fsbridge.textsafe import keep
from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.markup.model import Conference, Dial, Response
from fsbridge.runtime import params
from fsbridge.runtime.fetch import Credentials, Fetcher
from fsbridge.runtime.media import MediaResolver
from fsbridge.runtime.registry import CallRecord, Registry

log = logging.getLogger("fsbridge.runtime.bridge")
cblog = logging.getLogger("fsbridge.events")

_STOP = object()

#: command type → the native action that confirms it (None member = room-level)
_CONFIRMS = {
    C.MuteMember: N.MUTE_MEMBER,
    C.UnmuteMember: N.UNMUTE_MEMBER,
    C.HoldMember: N.HOLD_MEMBER,
    C.UnholdMember: N.UNHOLD_MEMBER,
    C.KickMember: N.DEL_MEMBER,
    C.EndConference: N.CONFERENCE_DESTROY,
    C.StartRecording: N.START_RECORDING,
    C.PauseRecording: N.PAUSE_RECORDING,
    C.ResumeRecording: N.RESUME_RECORDING,
    C.StopRecording: N.STOP_RECORDING,
}

MEDIA_SCHEMES = ("file:", "tone:", "silence:")


def source_ref(media_url: str) -> str:
    """Engine media reference for a virtual call's audio given as a media URL (fsbridge's stand-in for a
    phone): ``file:/path`` / ``file:///path`` / ``/path`` → the path; ``tone:440`` → a 440 Hz
    ``tone_stream://%(1000,0,440)`` (looped by :meth:`Bridge.place_call`: it sounds until the call ends); ``tone:%(on,off,hz)`` → that tone_stream; ``silence:`` → endless
    silence. Engine references pass through. Raises ValueError for anything else."""
    from fsbridge.runtime.media import ENGINE_SCHEMES, local_path
    url = (media_url or "").strip()
    if url.startswith(ENGINE_SCHEMES):
        return url
    path = local_path(url)
    if path:
        return path
    if url.startswith("tone:"):
        spec = url[len("tone:"):].lstrip("/")
        return "tone_stream://" + (spec if spec.startswith("%(") else f"%(1000,0,{spec})")
    if url.startswith("silence:"):
        return "silence_stream://-1"
    raise ValueError(f"not a media URL: {media_url!r} (use file:/path, tone:HZ or silence:)")


def is_media_url(value: str) -> bool:
    """True for a ``file:``/``tone:``/``silence:`` media URL or an absolute path (virtual-call audio)."""
    v = (value or "").strip()
    return v.startswith(MEDIA_SCHEMES) or v.startswith("/")


class Bridge:
    """ConferenceState (+ one lock) ⇄ engine, store, dispatcher; implements ConferenceControl.

    ``engine``: an :class:`~fsbridge.engines.base.Engine` (standalone or FreeSWITCH). ``settings``: a
    :class:`~fsbridge.config.Settings` (accounts, numbers, dirs, timeouts). ``store``: an object with
    ``record(DomainEvent)`` (fsbridge.store.Store) or None. ``dispatcher``: an object with
    ``enqueue(DomainEvent)`` (fsbridge.callbacks.Dispatcher) or None; the bridge starts and stops it.
    Built from the settings: ``state`` (a ConferenceState writing recordings to ``settings.recordings_dir``,
    timed by the engine clock), ``fetcher`` / ``media`` (the runtime's HTTP client / media resolver) and
    ``confirm_timeout_s`` (s a REST write waits for the engine's confirming event).
    """

    def __init__(self, engine, settings: Optional[Settings] = None, *, store=None, dispatcher=None):
        self.engine = engine
        self.settings = settings or Settings()
        self.store = store
        self.dispatcher = dispatcher
        self.state = ConferenceState(recordings_dir=self.settings.recordings_dir,
                                     clock=lambda: self.now_us() / 1e6)
        self.fetcher = Fetcher(timeout_s=self.settings.fetch_timeout,
                               connect_timeout_s=self.settings.connect_timeout,
                               egress=EgressPolicy.from_settings(self.settings))
        self.media = MediaResolver(self.settings.audio_dir, self.fetcher, rate=self.settings.rate,
                                   max_bytes=self.settings.audio_cache_max_bytes)
        self.confirm_timeout_s = self.settings.confirm_timeout
        self.registry = Registry()
        self.events: Deque[DomainEvent] = collections.deque(maxlen=100_000)   # recent DomainEvents, in order
        self.listeners: List[Callable[[DomainEvent], None]] = []
        self._lock = gevent.lock.RLock()
        self._inbox: gevent.queue.Queue = gevent.queue.Queue()
        self._waiters: Dict[tuple, List[gevent.event.Event]] = {}
        self._pump_greenlet: Optional[gevent.Greenlet] = None
        self._sessions: Dict[str, gevent.Greenlet] = {}
        self._originated: Dict[str, dict] = {}       # CallSid → what an originated call runs once answered
        self._outbox: Dict[int, tuple] = {}           # outbox id → (ConferenceSid, SequenceNumber, event name)
        self._applied = gevent.event.Event()      # pulsed after every applied engine event
        self.running = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Bridge":
        """Subscribe to the engine, start the pump, the engine and the dispatcher (if any)."""
        if self.running:
            return self
        self.running = True
        self._warm_up()
        self.engine.set_event_sink(self._sink)
        self._pump_greenlet = gevent.spawn(self._pump)
        self.engine.start()
        if self.dispatcher is not None:
            self.dispatcher.start()
        log.info("bridge started (engine %s)", type(self.engine).__name__)
        return self

    def _warm_up(self) -> None:
        """Standalone engine: decode the default hold music (and import the resampler) now, in a worker
        thread, so the first waiting caller does not stall the tick loop (and every greenlet) while it loads."""
        rate = getattr(self.engine, "rate", None)
        if rate is None:
            return
        try:
            from fsbridge.engines.standalone.media import moh_samples
            gevent.get_hub().threadpool.apply(moh_samples, (rate,))
        except Exception as exc:  # pragma: no cover - the engine falls back to generated music
            log.debug("hold music warm-up failed: %s", exc)

    def stop(self, timeout: float = 5.0) -> None:
        """Hang up every call, let their last events through, stop the engine, the pump and (if any)
        the dispatcher (the outbox keeps what was not delivered). Bounded by ``timeout`` seconds per phase."""
        if not self.running:
            return
        for rec in self.registry.active():
            if rec.session is not None:
                try:
                    rec.session.kill()
                except Exception:
                    log.exception("call %s: kill failed", rec.call_sid)
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
        """Engine time, µs since the epoch (the standalone engine's clock; else the wall clock)."""
        clock = getattr(self.engine, "clock", None)
        if clock is not None and hasattr(clock, "epoch_us"):
            return int(clock.epoch_us())
        return int(time.time() * 1_000_000)

    def call_later(self, seconds: float, fn: Callable[[], None]):
        """Run ``fn`` after ``seconds`` of engine time (the engine clock's ``call_later`` — see
        :class:`fsbridge.runtime.timers.TimerClock` — else a gevent timer in wall time: FreeSWITCH). Returns an
        object with ``cancel()``."""
        clock_timer = getattr(getattr(self.engine, "clock", None), "call_later", None)
        if clock_timer is not None:
            return clock_timer(seconds, fn)
        g = gevent.spawn_later(seconds, fn)

        class _Timer:
            def cancel(self_inner):
                g.kill(block=False)
        return _Timer()

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
                    rec.status = params.STATUS_IN_PROGRESS
            elif event.action == N.DEL_MEMBER and event.unique_id:
                self.registry.left(event.unique_id, event.timestamp_us)
            outcome = self.state.apply(event)
            self._publish(outcome.events)
            self._execute(outcome.commands)
            self._resolve(event)
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
            cblog.info("conference %s %r #%d %s%s%s%s", e.conference_sid, e.friendly_name, e.sequence_number,
                       e.name, who, extra, "" if e.subscribed else " (not subscribed)")
            if self.store is not None:   # a failure is logged and retried with invalid text replaced (#14)
                keep(self.store.record, e, "store.record", log)
            if self.dispatcher is not None:
                row_id = keep(self.dispatcher.enqueue, e, "dispatcher.enqueue", log)
                if row_id is not None:
                    self._outbox[row_id] = (e.conference_sid, e.sequence_number, e.name)
            for listener in list(self.listeners):
                try:
                    listener(e)
                except Exception:
                    log.exception("event listener failed")

    def callback_update(self, outbox_id: int, state: str, attempts: int, error: Optional[str]) -> None:
        """The dispatcher's ``on_update``: log one line per callback outcome (delivered / retrying / failed)."""
        conf, seq, name = self._outbox.get(outbox_id, ("?", 0, "callback"))
        if state != "retrying":
            self._outbox.pop(outbox_id, None)
        text = f"{name} #{seq} for {conf}: {state} after {attempts} attempt(s)" + (f" ({error})" if error else "")
        (cblog.info if state == "delivered" else cblog.warning)("callback %s", text)

    def _execute(self, commands, raise_unavailable: bool = False) -> None:
        for cmd in commands:
            if isinstance(cmd, C.JoinMember):
                log.warning("unexpected JoinMember outside a call's join: %s", cmd)
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

    # ------------------------------------------------------------------ confirmations
    def _expect(self, cmd) -> Optional[gevent.event.Event]:
        action = _CONFIRMS.get(type(cmd))
        if action is None:
            return None
        key = (cmd.room, action, getattr(cmd, "member_id", None))
        ev = gevent.event.Event()
        self._waiters.setdefault(key, []).append(ev)
        return ev

    def _resolve(self, event) -> None:
        for key in ((event.room, event.action, event.member_id), (event.room, event.action, None)):
            for w in self._waiters.pop(key, ()):
                w.set()
        if event.action == N.CONFERENCE_DESTROY:   # an ended room confirms everything still waited on in it
            for key in [k for k in self._waiters if k[0] == event.room]:
                for w in self._waiters.pop(key, ()):
                    w.set()

    def _intent(self, fn, *args, **kw) -> Outcome:
        """Run a domain intent, send its commands, wait (bounded) for the confirming engine events."""
        if not self.engine_available():
            raise EngineUnavailable("the engine is not reachable")
        with self._lock:
            outcome = fn(*args, **kw)
            waiters = [w for w in (self._expect(c) for c in outcome.commands) if w is not None]
            self._publish(outcome.events)
            try:
                self._execute(outcome.commands, raise_unavailable=True)
            except EngineUnavailable:
                self._drop_waiters(waiters)
                raise
        deadline = time.monotonic() + self.confirm_timeout_s
        for w in waiters:
            if not w.wait(max(0.0, deadline - time.monotonic())):
                log.warning("%s: no confirming engine event within %.1f s", getattr(fn, "__name__", fn),
                            self.confirm_timeout_s)
                break
        self._drop_waiters(waiters)
        return outcome

    def _drop_waiters(self, waiters) -> None:
        for key in list(self._waiters):
            self._waiters[key] = [w for w in self._waiters[key] if w not in waiters]
            if not self._waiters[key]:
                del self._waiters[key]

    # ------------------------------------------------------------------ calls
    def credentials(self, account_sid: str) -> Credentials:
        """How requests of ``account_sid`` are signed (its AuthToken, Telnyx key, jambonz secret)."""
        acc = self.settings.accounts.get(account_sid)
        if acc is None:
            return Credentials()
        return Credentials(auth_token=acc.auth_token, telnyx_private_key=acc.telnyx_private_key,
                           jambonz_secret=acc.jambonz_secret)

    def join_call(self, record: CallRecord, conference: Conference, dialect: str,
                  wait_media: Tuple[str, ...]) -> Optional[C.JoinMember]:
        """Ask the domain to put ``record``'s call into ``conference`` (Twilio TwiML Conference); returns the
        JoinMember the call's leg must execute, or None if the domain gave none. Raises DomainError (16025,
        16020, 13240 …)."""
        with self._lock:
            outcome = self.state.join(account_sid=record.account_sid, call_sid=record.call_sid,
                                      unique_id=record.unique_id, conference=conference, dialect=dialect,
                                      from_=record.from_, to=record.to, wait_media=tuple(wait_media),
                                      timestamp_us=self.now_us())
            join = None
            rest = []
            for cmd in outcome.commands:
                if isinstance(cmd, C.JoinMember) and cmd.unique_id == record.unique_id and join is None:
                    join = cmd
                else:
                    rest.append(cmd)
            self._publish(outcome.events)
            self._execute(rest)
            record.label = conference.participant_label
            if join is not None:
                record.conference_sid = join.room
        return join

    def _start_session(self, record: CallRecord, leg, *, url: Optional[str], method: str, dialect: str,
                       first: Optional[Response] = None) -> CallRecord:
        from fsbridge.runtime.session import CallSession
        record.leg = leg
        session = CallSession(self, record, leg, url=url, method=method, dialect=dialect, first=first)
        record.session = session
        self.registry.add(record)
        g = gevent.spawn(session.run)
        self._sessions[record.call_sid] = g
        g.link(lambda _g: self._sessions.pop(record.call_sid, None))
        log.info("call %s %s → %s: new %s call (%s)", record.call_sid, record.from_, record.to,
                 record.direction, dialect)
        return record

    def call_ended(self, record: CallRecord) -> None:
        """A session finished (its record is complete). A dial-out whose participant is still queued (the
        call ended before its join reached the conference, or the join was refused: 16020, 13240 …) is
        reported as a failed dial-out."""
        errors = ", ".join(str(code) for code, _ in record.errors)
        log.info("call %s ended%s", record.call_sid, f" with errors {errors}" if errors else "")
        view = self.state.participant_of_call(record.call_sid)
        if view is not None and view.status == P_QUEUED:
            self._dial_out_failed(record.call_sid, CALL_FAILED, "the call ended before joining the conference")
        self.registry.prune()

    def on_call(self, leg) -> Optional[CallRecord]:
        """An inbound call leg from the engine (FreeSWITCH outbound socket): look up the dialled number
        (``leg.to``), then run its voice URL. Unknown numbers are hung up (logged)."""
        pending = self._originated.pop(getattr(leg, "call_sid", None) or "", None)
        if pending is not None:   # a REST-created participant dialled out by the engine, now answered
            record = CallRecord(call_sid=leg.call_sid, account_sid=pending["account_sid"], from_=pending["from_"],
                                to=pending["to"], direction=params.DIRECTION_OUTBOUND_API, unique_id=leg.unique_id,
                                dialect=pending["dialect"])
            return self._start_session(record, leg, url=None, method="POST", dialect=pending["dialect"],
                                       first=pending["first"])
        number = self.settings.number(leg.to)
        if number is None:
            log.warning("call from %s to unknown number %s: hanging up", leg.from_, leg.to)
            leg.hangup("UNALLOCATED_NUMBER")
            return None
        record = CallRecord(call_sid=getattr(leg, "call_sid", None) or new_sid("CA"),
                            account_sid=number.account, from_=leg.from_, to=leg.to,
                            direction=params.DIRECTION_INBOUND, unique_id=leg.unique_id,
                            dialect=number.dialect)
        return self._start_session(record, leg, url=number.voice_url, method=number.voice_method,
                                   dialect=number.dialect)

    def place_call(self, account_sid: str, from_: str, to: str, source, *, url: Optional[str] = None,
                   method: str = "POST", dialect: Optional[str] = None, direction: Optional[str] = None,
                   dtmf: Tuple[Tuple[str, float], ...] = (), hangup_after_s: Optional[float] = None,
                   first: Optional[Response] = None, call_sid: Optional[str] = None) -> CallRecord:
        """Place a virtual call (standalone engine): a caller whose audio is ``source`` (a media URL, see
        :func:`source_ref`, or a live frame source such as the standalone engine's ``QueueSource``) calls
        ``to``.

        Without ``url``: ``to`` must be a configured number (Direction ``inbound``, its voice URL/method/
        dialect/account); with ``url``: Direction ``outbound-api`` (Twilio Calls.json ``Url``).
        ``dtmf``: ``((digits, at_seconds), …)`` engine time after answer; ``hangup_after_s``: the caller
        hangs up after that many seconds. ``call_sid``: the CallSid to use (a queued dial-out's), else a
        new one. Raises ValueError (bad source / unknown number / account), EngineError (unreadable audio).
        """
        if not hasattr(self.engine, "create_call"):
            raise ValueError("this engine cannot place virtual calls (use the standalone engine)")
        number = self.settings.number(to)
        if url is None and first is None:
            if number is None:
                raise ValueError(f"{to} is not a configured number and no Url was given")
            url, method, dialect = number.voice_url, number.voice_method, dialect or number.dialect
            direction = direction or params.DIRECTION_INBOUND
            if number.account != account_sid:   # indistinguishable from an unknown number (#14)
                raise ValueError(f"{to} is not a configured number and no Url was given")
        if account_sid not in self.settings.accounts:
            raise ValueError(f"unknown account {account_sid}")
        ref = source_ref(source) if isinstance(source, str) else source
        kw = {}
        if isinstance(ref, str):
            self._preload(ref)
            if ref.startswith("tone_stream://"):
                kw = {"loop": True}   # tone:HZ sounds until hangup
        call_sid = call_sid or new_sid("CA")
        leg = self.engine.create_call(call_sid, ref, from_, to, dtmf=tuple(dtmf), hangup_after_s=hangup_after_s,
                                      **kw)
        record = CallRecord(call_sid=call_sid, account_sid=account_sid, from_=from_, to=to,
                            direction=direction or params.DIRECTION_OUTBOUND_API,
                            unique_id=getattr(leg, "unique_id", call_sid), dialect=dialect or "twiml")
        return self._start_session(record, leg, url=url, method=method or "POST", dialect=dialect or "twiml",
                                   first=first)

    def _preload(self, ref: str) -> None:
        """Decode/resample a virtual call's audio file in a worker thread (standalone engine: its loader is
        cached), so that a long file does not stall the engine's tick loop in this greenlet."""
        rate = getattr(self.engine, "rate", None)
        if rate is None or "://" in ref:
            return
        try:
            from fsbridge.engines.standalone.sources import load_audio
            gevent.get_hub().threadpool.apply(load_audio, (ref, rate))
        except Exception as exc:  # unreadable: create_call reports it
            log.debug("preload of %s failed: %s", ref, exc)

    def _watch_originate(self, call_sid: str, job, timeout_s: float = 120) -> None:
        """Wait (up to ``timeout_s``) for a dial-out's BACKGROUND_JOB outcome. Answered: the call comes back
        on the outbound socket (:meth:`on_call`). Otherwise (busy, no-answer, failed — FreeSWITCH causes
        mapped by ``originate_status`` —, no result in time, or ESL lost: failed) it is forgotten and
        reported by :meth:`_dial_out_failed` (participant-leave, participant_add_failed)."""
        try:
            status, detail = job.wait(timeout_s)
        except Exception as exc:
            status, detail = CALL_FAILED, str(exc)
        if status != "answered":
            self._originated.pop(call_sid, None)
            log.warning("call %s: dial-out %s: %s", call_sid, status, detail)
            self._dial_out_failed(call_sid, status, detail)

    def wait_call(self, call_sid: str, timeout: Optional[float] = None) -> bool:
        """Block until the call has ended (True) or ``timeout`` seconds passed (False)."""
        rec = self.registry.get(call_sid)
        return rec is not None and rec.done.wait(timeout)

    def wait_calls(self, timeout: Optional[float] = None) -> bool:
        """Block until every call so far has ended and its events were applied."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for rec in self.registry.calls():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not rec.done.wait(left):
                return False
        return self.barrier(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ ConferenceControl
    def engine_available(self) -> bool:
        """False while the engine is unreachable (REST writes answer 503)."""
        avail = getattr(self.engine, "available", True)
        return bool(avail() if callable(avail) else avail)

    def _fetch_media(self, account_sid: str, url: str, method: str, call_sid: Optional[str] = None,
                     dialect: str = "twiml") -> Tuple[str, ...]:
        """Media for an AnnounceUrl/HoldUrl (audio file, or a Play/Say/Pause document), fetched as the call
        ``call_sid`` (or the account) before any lock is taken. Raises DomainError 21201 when unusable."""
        from fsbridge.conference.errors import INVALID_PARAMETER, DomainError
        from fsbridge.markup.errors import MarkupError
        from fsbridge.runtime.fetch import FetchError
        from fsbridge.runtime.session import CallSession
        rec = self.registry.get(call_sid) if call_sid else None
        if rec is None:
            rec = CallRecord(call_sid=call_sid or "", account_sid=account_sid, from_="", to="",
                             direction=params.DIRECTION_OUTBOUND_API, unique_id="", dialect=dialect)

        class _NoLeg:
            hung_up = False

        session = CallSession(self, rec, rec.leg or _NoLeg(), url=url, method=method, dialect=dialect)
        session.answered = True
        try:
            return session.media_from_url(url, method)
        except (FetchError, MarkupError) as exc:   # details to the log only: no internal-network oracle (#14)
            log.warning("media document %s for %s: %s %s", url, account_sid, exc.code, exc.message)
            raise DomainError(INVALID_PARAMETER, f"The URL could not be used (Twilio error {exc.code})") from None

    def _conference_dialect(self, conference_sid: str) -> str:
        info = self.state.conference(conference_sid)
        return info.dialect if info is not None else "twiml"

    def end_conference(self, account_sid: str, conference_sid: str) -> None:
        """Twilio Conference update ``Status=completed``: end the room (ReasonConferenceEnded
        conference-ended-via-api); returns once the engine's conference-destroy was applied or
        ``confirm_timeout_s`` passed. Raises DomainError 20404, EngineUnavailable."""
        self._intent(self.state.end, account_sid, conference_sid)

    def announce(self, account_sid: str, conference_sid: str, url: str, method: str = "POST",
                 call_sid: Optional[str] = None) -> None:
        """Twilio Conference/Participant ``AnnounceUrl`` (+ ``AnnounceMethod``): fetch ``url`` (audio, or a
        Play/Say/Pause/Redirect document) before taking the lock, then play it to the room or to ``call_sid``
        (CallSid or label). Raises DomainError 21201 (unusable URL), 20404, 21220, EngineUnavailable."""
        who = None
        if call_sid:
            view = self.state.participant(conference_sid, call_sid)
            who = view.call_sid if view is not None else call_sid
        media = self._fetch_media(account_sid, url, method, who, self._conference_dialect(conference_sid))
        self._intent(self.state.announce, account_sid, conference_sid, url, media, who=who)

    def update_participant(self, account_sid: str, conference_sid: str, call_sid_or_label: str, *,
                           muted: Optional[bool] = None, hold: Optional[bool] = None,
                           hold_url: Optional[str] = None, hold_method: str = "GET",
                           announce_url: Optional[str] = None, announce_method: str = "POST",
                           wait_url: Optional[str] = None, wait_method: str = "POST",
                           beep_on_exit: Optional[bool] = None,
                           end_conference_on_exit: Optional[bool] = None,
                           coaching: Optional[bool] = None, call_sid_to_coach: Optional[str] = None) -> str:
        """Twilio Participant update: apply each given change (None = unchanged) — Muted, Hold (+ HoldUrl
        audio/document fetched before the lock), BeepOnExit, EndConferenceOnExit, Coaching/CallSidToCoach,
        WaitUrl, AnnounceUrl — each waiting (bounded) for its engine confirmation. ``wait_method`` is accepted
        for the contract and unused. Returns the participant's CallSid. Raises DomainError 20404 (unknown
        conference/participant or another account's), 21220 (not connected), 21201 (unusable URL),
        EngineUnavailable."""
        from fsbridge.conference.errors import not_found
        view = self.state.participant(conference_sid, call_sid_or_label)
        info = self.state.conference(conference_sid)
        if view is None or info is None or info.account_sid != account_sid:
            raise not_found(f"Participant {call_sid_or_label}")
        who = view.call_sid
        dialect = self._conference_dialect(conference_sid)
        hold_media = None
        if hold and hold_url:
            hold_media = self._fetch_media(account_sid, hold_url, hold_method, who, dialect)
        announce_media = None
        if announce_url:
            announce_media = self._fetch_media(account_sid, announce_url, announce_method, who, dialect)
        if muted is not None:
            self._intent(self.state.set_muted, account_sid, conference_sid, who, muted)
        if hold is not None:
            if hold_media is not None:
                self._intent(self.state.set_hold, account_sid, conference_sid, who, hold, media=hold_media)
            else:
                self._intent(self.state.set_hold, account_sid, conference_sid, who, hold)
        if any(v is not None for v in (beep_on_exit, end_conference_on_exit, coaching, call_sid_to_coach,
                                       wait_url)):
            self._intent(self.state.modify, account_sid, conference_sid, who, beep_on_exit=beep_on_exit,
                         end_conference_on_exit=end_conference_on_exit, coaching=coaching,
                         call_sid_to_coach=call_sid_to_coach, wait_url=wait_url)
        if announce_media is not None:
            self._intent(self.state.announce, account_sid, conference_sid, announce_url, announce_media, who=who)
        return who

    def kick(self, account_sid: str, conference_sid: str, call_sid_or_label: str) -> None:
        """Twilio DELETE Participant: the call leaves the conference (ReasonParticipantLeft
        participant_updated_via_api; its Dial completes and the call continues with its next verb).
        ``call_sid_or_label``: CallSid or participant label. Raises DomainError 20404, 21220,
        EngineUnavailable."""
        self._intent(self.state.kick, account_sid, conference_sid, call_sid_or_label)

    def update_recording(self, account_sid: str, conference_sid: str, recording_sid: str, status: str,
                         pause_behavior: str = "silence") -> None:
        """Twilio Conference Recording update ``Status`` = paused | in-progress | stopped. ``pause_behavior``
        is accepted for the contract and ignored: both engines leave paused audio out of the file (Twilio
        ``PauseBehavior=skip``; FreeSWITCH ``recording pause``). Raises DomainError 20404, 21201 (bad status), EngineUnavailable."""
        self._intent(self.state.update_recording, account_sid, conference_sid, recording_sid, status)

    def add_participant(self, account_sid: str, conference_sid_or_name: str, from_: str, to: str,
                        options: dict) -> str:
        """Dial out and join (Twilio create Participant). Returns the new CallSid.

        The participant exists at once with status ``queued`` (``ConferenceState.dial_out``; recorded in the
        store, so GET Participants/{CallSid}.json finds it), then the call is placed: on FreeSWITCH
        ``bgapi originate`` (``to`` a number, ``sip:`` URI or dial string; ``options["timeout"]`` ring
        seconds), on the standalone engine a virtual callee whose audio is ``to`` (a media URL: ``file:``/
        ``tone:``/``silence:``). When it answers, its ``<Dial><Conference>`` join adopts the queued
        participant; when it cannot be placed or is not answered, :meth:`_dial_out_failed` reports
        participant-leave (participant_add_failed, ParticipantCallStatus busy|no-answer|failed) through the
        normal publish path (store + callbacks). Raises DomainError (16025 duplicate Label, 16020 full,
        13240, 21201 bad parameters / an engine that cannot dial ``to``), EngineUnavailable (503).
        Source: Twilio Participants resource (create), TwiML Conference statusCallback table.
        """
        from fsbridge.conference.errors import INVALID_PARAMETER, DomainError, not_found
        name = conference_sid_or_name
        dialect = "twiml"
        if is_sid(conference_sid_or_name, "CF"):
            info = self.state.conference(conference_sid_or_name)
            if info is None or info.account_sid != account_sid:
                raise not_found(f"Conference {conference_sid_or_name}")
            name, dialect = info.friendly_name, info.dialect
        conf = conference_from_options(name, options)
        first = Response(verbs=(Dial(conference=conf, time_limit=int(options.get("time_limit") or 14400)),),
                         dialect=dialect)
        virtual = is_media_url(to)
        originate = None if virtual else getattr(self.engine, "originate", None)
        if not virtual and originate is None:
            raise DomainError(INVALID_PARAMETER,
                              f"To {to!r}: this engine dials virtual callees only (file:/path, tone:HZ)")
        if virtual and not hasattr(self.engine, "create_call"):
            raise DomainError(INVALID_PARAMETER, f"To {to!r}: this engine cannot place virtual calls")
        if virtual:
            from fsbridge.media_policy import MediaRefused, virtual_source
            try:
                virtual_source(to, self.settings.media_dirs)
            except MediaRefused as exc:
                raise DomainError(INVALID_PARAMETER, f"To: {exc}") from None
        if not self.engine_available():
            raise EngineUnavailable("the engine is not reachable")
        call_sid = new_sid("CA")
        with self._lock:
            outcome = self.state.dial_out(account_sid=account_sid, call_sid=call_sid, conference=conf,
                                          dialect=dialect, from_=from_, to=to, timestamp_us=self.now_us())
            self._publish(outcome.events)
            self._execute(outcome.commands)
            self._record_queued(call_sid)
        log.info("call %s %s → %s: dialling out (add participant to %r), queued", call_sid, from_, to, name)
        if virtual:
            gevent.spawn(self._virtual_dial_out, call_sid, account_sid, from_, to, first, dialect)
            return call_sid
        self._originated[call_sid] = dict(account_sid=account_sid, from_=from_, to=to, dialect=dialect,
                                          first=first)
        timeout_s = int(options.get("timeout") or 30)
        try:
            job = originate(to, from_, call_sid, timeout_s=timeout_s)
        except EngineError as exc:   # accepted (queued) already: the failure is reported as Twilio does
            self._originated.pop(call_sid, None)
            log.warning("call %s: dial-out failed: %s", call_sid, exc)
            self._dial_out_failed(call_sid, CALL_FAILED, str(exc))
            return call_sid
        gevent.spawn(self._watch_originate, call_sid, job, timeout_s + 60)
        return call_sid

    def _record_queued(self, call_sid: str) -> None:
        """Store the queued participant ``call_sid`` (no DomainEvent reports it). Under the bridge lock."""
        record_queued = getattr(self.store, "record_queued", None)
        view = self.state.participant_of_call(call_sid)
        info = self.state.conference(view.conference_sid) if view is not None else None
        if record_queued is None or info is None:
            return
        try:
            record_queued(info, view)
        except Exception:
            log.exception("store.record_queued failed for %s", call_sid)

    def _virtual_dial_out(self, call_sid: str, account_sid: str, from_: str, to: str, first: Response,
                          dialect: str) -> None:
        """Standalone engine: place the virtual callee of a queued dial-out (its own greenlet, as a real
        dial-out is asynchronous); a callee that cannot be placed (unreadable file, bad media URL) is a
        failed dial-out (ParticipantCallStatus ``failed``)."""
        try:
            self.place_call(account_sid, from_, to, to, url=None, first=first, dialect=dialect,
                            direction=params.DIRECTION_OUTBOUND_API, call_sid=call_sid)
        except (ValueError, EngineError) as exc:
            log.warning("call %s: dial-out failed: %s", call_sid, exc)
            self._dial_out_failed(call_sid, CALL_FAILED, str(exc))

    def _dial_out_failed(self, call_sid: str, call_status: str, detail: Optional[str]) -> None:
        """Report a dial-out that will never join (``ConferenceState.dial_out_failed``) through the normal
        publish path. ``call_status`` outside busy|no-answer|failed|canceled becomes failed. Nothing happens
        for a call that is no longer a queued participant."""
        if call_status not in DIAL_OUT_FAILED_STATUSES:
            call_status = CALL_FAILED
        with self._lock:
            outcome = self.state.dial_out_failed(call_sid, call_status, detail, timestamp_us=self.now_us())
            self._publish(outcome.events)
            self._execute(outcome.commands)


def _bool(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def conference_from_options(name: str, options: dict) -> Conference:
    """A Conference noun from Twilio create-Participant parameters in snake_case (label, muted, beep,
    start_conference_on_enter, end_conference_on_exit, coaching + call_sid_to_coach, wait_url, wait_method,
    conference_status_callback(+_method, _event), conference_record, recording_status_callback(+_event),
    jitter_buffer_size, max_participants, region, conference_trim). Source: Twilio Participants resource."""
    events = options.get("conference_status_callback_event") or ()
    if isinstance(events, str):
        events = events.replace(",", " ").split()
    rec_events = options.get("conference_recording_status_callback_event") or ("completed",)
    if isinstance(rec_events, str):
        rec_events = rec_events.replace(",", " ").split()
    record = options.get("conference_record")
    record_mode = ("record-from-start" if str(record).lower() in ("true", "record-from-start")
                   else "do-not-record")
    beep = options.get("beep", "true")
    beep = ("true" if beep is True else "false" if beep is False else str(beep))
    coach = options.get("call_sid_to_coach") if _bool(options.get("coaching"), False) else None
    kw = dict(
        name=name,
        muted=_bool(options.get("muted"), False),
        beep=beep,
        start_conference_on_enter=_bool(options.get("start_conference_on_enter"), True),
        end_conference_on_exit=_bool(options.get("end_conference_on_exit"), False),
        participant_label=options.get("label"),
        wait_url=options.get("wait_url"),
        wait_method=str(options.get("wait_method") or "POST").upper(),
        status_callback=options.get("conference_status_callback"),
        status_callback_method=str(options.get("conference_status_callback_method") or "POST").upper(),
        status_callback_event=tuple(events),
        record=record_mode,
        recording_status_callback=options.get("conference_recording_status_callback"),
        recording_status_callback_event=tuple(rec_events),
        coach=coach,
        trim=options.get("conference_trim") or "trim-silence",
        region=options.get("region"),
    )
    if options.get("jitter_buffer_size"):
        kw["jitter_buffer_size"] = str(options["jitter_buffer_size"])
    if options.get("max_participants"):
        kw["max_participants"] = int(options["max_participants"])
    return Conference(**kw)
