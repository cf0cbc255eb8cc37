"""Twilio's wire vocabulary (REST 2010-04-01, TwiML ``<Conference>``, conference callbacks), spelled once.

Sources: ../shared/specs/twilio_api_v2010_conferences.json (resource fields, ``conference_enum_status``,
``participant_enum_status``, CreateParticipant / UpdateParticipant parameters),
../shared/seeds/twilio-twiml-conference-noun.txt (statusCallbackEvent words, the statusCallback parameter
table with ReasonConferenceEnded / ReasonParticipantLeft, the recordingStatusCallback table),
twilio-conference-events-announcement.txt, Twilio "TwiML voice: the request to your application".

Words that are the same string in several Twilio enumerations (``in-progress``, ``completed``) have one
constant each; the enumerations are tuples built from them. Telnyx and jambonz reuse these where their wire
form is Twilio's (:mod:`fsbridge.wire.texml`, :mod:`fsbridge.wire.jambonz`).
"""
from __future__ import annotations

API_VERSION = "2010-04-01"

# --- shared status words ---------------------------------------------------------------------------------
QUEUED = "queued"
RINGING = "ringing"
IN_PROGRESS = "in-progress"
COMPLETED = "completed"
FAILED = "failed"
BUSY = "busy"
NO_ANSWER = "no-answer"
CANCELED = "canceled"
ABSENT = "absent"

# --- Conference resource status (conference_enum_status) -------------------------------------------------
CONF_INIT = "init"
CONF_IN_PROGRESS = IN_PROGRESS
CONF_COMPLETED = COMPLETED
CONFERENCE_STATUSES = (CONF_INIT, CONF_IN_PROGRESS, CONF_COMPLETED)
#: the only Status a REST client may set on a conference (UpdateConference)
CONFERENCE_UPDATE_STATUSES = (CONF_COMPLETED,)

# --- Participant resource status (participant_enum_status) -----------------------------------------------
P_QUEUED = QUEUED
P_CONNECTING = "connecting"
P_RINGING = RINGING
P_CONNECTED = "connected"
P_COMPLETE = "complete"
P_FAILED = FAILED
PARTICIPANT_STATUSES = (P_QUEUED, P_CONNECTING, P_RINGING, P_CONNECTED, P_COMPLETE, P_FAILED)

# --- Call status (CallStatus, ParticipantCallStatus, DialCallStatus) -------------------------------------
CALL_QUEUED = QUEUED
CALL_RINGING = RINGING
CALL_IN_PROGRESS = IN_PROGRESS
CALL_COMPLETED = COMPLETED
CALL_FAILED = FAILED
CALL_BUSY = BUSY
CALL_NO_ANSWER = NO_ANSWER
CALL_CANCELED = CANCELED
#: CallStatus values after which a call never changes again
CALL_FINAL_STATUSES = (CALL_COMPLETED, CALL_FAILED, CALL_BUSY, CALL_NO_ANSWER, CALL_CANCELED)
#: ParticipantCallStatus values of a dial-out that never joined (participant_add_failed)
DIAL_OUT_FAILED_STATUSES = (CALL_BUSY, CALL_NO_ANSWER, CALL_FAILED, CALL_CANCELED)
DIAL_COMPLETED = COMPLETED
DIAL_ANSWERED = "answered"
DIAL_FAILED = FAILED
DIRECTION_INBOUND = "inbound"
DIRECTION_OUTBOUND_API = "outbound-api"

# --- Recording status (Conference Recording resource, RecordingStatus) -----------------------------------
REC_IN_PROGRESS = IN_PROGRESS
REC_PAUSED = "paused"
REC_STOPPED = "stopped"
REC_PROCESSING = "processing"
REC_COMPLETED = COMPLETED
REC_ABSENT = ABSENT
RECORDING_STATUSES = (REC_IN_PROGRESS, REC_PAUSED, REC_STOPPED, REC_PROCESSING, REC_COMPLETED, REC_ABSENT)
#: Status values UpdateConferenceRecording accepts
RECORDING_SETTABLE_STATUSES = (REC_PAUSED, REC_IN_PROGRESS, REC_STOPPED)
RECORDING_RUNNING = (REC_IN_PROGRESS, REC_PAUSED)
PAUSE_BEHAVIORS = ("skip", "silence")

