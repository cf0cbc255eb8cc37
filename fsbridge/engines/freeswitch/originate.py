"""Dial-out on FreeSWITCH: ``bgapi originate`` jobs and what their BACKGROUND_JOB outcome means in Twilio
words (:func:`originate_status`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import gevent
import gevent.event

from fsbridge.engines.base import EngineError
from fsbridge.wire import twilio as tw

# originate failure causes → Twilio ParticipantCallStatus (FreeSWITCH 1.10.12 inbound/session:
# "-ERR USER_BUSY", "-ERR USER_NOT_REGISTERED", "-ERR NO_ANSWER"); see originate_status
CAUSE_STATUS = {
    "USER_BUSY": tw.CALL_BUSY,
    "CALL_REJECTED": tw.CALL_BUSY,
    "NO_ANSWER": tw.CALL_NO_ANSWER,
    "NO_USER_RESPONSE": tw.CALL_NO_ANSWER,
    "ALLOTTED_TIMEOUT": tw.CALL_NO_ANSWER,
    "ORIGINATOR_CANCEL": tw.CALL_NO_ANSWER,
}


def originate_status(cause: str) -> str:
    """A failed ``bgapi originate``'s hangup cause (the BACKGROUND_JOB ``-ERR <CAUSE>`` word) → the Twilio
    ParticipantCallStatus of the dial-out: ``busy`` | ``no-answer`` | ``failed``.

    * ``USER_BUSY`` (SIP 486/600) → busy: Twilio's "busy: the caller received a busy signal".
    * ``CALL_REJECTED`` (SIP 603 Decline: the callee pressed reject) → busy: to the caller a declined call
      is indistinguishable from a busy one (both end at the callee's choice; 486/600/603 are the "busy"
      family of SIP answers), while Twilio's failed means the call could not be placed at all.
    * ``NO_ANSWER`` / ``NO_USER_RESPONSE`` (SIP 480/408) / ``ALLOTTED_TIMEOUT`` → no-answer: it rang out.
    * ``ORIGINATOR_CANCEL`` → no-answer: fsbridge never cancels an originate itself, so the originating
      side cancelling means ``originate_timeout`` (Twilio ``Timeout``) expired while it rang — Twilio's
      no-answer, not ``canceled`` (which Twilio reserves for a call the API cancelled while queued/ringing;
      fsbridge reports that when a conference ends with the dial-out still queued).
    * anything else (``USER_NOT_REGISTERED``, ``UNALLOCATED_NUMBER``, ``NORMAL_TEMPORARY_FAILURE``, a
      gateway down, an unparsable reply) → failed: the call could not be placed.

    Source: twilio-twiml-conference-noun.txt (ParticipantCallStatus ``no-answer busy in-progress failed
    canceled completed``); FreeSWITCH hangup causes (switch_types.h / Hangup Cause Code Table).
    """
    return CAUSE_STATUS.get((cause or "").strip().split()[0] if (cause or "").strip() else "", "failed")


@dataclass
class OriginateJob:
    """A dial-out in progress (``bgapi originate``). ``job_uuid``: the BACKGROUND_JOB id; ``unique_id``:
    the new channel's Unique-ID (``origination_uuid``, chosen by us); ``call_sid``.

    :meth:`wait` blocks for the BACKGROUND_JOB result → ``(status, detail)`` where status is
    ``"answered"`` (the call is up and will arrive on the outbound socket with ``fsbridge_call_sid``) or a
    Twilio status ``busy``/``no-answer``/``failed`` (:func:`originate_status`) with the FreeSWITCH cause as
    detail. ``ringing`` is set when the new channel reports progress (CHANNEL_PROGRESS / _MEDIA: it rings).
    """

    job_uuid: str
    unique_id: str
    call_sid: str
    command: str
    _result: gevent.event.AsyncResult = None  # type: ignore[assignment]
    ringing: gevent.event.Event = None  # type: ignore[assignment]

    def __post_init__(self):
        if self._result is None:
            self._result = gevent.event.AsyncResult()
        if self.ringing is None:
            self.ringing = gevent.event.Event()

    def wait(self, timeout: Optional[float] = None) -> Tuple[str, str]:
        """(status, detail); raises :class:`EngineError` on timeout or if ESL dropped (status unknown)."""
        try:
            return self._result.get(timeout=timeout)
        except gevent.Timeout:
            raise EngineError("originate result not received in %ss" % timeout)

    @property
    def done(self) -> bool:
        """True once the BACKGROUND_JOB result arrived (False while pending or after an ESL drop)."""
        return self._result.successful()
