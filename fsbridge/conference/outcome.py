"""What one input to the domain produces: :class:`Outcome` (engine commands + domain events), and the
collector the domain fills while it processes that input."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List


@dataclass(frozen=True)
class Outcome:
    """What one call into :class:`~fsbridge.conference.state.ConferenceState` produced.

    ``commands``: :mod:`fsbridge.conference.commands` objects to send to the engine, in order.
    ``events``: :class:`~fsbridge.conference.events.DomainEvent` s in sequence order (per conference), to
    record and dispatch.
    """

    commands: tuple = ()
    events: tuple = ()


EMPTY = Outcome()


class Out:
    """Collects commands and events while one input is processed."""

    def __init__(self) -> None:
        self.commands: List[object] = []
        self.events: List[object] = []

    def outcome(self) -> Outcome:
        """The frozen :class:`Outcome` of what was collected."""
        return Outcome(tuple(self.commands), tuple(self.events))


def dt(timestamp_us: int) -> datetime:
    """Engine time (µs since the epoch) → timezone-aware UTC datetime."""
    return datetime.fromtimestamp(timestamp_us / 1e6, tz=timezone.utc)