# --- StatusCallbackEvent values sent to a statusCallback (and the domain's event names) -------------------
CONFERENCE_START = "conference-start"
CONFERENCE_END = "conference-end"
PARTICIPANT_JOIN = "participant-join"
PARTICIPANT_LEAVE = "participant-leave"
PARTICIPANT_MUTE = "participant-mute"
PARTICIPANT_UNMUTE = "participant-unmute"
PARTICIPANT_HOLD = "participant-hold"
PARTICIPANT_UNHOLD = "participant-unhold"
PARTICIPANT_MODIFY = "participant-modify"
PARTICIPANT_SPEECH_START = "participant-speech-start"
PARTICIPANT_SPEECH_STOP = "participant-speech-stop"
ANNOUNCEMENT_END = "announcement-end"
ANNOUNCEMENT_FAIL = "announcement-fail"
#: recording events as the domain names them (RecordingStatus words prefixed)
RECORDING_IN_PROGRESS = "recording-in-progress"
RECORDING_COMPLETED = "recording-completed"
RECORDING_ABSENT = "recording-absent"
#: the deprecated eventCallbackUrl's EventName
CONFERENCE_RECORD_END = "conference-record-end"
#: recording event → RecordingStatus / recordingStatusCallbackEvent word
RECORDING_STATUS_WORDS = {RECORDING_IN_PROGRESS: REC_IN_PROGRESS, RECORDING_COMPLETED: REC_COMPLETED,
                          RECORDING_ABSENT: REC_ABSENT}

# --- statusCallbackEvent / recordingStatusCallbackEvent subscription words (TwiML attribute values) -------
EV_START = "start"
EV_END = "end"
EV_JOIN = "join"
EV_LEAVE = "leave"
EV_MUTE = "mute"
EV_HOLD = "hold"
EV_MODIFY = "modify"
EV_SPEAKER = "speaker"
EV_ANNOUNCEMENT = "announcement"
CONFERENCE_EVENTS = (EV_START, EV_END, EV_JOIN, EV_LEAVE, EV_MUTE, EV_HOLD, EV_MODIFY, EV_SPEAKER,
                     EV_ANNOUNCEMENT)
RECORDING_EVENTS = (REC_IN_PROGRESS, REC_COMPLETED, REC_ABSENT)
#: the call-progress StatusCallbackEvent words of CreateParticipant
CALL_INITIATED = "initiated"
CALL_EVENTS = (CALL_INITIATED, RINGING, DIAL_ANSWERED, CALL_COMPLETED)

# --- ReasonConferenceEnded ----------------------------------------------------------------------------------
CONFERENCE_ENDED_VIA_API = "conference-ended-via-api"
LAST_PARTICIPANT_KICKED = "last-participant-kicked"
LAST_PARTICIPANT_LEFT = "last-participant-left"
ECOE_KICKED = "participant-with-end-conference-on-exit-kicked"
ECOE_LEFT = "participant-with-end-conference-on-exit-left"
REASONS_CONFERENCE_ENDED = (CONFERENCE_ENDED_VIA_API, LAST_PARTICIPANT_KICKED, LAST_PARTICIPANT_LEFT,
                            ECOE_KICKED, ECOE_LEFT)

# --- ReasonParticipantLeft --------------------------------------------------------------------------------
LEFT_CONFERENCE_ENDED_VIA_API = "conference_ended_via_api"
LEFT_MODERATOR_ENDED_CONFERENCE = "moderator_ended_conference"
LEFT_PARTICIPANT_UPDATED_VIA_API = "participant_updated_via_api"
LEFT_PARTICIPANT_HUNG_UP = "participant_hung_up"
LEFT_PARTICIPANT_ADD_FAILED = "participant_add_failed"
REASONS_PARTICIPANT_LEFT = (LEFT_CONFERENCE_ENDED_VIA_API, LEFT_MODERATOR_ENDED_CONFERENCE,
                            LEFT_PARTICIPANT_UPDATED_VIA_API, LEFT_PARTICIPANT_HUNG_UP,
                            LEFT_PARTICIPANT_ADD_FAILED)

# --- TwiML <Conference> / CreateParticipant enumerations ----------------------------------------------------
BEEP_TRUE = "true"
BEEP_FALSE = "false"
BEEP_ON_ENTER = "onEnter"
BEEP_ON_EXIT = "onExit"
BEEP = (BEEP_TRUE, BEEP_FALSE, BEEP_ON_ENTER, BEEP_ON_EXIT)
RECORD_FROM_START = "record-from-start"
DO_NOT_RECORD = "do-not-record"
CONFERENCE_RECORD_MODES = (DO_NOT_RECORD, RECORD_FROM_START)
#: <Dial record> values
DIAL_RECORD = (DO_NOT_RECORD, "record-from-answer", "record-from-ringing", "record-from-answer-dual",
               "record-from-ringing-dual", "true", "false")
#: CreateParticipant ConferenceRecord also takes true|false
CONFERENCE_RECORD = ("true", "false", RECORD_FROM_START, DO_NOT_RECORD)
TRIM_SILENCE = "trim-silence"
DO_NOT_TRIM = "do-not-trim"
TRIM = (TRIM_SILENCE, DO_NOT_TRIM)
JITTER = ("off", "small", "medium", "large")
REGIONS = ("us1", "us2", "ie1", "de1", "sg1", "br1", "au1", "jp1")
RECORDING_CHANNELS_VALUES = ("mono", "dual")
RECORDING_TRACK = ("inbound", "outbound", "both")
MACHINE_DETECTION = ("Enable", "DetectMessageEnd")

