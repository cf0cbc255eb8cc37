"""``<Hangup/>`` / jambonz ``hangup``: end the call. Source: Twilio TwiML ``<Hangup>``."""
from __future__ import annotations

from fsbridge.runtime.tasks.base import STOP, Task


class HangupTask(Task):
    """Hang the call up (cause NORMAL_CLEARING) and stop the document."""

    name = "hangup"

    def execute(self):
        """Hang up with NORMAL_CLEARING; STOP."""
        self.session.leg.hangup("NORMAL_CLEARING")
        return STOP
