"""Telnyx TeXML's wire vocabulary where it differs from Twilio's (the rest is :mod:`fsbridge.wire.twilio`).

Sources: ../shared/seeds/telnyx-texml-conference.txt (recordingTimeout bound, statusCallbackEvent words
start end join leave speaker, the ten "Expected callbacks" fields) and Telnyx's TeXML REST reference (``/v2/texml``; Conference status words, participant status words).
TeXML callbacks carry Twilio's field names (AccountSid, CallSid, …) plus :data:`CALL_SID_LEGACY`.
"""
from __future__ import annotations

from . import twilio as _tw

API_VERSION = "v2"

#: Telnyx statusCallbackEvent words (a subset of Twilio's)
CONFERENCE_EVENTS = (_tw.EV_START, _tw.EV_END, _tw.EV_JOIN, _tw.EV_LEAVE, _tw.EV_SPEAKER)
#: Telnyx: recordingTimeout upper bound, seconds
RECORDING_TIMEOUT_MAX = 14400

# --- callback body fields (the seed's ten, in its order) ---------------------------------------------------
CALL_SID_LEGACY = "CallSidLegacy"
STATUS_CALLBACK_FIELDS = (_tw.ACCOUNT_SID, _tw.CALL_SID, CALL_SID_LEGACY, _tw.CONFERENCE_SID, _tw.FRIENDLY_NAME,
                          _tw.FROM, _tw.SEQUENCE_NUMBER, _tw.STATUS_CALLBACK_EVENT, _tw.TIMESTAMP, _tw.TO)

# --- REST resource status words (Telnyx renders Twilio's store states in its own words) -------------------
CONNECTING = _tw.P_CONNECTING
CONNECTED = _tw.P_CONNECTED
PROCESSING = _tw.REC_PROCESSING
#: Twilio participant status → Telnyx participant status
PARTICIPANT_STATUS = {_tw.P_QUEUED: CONNECTING, _tw.P_CONNECTING: CONNECTING, _tw.P_RINGING: CONNECTING,
                      _tw.P_CONNECTED: CONNECTED, _tw.P_COMPLETE: _tw.COMPLETED, _tw.P_FAILED: _tw.COMPLETED}
#: Twilio recording status → Telnyx recording status
RECORDING_STATUS = {_tw.REC_IN_PROGRESS: PROCESSING, _tw.REC_PAUSED: PROCESSING, _tw.REC_STOPPED: PROCESSING,
                    _tw.REC_PROCESSING: PROCESSING, _tw.REC_COMPLETED: _tw.COMPLETED, _tw.REC_ABSENT: _tw.ABSENT}
