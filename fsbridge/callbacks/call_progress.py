"""Call-progress status callbacks (Twilio ``StatusCallback`` of Calls.json and CreateParticipant): the request.

Kept apart from the conference renderers: a call-progress callback belongs to a call, not to a conference, so
its outbox queue key is the CallSid (one ordered queue per call) and its ``kind`` is :data:`KIND_CALL`. The
request is a Twilio form (signed per attempt with the account's AuthToken like every Twilio callback):
``AccountSid, ApiVersion, CallSid, CallStatus, CallbackSource=call-progress-events, Called, Caller, Direction,
From, SequenceNumber, Timestamp, To`` and, on ``completed``, ``CallDuration`` (whole seconds since answer;
``0`` for a call never answered). ``SequenceNumber`` counts this call's callbacks from 0. Source: Twilio
"Call resource: StatusCallback / StatusCallbackEvent" (call status callbacks).
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw
from fsbridge.wire.serialize import rfc2822_callback

from .request import CallbackRequest, form_request
from .signing import TWILIO_IDEMPOTENCY_HEADER, twilio_idempotency_token

#: outbox ``kind`` of a call-progress callback
KIND_CALL = "call"


class _Event:
    """What :func:`form_request` reads of an event (name, account, queue key, sequence number)."""

    def __init__(self, name: str, account_sid: str, call_sid: str, sequence_number: int):
        self.name, self.account_sid, self.conference_sid, self.sequence_number = (
            name, account_sid, call_sid, sequence_number)


def call_progress_request(*, url: str, method: str, event: str, account_sid: str, call_sid: str, from_: str,
                          to: str, direction: str, call_status: str, sequence_number: int, timestamp: datetime,
                          duration_s: Optional[int] = None, parent_call_sid: Optional[str] = None
                          ) -> CallbackRequest:
    """One call-progress callback as a :class:`CallbackRequest` (form POST, or GET with the query).

    ``event``: ``initiated`` | ``ringing`` | ``answered`` | ``completed`` (the StatusCallbackEvent word; the
    request's ``event_name`` is ``call-<event>``); ``call_status``: Twilio CallStatus (``queued`` /
    ``initiated``, ``ringing``, ``in-progress``, ``completed`` | ``busy`` | ``no-answer`` | ``failed`` |
    ``canceled``); ``timestamp``: when it happened (aware datetime); ``duration_s``: CallDuration, sent with
    ``completed`` only. Raises nothing.
    """
    params = [
        (tw.ACCOUNT_SID, account_sid),
        (tw.API_VERSION_PARAM, tw.API_VERSION),
        (tw.CALL_SID, call_sid),
        (tw.CALL_STATUS, call_status),
        (tw.CALLBACK_SOURCE, tw.CALL_PROGRESS_EVENTS),
        (tw.CALLED, to),
        (tw.CALLER, from_),
        (tw.DIRECTION, direction),
        (tw.FROM, from_),
        (tw.SEQUENCE_NUMBER, str(sequence_number)),
        (tw.TIMESTAMP, rfc2822_callback(timestamp)),
        (tw.TO, to),
    ]
    if parent_call_sid:
        params.append((tw.PARENT_CALL_SID, parent_call_sid))
    if event == tw.CALL_COMPLETED:
        params.append((tw.CALL_DURATION, str(int(duration_s or 0))))
    token = twilio_idempotency_token(call_sid, sequence_number, KIND_CALL)
    return form_request(dialect=TWIML, kind=KIND_CALL, event=_Event("call-" + event, account_sid, call_sid,
                                                                    sequence_number),
                        hook_url=url, method=method, params=params,
                        headers=((TWILIO_IDEMPOTENCY_HEADER, token),))
