"""StandaloneEngine: conferences on audio files/tones/live queues, without FreeSWITCH.

Implements :class:`fsbridge.engines.base.Engine` (commands in, native events out) and gives
:class:`VirtualCallLeg` objects implementing :class:`fsbridge.engines.base.CallLeg`. It emits the same
:class:`~fsbridge.conference.native.NativeEvent` s, with the same fields, as FreeSWITCH 1.10 mod_conference
does (``../shared/fixtures/freeswitch/README.md``): conference-create, add-member (``Member-ID`` an
engine-wide increasing counter, ``Member-Type``), del-member (``Hangup-Cause`` when the caller hung up),
mute/unmute/hold/unhold/kick-member, start/stop-talking (``talking-duration-ms``), play-file,
play-file-done / play-file-member-done (``File`` = the media that finished), start/pause/resume/stop-recording
(``Path``, ``Milliseconds-Elapsed``, ``Record-File-Size``), conference-destroy, CHANNEL_HANGUP_COMPLETE, DTMF,
and join-refused (FreeSWITCH emits nothing when max-members is reached; the contract names it).

Timing: everything happens on 20 ms ticks of a :class:`~fsbridge.engines.standalone.clock.Clock` (real time or
simulated). Per tick: calls' hangup/DTMF schedules, every call's input frame (file → jitter buffer when a
network is emulated), per room one vectorised N−1 mix + talk detection (:mod:`.mixer`, :mod:`.talk`), media
overlays (hold/wait music, announcements, beeps), recording, then events are queued. Events reach the sink
from one dispatcher greenlet (``start()``), or from :meth:`StandaloneEngine.flush` / :meth:`run_for` when
the engine is driven by hand (tests) — never from inside the mixing code.
"""
from __future__ import annotations

import itertools
import logging
from collections import deque
from typing import Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import gevent
import gevent.event
import gevent.queue
import numpy as np

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.conference.native import MemberSnapshot, NativeEvent
from fsbridge.engines.base import EngineError, EventSink

from .clock import Clock
from .jitter import JitterBuffer
from .media import ENTER_TONE, EXIT_TONE, MediaError, check_media, open_media
from .mixer import clip16, mix_n_minus_1
from .recorder import HeardCapture, Recorder
from .sources import FRAME_MS, RATES, Playlist, frame_len
from .talk import DEFAULT_ENERGY_LEVEL, HANGOVER, HANGUNDER, TalkDetectorBank

log = logging.getLogger(__name__)

Source = Union[str, object]


def _flag(b: bool) -> str:
    return "true" if b else "false"


