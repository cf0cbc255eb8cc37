"""``<Play>`` / jambonz ``play``: play an audio URL to the caller ``loop`` times (0 = until interrupted).
Source: Twilio TwiML ``<Play>``; the audio is downloaded once into the media cache and played as a local file."""
from __future__ import annotations

from fsbridge.runtime.fetch import FetchError
from fsbridge.runtime.tasks.base import Task
from fsbridge.runtime.tasks.say import play_looped


class PlayTask(Task):
    """Resolve the URL (download / file / engine reference) and play it; a download failure is
    notification 11200 and the verb is skipped (Twilio continues with the next verb)."""

    name = "play"

    def execute(self):
        """Download (cached) and play ``loop`` times; a failed download is 11200 and skipped."""
        url = self.session.absolute(self.verb.url)
        try:
            media = self.session.media.play(url)
        except FetchError as exc:
            self.session.notify(exc.code, f"<Play> {url}: {exc.message}")
            return None
        return play_looped(self, media, self.verb.loop)

    def describe(self) -> str:
        """``play <url>`` for the call log."""
        return f"play {self.verb.url}"
