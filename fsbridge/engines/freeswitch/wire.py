"""FreeSWITCH wire names used by the engine: ESL commands, event names, header names, header values.

The one place these strings live (ESL framing names — ``Content-Type``/``Content-Length`` and content types —
are in :mod:`esl_parse`; API sub-commands and channel variables in :mod:`render`; conference Action names in
:mod:`fsbridge.conference.native`). Sources: FreeSWITCH 1.10.12 fixtures (tests/fixtures/freeswitch/README.md
findings cited by number), switch_event.c, mod_event_socket.c, mod_conference conference_event.c.
"""

# --- ESL commands (mod_event_socket) ---------------------------------------------------------------
CMD_AUTH = "auth"
CMD_EVENT_PLAIN = "event plain"
CMD_API = "api"
CMD_BGAPI = "bgapi"
CMD_EXIT = "exit"
CMD_CONNECT = "connect"          # outbound socket: → channel data (finding 27)
CMD_MYEVENTS = "myevents"
CMD_NIXEVENT = "nixevent"        # unsubscribe event types; after myevents it keeps the channel filter
CMD_LINGER = "linger"            # plain linger never closes: send exit (finding 30)
CMD_SENDMSG = "sendmsg"

# sendmsg headers (outbound fixtures: "call-command: execute", "execute-app-name", "event-lock", "Event-UUID")
SM_CALL_COMMAND = "call-command"
SM_EXECUTE = "execute"
SM_APP_NAME = "execute-app-name"
SM_APP_ARG = "execute-app-arg"
SM_EVENT_LOCK = "event-lock"
SM_EVENT_UUID = "Event-UUID"

# --- event names and the conference subclass --------------------------------------------------------
EV_CUSTOM = "CUSTOM"
EV_CHANNEL_ANSWER = "CHANNEL_ANSWER"
EV_CHANNEL_HANGUP = "CHANNEL_HANGUP"
EV_CHANNEL_HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
EV_CHANNEL_EXECUTE_COMPLETE = "CHANNEL_EXECUTE_COMPLETE"
EV_DTMF = "DTMF"
EV_BACKGROUND_JOB = "BACKGROUND_JOB"
# a dial-out's channel rings (180 / 183 early media): call-progress ``ringing`` (issue 17 item 9)
EV_CHANNEL_PROGRESS = "CHANNEL_PROGRESS"
EV_CHANNEL_PROGRESS_MEDIA = "CHANNEL_PROGRESS_MEDIA"
CONFERENCE_SUBCLASS = "conference::maintenance"

# The inbound subscription: CUSTOM <subclass> MUST come last — every word after CUSTOM is read as a
# subclass (finding 1, inbound/custom_first).
# No CHANNEL_ANSWER: no inbound handler reads it, and FreeSWITCH sends it with ≈ 190 headers for *every*
# channel (loopback A legs included) — parsed for nothing (issue 21).
SUBSCRIBED_EVENTS = (EV_CHANNEL_HANGUP_COMPLETE, EV_DTMF, EV_BACKGROUND_JOB,
                     EV_CHANNEL_PROGRESS, EV_CHANNEL_PROGRESS_MEDIA)
SUBSCRIPTION = "%s %s %s %s" % (CMD_EVENT_PLAIN, " ".join(SUBSCRIBED_EVENTS), EV_CUSTOM, CONFERENCE_SUBCLASS)
# On an outbound socket: this channel's member events only (finding 28).
OUTBOUND_CONFERENCE_EVENTS = "%s %s %s" % (CMD_EVENT_PLAIN, EV_CUSTOM, CONFERENCE_SUBCLASS)
# What ``myevents`` subscribes an outbound socket to (mod_event_socket.c 1.10.12, parse_command "myevents":
# 23 event types, only for this channel's Unique-ID).
MYEVENTS = ("CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
            "CHANNEL_DESTROY", "CHANNEL_EXECUTE", EV_CHANNEL_EXECUTE_COMPLETE, EV_CHANNEL_HANGUP,
            EV_CHANNEL_HANGUP_COMPLETE, "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
            "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
            "DETECTED_SPEECH", EV_DTMF, "NOTALK", "TALK")
# The channel events a leg reads (leg.FreeSwitchCallLeg._on_event: execute completions, hangup, DTMF).
# Each event carries ~190 URL-encoded headers, and parsing them was the top cost of a join (issue 21), so
# the rest are dropped with ``nixevent`` right after ``myevents``: nixevent only clears event_list[type]
# (mod_event_socket.c, parse_command "nixevent"); LFLAG_MYEVENTS and its Unique-ID check stay. A leg that
# starts reading another event name must add it here.
OUTBOUND_EVENTS = (EV_CHANNEL_EXECUTE_COMPLETE, EV_CHANNEL_HANGUP, EV_CHANNEL_HANGUP_COMPLETE, EV_DTMF)
OUTBOUND_NIXEVENT = "%s %s" % (CMD_NIXEVENT, " ".join(e for e in MYEVENTS if e not in OUTBOUND_EVENTS))

# --- headers ------------------------------------------------------------------------------------------
H_REPLY_TEXT = "Reply-Text"
H_JOB_UUID = "Job-UUID"
H_CONTENT_DISPOSITION = "Content-Disposition"
H_EVENT_NAME = "Event-Name"
H_SUBCLASS = "Event-Subclass"
H_TIMESTAMP = "Event-Date-Timestamp"        # µs since the epoch (finding 8)
H_ACTION = "Action"
H_CONF_NAME = "Conference-Name"
H_CONF_SIZE = "Conference-Size"
H_UNIQUE_ID = "Unique-ID"
H_MEMBER_ID = "Member-ID"
H_MEMBER_TYPE = "Member-Type"
H_FILE = "File"
H_PATH = "Path"
H_ERROR = "Error"
H_HANGUP_CAUSE = "Hangup-Cause"
H_TALK_MS = "talking-duration-ms"
H_REC_MS = "Milliseconds-Elapsed"
H_REC_SIZE = "Record-File-Size"
H_DIGITS = "Digits"
H_DTMF_DIGIT = "DTMF-Digit"
H_DTMF_SOURCE = "DTMF-Source"
H_CALLER_NUMBER = "Caller-Caller-ID-Number"
H_CALLER_NAME = "Caller-Caller-ID-Name"
H_DEST_NUMBER = "Caller-Destination-Number"
H_HEAR = "Hear"
H_SPEAK = "Speak"
H_HOLD = "Hold"
H_TALKING = "Talking"
H_APP_UUID = "Application-UUID"
H_APP_RESPONSE = "Application-Response"
H_ANSWER_STATE = "Answer-State"
VARIABLE_PREFIX = "variable_"
H_VAR_CONF_NAME = VARIABLE_PREFIX + "conference_name"
H_VAR_MEMBER_ID = VARIABLE_PREFIX + "conference_member_id"

# --- header values --------------------------------------------------------------------------------------
REPLY_OK = "+OK"
REPLY_ERR = "-ERR"
REPLY_USAGE = "-USAGE"
NO_CONFERENCES = "No active"   # "-ERR No active conferences." / "+OK No active conferences."
AUTH_OK = "+OK accepted"
DISPOSITION_LINGER = "linger"
ANSWER_STATE_HANGUP = "hangup"
FILE_PLAYED = "FILE PLAYED"
