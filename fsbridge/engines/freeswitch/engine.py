"""The FreeSWITCH engine: :class:`~fsbridge.engines.base.Engine` on mod_conference over ESL.

Pieces: :class:`~.reconnect.ReconnectingESL` (inbound ESL: events + ``api``/``bgapi``),
:class:`~.outbound.OutboundServer` (calls handed over by ``socket 127.0.0.1:8084 async full``),
:mod:`.render` (commands → API strings), :mod:`.mapping` (events → NativeEvents).

The wait gate (fsbridge's, not wait-mod — docs/freeswitch.md): a ``JoinMember(waiting=True)`` joins with
``+flags{mute|deaf}`` and the engine loops the wait media to that member with ``conference <room> play
<media> <id>`` (re-played on each play-file-member-done of it). ``StartConference`` stops the media
(``stop all <id>``), ``undeaf``s (held members stay deaf) and ``unmute … quiet``s (members joined muted,
or muted while waiting, stay muted). Events caused only by the gate or by the ``deaf`` half of hold
(FreeSWITCH #796) are not reported: the domain sees the same events the standalone engine emits.
Members at a gate — also gates a killed bridge left closed (deaf without hold) — are snapshot ``waiting``;
the domain answers with ``ResumeGate``, never a participant-mute (gate.py ``_gate_snapshot``, issue 15).
FreeSWITCH's wait-mod is not used: no event marks its end and nothing but a moderator joining can end it
(fixtures README finding 23).
"""
from __future__ import annotations

import logging
import time
import uuid as uuidlib
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import gevent
import gevent.event
import gevent.queue

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.conference.native import MemberSnapshot, NativeEvent
from fsbridge.engines.base import EngineError, EventSink, NotSupported
from fsbridge.engines.freeswitch import mapping, render, wire
from fsbridge.engines.freeswitch.adopted import AdoptionMixin
from fsbridge.engines.freeswitch.esl_parse import ESLMessage
from fsbridge.engines.freeswitch.connection import ConnectionMixin
from fsbridge.engines.freeswitch.gate import GateMixin, _Waiting  # noqa: F401
from fsbridge.engines.freeswitch.mapping import api_ok, parse_json_list  # noqa: F401 - re-exported
from fsbridge.engines.freeswitch.originate import OriginateJob, originate_status  # noqa: F401
from fsbridge.engines.freeswitch.outbound import FreeSwitchCallLeg, OutboundServer
from fsbridge.engines.freeswitch.reconnect import ReconnectingESL

log = logging.getLogger(__name__)

