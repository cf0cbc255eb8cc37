"""``<Pause length=s>`` / jambonz ``pause``: silence for ``length`` seconds of engine time.
Source: Twilio TwiML ``<Pause>`` (default 1 s)."""
from __future__ import annotations

from fsbridge.runtime.media import silence
from fsbridge.runtime.tasks.base import STOP, Task


class PauseTask(Task):
    """Play ``silence_stream://<ms>``; STOP if the caller hangs up meanwhile."""

    name = "pause"

    def execute(self):
        """``length`` seconds of silence (engine time); STOP if the caller hung up."""
        leg = self.session.leg
        if not leg.play((silence(self.verb.length),)) and leg.hung_up:
            return STOP
        return None

    def describe(self) -> str:
        """``pause <n>s`` for the call log."""
        return f"pause {self.verb.length:g}s"
