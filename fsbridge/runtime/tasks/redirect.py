"""``<Redirect method>url</Redirect>``: fetch another document and continue with it.
Source: Twilio TwiML ``<Redirect>`` (relative URLs resolve against the current document's URL)."""
from __future__ import annotations

from fsbridge.runtime.tasks.base import Goto, Task


class RedirectTask(Task):
    """Fetch ``verb.url`` with ``verb.method``; the session handles fetch/parse errors (call ends)."""

    name = "redirect"

    def execute(self):
        """Fetch the target document; returns Goto (fetch/parse errors end the call in the session)."""
        url = self.session.absolute(self.verb.url)
        response = self.session.fetch_document(url, self.verb.method)
        return Goto(response, url)

    def describe(self) -> str:
        """``redirect <url>`` for the call log."""
        return f"redirect {self.verb.url}"