class FreeSwitchEngine(GateMixin, ConnectionMixin, AdoptionMixin):
    """``FreeSwitchEngine(host, port, password, outbound_host="127.0.0.1", outbound_port=8084,
    profile="fsbridge", …)`` — implements :class:`~fsbridge.engines.base.Engine`.

    ``on_call(leg)``: the runtime's handler for each call arriving on the outbound socket (its own
    greenlet; see :meth:`set_call_handler`). ``command_timeout`` (s) bounds every ``api``;
    ``reconnect_backoff``/``max_backoff`` (s) the ESL reconnect; ``talk_stop_ms`` the shared talk
    debouncer's extra hangover (0 = FreeSWITCH's own); ``dial_template`` turns a Twilio ``To`` into a dial
    string (``sip:`` URIs go to ``sofia/<sip_profile>/…``); ``outbound_advertise`` is the host:port
    FreeSWITCH dials back to (default outbound_host:bound port). ``say(text, voice=, language=, rate=,
    out_dir=) -> path``: the ``<Say>`` renderer (given by the composition root; FreeSWITCH plays the file it
    writes); ``rate``: Hz those renderings are written at. ``sweep_interval`` (s): how often calls stuck in
    the ``socket`` application or parked with nobody driving them are looked for (:mod:`.rescue`; 0 = only
    at the first connection).
    """

    def __init__(self, host: str, port: int, password: str, outbound_host: str = "127.0.0.1",
                 outbound_port: int = 8084, profile: str = render.PROFILE, *,
                 on_call: Optional[Callable[[FreeSwitchCallLeg], None]] = None,
                 command_timeout: float = 5.0, reconnect_backoff: float = 0.25, max_backoff: float = 1.0,
                 talk_stop_ms: int = 300, dial_template: str = "user/{to}", sip_profile: str = "internal",
                 outbound_advertise: Optional[str] = None, talk_gate: Optional[mapping.TalkGate] = None,
                 rate: int = 16000, say: Optional[Callable[..., str]] = None, sweep_interval: float = 10.0):
        self.profile = profile
        self.rate = rate
        self._say = say
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
                      (mapping.EV_BACKGROUND_JOB, self._on_job),
                      (wire.EV_CHANNEL_PROGRESS, self._on_progress),
                      (wire.EV_CHANNEL_PROGRESS_MEDIA, self._on_progress)],
            on_up=self._on_up, on_down=self._on_down,
            timeout=command_timeout, backoff=reconnect_backoff, max_backoff=max_backoff,
            inline_handlers=True)   # they never block: slow work goes to self._work (issue 21)
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
        self._loop_started: Dict[Tuple[str, int], Tuple[float, bool]] = {}   # gate.py _loop_again
        self._suppress: Dict[Tuple[str, int, str], int] = {}
        self._coach: Dict[str, Tuple[int, Optional[int]]] = {}
        self._file_strings: Dict[Tuple[str, str], str] = {}
        self._api_max_members: Dict[str, int] = {}  # room → a limit FreeSWITCH takes only through the API
        self._work: gevent.queue.Queue = gevent.queue.Queue()
        self._worker: Optional[gevent.Greenlet] = None
        self._poller: Optional[gevent.Greenlet] = None
        self._poll_wake = gevent.event.Event()   # set when the poller has work (connection.py _talk_poll_loop)
        self._started = False
        self._clock_offset_us = 0
        self._core_uuid: Optional[str] = None   # FreeSWITCH's ${core_uuid} at the last connect
        self._adopted: Dict[str, object] = {}    # Unique-ID → AdoptedLeg (adopted.py)
        self._state = None                       # set_state_store: facts kept across bridge restarts
        self.sweep_interval = sweep_interval      # s between stuck-call sweeps (rescue.py); 0 = start-up only
        self._sweep_due = time.monotonic() + sweep_interval
        self._stuck_seen: Dict[str, int] = {}     # Unique-ID → consecutive sweeps that saw it stuck

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

    can_originate = True
    can_create_calls = False

    def now_us(self) -> int:
        """The wall clock, µs since the epoch (FreeSWITCH runs in real time)."""
        return int(time.time() * 1_000_000)

    def call_later(self, seconds: float, fn: Callable[[], None]) -> "_Timer":
        """Run ``fn`` after ``seconds`` (a gevent timer, wall time); returns an object with ``cancel()``."""
        return _Timer(gevent.spawn_later(seconds, fn))

    def create_call(self, unique_id: str, source, from_: str = "", to: str = "",
                    dtmf: Sequence[Tuple[str, float]] = (), hangup_after_s: Optional[float] = None,
                    *, loop: bool = False) -> FreeSwitchCallLeg:
        """Not here: calls come from FreeSWITCH (the outbound socket) or :meth:`originate`."""
        raise NotSupported("this engine cannot place virtual calls (use the standalone engine)")

    def warm_up(self) -> None:
        """Nothing to prepare: FreeSWITCH plays its own hold music (``local_stream://moh``)."""

    def preload(self, ref: str) -> None:
        """Nothing to load: FreeSWITCH reads media files itself."""

    def render_say(self, text: str, voice: str, language: str, out_dir: str) -> str:
        """``<Say>`` rendered by the ``say`` renderer given at construction (a WAV FreeSWITCH plays);
        raises :class:`NotSupported` without one."""
        if self._say is None:
            raise NotSupported("no Say renderer configured")
        return self._say(text, voice=voice, language=language, rate=self.rate, out_dir=out_dir)

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
        arrive later as events). A JoinMember runs the ``conference`` app on its call's leg in a new greenlet
        (:meth:`FreeSwitchCallLeg.start_join`; the leg's ``wait_left`` gives the outcome)."""
        if isinstance(command, c.JoinMember):
            leg = self.outbound.legs.get(command.unique_id)
            if leg is None:
                raise EngineError("no call %s on the outbound socket" % command.unique_id)
            leg.start_join(command)
            return
        if isinstance(command, (c.StartConference, c.ResumeGate)):   # the wait gate (gate.py)
            self._gate_command(command)
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
        leg.on_hangup = self._leg_hung_up

    def _leg_hung_up(self, leg: FreeSwitchCallLeg, ev: ESLMessage) -> None:
        """A call's own outbound socket saw its CHANNEL_HANGUP_COMPLETE. While the inbound ESL is down that
        is the only news of it (docs/freeswitch.md observed-live §3: the outbound sessions keep receiving their calls'
        hangups): report it, so REST stops showing the participant connected (issue 15). While ESL is up
        the inbound stream reports it (the domain ignores a repeat either way)."""
        if self.esl.is_up:
            return
        ts = ev.get(wire.H_TIMESTAMP) or ""
        self._emit_one(NativeEvent(n.CHANNEL_HANGUP_COMPLETE, leg.room or "",
                                   int(ts) if ts.isdigit() else self.now_us(), leg.unique_id,
                                   hangup_cause=ev.get(wire.H_HANGUP_CAUSE) or None))

    calls_outlive_bridge = True
    """Calls live in FreeSWITCH: at shutdown the runtime detaches calls that are in a room instead of
    hanging them up, and the next bridge adopts them (issue 15)."""

    def refuse_calls(self) -> None:
        """Stop accepting outbound-socket calls now (close the listener; calls already accepted go on):
        the first step of a drain — FreeSWITCH's ``socket`` then fails at once and the dialplan continues
        (docs/freeswitch.md observed-live §4)."""
        self.outbound.close_listener()

    def _call_arrived(self, leg: FreeSwitchCallLeg) -> None:
        if leg.reentry and self._reentry(leg):
            return   # an adopted call left its room: the runtime continues its application on this leg
        if leg.reentry:
            # its conference ended while no bridge held its socket and nobody adopted it (no stored
            # continuation): end the call rather than run its application twice
            log.warning("call %s re-entered after its conference ended under a previous bridge; hanging up",
                        leg.unique_id)
            leg.hangup()
            return
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

    def _emit_one(self, ev: NativeEvent) -> None:
        if self._sink is not None:
            try:
                self._sink(ev)
            except Exception:
                log.exception("event sink failed on %s", ev.action)


class _Timer:
    """A gevent timer with ``cancel()`` (:meth:`FreeSwitchEngine.call_later`)."""

    def __init__(self, greenlet: gevent.Greenlet):
        self._g = greenlet

    def cancel(self) -> None:
        """Do not run the callback (idempotent)."""
        self._g.kill(block=False)
