"""The FreeSWITCH engine: :class:`~fsbridge.engines.base.Engine` on mod_conference over ESL.

Pieces: :class:`~.transport.ReconnectingESL` (inbound ESL: events + ``api``/``bgapi``),
:class:`~.outbound.OutboundServer` (calls handed over by ``socket 127.0.0.1:8084 async full``),
:mod:`.render` (commands → API strings), :mod:`.mapping` (events → NativeEvents).

The wait gate (fsbridge's, not wait-mod — docs/freeswitch.md): a ``JoinMember(waiting=True)`` joins with
``+flags{mute|deaf}`` and the engine loops the wait media to that member with ``conference <room> play
<media> <id>`` (re-played on each play-file-member-done of it). ``StartConference`` stops the media
(``stop all <id>``), ``undeaf``s (held members stay deaf) and ``unmute … quiet``s (members joined muted,
or muted while waiting, stay muted). Events caused only by the gate or by the ``deaf`` half of hold
(FreeSWITCH #796) are not reported: the domain sees the same events the standalone engine emits.
FreeSWITCH's wait-mod is not used: no event marks its end and nothing but a moderator joining can end it
(fixtures README finding 23).
"""
from __future__ import annotations

import json
import logging
import time
import uuid as uuidlib
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Set, Tuple

import gevent
import gevent.event
import gevent.queue

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.conference.native import MemberSnapshot, NativeEvent
from fsbridge.engines.base import EngineError, EngineUnavailable, EventSink
from fsbridge.engines.freeswitch import mapping, render, wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage
from fsbridge.engines.freeswitch.outbound import FreeSwitchCallLeg, OutboundServer
from fsbridge.engines.freeswitch.transport import ReconnectingESL

log = logging.getLogger(__name__)

# originate failure causes → Twilio ParticipantCallStatus (FreeSWITCH 1.10.12 inbound/session:
# "-ERR USER_BUSY", "-ERR USER_NOT_REGISTERED", "-ERR NO_ANSWER"); see originate_status
CAUSE_STATUS = {
    "USER_BUSY": "busy",
    "CALL_REJECTED": "busy",
    "NO_ANSWER": "no-answer",
    "NO_USER_RESPONSE": "no-answer",
    "ALLOTTED_TIMEOUT": "no-answer",
    "ORIGINATOR_CANCEL": "no-answer",
}


def originate_status(cause: str) -> str:
    """A failed ``bgapi originate``'s hangup cause (the BACKGROUND_JOB ``-ERR <CAUSE>`` word) → the Twilio
    ParticipantCallStatus of the dial-out: ``busy`` | ``no-answer`` | ``failed``.

    * ``USER_BUSY`` (SIP 486/600) → busy: Twilio's "busy: the caller received a busy signal".
    * ``CALL_REJECTED`` (SIP 603 Decline: the callee pressed reject) → busy: to the caller a declined call
      is indistinguishable from a busy one (both end at the callee's choice; 486/600/603 are the "busy"
      family of SIP answers), while Twilio's failed means the call could not be placed at all.
    * ``NO_ANSWER`` / ``NO_USER_RESPONSE`` (SIP 480/408) / ``ALLOTTED_TIMEOUT`` → no-answer: it rang out.
    * ``ORIGINATOR_CANCEL`` → no-answer: fsbridge never cancels an originate itself, so the originating
      side cancelling means ``originate_timeout`` (Twilio ``Timeout``) expired while it rang — Twilio's
      no-answer, not ``canceled`` (which Twilio reserves for a call the API cancelled while queued/ringing;
      fsbridge reports that when a conference ends with the dial-out still queued).
    * anything else (``USER_NOT_REGISTERED``, ``UNALLOCATED_NUMBER``, ``NORMAL_TEMPORARY_FAILURE``, a
      gateway down, an unparsable reply) → failed: the call could not be placed.

    Source: twilio-twiml-conference-noun.txt (ParticipantCallStatus ``no-answer busy in-progress failed
    canceled completed``); FreeSWITCH hangup causes (switch_types.h / Hangup Cause Code Table).
    """
    return CAUSE_STATUS.get((cause or "").strip().split()[0] if (cause or "").strip() else "", "failed")


