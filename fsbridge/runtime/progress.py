"""Call progress (Twilio ``StatusCallback`` / ``StatusCallbackEvent`` / ``StatusCallbackMethod`` of Calls.json
and CreateParticipant): which call-progress events a call reports, and when.

Events and where they come from, on both engines:

* ``initiated`` — the call is placed (Calls.json accepted; a dial-out queued); CallStatus ``initiated``.
* ``ringing`` — the callee rings: a virtual call at once (it has no ring phase); a FreeSWITCH dial-out at its
  channel's CHANNEL_PROGRESS / CHANNEL_PROGRESS_MEDIA, or just before ``answered`` when FreeSWITCH reported
  no progress (an immediate answer); CallStatus ``ringing``.
* ``answered`` — the call session answered; CallStatus ``in-progress``.
* ``completed`` — the call ended; CallStatus ``completed``, or ``busy`` / ``no-answer`` / ``failed`` /
  ``canceled`` for a dial-out that never answered; ``CallDuration`` whole seconds since answer.

Only subscribed events are sent (Twilio: without ``StatusCallbackEvent`` only ``completed``); each is sent at
most once, in that order, through the durable outbox (``Dispatcher.enqueue_request``, queue key = CallSid).
``Timestamp`` and ``CallDuration`` use engine time. Source: Twilio Call resource "StatusCallbackEvent".
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Optional, Tuple

from fsbridge.callbacks.call_progress import call_progress_request
from fsbridge.wire import twilio as tw

log = logging.getLogger("fsbridge.runtime.progress")

INITIATED, RINGING, ANSWERED, COMPLETED = tw.CALL_EVENTS
_ORDER = (INITIATED, RINGING, ANSWERED, COMPLETED)
_STATUS = {INITIATED: tw.CALL_INITIATED, RINGING: tw.CALL_RINGING, ANSWERED: tw.CALL_IN_PROGRESS}


@dataclass(frozen=True)
class ProgressHook:
    """A call's StatusCallback: ``url`` (absolute http(s)), ``method`` GET|POST, ``events`` the subscribed
    StatusCallbackEvent words (Twilio default: only ``completed``)."""

    url: str
    method: str = "POST"
    events: Tuple[str, ...] = (COMPLETED,)


class CallProgress:
    """The progress reports of one call. ``send(request)``: commits a rendered request (the dispatcher's
    ``enqueue_request``); ``now_us()``: engine time. :meth:`report` is idempotent per event and keeps the
    order (a later event first sends nothing for skipped ones, except ``ringing`` before ``answered``)."""

    def __init__(self, hook: ProgressHook, *, account_sid: str, call_sid: str, from_: str, to: str,
                 direction: str, send, now_us):
        self.hook = hook
        self.account_sid, self.call_sid, self.from_, self.to, self.direction = (
            account_sid, call_sid, from_, to, direction)
        self._send, self._now_us = send, now_us
        self.reached = -1              # index in _ORDER of the last event reported
        self.sequence = 0              # the next SequenceNumber (Twilio: from 0)
        self.answered_us: Optional[int] = None

    def report(self, event: str, call_status: Optional[str] = None) -> None:
        """The call reached ``event`` (``initiated`` | ``ringing`` | ``answered`` | ``completed``);
        ``call_status`` overrides the CallStatus of ``completed`` (busy, no-answer, failed, canceled)."""
        index = _ORDER.index(event)
        if index <= self.reached:
            return
        if event == COMPLETED and self.answered_us is not None:
            call_status = None   # answered, then ended: completed, whatever went wrong afterwards
        if event == ANSWERED and self.reached < _ORDER.index(RINGING):
            self.report(RINGING)   # every answered call rang, if only for an instant
        self.reached = index
        now = self._now_us()
        if event == ANSWERED:
            self.answered_us = now
        if event not in self.hook.events:
            return
        duration = None
        if event == COMPLETED:
            duration = 0 if self.answered_us is None else max(0, int(round((now - self.answered_us) / 1e6)))
        req = call_progress_request(
            url=self.hook.url, method=self.hook.method, event=event, account_sid=self.account_sid,
            call_sid=self.call_sid, from_=self.from_, to=self.to, direction=self.direction,
            call_status=call_status or _STATUS.get(event, tw.CALL_COMPLETED), sequence_number=self.sequence,
            timestamp=datetime.fromtimestamp(now / 1e6, tz=timezone.utc), duration_s=duration)
        self.sequence += 1
        try:
            self._send(req)
        except Exception:   # the outbox is the bridge's memory: a failure is logged, the call goes on
            log.exception("call %s: call-progress %s could not be queued", self.call_sid, event)


class ProgressMixin:
    """Call progress of :class:`~fsbridge.runtime.bridge.Bridge`: trackers by CallSid."""

    _progress: Dict[str, CallProgress]

    def track_progress(self, hook: Optional[ProgressHook], *, account_sid: str, call_sid: str, from_: str,
                       to: str, direction: str) -> None:
        """Start reporting call progress for ``call_sid`` to ``hook`` (None: nothing to report); sends
        ``initiated`` when subscribed. Without a dispatcher nothing is sent."""
        if hook is None or self.dispatcher is None or not hasattr(self.dispatcher, "enqueue_request"):
            return
        if not hasattr(self, "_progress"):
            self._progress = {}
        tracker = CallProgress(hook, account_sid=account_sid, call_sid=call_sid, from_=from_, to=to,
                               direction=direction, send=self.dispatcher.enqueue_request, now_us=self.now_us)
        self._progress[call_sid] = tracker
        tracker.report(INITIATED)

    def call_progress(self, call_sid: Optional[str], event: str, call_status: Optional[str] = None) -> None:
        """Report ``event`` for ``call_sid`` if it is tracked (``completed`` ends the tracking). Raises nothing."""
        tracker = getattr(self, "_progress", {}).get(call_sid or "")
        if tracker is None:
            return
        if event == COMPLETED:
            self._progress.pop(call_sid, None)
        tracker.report(event, call_status)
