"""The Task base: one class per verb, each with ``execute`` and ``kill`` (model: jambonz-feature-server
``lib/tasks/task.js``).

``execute()`` runs the verb on the session's call and returns what the session does next:
``None`` = continue with the next verb; a :class:`Goto` = replace the document (Redirect, Dial ``action``,
jambonz ``actionHook``); :data:`STOP` = the call is over (Hangup, caller hung up). ``kill()`` interrupts a
running task (the call hung up or the bridge is stopping).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from fsbridge.markup.model import Response


@dataclass(frozen=True)
class Goto:
    """Continue the call with ``response`` (fetched from ``url``, whose base resolves its relative URLs)."""

    response: Response
    url: str


class _Stop:
    def __repr__(self):
        return "STOP"


STOP = _Stop()


class Task:
    """Base of every verb task. ``verb``: the markup model object; ``session``: the
    :class:`~fsbridge.runtime.session.CallSession` running it."""

    name = "task"

    def __init__(self, verb, session):
        self.verb = verb
        self.session = session
        self.killed = False

    def execute(self) -> Optional[object]:
        """Run the verb; returns None, a :class:`Goto` or :data:`STOP`."""
        raise NotImplementedError

    def kill(self) -> None:
        """Interrupt the task (idempotent)."""
        self.killed = True

    def describe(self) -> str:
        """One short human-readable line for the call log."""
        return self.name