def api_ok(body: str) -> bool:
    """True when an ``api`` body reports success: some line starts with ``+OK`` and none with ``-ERR``/
    ``-USAGE`` (``recording stop`` answers "Stopped recording file …\\n+OK …", finding 15; a bare usage
    text is a failure, finding 3)."""
    lines = [ln.strip() for ln in body.splitlines()]
    if any(ln.startswith(wire.REPLY_ERR) or ln.startswith(wire.REPLY_USAGE) for ln in lines):
        return False
    return any(ln.startswith(wire.REPLY_OK) for ln in lines)


@dataclass
class OriginateJob:
    """A dial-out in progress (``bgapi originate``). ``job_uuid``: the BACKGROUND_JOB id; ``unique_id``:
    the new channel's Unique-ID (``origination_uuid``, chosen by us); ``call_sid``.

    :meth:`wait` blocks for the BACKGROUND_JOB result → ``(status, detail)`` where status is
    ``"answered"`` (the call is up and will arrive on the outbound socket with ``fsbridge_call_sid``) or a
    Twilio status ``busy``/``no-answer``/``failed`` (:func:`originate_status`) with the FreeSWITCH cause as
    detail.
    """

    job_uuid: str
    unique_id: str
    call_sid: str
    command: str
    _result: gevent.event.AsyncResult = None  # type: ignore[assignment]

    def __post_init__(self):
        if self._result is None:
            self._result = gevent.event.AsyncResult()

    def wait(self, timeout: Optional[float] = None) -> Tuple[str, str]:
        """(status, detail); raises :class:`EngineError` on timeout or if ESL dropped (status unknown)."""
        try:
            return self._result.get(timeout=timeout)
        except gevent.Timeout:
            raise EngineError("originate result not received in %ss" % timeout)

    @property
    def done(self) -> bool:
        """True once the BACKGROUND_JOB result arrived (False while pending or after an ESL drop)."""
        return self._result.successful()


@dataclass
class _Waiting:
    uid: str
    media: Tuple[str, ...]
    muted: bool
    ref: Optional[str] = None


