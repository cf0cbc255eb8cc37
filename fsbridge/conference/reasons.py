"""Twilio's status and reason words for conferences and participants, spelled exactly as Twilio does.

Sources: twilio-twiml-conference-noun.txt (statusCallback parameter table: ReasonConferenceEnded,
ReasonParticipantLeft, ParticipantCallStatus) and twilio_api_v2010 (conference_enum_status,
participant_enum_status).
"""
from __future__ import annotations

# Conference status (Twilio Conference resource).
CONF_INIT = "init"
CONF_IN_PROGRESS = "in-progress"
CONF_COMPLETED = "completed"

# ReasonConferenceEnded.
CONFERENCE_ENDED_VIA_API = "conference-ended-via-api"
LAST_PARTICIPANT_KICKED = "last-participant-kicked"
LAST_PARTICIPANT_LEFT = "last-participant-left"
ECOE_KICKED = "participant-with-end-conference-on-exit-kicked"
ECOE_LEFT = "participant-with-end-conference-on-exit-left"
REASONS_CONFERENCE_ENDED = (CONFERENCE_ENDED_VIA_API, LAST_PARTICIPANT_KICKED, LAST_PARTICIPANT_LEFT,
                            ECOE_KICKED, ECOE_LEFT)

# ReasonParticipantLeft.
LEFT_CONFERENCE_ENDED_VIA_API = "conference_ended_via_api"
LEFT_MODERATOR_ENDED_CONFERENCE = "moderator_ended_conference"
LEFT_PARTICIPANT_UPDATED_VIA_API = "participant_updated_via_api"
LEFT_PARTICIPANT_HUNG_UP = "participant_hung_up"
LEFT_PARTICIPANT_ADD_FAILED = "participant_add_failed"
REASONS_PARTICIPANT_LEFT = (LEFT_CONFERENCE_ENDED_VIA_API, LEFT_MODERATOR_ENDED_CONFERENCE,
                            LEFT_PARTICIPANT_UPDATED_VIA_API, LEFT_PARTICIPANT_HUNG_UP,
                            LEFT_PARTICIPANT_ADD_FAILED)

# ParticipantCallStatus (sent on participant-leave).
CALL_NO_ANSWER = "no-answer"
CALL_BUSY = "busy"
CALL_IN_PROGRESS = "in-progress"
CALL_FAILED = "failed"
CALL_CANCELED = "canceled"
CALL_COMPLETED = "completed"
#: the ParticipantCallStatus values of a dial-out that never joined (participant_add_failed)
DIAL_OUT_FAILED_STATUSES = (CALL_BUSY, CALL_NO_ANSWER, CALL_FAILED, CALL_CANCELED)

# Participant status (Twilio Participant resource).
P_QUEUED = "queued"
P_CONNECTING = "connecting"
P_RINGING = "ringing"
P_CONNECTED = "connected"
P_COMPLETE = "complete"
P_FAILED = "failed"

# Recording status (Twilio Conference Recording resource / RecordingStatus).
REC_IN_PROGRESS = "in-progress"
REC_PAUSED = "paused"
REC_STOPPED = "stopped"
REC_PROCESSING = "processing"
REC_COMPLETED = "completed"
REC_ABSENT = "absent"

# Twilio TwiML Conference: record / trim values.
RECORD_FROM_START = "record-from-start"
TRIM_SILENCE = "trim-silence"
