"""The standalone engine's virtual caller: a :class:`~fsbridge.engines.base.CallLeg` whose audio is a media
reference or a frame source, created by :meth:`StandaloneEngine.create_call` (engine.py)."""
from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Callable, Deque, Iterable, Optional, Sequence, Tuple

import gevent.event
import numpy as np

from fsbridge.conference import commands as C
from fsbridge.engines.base import AudioFork, EngineError, NotSupported

from .fork import WebSocketFork
from .media import MediaError, check_media
from .recorder import HeardCapture
from .sources import FRAME_MS, Playlist

if TYPE_CHECKING:  # pragma: no cover
    from .engine import StandaloneEngine
    from .rooms import _Member

log = logging.getLogger("fsbridge.engines.standalone.engine")
NET_PENDING = np.zeros(0, np.int16)   # "this call's frame comes from the NetBank after the call loop"


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
        self.call_sid: Optional[str] = unique_id
        self.from_ = from_
        self.to = to
        self.hung_up = False
        self.hangup_cause: Optional[str] = None
        self.answered = False
        self.source = source
        self.hangup_at_end = hangup_at_end
        self.network = network
        self.jitter = None
        self.last_jitter = None   # the jitter buffer of the call's last finished join (issue 22 quality)
        self.dtmf_schedule: Deque[Tuple[int, str]] = deque(
            sorted((int(round(at * 1000)), str(d)) for d, at in dtmf))
        self.hangup_after_ms = None if hangup_after_s is None else int(round(hangup_after_s * 1000))
        self.start_tick: Optional[int] = None
        self.member: Optional["_Member"] = None
        self.heard = HeardCapture(engine.rate) if capture_heard else None
        self._play: Optional[Playlist] = None
        self._play_done: Optional[gevent.event.AsyncResult] = None
        self._join_done: Optional[gevent.event.AsyncResult] = None
        self._join_result: Optional[gevent.event.AsyncResult] = None   # what wait_left returns
        self._dtmf_cb: Optional[Callable[[str], None]] = None
        self.received_dtmf: list = []   # digits sent to this caller (conference dtmf: jambonz distributeDtmf)
        self._source_ended = False
        self._net_src_done = False
        self._net_row: Optional[int] = None   # its row in the engine's NetBank (emulated network)
        self.heard_path: Optional[str] = None
        self.fork: Optional[WebSocketFork] = None   # jambonz listen: fed by the tick while in a room

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
        """``engine.execute(command)`` then :meth:`wait_left` (``command.unique_id`` must be this call's):
        blocks until the member leaves. Returns ``"left"`` (kicked, leave(), room ended), ``"hangup"`` or
        ``"refused"`` (room full)."""
        if self.hung_up:
            return "hangup"
        if command.unique_id != self.unique_id:
            raise EngineError(f"JoinMember for {command.unique_id} given to call {self.unique_id}")
        self.engine.execute(command)
        return self.wait_left()

    def wait_left(self) -> str:
        """After ``engine.execute(JoinMember)`` for this call: block until it left its room — "left",
        "hangup" or "refused". Without a pending join: "hangup" if hung up, else "left"."""
        result, self._join_result = self._join_result, None
        if result is None:
            return "hangup" if self.hung_up else "left"
        return result.get()

    def leave(self) -> None:
        """Take the call out of its conference (del-member); ``join`` returns "left"."""
        if self.member is not None:
            self.engine._remove_member(self.member, "left")

    def transfer(self, dialstring: str, timeout_s: float = 14400.0) -> bool:
        """Not for virtual calls (they are moved by re-creating them on the owning node, issue 18)."""
        raise NotSupported("a virtual call cannot be bridged over SIP")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang up (del-member with ``hangup_cause`` if in a room, then CHANNEL_HANGUP_COMPLETE)."""
        self.engine._hangup_call(self, cause)

    def on_dtmf(self, callback: Optional[Callable[[str], None]]) -> None:
        """Call ``callback(digit)`` (from the event greenlet) for every digit the caller sends."""
        self._dtmf_cb = callback

    def break_play(self) -> None:
        """Interrupt the current :meth:`play` (it returns False); no-op when nothing plays."""
        self._stop_play(False)

    def start_fork(self, fork: AudioFork) -> None:
        """Stream this call's audio (:class:`~.fork.WebSocketFork`) while it is in a room: the tick feeds
        it what the caller says and hears. A running stream is stopped first."""
        self.stop_fork()
        self.fork = WebSocketFork(fork, self.engine.rate)
        if self.member is not None:
            self.member.room.dirty = True

    def fork_text(self, text: str) -> None:
        """A text frame on the running stream (jambonz passDtmf); nothing without one."""
        if self.fork is not None:
            self.fork.send_text(text)

    def stop_fork(self) -> None:
        """Stop the stream (what is queued is still sent, then the websocket closes); idempotent."""
        fork, self.fork = self.fork, None
        if fork is not None:
            fork.stop()
            if self.member is not None:
                self.member.room.dirty = True

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

    def _start_join(self) -> None:
        """The engine accepted a JoinMember for this call: its outcome goes to :meth:`wait_left`."""
        self._join_done = self._join_result = gevent.event.AsyncResult()

    def _finish_join(self, reason: str) -> None:
        if self._join_done is not None:
            done, self._join_done = self._join_done, None
            done.set(reason)

    def _read_input(self, tick: int) -> Optional[np.ndarray]:
        """This tick's input frame int16 ``(F,)``; None = the source ended. With an emulated network:
        :data:`NET_PENDING` — the frame comes out of the engine's :class:`~.netbank.NetBank` after the
        tick's call loop (:meth:`_read_network` when the bank row or the buffer is still to be made, else
        just :meth:`_feed_bank`: this is the per-call step of every tick)."""
        if self._source_ended:
            return None
        if self.network is None:
            f = self.source.next_frame()
            if f is None:
                self._source_ended = True
            return f
        bank = self.engine._netbank
        row = self._net_row
        if row is None or self.jitter is None:
            return self._read_network(tick)
        self._feed_bank(bank, row)
        return NET_PENDING

    def _read_network(self, tick: int):
        """Caller audio over an emulated network: one packet per 20 ms (seq = ticks since answer, timestamp
        = caller time) through the call's :class:`~.netem.NetEm` into its jitter buffer (size from
        JoinMember.jitter_buffer_ms; a new buffer on every join and leave), one frame out per tick — all
        calls at once in the engine's :class:`~.netbank.NetBank`, which writes the frame into the member's
        pool row after the tick's call loop, and marks the source ended once it ended and the network and
        the buffer drained. Returns :data:`NET_PENDING`. (:meth:`_read_input` does the steady state.)"""
        bank = self.engine._netbank
        row = self._net_row
        if row is None:
            row = self._net_row = bank.attach(self)
        if self.jitter is None:
            m = self.member
            self.jitter = bank.new_buffer(row, m.jitter_ms if m is not None else None,
                                          m.slot if m is not None else -1)
        self._feed_bank(bank, row)
        return NET_PENDING

    def _feed_bank(self, bank, row: int) -> None:
        """Read this tick's source frame int16 ``(F,)`` into ``bank.sf[row]``; once the source ends, mark
        ``bank.src_done[row]`` (the bank drains the network and the buffer before it ends the input)."""
        if not self._net_src_done:
            f = self.source.next_frame()
            if f is None:
                self._net_src_done = True
                bank.src_done[row] = True
            else:
                bank.sf[row] = f