class FreeSwitchEngine:
    """``FreeSwitchEngine(host, port, password, outbound_host="127.0.0.1", outbound_port=8084,
    profile="fsbridge", …)`` — implements :class:`~fsbridge.engines.base.Engine`.

    ``on_call(leg)``: the runtime's handler for each call arriving on the outbound socket (its own
    greenlet; see :meth:`set_call_handler`). ``command_timeout`` (s) bounds every ``api``;
    ``reconnect_backoff``/``max_backoff`` (s) the ESL reconnect; ``talk_stop_ms`` the shared talk
    debouncer's extra hangover (0 = FreeSWITCH's own); ``dial_template`` turns a Twilio ``To`` into a dial
    string (``sip:`` URIs go to ``sofia/<sip_profile>/…``); ``outbound_advertise`` is the host:port
    FreeSWITCH dials back to (default outbound_host:bound port).
    """

    def __init__(self, host: str, port: int, password: str, outbound_host: str = "127.0.0.1",
                 outbound_port: int = 8084, profile: str = render.PROFILE, *,
                 on_call: Optional[Callable[[FreeSwitchCallLeg], None]] = None,
                 command_timeout: float = 5.0, reconnect_backoff: float = 0.5, max_backoff: float = 30.0,
                 talk_stop_ms: int = 300, dial_template: str = "user/{to}", sip_profile: str = "internal",
                 outbound_advertise: Optional[str] = None, talk_gate: Optional[mapping.TalkGate] = None):
        self.profile = profile
        self.command_timeout = command_timeout
        self.dial_template = dial_template
        self.sip_profile = sip_profile
        self.outbound_advertise = outbound_advertise
        self._sink: Optional[EventSink] = None
        self._on_call = on_call
        self.mapper = mapping.EventMapper(talk=talk_gate if talk_gate is not None
                                          else mapping.TalkGate(stop_ms=talk_stop_ms))
        self.esl = ReconnectingESL(
            host, port, password,
            handlers=[(mapping.CONFERENCE_SUBCLASS, self._on_esl_event),
                      (mapping.EV_HANGUP_COMPLETE, self._on_esl_event),
                      (mapping.EV_DTMF, self._on_esl_event),
                      (mapping.EV_BACKGROUND_JOB, self._on_job)],
            on_up=self._on_up, on_down=self._on_down,
            timeout=command_timeout, backoff=reconnect_backoff, max_backoff=max_backoff)
        self.outbound = OutboundServer(outbound_host, outbound_port, on_call=self._call_arrived,
                                       on_event=self._emit_one, timeout=command_timeout, profile=profile)
        self.outbound.prepare_leg = self._prepare_leg
        self._outbound_attached = False
        self.resynced = gevent.event.Event()
        self._jobs: Dict[str, OriginateJob] = {}
        self._pending_wait: Dict[str, c.JoinMember] = {}
        self._waiting: Dict[Tuple[str, int], _Waiting] = {}
        self._held: Set[Tuple[str, int]] = set()
        self._hold_media: Dict[Tuple[str, int], str] = {}
        self._suppress: Dict[Tuple[str, int, str], int] = {}
        self._coach: Dict[str, Tuple[int, Optional[int]]] = {}
        self._file_strings: Dict[Tuple[str, str], str] = {}
        self._api_max_members: Dict[str, int] = {}  # room → a limit FreeSWITCH takes only through the API
        self._work: gevent.queue.Queue = gevent.queue.Queue()
        self._worker: Optional[gevent.Greenlet] = None
        self._poller: Optional[gevent.Greenlet] = None
        self._started = False
        self._clock_offset_us = 0
        self._before_drop: Optional[Tuple[Dict[str, Tuple[str, int]], Dict[str, Tuple[bool, bool]]]] = None

    # ---------------------------------------------------------------- Engine protocol
    def set_event_sink(self, sink: EventSink) -> None:
        """Where NativeEvents go (called from the ESL handler greenlet, in FreeSWITCH order)."""
        self._sink = sink

    def set_call_handler(self, on_call: Callable[[FreeSwitchCallLeg], None]) -> None:
        """The runtime's ``on_call(leg)`` for calls arriving on the outbound socket (binds the engine's
        own outbound server if the engine is started and no server was attached)."""
        self._on_call = on_call
        if self._started:
            self._ensure_outbound()

    def attach_outbound(self, server: OutboundServer) -> None:
        """Serve calls through ``server`` (built by the composition root with its own ``on_call``)
        instead of the engine's own: its legs get the engine's join bookkeeping and JOIN_REFUSED sink.
        Called by ``OutboundServer(..., engine=engine)``."""
        if server is self.outbound:
            return
        if self.outbound.running:
            self.outbound.stop()
        server.prepare_leg = self._prepare_leg
        server.on_event = self._emit_one
        server.profile = self.profile
        self.outbound = server
        self._outbound_attached = True

    def _ensure_outbound(self) -> None:
        if not self.outbound.running and not self._outbound_attached:
            self.outbound.start()

    def start(self) -> None:
        """Start the ESL supervisor (connects in the background; :meth:`wait_connected` blocks until the
        first connection is up) and — when a call handler is set — bind the outbound socket."""
        if self._started:
            return
        self._started = True
        if self._on_call is not None:
            self._ensure_outbound()
        self._worker = gevent.spawn(self._work_loop)
        self._poller = gevent.spawn(self._talk_poll_loop)
        self.esl.start()

    def stop(self) -> None:
        """Close ESL and the outbound server; end the engine's greenlets."""
        self.esl.stop()
        self.outbound.stop()
        for g in (self._worker, self._poller):
            if g is not None:
                g.kill(block=True, timeout=2)
        self._started = False

    def wait_connected(self, timeout: Optional[float] = None) -> bool:
        """Block until ESL is connected, subscribed and resynced (True) or ``timeout`` s (False)."""
        return self.esl.connected_event.wait(timeout) and self.resynced.wait(timeout)

    @property
    def available(self) -> bool:
        """True while ESL is up (the REST API answers 503 otherwise)."""
        return self.esl.is_up

    @property
    def outbound_port(self) -> int:
        """The bound outbound-socket port (binds the engine's own server if nothing is bound yet)."""
        if not self.outbound.running:
            self._ensure_outbound()
        return self.outbound.bound_port

    def execute(self, command: c.Command) -> None:
        """Render and send ``command``; raises :class:`EngineUnavailable` at once while ESL is down,
        :class:`EngineError` on a FreeSWITCH ``-ERR``. Returns when FreeSWITCH replied (state changes
        arrive later as events). A JoinMember runs on its call's leg in a new greenlet (the blocking
        form is :meth:`FreeSwitchCallLeg.join`)."""
        if isinstance(command, c.JoinMember):
            leg = self.outbound.legs.get(command.unique_id)
            if leg is None:
                raise EngineError("no call %s on the outbound socket" % command.unique_id)
            gevent.spawn(leg.join, command)
            return
        if isinstance(command, c.StartConference):
            self._start_conference(command.room)
            return
        key = (command.room, getattr(command, "member_id", None))
        if isinstance(command, (c.MuteMember, c.UnmuteMember)) and key in self._waiting:
            self._waiting[key].muted = isinstance(command, c.MuteMember)
        if isinstance(command, c.SetCoach):
            if command.coached_member_id is None:
                self._coach.pop(command.room, None)
            else:
                self._coach[command.room] = (command.coach_member_id, command.coached_member_id)
            for line in render.render(command, self):
                self._api(line, tolerate=" clear" in line)
            return
        lines = render.render(command, self)
        if isinstance(command, c.HoldMember):
            self._held.add(key)
            self._suppress_once(key, n.DEAF_MEMBER)
            if command.media:
                self._hold_media[key] = render.media_ref(command.media)
        elif isinstance(command, c.UnholdMember):
            self._held.discard(key)
            self._suppress_once(key, n.UNDEAF_MEMBER)
        elif isinstance(command, c.PlayMedia) and len(command.media) > 1:
            self._file_strings[(command.room, render.media_ref(command.media))] = command.media[-1]
        for line in lines:
            self._api(line)

    def snapshot(self) -> List[MemberSnapshot]:
        """Members FreeSWITCH has now (``conference json_list``: every room); raises
        :class:`EngineUnavailable` while down. Flags: ``muted`` = not can_speak, ``deaf`` = not can_hear,
        except for held members (json_list reports hold as can_hear/can_speak false — finding 17)."""
        body = self._api_raw(render.api("json_list_all"))
        return parse_json_list(body)

    # ---------------------------------------------------------------- dial-out
    def originate(self, to: str, from_: str, call_sid: str, timeout_s: int = 30,
                  app: Optional[str] = None) -> OriginateJob:
        """Dial out: ``bgapi originate {vars}<dial string> &socket(<outbound> async full)``.

        The answered call comes back on the outbound socket as a leg with ``call_sid`` set (channel var
        ``fsbridge_call_sid``) and goes to ``on_call`` like any call. ``to``: a Twilio To (number or
        ``sip:`` URI) or a FreeSWITCH dial string (contains ``/``). ``timeout_s``: ring time. Returns an
        :class:`OriginateJob` whose ``wait()`` gives the BACKGROUND_JOB outcome. ``app`` overrides the
        application (e.g. ``&park()``).
        """
        unique_id = str(uuidlib.uuid4())
        variables = [(render.ORIG_UUID, unique_id), (render.ORIG_CID_NUMBER, from_), (render.ORIG_CID_NAME, from_),
                     (render.ORIG_CALLEE_NUMBER, to), (render.ORIG_CALLEE_NAME, to), (render.ORIG_TIMEOUT, int(timeout_s)),
                     (render.CALL_SID_VAR, call_sid), (render.HANGUP_AFTER_VAR, "false")]
        if app is None:
            target = self.outbound_advertise or "%s:%d" % (self.outbound.bind_address, self.outbound_port)
            app = "&socket(%s async full)" % target
        command = render.originate(self.dial_string(to), app, variables)
        job = OriginateJob(job_uuid=str(uuidlib.uuid4()), unique_id=unique_id, call_sid=call_sid, command=command)
        self._jobs[job.job_uuid] = job
        try:
            self.esl.bgapi(command, job_uuid=job.job_uuid)
        except EngineError:
            self._jobs.pop(job.job_uuid, None)
            raise
        return job

    def dial_string(self, to: str) -> str:
        """Twilio ``To`` → FreeSWITCH dial string: ``sip:u@h`` → ``sofia/<sip_profile>/u@h``; a string with
        ``/`` is already one; anything else goes through ``dial_template`` (default ``user/{to}``)."""
        if to.startswith("sip:"):
            return "sofia/%s/%s" % (self.sip_profile, to[4:])
        if "/" in to:
            return to
        return self.dial_template.format(to=to)

    # ---------------------------------------------------------------- RoomView (render.py)
    def members(self, room: str) -> List[int]:
        """Member ids now in ``room`` (from add-member/del-member and the last resync)."""
        return [m for r, m in self.mapper.members.values() if r == room]

    def unique_id(self, room: str, member_id: int) -> Optional[str]:
        """Channel Unique-ID of a member, or None."""
        for uid, (r, m) in self.mapper.members.items():
            if r == room and m == member_id:
                return uid
        return None

    # ---------------------------------------------------------------- internals
    def _api_raw(self, line: str) -> str:
        return self.esl.api(line, timeout=self.command_timeout)

    def _api(self, line: str, tolerate: bool = False) -> str:
        body = self._api_raw(line)
        if not api_ok(body) and not tolerate:
            raise EngineError("FreeSWITCH: %s -> %s" % (line, body.strip()))
        return body

    def _suppress_once(self, key: Tuple[str, Optional[int]], action: str) -> None:
        k = (key[0], key[1], action)
        self._suppress[k] = self._suppress.get(k, 0) + 1

    def _prepare_leg(self, leg: FreeSwitchCallLeg) -> None:
        leg.on_join = self._on_join
        leg.on_event = self._emit_one

    def _call_arrived(self, leg: FreeSwitchCallLeg) -> None:
        if self._on_call is None:
            log.warning("call %s arrived but no call handler is set; hanging up", leg.unique_id)
            leg.hangup()  # the outbound server keeps the socket until the call ended
            return
        self._on_call(leg)

    def _on_join(self, command: c.JoinMember) -> None:
        if int(command.max_members) < render.MIN_MAX_MEMBERS_VAR and not self.members(command.room):
            self._api_max_members[command.room] = int(command.max_members)
        if command.waiting:
            self._pending_wait[command.unique_id] = command
        else:
            self._pending_wait.pop(command.unique_id, None)

    def _start_conference(self, room: str) -> None:
        for key in [k for k in self._waiting if k[0] == room]:
            w = self._waiting.pop(key)
            member = key[1]
            if w.ref is not None:
                self._suppress_once(key, n.PLAY_FILE_MEMBER_DONE)
                self._api(render.api("stop_member", room=room, member=member), tolerate=True)
            if key not in self._held:
                self._suppress_once(key, n.UNDEAF_MEMBER)
                self._api(render.api("undeaf", room=room, member=member))
            if not w.muted:
                self._suppress_once(key, n.UNMUTE_MEMBER)
                self._api(render.api("unmute_quiet", room=room, member=member))

    def _emit_one(self, ev: NativeEvent) -> None:
        if self._sink is not None:
            try:
                self._sink(ev)
            except Exception:
                log.exception("event sink failed on %s", ev.action)

    def _on_esl_event(self, ev: ESLMessage) -> None:
        ts = ev.get(wire.H_TIMESTAMP)
        if ts and ts.isdigit():  # FreeSWITCH's clock may differ from ours: talk hangovers use its clock
            self._clock_offset_us = int(ts) - int(time.time() * 1_000_000)
        for native in self.mapper.map(ev):
            native = self._engine_side(native)
            if native is not None:
                self._emit_one(native)

    def _engine_side(self, ev: NativeEvent) -> Optional[NativeEvent]:
        """Engine bookkeeping for one mapped event; returns the event to report or None (suppressed)."""
        key = (ev.room, ev.member_id)
        a = ev.action
        if a == n.ADD_MEMBER and ev.unique_id in self._pending_wait:
            cmd = self._pending_wait.pop(ev.unique_id)
            w = _Waiting(ev.unique_id, tuple(cmd.wait_media), cmd.muted)
            self._waiting[key] = w
            if w.media:
                w.ref = render.media_ref(w.media)
                self._work.put(lambda k=key: self._play_wait(k))
        if a == n.ADD_MEMBER and ev.room in self._api_max_members:
            # the room now exists: set the limit its channel variable could not (render.MIN_MAX_MEMBERS_VAR)
            line = render.api("set_max_members", room=ev.room, value=self._api_max_members.pop(ev.room))
            self._work.put(lambda line=line: self._api(line, tolerate=True))
        if a == n.ADD_MEMBER and ev.room in self._coach:
            coach, coached = self._coach[ev.room]
            if ev.member_id not in (coach, coached):
                line = render.api("relate_nospeak", room=ev.room, member=coach, other=ev.member_id)
                self._work.put(lambda line=line: self._api(line, tolerate=True))
        if a == n.DEL_MEMBER:
            self._waiting.pop(key, None)
            self._held.discard(key)
            self._hold_media.pop(key, None)
            for k in [k for k in self._suppress if k[:2] == key]:
                del self._suppress[k]
            if ev.room in self._coach and self._coach[ev.room][0] == ev.member_id:
                del self._coach[ev.room]
        if a == n.CONFERENCE_DESTROY:
            self._coach.pop(ev.room, None)
            self._api_max_members.pop(ev.room, None)
            for k in [k for k in self._file_strings if k[0] == ev.room]:
                del self._file_strings[k]
        if a == n.PLAY_FILE_MEMBER_DONE:
            w = self._waiting.get(key)
            if w is not None and w.ref is not None and ev.file == w.ref:
                self._work.put(lambda k=key: self._play_wait(k))
                return None
            if self._hold_media.get(key) == ev.file:
                if key in self._held:  # the hold media ended: loop it (commands.HoldMember: "in a loop")
                    self._work.put(lambda k=key: self._play_hold(k))
                else:  # unhold stopped it (finding 17)
                    del self._hold_media[key]
                return None
        sk = (ev.room, ev.member_id, a)
        if self._suppress.get(sk):
            self._suppress[sk] -= 1
            if not self._suppress[sk]:
                del self._suppress[sk]
            return None
        if a in (n.PLAY_FILE_DONE, n.PLAY_FILE_MEMBER_DONE) and ev.file is not None:
            last = self._file_strings.pop((ev.room, ev.file), None)
            if last is not None:
                ev = replace(ev, file=last)
        return ev

    def _play_wait(self, key: Tuple[str, int]) -> None:
        w = self._waiting.get(key)
        if w is None or w.ref is None:
            return
        try:
            self._api(render.api("play_member", room=key[0], media=w.ref, member=key[1]))
        except EngineError as exc:
            log.warning("wait media for %s: %s", key, exc)

    def _play_hold(self, key: Tuple[str, int]) -> None:
        ref = self._hold_media.get(key)
        if ref is None or key not in self._held:
            return
        try:
            self._api(render.api("play_member", room=key[0], media=ref, member=key[1]))
        except EngineError as exc:
            log.warning("hold media for %s: %s", key, exc)

    def _work_loop(self) -> None:
        while True:
            job = self._work.get()
            try:
                job()
            except EngineError as exc:
                log.warning("engine background command failed: %s", exc)
            except Exception:
                log.exception("engine background command failed")

    def _talk_poll_loop(self) -> None:
        gate = self.mapper.talk
        while gate is not None:
            gevent.sleep(0.1)
            if gate.pending():
                for ev in gate.poll(int(time.time() * 1_000_000) + self._clock_offset_us):
                    self._emit_one(ev)

    def _on_job(self, ev: ESLMessage) -> None:
        job = self._jobs.pop(ev.get(wire.H_JOB_UUID, ""), None)
        if job is None:
            return
        body = ev.body.strip()
        if body.startswith(wire.REPLY_OK):
            job._result.set(("answered", body[len(wire.REPLY_OK):].strip()))
        else:
            cause = body[len(wire.REPLY_ERR):].strip() if body.startswith(wire.REPLY_ERR) else body
            job._result.set((originate_status(cause), cause))

    def _on_up(self, conn) -> None:
        """After every (re)connect: rebuild Unique-ID ↔ member from ``conference json_list``; after a
        *re*connect also report what changed while ESL was down as NativeEvents (mapping.resync_events:
        del-member for members gone, add-member for new ones, hold/mute changes — no phantom, no lost
        participant, through the normal event path); then call :attr:`on_resync` with the snapshot (for
        ``ConferenceState.resync``, which finds nothing left to change after those events)."""
        self.resynced.clear()
        self.mapper.start_journal()
        try:
            body = conn.api(render.api("json_list_all"), timeout=self.command_timeout)
            snap = parse_json_list(body)
        except EngineError as exc:
            log.warning("resync after ESL connect failed: %s", exc)
            self.mapper.journal = None
            self.resynced.set()
            return
        touched = self.mapper.replace_members({s.unique_id: (s.room, s.member_id) for s in snap})
        if self._before_drop is not None:
            before, before_flags = self._before_drop
            self._before_drop = None
            for ev in mapping.resync_events(before, before_flags, snap, touched, int(time.time() * 1_000_000)):
                ev = self._engine_side(ev)
                if ev is not None:
                    self._emit_one(ev)
        for s in snap:  # adopt FreeSWITCH's flags (a held member's mute state is not listed: keep ours)
            if s.unique_id not in touched:
                known_muted = self.mapper.flags.get(s.unique_id, (False, False))[0]
                self.mapper.flags[s.unique_id] = (known_muted if s.hold else s.muted, s.hold)
        present = set(self.mapper.members.values())
        for d in (self._waiting, self._hold_media):
            for k in [k for k in d if k not in present]:
                del d[k]
        self._held = {k for k in self._held if k in present}
        self.last_snapshot = snap
        self.resynced.set()
        if self.on_resync is not None:
            try:
                self.on_resync(snap)
            except Exception:
                log.exception("on_resync failed")

    on_resync: Optional[Callable[[List[MemberSnapshot]], None]] = None
    """Called (ESL handler side) with the snapshot after every (re)connect; the runtime points it at
    ``ConferenceState.resync``. Also available afterwards as :attr:`last_snapshot`."""
    last_snapshot: List[MemberSnapshot] = []

    def _on_down(self) -> None:
        self._before_drop = (dict(self.mapper.members), dict(self.mapper.flags))
        for job in list(self._jobs.values()):
            job._result.set_exception(EngineUnavailable("ESL dropped before the originate result"))
        self._jobs.clear()