# --- REST request parameters (Conference, Participant, Recording resources) -------------------------------
STATUS = "Status"
FRIENDLY_NAME = "FriendlyName"
DATE_CREATED = "DateCreated"
DATE_UPDATED = "DateUpdated"
ANNOUNCE_URL = "AnnounceUrl"
ANNOUNCE_METHOD = "AnnounceMethod"
PAUSE_BEHAVIOR = "PauseBehavior"
PAGE_SIZE = "PageSize"
PAGE = "Page"
PAGE_TOKEN = "PageToken"
MUTED = "Muted"
HOLD = "Hold"
COACHING = "Coaching"
CALL_SID_TO_COACH = "CallSidToCoach"
HOLD_URL = "HoldUrl"
HOLD_METHOD = "HoldMethod"
WAIT_URL = "WaitUrl"
WAIT_METHOD = "WaitMethod"
BEEP_ON_EXIT_PARAM = "BeepOnExit"
END_CONFERENCE_ON_EXIT = "EndConferenceOnExit"
START_CONFERENCE_ON_ENTER = "StartConferenceOnEnter"
FROM = "From"
TO = "To"
#: UpdateParticipant body parameters
UPDATE_PARTICIPANT_PARAMS = (MUTED, HOLD, HOLD_URL, HOLD_METHOD, ANNOUNCE_URL, ANNOUNCE_METHOD, WAIT_URL,
                             WAIT_METHOD, BEEP_ON_EXIT_PARAM, END_CONFERENCE_ON_EXIT, COACHING,
                             CALL_SID_TO_COACH)

# --- REST resource JSON fields (as the API renders them; the spec schemas, in render order) -------------
CONFERENCE_FIELDS = ("account_sid", "date_created", "date_updated", "api_version", "friendly_name", "region",
                     "sid", "status", "uri", "subresource_uris", "reason_conference_ended",
                     "call_sid_ending_conference")
PARTICIPANT_FIELDS = ("account_sid", "call_sid", "label", "call_sid_to_coach", "coaching", "conference_sid",
                      "date_created", "date_updated", "end_conference_on_exit", "muted", "hold",
                      "start_conference_on_enter", "status", "queue_time", "uri")
RECORDING_FIELDS = ("account_sid", "api_version", "call_sid", "conference_sid", "date_created", "date_updated",
                    "start_time", "duration", "sid", "price", "price_unit", "status", "channels", "source",
                    "error_code", "encryption_details", "uri")

# --- statusCallback / recordingStatusCallback / eventCallbackUrl body fields ------------------------------
CONFERENCE_SID = "ConferenceSid"
ACCOUNT_SID = "AccountSid"
SEQUENCE_NUMBER = "SequenceNumber"
TIMESTAMP = "Timestamp"
STATUS_CALLBACK_EVENT = "StatusCallbackEvent"
CALL_SID = "CallSid"
PARTICIPANT_LABEL = "ParticipantLabel"
CALL_SID_ENDING_CONFERENCE = "CallSidEndingConference"
PARTICIPANT_LABEL_ENDING_CONFERENCE = "ParticipantLabelEndingConference"
REASON_CONFERENCE_ENDED = "ReasonConferenceEnded"
REASON = "Reason"
PARTICIPANT_CALL_STATUS = "ParticipantCallStatus"
REASON_PARTICIPANT_LEFT = "ReasonParticipantLeft"
REASON_ANNOUNCEMENT_FAILED = "ReasonAnnouncementFailed"
RECORDING_SID = "RecordingSid"
RECORDING_URL = "RecordingUrl"
RECORDING_STATUS = "RecordingStatus"
RECORDING_DURATION = "RecordingDuration"
RECORDING_CHANNELS = "RecordingChannels"
RECORDING_START_TIME = "RecordingStartTime"
RECORDING_SOURCE = "RecordingSource"
EVENT_NAME = "EventName"
DURATION = "Duration"
RECORDING_FILE_SIZE = "RecordingFileSize"
RECORDING_SOURCE_CONFERENCE = "Conference"

# --- voice webhook (the request fsbridge makes to fetch TwiML) and the <Dial action> request ---------------
CALLER = "Caller"
CALLED = "Called"
CALL_STATUS = "CallStatus"
DIRECTION = "Direction"
API_VERSION_PARAM = "ApiVersion"
DIAL_CALL_STATUS = "DialCallStatus"
DIAL_CALL_DURATION = "DialCallDuration"
DIAL_BRIDGED = "DialBridged"
#: call-progress status callbacks (Calls.json / CreateParticipant StatusCallback; Twilio "Call status callbacks")
CALLBACK_SOURCE = "CallbackSource"
CALL_PROGRESS_EVENTS = "call-progress-events"
CALL_DURATION = "CallDuration"
PARENT_CALL_SID = "ParentCallSid"
#: the <Gather action> request: the digits pressed (finishOnKey excluded; Twilio TwiML <Gather>)
DIGITS = "Digits"

#: the REST path of a conference recording (what RecordingUrl points at, under the bridge's base URL)
RECORDING_PATH = ("/" + API_VERSION + "/Accounts/{account_sid}/Conferences/{conference_sid}"
                  "/Recordings/{recording_sid}")
