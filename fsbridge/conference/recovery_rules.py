"""A conference's recovery rules (issue 15), mixed into :class:`~fsbridge.conference.room.Conference`: what
happens when a resync finds the engine no longer has the room (:meth:`RecoveryRules.lost`) and when a
conference restored after a restart is adopted (:meth:`RecoveryRules.adopted`). Moved out of room.py to keep
modules small; the rules themselves are documented in docs/domain.md."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference.outcome import Out


class RecoveryRules:
    """Mixin of :class:`~fsbridge.conference.room.Conference` (uses its members, recordings and end rules)."""

    def lost(self, out: Out, ts: datetime, timestamp_us: int, files: dict, cause: Optional[str]) -> None:
        """The engine no longer has this room (resync; issue 15): running recordings complete from
        ``files`` (``path → (bytes, ms)``; a missing or empty file → recording-absent), REST dial-outs still
        queued and joins on their way fail, connected participants leave (``cause``: their hangup cause,
        None = unknown) in join order, then conference-end. Reasons, from Twilio's vocabulary: each
        participant ``participant_hung_up`` (the call ended without any API or moderator action — the only
        one of Twilio's words that does not claim one) unless an end was already decided, the conference
        ``last-participant-left`` with the last of them as CallSidEndingConference."""
        if self.status == R.CONF_COMPLETED:
            return
        for rec in self.active_recordings():
            size, ms = files.get(rec.path, (0, 0))
            self.on_recording(out, N.NativeEvent(N.STOP_RECORDING, self.sid, timestamp_us, path=rec.path,
                                                 file_size=size, duration_ms=ms, extra=(("resync", "true"),)), ts)
        joined = self.joined
        if not self.ending:
            kicked = bool(self.last_left and self.last_left[2]) and not joined
            self.ending_reason = R.LAST_PARTICIPANT_KICKED if kicked else R.LAST_PARTICIPANT_LEFT
            self.reason_text = "Last participant was kicked" if kicked else "Last participant left"
            last = (joined[-1].call_sid, joined[-1].label) if joined else (self.last_left or (None, None))[:2]
            self.call_sid_ending, self.label_ending = last
        self.adopted(out, ts)
        self._cancel_pending(out, ts)
        for m in joined:
            self.leave(out, m, ts, cause)
        if self.status != R.CONF_COMPLETED:
            self._finish(out, ts)

    def adopted(self, out: Out, ts: datetime) -> None:
        """A conference restored from the store after a bridge restart was resynced: its REST dial-outs
        still queued were lost with the bridge that placed them (participant-leave participant_add_failed,
        ParticipantCallStatus failed); then the end rules run."""
        for m in self.queued:
            self.index.cancel_dial(m.call_sid, self.sid)
            self.fail_pending(out, m, ts, R.CALL_FAILED)