class VirtualCallLeg:
    """A simulated caller (implements :class:`fsbridge.engines.base.CallLeg`). Create with
    :meth:`StandaloneEngine.create_call`.

    Timeline: the caller's audio, DTMF schedule and ``hangup_after_s`` count from :meth:`answer`
    (``join``/``play`` answer implicitly). ``heard`` (a :class:`HeardCapture`, None if disabled) holds every
    frame sent to the caller since answer — conference mix, hold/wait music, plays — one per 20 ms tick.
    ``member_id``/``room`` while in a conference.
    """

    def __init__(self, engine: "StandaloneEngine", unique_id: str, source, from_: str = "", to: str = "",
                 dtmf: Sequence[Tuple[str, float]] = (), hangup_after_s: Optional[float] = None,
                 hangup_at_end: bool = True, network=None, capture_heard: bool = True):
        self.engine = engine
        self.unique_id = unique_id
        self.from_ = from_
        self.to = to
        self.hung_up = False
        self.hangup_cause: Optional[str] = None
        self.answered = False
        self.source = source
        self.hangup_at_end = hangup_at_end
        self.network = network
        self.jitter = None
        self.dtmf_schedule: Deque[Tuple[int, str]] = deque(
            sorted((int(round(at * 1000)), str(d)) for d, at in dtmf))
        self.hangup_after_ms = None if hangup_after_s is None else int(round(hangup_after_s * 1000))
        self.start_tick: Optional[int] = None
        self.member: Optional["_Member"] = None
        self.heard = HeardCapture(engine.rate) if capture_heard else None
        self._play: Optional[Playlist] = None
        self._play_done: Optional[gevent.event.AsyncResult] = None
        self._join_done: Optional[gevent.event.AsyncResult] = None
        self._dtmf_cb: Optional[Callable[[str], None]] = None
        self._source_ended = False
        self._net_src_done = False
        self.heard_path: Optional[str] = None

    # --- CallLeg protocol ------------------------------------------------------------------------
    def answer(self) -> None:
        """Answer: the caller's timeline (audio, DTMF, hangup_after_s) starts at the next tick."""
        if not self.answered and not self.hung_up:
            self.answered = True
            self.start_tick = self.engine.clock.ticks

    def play(self, media: Iterable[str]) -> bool:
        """Play media references to this call (outside a conference); blocks the calling greenlet until
        they finished (True) or the call hung up / joined a conference (False). Unplayable items are
        skipped with a warning."""
        if self.hung_up:
            return False
        if self.member is not None:
            log.warning("call %s: play() while in conference %s ignored (use PlayMedia with member_id)",
                        self.unique_id, self.member.room.name)
            return False
        self.answer()
        refs = list(media)
        for r in refs:
            try:
                check_media(r)
            except MediaError as exc:
                log.warning("call %s: %s", self.unique_id, exc)
        done = gevent.event.AsyncResult()
        self._stop_play(False)
        self._play = Playlist(refs, self.engine._opener)
        self._play_done = done
        return done.get()

    def join(self, command: C.JoinMember) -> str:
        """Join a conference (``command.unique_id`` must be this call's); blocks until the member leaves.
        Returns ``"left"`` (kicked, leave(), room ended), ``"hangup"`` or ``"refused"`` (room full)."""
        if self.hung_up:
            return "hangup"
        if command.unique_id != self.unique_id:
            raise EngineError(f"JoinMember for {command.unique_id} given to call {self.unique_id}")
        self._join_done = gevent.event.AsyncResult()
        result = self._join_done
        self.engine.execute(command)
        return result.get()

    def leave(self) -> None:
        """Take the call out of its conference (del-member); ``join`` returns "left"."""
        if self.member is not None:
            self.engine._remove_member(self.member, "left")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang up (del-member with ``hangup_cause`` if in a room, then CHANNEL_HANGUP_COMPLETE)."""
        self.engine._hangup_call(self, cause)

    def on_dtmf(self, callback: Optional[Callable[[str], None]]) -> None:
        """Call ``callback(digit)`` (from the event greenlet) for every digit the caller sends."""
        self._dtmf_cb = callback

    # --- helpers ---------------------------------------------------------------------------------
    @property
    def member_id(self) -> Optional[int]:
        """Engine member id while in a conference, else None."""
        return self.member.id if self.member else None

    @property
    def room(self) -> Optional[str]:
        """Room name while in a conference, else None."""
        return self.member.room.name if self.member else None

    def heard_audio(self) -> np.ndarray:
        """int16 ``(n_samples,)``: everything this caller heard since answer (empty if capture disabled)."""
        return self.heard.audio() if self.heard else np.zeros(0, np.int16)

    def _stop_play(self, result: bool) -> None:
        if self._play_done is not None:
            done, self._play_done, self._play = self._play_done, None, None
            done.set(result)

    def _finish_join(self, reason: str) -> None:
        if self._join_done is not None:
            done, self._join_done = self._join_done, None
            done.set(reason)

    def _read_input(self, tick: int) -> Optional[np.ndarray]:
        """This tick's input frame int16 ``(F,)``; None = the source ended."""
        if self._source_ended:
            return None
        if self.network is not None:
            return self._read_network(tick)
        f = self.source.next_frame()
        if f is None:
            self._source_ended = True
        return f

    def _read_network(self, tick: int) -> Optional[np.ndarray]:
        """Caller audio over an emulated network: one packet per 20 ms (seq, timestamp = caller time),
        through :class:`~.netem.NetEm`, into this call's :class:`~.jitter.JitterBuffer` (size from
        JoinMember.jitter_buffer_ms; a new buffer on every join), one frame out per tick."""
        now_ms = (tick - self.start_tick) * FRAME_MS
        if self.jitter is None:
            size = self.member.jitter_ms if self.member else None
            self.jitter = JitterBuffer(size, frame_ms=FRAME_MS, frame_len=self.engine.frame_len)
        if not self._net_src_done:
            f = self.source.next_frame()
            if f is None:
                self._net_src_done = True
            else:
                self.network.send(now_ms // FRAME_MS, now_ms, f, now_ms)
        for pkt in self.network.deliver(now_ms):
            self.jitter.push(pkt.seq, pkt.timestamp_ms, pkt.payload, now_ms)
        out = self.jitter.pop(now_ms)
        if self._net_src_done and self.network.idle() and self.jitter.empty():
            self._source_ended = True
        return out


class _Member:
    """A call in a room (engine-internal)."""

    __slots__ = ("id", "call", "room", "slot", "muted", "hold", "waiting", "enter_beep", "exit_beep",
                 "end_conference", "gain", "jitter_ms", "hold_media", "wait_media", "plays", "coach_of",
                 "member_type")

    def __init__(self, mid: int, call: VirtualCallLeg, room: "_Room", slot: int, cmd: C.JoinMember):
        self.id = mid
        self.call = call
        self.room = room
        self.slot = slot
        self.muted = cmd.muted
        self.hold = False
        self.waiting = cmd.waiting
        self.enter_beep = cmd.enter_beep
        self.exit_beep = cmd.exit_beep
        self.end_conference = cmd.end_conference
        self.gain = 1.0
        self.jitter_ms = cmd.jitter_buffer_ms
        self.hold_media: Optional[Playlist] = None
        self.wait_media: Optional[Playlist] = None
        self.plays: Deque[Playlist] = deque()
        self.coach_of: Optional[int] = None   # member id this coach is heard by
        self.member_type = "member"


class _RoomPlay:
    """A playback to the whole room; ``exclude`` = member ids that must not hear it (own beep)."""

    __slots__ = ("playlist", "exclude")

    def __init__(self, playlist: Playlist, exclude=()):
        self.playlist = playlist
        self.exclude = set(exclude)


class _Room:
    """One conference: member slots as numpy arrays (capacity grows by doubling)."""

    def __init__(self, engine: "StandaloneEngine", name: str, max_members: int):
        self.engine = engine
        self.name = name
        self.max_members = max_members
        self.members: Dict[int, _Member] = {}
        self.capacity = 0
        self.frames = np.zeros((0, engine.frame_len), np.int16)
        self.gain = np.zeros(0, np.float32)
        self.free: List[int] = []
        self.talk = TalkDetectorBank(capacity=0, energy_level=engine.energy_level, hangunder=engine.hangunder,
                                     hangover=engine.hangover, mode=engine.talk_mode, vad_mode=engine.vad_mode,
                                     rate=engine.rate, auto_factor=engine.auto_energy_factor)
        self.dirty = True
        self.heard = self.hears = self.talk_active = np.zeros(0, bool)
        self.coach_of = np.zeros(0, np.int64)
        self.slot_member: List[Optional[_Member]] = []
        self.overlay_members: List[_Member] = []   # members with hold/wait music or private plays
        self.capture_members: List[_Member] = []   # members whose call keeps what it heard
        self.beeps: List[_RoomPlay] = []
        self.announcements: Deque[_RoomPlay] = deque()
        self.recorders: Dict[str, Recorder] = {}

    def alloc_slot(self) -> int:
        """A free member slot index (arrays grow ×2, min 4, when full)."""
        if not self.free:
            old = self.capacity
            new = max(4, old * 2)
            self.frames = np.concatenate([self.frames, np.zeros((new - old, self.frames.shape[1]), np.int16)])
            self.gain = np.concatenate([self.gain, np.ones(new - old, np.float32)])
            self.slot_member += [None] * (new - old)
            self.talk.grow(new)
            self.free = list(range(new - 1, old - 1, -1))
            self.capacity = new
        return self.free.pop()

    def free_slot(self, slot: int) -> None:
        """Release ``slot``: its input frame zeroed, gain 1, talk state reset (no event)."""
        self.frames[slot] = 0
        self.gain[slot] = 1.0
        self.slot_member[slot] = None
        self.talk.reset(slot)
        self.free.append(slot)
        self.dirty = True

    def rebuild(self) -> None:
        """Recompute the per-slot masks from member flags (only after a state change)."""
        cap = self.capacity
        heard = np.zeros(cap, bool)
        hears = np.zeros(cap, bool)
        talk_active = np.zeros(cap, bool)
        coach_of = np.full(cap, -1, np.int64)
        for m in self.members.values():
            s = m.slot
            self.gain[s] = m.gain
            heard[s] = not (m.muted or m.hold or m.waiting)
            hears[s] = not (m.hold or m.waiting)
            talk_active[s] = not (m.muted or m.hold)
            if m.coach_of is not None and m.coach_of in self.members:
                coach_of[s] = self.members[m.coach_of].slot
        self.heard, self.hears, self.talk_active, self.coach_of = heard, hears, talk_active, coach_of
        ms = list(self.members.values())
        self.overlay_members = [m for m in ms if m.hold_media is not None or m.wait_media is not None or m.plays]
        self.capture_members = [m for m in ms if m.call.heard is not None]
        self.dirty = False


class StandaloneEngine:
    """The numpy conference engine (implements :class:`fsbridge.engines.base.Engine`).

    ``rate``: conference rate, Hz (8000/16000/48000; frames of 20 ms = 160/320/960 samples).
    ``clock``: a :class:`Clock` (default real time; ``Clock(speed=None)`` = simulated, as fast as possible).
    ``energy_level``/``hangunder``/``hangover``: FreeSWITCH talk detection (mean |sample| threshold, frames
    to start, frames to stop); ``talk_mode``: ``"energy"`` or ``"webrtcvad"`` (``vad_mode`` 0–3);
    ``auto_energy_factor``: None (FreeSWITCH) or e.g. 2.0 — threshold = max(energy_level, factor × the
    member's noise floor), for noisy lines (see :class:`~.talk.TalkDetectorBank`).
    ``capture_heard``: keep what each call heard (VirtualCallLeg.heard). ``moh``: nothing to configure —
    ``local_stream://moh`` is resolved by :mod:`.media`.
    """

    def __init__(self, rate: int = 16000, clock: Optional[Clock] = None, energy_level: int = DEFAULT_ENERGY_LEVEL,
                 hangunder: int = HANGUNDER, hangover: int = HANGOVER, talk_mode: str = "energy",
                 vad_mode: int = 2, capture_heard: bool = True, first_member_id: int = 1,
                 auto_energy_factor: Optional[float] = None):
        if rate not in RATES:
            raise ValueError(f"rate must be one of {RATES}")
        self.rate = rate
        self.frame_len = frame_len(rate)
        self.clock = clock or Clock(speed=1.0)
        self.energy_level = energy_level
        self.hangunder = hangunder
        self.hangover = hangover
        self.talk_mode = talk_mode
        self.vad_mode = vad_mode
        self.auto_energy_factor = auto_energy_factor
        self.capture_heard = capture_heard
        self._zero = np.zeros(self.frame_len, np.int16)
        self._zero.setflags(write=False)
        self._ids = itertools.count(first_member_id)
        self._rooms: Dict[str, _Room] = {}
        self._calls: Dict[str, VirtualCallLeg] = {}
        self._members: Dict[int, _Member] = {}
        self._sink: Optional[EventSink] = None
        self._pending: List[object] = []          # events / callables produced since the last flush
        self._queue: gevent.queue.Queue = gevent.queue.Queue()
        self._dispatcher: Optional[gevent.Greenlet] = None
        self._ticker: Optional[gevent.Greenlet] = None
        self._in_tick = False
        self.events: Deque[NativeEvent] = deque(maxlen=10000)  # recent events (debugging / tests)

    # ------------------------------------------------------------------------ Engine protocol ----
    def set_event_sink(self, sink: EventSink) -> None:
        """Where native events go (called from one greenlet, in engine order)."""
        self._sink = sink

    def start(self) -> None:
        """Start the dispatcher greenlet and the clock loop (ticks every 20 ms of engine time)."""
        if self._dispatcher is None:
            self._dispatcher = gevent.spawn(self._dispatch_loop)
        if self._ticker is None:
            self._ticker = gevent.spawn(self.clock.run, self._tick)

    def stop(self) -> None:
        """Stop ticking, deliver pending events, stop the dispatcher. Rooms are left as they are."""
        self.clock.stop()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
            self._ticker.kill()
            self._ticker = None
        self._handoff()
        if self._dispatcher is not None:
            self._queue.put(StopIteration)
            self._dispatcher.join(timeout=2)
            self._dispatcher.kill()
            self._dispatcher = None
        self.flush()

    def snapshot(self) -> List[MemberSnapshot]:
        """Every member now, as FreeSWITCH ``json_list`` would list them."""
        out = []
        for room in self._rooms.values():
            for m in room.members.values():
                out.append(MemberSnapshot(room=room.name, member_id=m.id, unique_id=m.call.unique_id,
                                          muted=m.muted, deaf=m.hold, hold=m.hold,
                                          talking=bool(room.talk.talking[m.slot])))
        return out

    def execute(self, command) -> None:
        """Carry out a :mod:`fsbridge.conference.commands` command; raises :class:`EngineError` for an
        unknown room/member/recording or unplayable room media. Effects are audible from the next tick."""
        handler = getattr(self, "_do_" + type(command).__name__, None)
        if handler is None:
            raise EngineError(f"unsupported command {type(command).__name__}")
        try:
            handler(command)
        finally:
            self._handoff()

    # ------------------------------------------------------------------------ calls -------------
    def create_call(self, unique_id: str, source: Source, from_: str = "", to: str = "",
                    dtmf: Sequence[Tuple[str, float]] = (), hangup_after_s: Optional[float] = None,
                    hangup_at_end: bool = True, network=None, capture_heard: Optional[bool] = None,
                    loop: bool = False, heard_path: Optional[str] = None) -> VirtualCallLeg:
        """A virtual caller.

        ``source``: a media reference string (file path, ``tone_stream://``, ``silence_stream://ms``,
        ``local_stream://moh``) or a frame source object (``next_frame() -> int16 (F,) | None``, e.g.
        :class:`~.sources.QueueSource` for live audio). ``dtmf``: ``[(digit, at_s)]`` sent at ``at_s``
        seconds after answer. ``hangup_after_s``: the caller hangs up then. ``hangup_at_end``: the caller
        hangs up when its source ends (else it goes silent). ``network``: a :class:`~.netem.NetEm` — audio
        then travels as packets through it and a per-call jitter buffer (JoinMember.jitter_buffer_ms).
        ``loop``: loop a file/tone source. ``heard_path``: write what the caller heard (mono WAV at the
        conference rate) there when the call hangs up. A hung-up call is forgotten by the engine (its
        ``unique_id`` can be reused).
        """
        if unique_id in self._calls and not self._calls[unique_id].hung_up:
            raise EngineError(f"call {unique_id} exists")
        if isinstance(source, str):
            try:
                source = open_media(source, self.rate, loop=loop)
            except MediaError as exc:
                raise EngineError(str(exc)) from exc
        leg = VirtualCallLeg(self, unique_id, source, from_, to, dtmf, hangup_after_s, hangup_at_end, network,
                             self.capture_heard if capture_heard is None else capture_heard)
        leg.heard_path = heard_path
        self._calls[unique_id] = leg
        return leg

    def get_call(self, unique_id: str) -> Optional[VirtualCallLeg]:
        """The call with this id (None if unknown)."""
        return self._calls.get(unique_id)

    def _opener(self, ref: str):
        return open_media(ref, self.rate)

    def _hangup_call(self, call: VirtualCallLeg, cause: str) -> None:
        if call.hung_up:
            return
        if call.member is not None:
            self._remove_member(call.member, "hangup", cause=cause)
        call.hung_up = True
        call.hangup_cause = cause
        if self._calls.get(call.unique_id) is call:
            del self._calls[call.unique_id]
        call._stop_play(False)
        call._finish_join("hangup")
        if call.heard_path and call.heard is not None:
            try:
                call.heard.save(call.heard_path)
            except Exception:
                log.exception("cannot write %s", call.heard_path)
        self._emit(N.CHANNEL_HANGUP_COMPLETE, None, call.unique_id, hangup_cause=cause,
                   extra=(("Caller-Caller-ID-Number", call.from_), ("Caller-Destination-Number", call.to)))
        self._handoff()

    # ------------------------------------------------------------------------ driving ------------
    def run_for(self, seconds: float) -> None:
        """Run ``seconds`` of engine time now, in the calling greenlet (tests, scripts). Uses the same
        :meth:`Clock.run` loop as :meth:`start`; with a simulated clock this is as fast as possible."""
        self.clock.run(self._tick, max_ticks=int(round(seconds * 1000 / self.clock.frame_ms)))
        self.flush()

    def run_until(self, predicate: Callable[[], bool], max_seconds: float = 600.0) -> bool:
        """Tick until ``predicate()`` is true (checked before each tick) or ``max_seconds`` of engine time
        passed; returns ``predicate()``."""
        self.clock.run(self._tick, until=predicate,
                       max_ticks=int(round(max_seconds * 1000 / self.clock.frame_ms)))
        self.flush()
        return bool(predicate())

    def flush(self) -> None:
        """Deliver every queued event to the sink now, in the calling greenlet (when not started)."""
        self._handoff()
        if self._dispatcher is not None:
            return
        while True:
            try:
                item = self._queue.get_nowait()
            except gevent.queue.Empty:
                return
            self._deliver(item)

    def _dispatch_loop(self) -> None:
        for item in self._queue:
            if item is StopIteration:
                return
            self._deliver(item)

    def _deliver(self, item) -> None:
        try:
            if isinstance(item, NativeEvent):
                if self._sink is not None:
                    self._sink(item)
            elif callable(item):
                item()
        except Exception:
            log.exception("event sink failed")

    def _handoff(self) -> None:
        if self._pending:
            for item in self._pending:
                self._queue.put(item)
            self._pending = []

    def _emit(self, action: str, room: Optional["_Room"], unique_id: Optional[str] = None,
              member: Optional[_Member] = None, **fields) -> NativeEvent:
        if member is not None:
            talking = bool(member.room.talk.talking[member.slot])   # alloc_slot grew the bank to the slot
            flags = (("Hear", _flag(not member.hold)), ("Speak", _flag(not member.muted)),
                     ("Talking", _flag(talking)), ("Hold", _flag(member.hold)),
                     ("Caller-Caller-ID-Number", member.call.from_),
                     ("Caller-Destination-Number", member.call.to))
            fields["extra"] = flags + tuple(fields.get("extra", ()))
            fields.setdefault("member_type", member.member_type)
            unique_id = member.call.unique_id
        if room is not None:
            fields.setdefault("conference_size", len(room.members))
        # Inside a tick the frame [t, t+20 ms) is being processed: decisions are made at its end.
        ts = self.clock.epoch_us() + (self.clock.frame_ms * 1000 if self._in_tick else 0)
        ev = NativeEvent(action=action, room=room.name if room else "", timestamp_us=ts,
                         unique_id=unique_id, member_id=member.id if member else fields.pop("member_id", None),
                         **{k: v for k, v in fields.items() if k != "member_id"})
        self.events.append(ev)
        self._pending.append(ev)
        return ev

    # ------------------------------------------------------------------------ the tick -----------
    def _tick(self) -> None:
        self._in_tick = True
        try:
            self._tick_inner()
        finally:
            self._in_tick = False
        if self._dispatcher is None:   # driven by hand (run_for/run_until): deliver after every tick
            self.flush()

    def _tick_inner(self) -> None:
        tick = self.clock.ticks
        zero = self._zero
        # 1. callers: schedules and input audio
        for call in list(self._calls.values()):
            if call.hung_up or call.start_tick is None:
                continue
            t_ms = (tick - call.start_tick) * FRAME_MS
            if call.hangup_after_ms is not None and t_ms >= call.hangup_after_ms:
                self._hangup_call(call, "NORMAL_CLEARING")
                continue
            while call.dtmf_schedule and call.dtmf_schedule[0][0] <= t_ms:
                _, digit = call.dtmf_schedule.popleft()
                self._emit(N.DTMF, None, call.unique_id, digits=digit,
                           extra=(("DTMF-Digit", digit), ("DTMF-Source", "RTP")))
                if call._dtmf_cb is not None:
                    cb = call._dtmf_cb
                    self._pending.append(lambda cb=cb, d=digit: cb(d))
            try:
                f = call._read_input(tick)
            except Exception:   # a broken source must not stop the clock: that caller "hangs up"
                log.exception("call %s: source failed", call.unique_id)
                self._hangup_call(call, "NORMAL_TEMPORARY_FAILURE")
                continue
            if f is None:
                if call.hangup_at_end:
                    self._hangup_call(call, "NORMAL_CLEARING")
                    continue
                f = zero
            m = call.member
            if m is not None:
                m.room.frames[m.slot] = f
            else:
                out = zero
                if call._play is not None:
                    pf = call._play.next_frame()
                    if pf is None:
                        call._stop_play(True)
                    else:
                        out = pf
                if call.heard is not None:
                    call.heard.add(out)
        # 2. rooms
        for room in list(self._rooms.values()):
            if room.members:
                try:
                    self._mix_room(room, tick)
                except Exception:   # never let one room stop the clock for every other room
                    log.exception("room %s: mixing failed at tick %d", room.name, tick)
        self._handoff()

    def _mix_room(self, room: _Room, tick: int) -> None:
        if room.dirty:
            room.rebuild()
        frames = room.frames
        started, stopped, dur = room.talk.update(frames, room.talk_active, tick)
        out, total = mix_n_minus_1(frames, room.heard, room.gain, room.coach_of)
        hears = room.hears
        anyone_hears = bool(hears.any())
        # room-level plays (announcements queue + beeps), heard by everyone who hears the room
        rec_extra = None
        plays = list(room.beeps)
        if room.announcements:
            plays.append(room.announcements[0])
        for rp in plays:
            pf = rp.playlist.next_frame()
            if pf is None:
                self._room_play_done(room, rp)
                continue
            mask = hears
            if rp.exclude:
                mask = hears.copy()
                for mid in rp.exclude:
                    m = room.members.get(mid)
                    if m is not None:
                        mask[m.slot] = False
            out[mask] += pf.astype(np.int32)
            rec_extra = pf.astype(np.int32) if rec_extra is None else rec_extra + pf
        out[~hears] = 0
        # per-member overlays: hold / wait music replace the room; private plays are added
        for m in room.overlay_members:
            if m.hold and m.hold_media is not None:
                hf = m.hold_media.next_frame()
                if hf is not None:
                    out[m.slot] = hf
            elif m.waiting and m.wait_media is not None:
                wf = m.wait_media.next_frame()
                if wf is not None:
                    out[m.slot] = wf
            if m.plays:
                pf = m.plays[0].next_frame()
                if pf is None:
                    pl = m.plays.popleft()
                    self._emit(N.PLAY_FILE_MEMBER_DONE, room, member=m, file=pl.last)
                else:
                    out[m.slot] += pf
        mixed = clip16(out)
        for m in room.capture_members:
            m.call.heard.add(mixed[m.slot])
        # recording: the room (never wait/hold music, never coaches)
        if room.recorders and anyone_hears:
            rec = total if rec_extra is None else total + rec_extra
            rec16 = clip16(rec)
            for r in room.recorders.values():
                r.write(rec16)
        for s in started:
            m = room.slot_member[s]
            if m is not None:
                self._emit(N.START_TALKING, room, member=m)
        for s, d in zip(stopped, dur):
            m = room.slot_member[s]
            if m is not None:
                self._emit(N.STOP_TALKING, room, member=m, duration_ms=int(d),
                           extra=(("talking-duration-ms", str(int(d))),))

    def _room_play_done(self, room: _Room, rp: _RoomPlay) -> None:
        if rp in room.beeps:
            room.beeps.remove(rp)
        elif room.announcements and room.announcements[0] is rp:
            room.announcements.popleft()
            if room.announcements:
                nxt = room.announcements[0]
                self._emit(N.PLAY_FILE, room, file=nxt.playlist.refs[0])
        self._emit(N.PLAY_FILE_DONE, room, file=rp.playlist.last)

    # ------------------------------------------------------------------------ membership --------
    def _room(self, name: str) -> _Room:
        room = self._rooms.get(name)
        if room is None:
            raise EngineError(f"Conference {name} not found")
        return room

    def _member(self, room_name: str, member_id: int) -> _Member:
        room = self._room(room_name)
        m = room.members.get(member_id)
        if m is None:
            raise EngineError(f"Non-Existant ID {member_id}")
        return m

    def _do_JoinMember(self, cmd: C.JoinMember) -> None:
        call = self._calls.get(cmd.unique_id)
        if call is None or call.hung_up:
            raise EngineError(f"No such channel {cmd.unique_id}")
        if call.member is not None:
            raise EngineError(f"{cmd.unique_id} is already in conference {call.member.room.name}")
        call.answer()
        call._stop_play(False)
        room = self._rooms.get(cmd.room)
        if room is None:
            room = _Room(self, cmd.room, cmd.max_members)
            self._rooms[cmd.room] = room
            self._emit(N.CONFERENCE_CREATE, room)
        if len(room.members) >= min(room.max_members, cmd.max_members):
            self._emit(N.JOIN_REFUSED, room, call.unique_id,
                       extra=(("Caller-Caller-ID-Number", call.from_),))
            call._finish_join("refused")
            if not room.members:
                self._destroy_room(room)
            return
        slot = room.alloc_slot()
        m = _Member(next(self._ids), call, room, slot, cmd)
        room.members[m.id] = m
        room.slot_member[slot] = m
        self._members[m.id] = m
        call.member = m
        call.jitter = None
        if cmd.waiting:
            m.wait_media = Playlist(cmd.wait_media, self._opener, loop=True) if cmd.wait_media else None
        room.dirty = True
        self._emit(N.ADD_MEMBER, room, member=m)
        if cmd.enter_beep and not cmd.waiting and self._others_hearing(room, m):
            room.beeps.append(_RoomPlay(Playlist([ENTER_TONE], self._opener), exclude={m.id}))

    def _others_hearing(self, room: _Room, me: Optional[_Member]) -> bool:
        return any(o is not me and not (o.hold or o.waiting) for o in room.members.values())

    def _remove_member(self, m: _Member, reason: str, cause: Optional[str] = None, kicked: bool = False,
                       ending: bool = False) -> None:
        room = m.room
        if room.members.get(m.id) is not m:
            return
        if kicked:
            self._emit(N.KICK_MEMBER, room, member=m)
        for p in list(m.plays):
            self._emit(N.PLAY_FILE_MEMBER_DONE, room, member=m, file=p.last)
        m.plays.clear()
        del room.members[m.id]
        self._members.pop(m.id, None)
        room.free_slot(m.slot)
        for o in room.members.values():   # a coach of someone who left is heard by nobody special now
            if o.coach_of == m.id:
                o.coach_of = None
        self._emit(N.DEL_MEMBER, room, member=m, hangup_cause=cause)
        m.call.member = None
        m.call.jitter = None
        m.call._finish_join(reason)
        if ending:
            return
        if m.end_conference and room.members:
            self._end_room(room)
            return
        if m.exit_beep and not m.waiting and not m.hold and self._others_hearing(room, None):
            room.beeps.append(_RoomPlay(Playlist([EXIT_TONE], self._opener)))
        if not room.members:
            self._destroy_room(room)

    def _end_room(self, room: _Room) -> None:
        for o in list(room.members.values()):
            self._remove_member(o, "left", ending=True)
        self._destroy_room(room)

    def _destroy_room(self, room: _Room) -> None:
        for path in list(room.recorders):
            self._stop_recording(room, path)
        for rp in list(room.beeps) + list(room.announcements):
            self._emit(N.PLAY_FILE_DONE, room, file=rp.playlist.last)
        room.beeps.clear()
        room.announcements.clear()
        self._emit(N.CONFERENCE_DESTROY, room)
        self._rooms.pop(room.name, None)

    # ------------------------------------------------------------------------ commands ----------
    def _do_StartConference(self, cmd: C.StartConference) -> None:
        room = self._room(cmd.room)
        done_refs: List[str] = []
        beep = False
        for m in room.members.values():
            if m.waiting:
                m.waiting = False
                beep = beep or m.enter_beep
                if m.wait_media is not None:
                    ref = m.wait_media.current or m.wait_media.last
                    if ref not in done_refs:
                        done_refs.append(ref)
                    m.wait_media = None
        room.dirty = True
        for ref in done_refs:
            self._emit(N.PLAY_FILE_DONE, room, file=ref)
        if beep and len(room.members) > 1:
            room.beeps.append(_RoomPlay(Playlist([ENTER_TONE], self._opener)))

    def _do_MuteMember(self, cmd: C.MuteMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.muted = True
        m.room.talk.reset(m.slot)   # FreeSWITCH: no stop-talking when a talker is muted (note 21)
        m.room.dirty = True
        self._emit(N.MUTE_MEMBER, m.room, member=m)

    def _do_UnmuteMember(self, cmd: C.UnmuteMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.muted = False
        m.room.dirty = True
        self._emit(N.UNMUTE_MEMBER, m.room, member=m)

    def _do_HoldMember(self, cmd: C.HoldMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.hold = True
        m.hold_media = Playlist(cmd.media, self._opener, loop=True) if cmd.media else None
        m.room.talk.reset(m.slot)
        m.room.dirty = True
        self._emit(N.HOLD_MEMBER, m.room, member=m)

    def _do_UnholdMember(self, cmd: C.UnholdMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        was = m.hold_media
        m.hold = False
        m.hold_media = None
        m.room.dirty = True
        self._emit(N.UNHOLD_MEMBER, m.room, member=m)
        if was is not None:   # FreeSWITCH: unhold stops the hold file → play-file-member-done (note 17)
            self._emit(N.PLAY_FILE_MEMBER_DONE, m.room, member=m, file=was.current or was.last)

    def _do_KickMember(self, cmd: C.KickMember) -> None:
        m = self._member(cmd.room, cmd.member_id)
        self._remove_member(m, "left", kicked=True)

    def _do_SetCoach(self, cmd: C.SetCoach) -> None:
        m = self._member(cmd.room, cmd.coach_member_id)
        if cmd.coached_member_id is not None and cmd.coached_member_id not in m.room.members:
            raise EngineError(f"Non-Existant ID {cmd.coached_member_id}")
        m.coach_of = cmd.coached_member_id
        m.room.dirty = True

    def _do_SetExitBeep(self, cmd: C.SetExitBeep) -> None:
        m = self._member(cmd.room, cmd.member_id)
        m.exit_beep = cmd.enabled

    def _do_PlayMedia(self, cmd: C.PlayMedia) -> None:
        room = self._room(cmd.room)
        for ref in cmd.media:
            try:
                check_media(ref)
            except MediaError as exc:
                if cmd.member_id is None:   # FreeSWITCH: play-file with Error (note 14); member: -ERR only
                    self._emit(N.PLAY_FILE, room, file=ref, error="File could not be played")
                raise EngineError(f"-ERR (play) {exc}") from exc
        pl = Playlist(cmd.media, self._opener)
        if cmd.member_id is not None:
            m = self._member(cmd.room, cmd.member_id)
            m.plays.append(pl)
            room.dirty = True
            return
        room.announcements.append(_RoomPlay(pl))
        if len(room.announcements) == 1:
            self._emit(N.PLAY_FILE, room, file=cmd.media[0] if cmd.media else "")

    def _do_StartRecording(self, cmd: C.StartRecording) -> None:
        room = self._room(cmd.room)
        if cmd.path in room.recorders:
            raise EngineError(f"already recording {cmd.path}")
        try:
            room.recorders[cmd.path] = Recorder(cmd.path, self.rate, trim_silence=cmd.trim_silence)
        except Exception as exc:
            raise EngineError(f"cannot record to {cmd.path}: {exc}") from exc
        self._emit(N.START_RECORDING, room, path=cmd.path)

    def _recorder(self, room_name: str, path: str) -> Tuple[_Room, Recorder]:
        room = self._room(room_name)
        r = room.recorders.get(path)
        if r is None:
            raise EngineError(f"not recording {path}")
        return room, r

    def _do_PauseRecording(self, cmd: C.PauseRecording) -> None:
        room, r = self._recorder(cmd.room, cmd.path)
        r.pause()
        self._emit(N.PAUSE_RECORDING, room, path=cmd.path)

    def _do_ResumeRecording(self, cmd: C.ResumeRecording) -> None:
        room, r = self._recorder(cmd.room, cmd.path)
        r.resume()
        self._emit(N.RESUME_RECORDING, room, path=cmd.path)

    def _do_StopRecording(self, cmd: C.StopRecording) -> None:
        """Idempotent: a recording (or room) that already ended is not an error — the engine stops open
        recordings itself when the room is destroyed, and the domain may ask again."""
        room = self._rooms.get(cmd.room)
        if room is None or cmd.path not in room.recorders:
            log.debug("stop of recording %s in %s: already stopped", cmd.path, cmd.room)
            return
        self._stop_recording(room, cmd.path)

    def _stop_recording(self, room: _Room, path: str) -> None:
        r = room.recorders.pop(path)
        info = r.close()
        self._emit(N.STOP_RECORDING, room, path=path, duration_ms=info["duration_ms"], file_size=info["file_size"],
                   extra=(("Samples-Out", str(info["samples"])), ("Samplerate", str(self.rate)),
                          ("Milliseconds-Elapsed", str(info["duration_ms"])),
                          ("Record-File-Size", str(info["file_size"]))))

    def _do_EndConference(self, cmd: C.EndConference) -> None:
        self._end_room(self._room(cmd.room))

    # ------------------------------------------------------------------------ extras ------------
    def set_gain(self, room: str, member_id: int, gain: float) -> None:
        """Per-member input gain (linear; FreeSWITCH ``volume_in``), applied in the mix from the next tick."""
        m = self._member(room, member_id)
        m.gain = float(gain)
        m.room.dirty = True

    def rooms(self) -> List[str]:
        """Names of the rooms that exist now."""
        return list(self._rooms)
