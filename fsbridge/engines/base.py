"""What every engine (standalone, FreeSWITCH) offers the runtime.

An engine executes :mod:`fsbridge.conference.commands` and reports :class:`NativeEvent`s to one sink.
Calls themselves (answer, play outside a conference, DTMF, hangup, join and wait) are :class:`CallLeg`s.
"""
from __future__ import annotations

from typing import Callable, Iterable, List, Optional, Protocol

from fsbridge.conference.commands import Command, JoinMember
from fsbridge.conference.native import MemberSnapshot, NativeEvent

EventSink = Callable[[NativeEvent], None]


class EngineError(Exception):
    """A command the engine could not carry out (bad member id, FreeSWITCH ``-ERR`` …)."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached now (ESL disconnected); the REST API answers 503."""


class Engine(Protocol):
    """A conference engine.

    ``execute`` raises :class:`EngineError` / :class:`EngineUnavailable`; it never blocks for long.
    Events go to the sink set by ``set_event_sink``, in engine order, from one greenlet at a time.
    ``snapshot`` lists the members the engine has now (for ``ConferenceState.resync``).
    """

    def set_event_sink(self, sink: EventSink) -> None:
        """Send every NativeEvent to ``sink`` (called in engine order, never concurrently)."""

    def execute(self, command: Command) -> None:
        """Carry out one command; raises EngineError (refused) or EngineUnavailable (unreachable)."""

    def snapshot(self) -> List[MemberSnapshot]:
        """The members the engine has now, every room (FreeSWITCH ``json_list``)."""

    def start(self) -> None:
        """Connect / start ticking; returns at once."""

    def stop(self) -> None:
        """Disconnect / stop ticking."""


class CallLeg(Protocol):
    """One call as the runtime drives it.

    ``unique_id``: engine channel id. ``play`` blocks until the media finished (returns True) or the call
    hung up / was interrupted (False). ``join`` blocks while the call is in the conference and returns why
    it left: ``"left"`` (kicked, room ended, hangupOnStar, timeLimit), ``"hangup"``, ``"refused"`` (room
    full). ``leave`` takes the call out of its conference (its ``join`` returns "left"). ``dtmf`` is called
    with each digit received (hangupOnStar watches for ``*``).
    """

    unique_id: str
    from_: str
    to: str
    hung_up: bool

    def answer(self) -> None:
        """Answer the call (idempotent)."""

    def play(self, media: Iterable[str]) -> bool:
        """Play media references in order; True when finished, False when hung up / interrupted."""

    def join(self, command: JoinMember) -> str:
        """Join the room and block until leaving: "left", "hangup" or "refused"."""

    def leave(self) -> None:
        """Take the call out of its conference (its ``join`` returns "left")."""

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the call up with a FreeSWITCH hangup cause name."""

    def on_dtmf(self, callback: Optional[Callable[[str], None]]) -> None:
        """Call ``callback(digit)`` for each DTMF digit received (None = stop)."""
