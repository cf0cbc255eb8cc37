"""The request bodies fsbridge sends to an app when it fetches markup: every voice-webhook wire name lives here.

* Twilio (TwiML numbers): form parameters ``CallSid, AccountSid, From, To, Caller, Called, CallStatus,
  Direction, ApiVersion`` (Twilio "TwiML voice: the request to your application"); after a ``<Dial>`` the action
  request adds ``DialCallStatus, DialCallDuration, DialBridged, ConferenceSid`` (Twilio TwiML ``<Dial>``
  ``action`` attribute; ``ConferenceSid`` is what Twilio sends for a ``<Conference>`` noun).
* Telnyx (TeXML numbers): ``AccountSid, CallSid, CallSidLegacy, From, To, CallStatus, Direction`` (Telnyx TeXML
  "request parameters"); Dial action adds ``DialCallStatus``/``DialCallDuration``/``ConferenceSid``.
* jambonz: a JSON object with snake_case keys (``call_sid, account_sid, direction, from, to, caller_name,
  call_status, sip_status, sip_reason, call_id``) — jambonz-feature-server ``lib/session/call-info.js``; the
  conference verb's actionHook body is that CallInfo alone (its ``performAction(this.results)`` with empty results).

All builders return a plain ``dict`` of str → str (form) or JSON-ready values (jambonz).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from fsbridge.wire import jambonz as _jb

API_VERSION = "2010-04-01"

# Twilio CallStatus / Direction values (Twilio Call resource).
STATUS_QUEUED = "queued"
STATUS_RINGING = "ringing"
STATUS_IN_PROGRESS = "in-progress"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"
STATUS_BUSY = "busy"
STATUS_NO_ANSWER = "no-answer"
STATUS_CANCELED = "canceled"
#: CallStatus values after which a call never changes again
FINAL_STATUSES = (STATUS_COMPLETED, STATUS_FAILED, STATUS_BUSY, STATUS_NO_ANSWER, STATUS_CANCELED)
DIRECTION_INBOUND = "inbound"
DIRECTION_OUTBOUND_API = "outbound-api"

# DialCallStatus for a <Dial><Conference> (Twilio: "completed" once the caller left a conference it was in;
# "failed" when it could not be joined).
DIAL_COMPLETED = "completed"
DIAL_ANSWERED = "answered"
DIAL_FAILED = "failed"


@dataclass(frozen=True)
class CallInfo:
    """What an app is told about a call. ``direction``: ``inbound`` | ``outbound-api``; ``status``: Twilio
    CallStatus (``ringing`` on the first request of an inbound call, ``in-progress`` afterwards)."""

    call_sid: str
    account_sid: str
    from_: str
    to: str
    direction: str = DIRECTION_INBOUND
    status: str = STATUS_RINGING


def twilio_voice_params(call: CallInfo) -> Dict[str, str]:
    """Twilio voice webhook form parameters for ``call`` (Twilio TwiML "the request to your application")."""
    return {
        "CallSid": call.call_sid,
        "AccountSid": call.account_sid,
        "From": call.from_,
        "To": call.to,
        "Caller": call.from_,
        "Called": call.to,
        "CallStatus": call.status,
        "Direction": call.direction,
        "ApiVersion": API_VERSION,
    }


def telnyx_voice_params(call: CallInfo) -> Dict[str, str]:
    """Telnyx TeXML webhook form parameters for ``call`` (Telnyx TeXML request parameters)."""
    return {
        "AccountSid": call.account_sid,
        "CallSid": call.call_sid,
        "CallSidLegacy": call.call_sid,
        "From": call.from_,
        "To": call.to,
        "CallStatus": call.status,
        "Direction": call.direction,
    }


def jambonz_call_payload(call: CallInfo) -> dict:
    """jambonz call webhook JSON body for ``call`` (jambonz-feature-server CallInfo, snake_case keys). An
    answered call keeps ``sip_status`` 200 / ``sip_reason`` OK after it completed, as jambonz's CallInfo does."""
    answered = call.status in (STATUS_IN_PROGRESS, STATUS_COMPLETED)
    sip = _jb.SIP_ANSWERED if answered else _jb.SIP_TRYING
    return {
        "call_sid": call.call_sid,
        "account_sid": call.account_sid,
        "direction": "inbound" if call.direction == DIRECTION_INBOUND else "outbound",
        "from": call.from_,
        "to": call.to,
        "caller_name": call.from_,
        "call_status": call.status,
        _jb.SIP_STATUS: sip[0],
        _jb.SIP_REASON: sip[1],
        "call_id": call.call_sid,
    }


def voice_params(dialect: str, call: CallInfo):
    """The first-request body for ``dialect`` (``twiml`` | ``texml`` | ``jambonz``): dict of form fields or JSON."""
    if dialect == "jambonz":
        return jambonz_call_payload(call)
    if dialect == "texml":
        return telnyx_voice_params(call)
    return twilio_voice_params(call)


def dial_action_params(dialect: str, call: CallInfo, *, dial_status: str, duration_s: int,
                       conference_sid: Optional[str], reason: str = ""):
    """The body of a ``<Dial action>`` / jambonz ``actionHook`` request after the caller left a conference.

    ``dial_status``: ``completed`` | ``answered`` | ``failed``; ``duration_s``: whole seconds in the conference.
    Source: Twilio TwiML ``<Dial>`` action parameters (DialCallStatus, DialCallDuration, DialBridged); jambonz
    conference ``actionHook`` (called "when the conference ends").
    """
    body = voice_params(dialect, call)
    if dialect == "jambonz":   # jambonz-feature-server performAction(results = {}): the CallInfo alone
        return body
    body.update({"DialCallStatus": dial_status, "DialCallDuration": str(int(duration_s)),
                 "DialBridged": "true" if dial_status == DIAL_COMPLETED else "false"})
    if conference_sid:
        body["ConferenceSid"] = conference_sid
    return body
