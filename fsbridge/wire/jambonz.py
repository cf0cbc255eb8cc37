"""jambonz's wire vocabulary: conference statusEvents words, hook body keys, call webhook keys.

Sources: ../shared/seeds/jambonz-conference-verb.txt (statusEvents start end join leave start-talking
end-talking; statusHook body event, conferenceSid, friendlyName, time, members, duration) and
jambonz-feature-server (lib/tasks/conference.js emits ``stop-talking`` where the docs say ``end-talking``;
lib/utils/http-requestor.js sends every body through ``snakecase-keys``; lib/session/call-info.js is the call
webhook body). DESIGN.md "Known traps": accept both talk-stop words.
"""
from __future__ import annotations

from . import twilio as _tw

# --- statusEvents words ------------------------------------------------------------------------------------
EV_START = "start"
EV_END = "end"
EV_JOIN = "join"
EV_LEAVE = "leave"
START_TALKING = "start-talking"
END_TALKING = "end-talking"
#: what jambonz-feature-server really emits for END_TALKING (accepted as an alias, sent by default)
STOP_TALKING = "stop-talking"
STATUS_EVENTS = (EV_START, EV_END, EV_JOIN, EV_LEAVE, START_TALKING, END_TALKING)
#: (alias, canonical word) pairs the statusEvents parser accepts
STATUS_EVENT_ALIASES = ((STOP_TALKING, END_TALKING),)
#: the talk-stop words a jambonz app may subscribe with
TALK_STOP_WORDS = (END_TALKING, STOP_TALKING)

# --- statusHook body keys (snake_case, as snakecase-keys delivers them) ----------------------------------
EVENT = "event"
DURATION = "duration"
TIME = "time"
MEMBERS = "members"
CONFERENCE_SID = "conference_sid"
FRIENDLY_NAME = "friendly_name"
CALL_SID = "call_sid"
FROM = "from"
TO = "to"
CALL_STATUS = "call_status"
ACCOUNT_SID = "account_sid"

# --- call webhook / actionHook body keys (CallInfo) ----------------------------------------------------------
DIRECTION = "direction"
CALLER_NAME = "caller_name"
SIP_STATUS = "sip_status"
SIP_REASON = "sip_reason"
#: sip_status / sip_reason of an answered call (jambonz CallInfo after the 200 OK), and before it (100 Trying)
SIP_ANSWERED = (200, "OK")
SIP_TRYING = (100, "Trying")
CALL_ID = "call_id"
REASON = "reason"
#: gather actionHook body: ``digits`` and ``reason`` (jambonz-feature-server lib/tasks/gather.js)
DIGITS = "digits"
GATHER_DTMF_DETECTED = "dtmfDetected"
GATHER_TIMEOUT = "timeout"
DIRECTION_INBOUND = _tw.DIRECTION_INBOUND
DIRECTION_OUTBOUND = "outbound"
#: ParticipantView.status → jambonz call_status (jambonz uses Twilio's call status words)
CALL_STATUS_WORDS = {_tw.P_CONNECTED: _tw.CALL_IN_PROGRESS, _tw.P_COMPLETE: _tw.CALL_COMPLETED}