def parse_json_list(body: str) -> List[MemberSnapshot]:
    """``conference [<room>] json_list`` body → MemberSnapshots (FreeSWITCH 1.10.12 lists/
    conference_json_list_all.json: ``[{conference_name, members: [{id, uuid, flags: {can_hear, can_speak,
    hold, talking}}]}]``). No rooms (``-ERR No active conferences.`` or empty) → []. Other ``-ERR`` →
    :class:`EngineError`."""
    text = body.strip()
    if not text or (wire.NO_CONFERENCES in text and not text.startswith("[")):
        return []
    if text.startswith(wire.REPLY_ERR):
        raise EngineError("FreeSWITCH: %s" % text)
    try:
        rooms = json.loads(text)
    except ValueError as exc:
        raise EngineError("unreadable json_list: %s" % exc)
    out = []
    for room in rooms if isinstance(rooms, list) else [rooms]:
        name = room.get("conference_name", "")
        for m in room.get("members", []):
            if m.get("type") not in (None, "caller"):
                continue
            f = m.get("flags", {})
            hold = bool(f.get("hold"))
            out.append(MemberSnapshot(room=name, member_id=int(m["id"]), unique_id=m.get("uuid", ""),
                                      muted=(not f.get("can_speak", True)) and not hold,
                                      deaf=(not f.get("can_hear", True)) and not hold,
                                      hold=hold, talking=bool(f.get("talking"))))
    return out
