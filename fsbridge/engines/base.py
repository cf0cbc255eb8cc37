"""What every engine (standalone, FreeSWITCH) offers the runtime.

An engine executes :mod:`fsbridge.conference.commands` and reports :class:`NativeEvent`s to one sink.
Calls themselves (answer, play outside a conference, DTMF, hangup, waiting while in a room) are
:class:`CallLeg`s. Only the composition root (``app.py``, ``cli.py``, ``fsbridge/local.py``) names a concrete
engine; the runtime knows this module only (tests/test_layers.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Protocol, Sequence, Tuple, Union

from fsbridge.conference.commands import Command
from fsbridge.conference.native import EngineSnapshot, MemberSnapshot, NativeEvent

#: receives NativeEvents and, after an engine (re)connected, one EngineSnapshot (the domain's resync path)
EventSink = Callable[[Union[NativeEvent, EngineSnapshot]], None]


class EngineError(Exception):
    """A command the engine could not carry out (bad member id, FreeSWITCH ``-ERR`` …)."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached now (ESL disconnected); the REST API answers 503."""


class NotSupported(EngineError):
    """The engine cannot do this at all (the standalone engine cannot ``originate`` to a phone number; the
    FreeSWITCH engine cannot ``create_call`` a virtual caller). ``can_originate`` / ``can_create_calls``
    say so up front."""


@dataclass(frozen=True)
class AudioFork:
    """Stream one call's audio to a websocket (jambonz ``listen``; FreeSWITCH mod_audio_fork's wire format):
    one text frame ``metadata`` (JSON text) first, then binary frames of 16-bit little-endian PCM (L16) at
    ``sample_rate`` Hz. ``mix_type``: ``mono`` (what the caller says), ``mixed`` (that plus what the caller
    hears, one channel), ``stereo`` (two interleaved channels: left the caller, right what it hears).
    ``username``/``password``: HTTP Basic auth for the handshake (None = none). ``egress``: the
    :class:`fsbridge.egress.EgressPolicy` an engine that connects by itself must connect through (None = the
    caller checked the URL)."""

    url: str
    mix_type: str
    sample_rate: int
    metadata: str
    username: Optional[str] = None
    password: Optional[str] = None
    egress: Any = None


class Timer(Protocol):
    """A scheduled callback (:meth:`Engine.call_later`)."""

    def cancel(self) -> None:
        """Do not run the callback (idempotent)."""


class DialJob(Protocol):
    """An engine dial-out in progress (:meth:`Engine.originate`)."""

    def wait(self, timeout: Optional[float] = None) -> Tuple[str, str]:
        """Block until the outcome: ``(status, detail)``, status ``answered`` | ``busy`` | ``no-answer`` |
        ``failed`` | ``canceled`` (Twilio CallStatus words); raises on no result within ``timeout`` s."""


