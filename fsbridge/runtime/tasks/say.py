"""``<Say>`` / jambonz ``say``: speak text (espeak-ng) to the caller, ``loop`` times (0 = until interrupted).
Source: Twilio TwiML ``<Say>`` (voice, language, loop)."""
from __future__ import annotations

from fsbridge.runtime.tasks.base import STOP, Task


class SayTask(Task):
    """Render the text once (cached) and play it ``verb.loop`` times; STOP if the caller hangs up."""

    name = "say"

    def execute(self):
        """Render (cached) and play ``loop`` times; STOP if the caller hung up."""
        media = self.session.media.say(self.verb.text, self.verb.voice, self.verb.language)
        return play_looped(self, media, self.verb.loop)

    def describe(self) -> str:
        """``say '<text>'`` for the call log."""
        return f"say {self.verb.text[:40]!r}"


def play_looped(task: Task, media: str, loop: int):
    """Play ``media`` ``loop`` times (0 = until the call ends or the task is killed); STOP on hangup."""
    leg = task.session.leg
    count = 0
    while not task.killed and (loop <= 0 or count < loop):
        if not leg.play((media,)):
            return STOP if leg.hung_up else None
        count += 1
    return None
