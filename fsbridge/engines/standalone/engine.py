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
network is emulated), one vectorised N−1 mix + talk detection of every room at once (:mod:`.pool`,
:mod:`.talk`), then, room by room where needed (:mod:`.mixer`), media overlays (hold/wait music, announcements, beeps), recording, then events are queued. Events reach the sink
from one dispatcher greenlet (``start()``), or from :meth:`StandaloneEngine.flush` / :meth:`run_for` when
the engine is driven by hand (tests) — never from inside the mixing code.
"""
from __future__ import annotations

import itertools
import logging
from collections import deque
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

import gevent
import gevent.queue
import numpy as np

from fsbridge.conference import native as N
from fsbridge.conference.native import CAUSE_CRASH, EngineSnapshot, MemberSnapshot, NativeEvent
from fsbridge.engines.base import EngineError, EventSink, NotSupported

from .clock import Clock
from .commands import COMMANDS, CommandsMixin
from .events import EventQueueMixin
from .tick import TickMixin
from .leg import VirtualCallLeg
from .netbank import NetBank
from .pool import MemberPool
from .quality import quality_extras
from .media import MediaError, moh_samples, open_media, render_say
from .rooms import RoomsMixin, _Member, _Room
from .sources import RATES, frame_len, load_audio
from .talk import DEFAULT_ENERGY_LEVEL, HANGOVER, HANGUNDER
from .timers import TimerClock

log = logging.getLogger(__name__)

Source = Union[str, object]

__all__ = ["StandaloneEngine", "VirtualCallLeg"]


class StandaloneEngine(EventQueueMixin, TickMixin, RoomsMixin, CommandsMixin):
    """The numpy conference engine (implements :class:`fsbridge.engines.base.Engine`).

    ``rate``: conference rate, Hz (8000/16000/48000; frames of 20 ms = 160/320/960 samples).
    ``clock``: a :class:`Clock` (default real time; ``Clock(speed=None)`` = simulated, as fast as possible).
    ``energy_level``/``hangunder``/``hangover``: FreeSWITCH talk detection (mean |sample| threshold, frames
    to start, frames to stop); ``talk_mode``: ``"energy"`` or ``"webrtcvad"`` (``vad_mode`` 0–3);
    ``auto_energy_factor``: None (FreeSWITCH) or e.g. 2.0 — the fsbridge auto level for noisy lines: each
    member's telephone-band level against its own tracked noise level (see :class:`~.talk.AutoLevel`).
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
        self._pool = MemberPool(self.frame_len, energy_level=energy_level, hangunder=hangunder, hangover=hangover,
                                mode=talk_mode, vad_mode=vad_mode, rate=rate, auto_factor=auto_energy_factor)
        self._calls: Dict[str, VirtualCallLeg] = {}
        self._netbank = NetBank(self.frame_len)   # every emulated network + jitter buffer (netbank.py)
        self._members: Dict[int, _Member] = {}
        self._sink: Optional[EventSink] = None
        self._pending: List[object] = []          # events / callables produced since the last flush
        self._queue: gevent.queue.Queue = gevent.queue.Queue()
        self._dispatcher: Optional[gevent.Greenlet] = None
        self._ticker: Optional[gevent.Greenlet] = None
        self._in_tick = False
        self.events: Deque[NativeEvent] = deque(maxlen=10000)  # recent events (debugging / tests)
        self._on_call: Optional[Callable[[VirtualCallLeg], None]] = None

    # ------------------------------------------------------------------------ Engine protocol ----
    def set_event_sink(self, sink: EventSink) -> None:
        """Where native events go (called from one greenlet, in engine order)."""
        self._sink = sink

    def start(self) -> None:
        """Start the dispatcher greenlet and the clock loop (ticks every 20 ms of engine time). The first
        start sends one EngineSnapshot (the rooms it has: none in a new process) through the event sink —
        the domain's start-up reconciliation: conferences a crashed bridge left open in the store end, their
        calls with cause CRASH (they lived in the dead process)."""
        if self._sink is not None and not getattr(self, "_snapshot_sent", False):
            self._snapshot_sent = True
            self._sink(EngineSnapshot(timestamp_us=self.now_us(), members=tuple(self.snapshot()),
                                      rooms=tuple(self.rooms()), lost_cause=CAUSE_CRASH))
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

    calls_outlive_bridge = False
    """Virtual calls live in this process: a bridge shutdown hangs them up."""

    def refuse_calls(self) -> None:
        """Nothing to refuse: the standalone engine receives no calls from outside (contract no-op)."""

    def set_state_store(self, store) -> None:
        """Nothing to keep across restarts (contract no-op)."""

    def adopt_call(self, unique_id, call_sid, room, member_id):
        """Never: virtual calls end with the bridge (contract; raises NotSupported)."""
        raise NotSupported("virtual calls do not outlive the bridge")

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
        """Carry out a :mod:`fsbridge.conference.commands` command through the :data:`~.commands.COMMANDS`
        table; raises :class:`EngineError` for an unknown room/member/recording or unplayable room media.
        Effects are audible from the next tick. A JoinMember's outcome comes from its leg's ``wait_left``."""
        handler = COMMANDS.get(type(command))
        if handler is None:
            raise EngineError(f"unsupported command {type(command).__name__}")
        try:
            handler(self, command)
        finally:
            self._handoff()

    can_originate = False
    can_create_calls = True

    @property
    def available(self) -> bool:
        """Always True: the engine is in this process."""
        return True

    def set_call_handler(self, on_call: Callable[[VirtualCallLeg], None]) -> None:
        """No calls arrive by themselves here (virtual calls are placed with :meth:`create_call`)."""
        self._on_call = on_call

    def now_us(self) -> int:
        """Engine time, µs since the epoch (the clock: simulated time may run faster than real time)."""
        return int(self.clock.epoch_us())

    def call_later(self, seconds: float, fn: Callable[[], None]):
        """Run ``fn`` after ``seconds`` of engine time: a :class:`~.timers.TimerClock` timer, else (a plain
        :class:`Clock`) a gevent timer in wall time. Returns an object with ``cancel()``."""
        if isinstance(self.clock, TimerClock):
            return self.clock.call_later(seconds, fn)
        return _GeventTimer(gevent.spawn_later(seconds, fn))

    def originate(self, to: str, from_: str, call_sid: str, timeout_s: int = 30):
        """Not here: the standalone engine has no phone network (virtual callees: :meth:`create_call`)."""
        raise NotSupported("the standalone engine dials virtual callees only (file:/path, tone:HZ)")

    def warm_up(self) -> None:
        """Decode the default hold music (and import the resampler) in a worker thread, so the first
        waiting caller does not stall the tick loop (and every greenlet) while it loads."""
        try:
            gevent.get_hub().threadpool.apply(moh_samples, (self.rate,))
        except Exception as exc:  # pragma: no cover - the engine falls back to generated music
            log.debug("hold music warm-up failed: %s", exc)

    def preload(self, ref: str) -> None:
        """Decode/resample a virtual call's audio file in a worker thread (the loader is cached), so that a
        long file does not stall the tick loop in the calling greenlet. Streams (``…://``) are skipped."""
        if "://" in ref:
            return
        try:
            gevent.get_hub().threadpool.apply(load_audio, (ref, self.rate))
        except Exception as exc:  # unreadable: create_call reports it
            log.debug("preload of %s failed: %s", ref, exc)

    def render_say(self, text: str, voice: str, language: str, out_dir: str) -> str:
        """``<Say>`` → a WAV at the engine rate (:func:`~.media.render_say`, espeak-ng, cached)."""
        return render_say(text, voice=voice, language=language, rate=self.rate, out_dir=out_dir)

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
        self._netbank.release(call)   # its NetEm counters and jitter stats out of the bank
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
                   extra=(("Caller-Caller-ID-Number", call.from_), ("Caller-Destination-Number", call.to))
                   + quality_extras(call.network, call.jitter or call.last_jitter))   # emulated-network quality (#22)
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

    # ------------------------------------------------------------------------ extras ------------
    def set_gain(self, room: str, member_id: int, gain: float) -> None:
        """Per-member input gain (linear; FreeSWITCH ``volume_in``), applied in the mix from the next tick."""
        m = self._member(room, member_id)
        m.gain = float(gain)
        m.room.dirty = True

    def rooms(self) -> List[str]:
        """Names of the rooms that exist now."""
        return list(self._rooms)


class _GeventTimer:
    """A gevent timer with ``cancel()`` (:meth:`StandaloneEngine.call_later` on a plain Clock)."""

    def __init__(self, greenlet: gevent.Greenlet):
        self._g = greenlet

    def cancel(self) -> None:
        """Do not run the callback (idempotent)."""
        self._g.kill(block=False)