class Engine(Protocol):
    """A conference engine: everything the runtime asks of one, nothing else (no probing).

    ``execute`` raises :class:`EngineError` / :class:`EngineUnavailable`; it never blocks for long.
    Events go to the sink set by ``set_event_sink``, in engine order, from one greenlet at a time.
    ``snapshot`` lists the members the engine has now (for ``ConferenceState.resync``).

    Capabilities (declared, never probed): ``can_originate`` (dial a phone number / SIP URI: FreeSWITCH),
    ``can_create_calls`` (virtual callers whose audio is a media reference: standalone). A method the engine
    cannot carry out raises :class:`NotSupported`. ``rate``: Hz the engine mixes at (media prepared for it —
    Say renderings — is written at this rate). ``available``: False while the engine cannot be reached
    (ESL down; the REST API answers 503).
    """

    rate: int
    can_originate: bool
    can_create_calls: bool

    @property
    def available(self) -> bool:
        """False while the engine is unreachable (REST writes answer 503)."""

    def set_event_sink(self, sink: EventSink) -> None:
        """Send every NativeEvent to ``sink`` (called in engine order, never concurrently); an engine that
        can lose sight of its rooms (FreeSWITCH: ESL reconnect) sends one EngineSnapshot after regaining it."""

    def set_call_handler(self, on_call: Callable[["CallLeg"], None]) -> None:
        """The runtime's ``on_call(leg)`` for each call the engine receives (FreeSWITCH outbound socket;
        the standalone engine receives none and only remembers it)."""

    def execute(self, command: Command) -> None:
        """Carry out one command (JoinMember included: the call's leg then reports through
        :meth:`CallLeg.wait_left`); raises EngineError (refused) or EngineUnavailable (unreachable)."""

    def snapshot(self) -> List[MemberSnapshot]:
        """The members the engine has now, every room (FreeSWITCH ``json_list``)."""

    def start(self) -> None:
        """Connect / start ticking; returns at once."""

    def stop(self) -> None:
        """Disconnect / stop ticking."""

    # ---- recovery (issue 15; optional: the runtime reads them with getattr)
    #: True when calls live outside the bridge process (FreeSWITCH): at shutdown the runtime calls
    #: :meth:`refuse_calls`, then detaches calls in a room (``CallLeg.detach``) instead of hanging them up.
    calls_outlive_bridge: bool = False

    def refuse_calls(self) -> None:
        """Stop accepting new calls (drain); calls already running go on."""

    def set_state_store(self, store) -> None:
        """Optional: keep small facts across bridge restarts in ``store`` (``engine_value(key)``,
        ``set_engine_value(key, value)``) — FreeSWITCH keeps its ``${core_uuid}`` there."""

    def adopt_call(self, unique_id: str, call_sid: str, room: str, member_id: Optional[int]) -> "CallLeg":
        """Only where ``calls_outlive_bridge``: take over a call a previous bridge left in ``room`` (issue 15).
        The leg returned serves ``wait_left``/``leave``/``hangup``/``on_dtmf``/``detach`` while the call is in
        the room, and ``wait_reentry(timeout)`` → the call's new leg (or None) once it left alive."""
        raise NotSupported("this engine's calls do not outlive the bridge")

    # ---- time
    def now_us(self) -> int:
        """Engine time, µs since the epoch (standalone: its clock, possibly faster than real time;
        FreeSWITCH: the wall clock)."""

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Timer:
        """Run ``fn()`` (own greenlet) after ``seconds`` of engine time; returns a :class:`Timer`."""

    # ---- calls
    def create_call(self, unique_id: str, source, from_: str = "", to: str = "",
                    dtmf: Sequence[Tuple[str, float]] = (), hangup_after_s: Optional[float] = None,
                    *, loop: bool = False) -> "CallLeg":
        """A virtual caller whose audio is ``source`` (media reference or frame source); the runtime passes
        the CallSid as ``unique_id``. ``dtmf``: ``((digits, at_s), …)`` after answer; ``hangup_after_s``;
        ``loop`` the source. Raises EngineError (unreadable audio) or :class:`NotSupported`."""

    def originate(self, to: str, from_: str, call_sid: str, timeout_s: int = 30) -> DialJob:
        """Dial ``to`` (number, ``sip:`` URI, dial string); the answered call comes back through the call
        handler as a leg whose ``call_sid`` is ``call_sid``. Raises EngineError or :class:`NotSupported`."""

    # ---- media preparation
    def warm_up(self) -> None:
        """Prepare default media (standalone: decode the hold music) before the first call; may block
        (runs in a worker thread); never raises."""

    def preload(self, ref: str) -> None:
        """Load a virtual call's audio file ahead of ``create_call`` (a worker thread: a long file does not
        stall the engine); errors are left for ``create_call`` to report. No-op where nothing is loaded."""

    def render_say(self, text: str, voice: str, language: str, out_dir: str) -> str:
        """``<Say>`` rendered to an audio file the engine can play (a WAV at ``rate`` Hz, cached in
        ``out_dir``); returns its path. Raises on failure (the runtime then plays silence)."""


class CallLeg(Protocol):
    """One call as the runtime drives it.

    ``unique_id``: engine channel id; ``call_sid``: the CallSid the engine knows for it (a dial-out's or a
    virtual call's), else None. ``play`` blocks until the media finished (returns True) or the call hung up
    / was interrupted (False). A call joins through ``engine.execute(JoinMember)``; ``wait_left`` then
    blocks while the call is in the conference and returns why it left: ``"left"`` (kicked, room ended,
    hangupOnStar, timeLimit), ``"hangup"``, ``"refused"`` (room full). ``leave`` takes the call out of its
    conference (``wait_left`` returns "left"). ``dtmf`` is called with each digit received (hangupOnStar
    watches for ``*``).
    """

    unique_id: str
    call_sid: Optional[str]
    from_: str
    to: str
    hung_up: bool

    def answer(self) -> None:
        """Answer the call (idempotent)."""

    def play(self, media: Iterable[str]) -> bool:
        """Play media references in order; True when finished, False when hung up / interrupted."""

    def wait_left(self) -> str:
        """After ``engine.execute(JoinMember)`` for this call: block until it left the room — "left",
        "hangup" or "refused" (re-raises an EngineError of the join). Without a join: "hangup" if hung up,
        else "left"."""

    def leave(self) -> None:
        """Take the call out of its conference (``wait_left`` returns "left")."""

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the call up with a FreeSWITCH hangup cause name."""

    def on_dtmf(self, callback: Optional[Callable[[str], None]]) -> None:
        """Call ``callback(digit)`` for each DTMF digit received (None = stop)."""

    def start_fork(self, fork: AudioFork) -> None:
        """Start streaming this call's audio as ``fork`` says (jambonz listen) while it is in a conference;
        returns at once (the connection is made in the background). Raises :class:`NotSupported` when the
        engine cannot stream (FreeSWITCH without mod_audio_fork), EngineError when the start is refused."""

    def fork_text(self, text: str) -> None:
        """Send a text frame on the running stream (jambonz passDtmf); nothing without one. Never raises."""

    def stop_fork(self) -> None:
        """Stop the stream and close its websocket (idempotent; never raises)."""

    def transfer(self, dialstring: str, timeout_s: float = 14400.0) -> bool:
        """Bridge this call to ``dialstring`` (FreeSWITCH: ``{sip_h_X-…=…}sofia/<profile>/<ext>@<host:port>``)
        and block until that bridge ended; True when the far end answered (the call then went on there),
        False when it could not be reached. Used to move a call to the cluster node that owns its room
        (issue 18). Raises :class:`NotSupported` (standalone: virtual calls move without SIP)."""
