"""The request bodies fsbridge sends to an app when it fetches markup (the wire names: :mod:`fsbridge.wire`).

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

from fsbridge.wire import JAMBONZ, TEXML
from fsbridge.wire import jambonz as jz
from fsbridge.wire import twilio as tw
from fsbridge.wire.serialize import bool_str
from fsbridge.wire.texml import CALL_SID_LEGACY

@dataclass(frozen=True)
class CallInfo:
    """What an app is told about a call. ``direction``: ``inbound`` | ``outbound-api``; ``status``: Twilio
    CallStatus (``ringing`` on the first request of an inbound call, ``in-progress`` afterwards)."""

    call_sid: str
    account_sid: str
    from_: str
    to: str
    direction: str = tw.DIRECTION_INBOUND
    status: str = tw.CALL_RINGING


def twilio_voice_params(call: CallInfo) -> Dict[str, str]:
    """Twilio voice webhook form parameters for ``call`` (Twilio TwiML "the request to your application")."""
    return {
        tw.CALL_SID: call.call_sid,
        tw.ACCOUNT_SID: call.account_sid,
        tw.FROM: call.from_,
        tw.TO: call.to,
        tw.CALLER: call.from_,
        tw.CALLED: call.to,
        tw.CALL_STATUS: call.status,
        tw.DIRECTION: call.direction,
        tw.API_VERSION_PARAM: tw.API_VERSION,
    }


def telnyx_voice_params(call: CallInfo) -> Dict[str, str]:
    """Telnyx TeXML webhook form parameters for ``call`` (Telnyx TeXML request parameters)."""
    return {
        tw.ACCOUNT_SID: call.account_sid,
        tw.CALL_SID: call.call_sid,
        CALL_SID_LEGACY: call.call_sid,
        tw.FROM: call.from_,
        tw.TO: call.to,
        tw.CALL_STATUS: call.status,
        tw.DIRECTION: call.direction,
    }


def jambonz_call_payload(call: CallInfo) -> dict:
    """jambonz call webhook JSON body for ``call`` (jambonz-feature-server CallInfo, snake_case keys). An
    answered call keeps ``sip_status`` 200 / ``sip_reason`` OK after it completed, as jambonz's CallInfo does."""
    answered = call.status in (tw.CALL_IN_PROGRESS, tw.CALL_COMPLETED)
    sip = jz.SIP_ANSWERED if answered else jz.SIP_TRYING
    return {
        jz.CALL_SID: call.call_sid,
        jz.ACCOUNT_SID: call.account_sid,
        jz.DIRECTION: jz.DIRECTION_INBOUND if call.direction == tw.DIRECTION_INBOUND else jz.DIRECTION_OUTBOUND,
        jz.FROM: call.from_,
        jz.TO: call.to,
        jz.CALLER_NAME: call.from_,
        jz.CALL_STATUS: call.status,
        jz.SIP_STATUS: sip[0],
        jz.SIP_REASON: sip[1],
        jz.CALL_ID: call.call_sid,
    }


def voice_params(dialect: str, call: CallInfo):
    """The first-request body for ``dialect`` (``twiml`` | ``texml`` | ``jambonz``): dict of form fields or JSON."""
    if dialect == JAMBONZ:
        return jambonz_call_payload(call)
    if dialect == TEXML:
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
    if dialect == JAMBONZ:   # jambonz-feature-server performAction(results = {}): the CallInfo alone
        return body
    body.update({tw.DIAL_CALL_STATUS: dial_status, tw.DIAL_CALL_DURATION: str(int(duration_s)),
                 tw.DIAL_BRIDGED: bool_str(dial_status == tw.DIAL_COMPLETED)})
    if conference_sid:
        body[tw.CONFERENCE_SID] = conference_sid
    return body


def gather_action_params(dialect: str, call: CallInfo, digits: str):
    """The body of a ``<Gather action>`` / jambonz gather ``actionHook`` request.

    ``digits``: what the caller pressed (finishOnKey excluded; ``""`` = no input). TwiML/TeXML: the voice
    parameters plus ``Digits`` (Twilio TwiML ``<Gather>``; Telnyx TeXML ``<Gather>``); jambonz: the CallInfo
    plus ``reason`` (``dtmfDetected`` | ``timeout``) and, with input, ``digits`` (jambonz-feature-server
    lib/tasks/gather.js ``performAction``).
    """
    body = voice_params(dialect, call)
    if dialect == JAMBONZ:
        body[jz.REASON] = jz.GATHER_DTMF_DETECTED if digits else jz.GATHER_TIMEOUT
        if digits:
            body[jz.DIGITS] = digits
        return body
    body[tw.DIGITS] = digits
    return body
