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
DIRECTION_INBOUND = _tw.DIRECTION_INBOUND
DIRECTION_OUTBOUND = "outbound"
#: ParticipantView.status → jambonz call_status (jambonz uses Twilio's call status words)
CALL_STATUS_WORDS = {_tw.P_CONNECTED: _tw.CALL_IN_PROGRESS, _tw.P_COMPLETE: _tw.CALL_COMPLETED}

# --- listen (the conference verb's nested ``#listen``; jambonz verb specification 0.1.13, lib/tasks/listen.js) -----
LISTEN_URL = "url"
LISTEN_MIX_TYPE = "mixType"
LISTEN_SAMPLE_RATE = "sampleRate"
LISTEN_METADATA = "metadata"
LISTEN_WS_AUTH = "wsAuth"
LISTEN_PASS_DTMF = "passDtmf"
LISTEN_MAX_LENGTH = "maxLength"
LISTEN_BIDIRECTIONAL = "bidirectionalAudio"
LISTEN_BIDIRECTIONAL_OFF = "disableBidirectionalAudio"
LISTEN_ENABLED = "enabled"
AUTH_USERNAME = "username"
AUTH_PASSWORD = "password"
#: properties of ``#listen`` accepted and ignored (no effect on a conference member's stream)
LISTEN_IGNORED = ("id", "earlyMedia", "channel", LISTEN_BIDIRECTIONAL_OFF)
#: properties of ``#listen`` jambonz runs but fsbridge does not inside a conference (warned 12200, ignored)
LISTEN_UNSUPPORTED = ("actionHook", "auth", "finishOnKey", "playBeep", "timeout", "transcribe")
#: mixType words (jambonz listen = mod_audio_fork's mix-type): the caller's audio only; caller + what the caller
#: hears in one channel; two channels (left the caller, right what the caller hears)
MIX_MONO = "mono"
MIX_MIXED = "mixed"
MIX_STEREO = "stereo"
MIX_TYPES = (MIX_MONO, MIX_STEREO, MIX_MIXED)
#: listen.js defaults
DEFAULT_MIX_TYPE = MIX_MONO
DEFAULT_SAMPLE_RATE = 8000
#: the first text frame: ``{sampleRate, mixType, <CallInfo.toJSON()>, <metadata>}`` (listen.js _startListening);
#: CallInfo keys (lib/session/call-info.js toJSON, camelCase: not snake-cased like webhook bodies)
META_CALL_SID = "callSid"
META_DIRECTION = "direction"
META_FROM = "from"
META_TO = "to"
META_CALL_ID = "callId"
META_SIP_STATUS = "sipStatus"
META_SIP_REASON = "sipReason"
META_CALL_STATUS = "callStatus"
META_ACCOUNT_SID = "accountSid"
#: the text frame listen.js sends for each digit when ``passDtmf`` is true: ``{"event": "dtmf", "dtmf": digit}``
DTMF_EVENT = "dtmf"
DTMF_DIGIT = "dtmf"
