"""Twilio Voice Insights v1 wire vocabulary (Conference Summary resource), spelled once.

Source: the official twilio Python SDK's ``twilio.rest.insights.v1.conference`` model (``ConferenceInstance``
fields and its ``ConferenceStatus`` / ``ProcessingState`` / ``ConferenceEndReason`` enums, ``ConferenceList``
query parameters) — the SDK apps already use; Insights is served from ``https://insights.twilio.com``.
"""
from __future__ import annotations

from fsbridge.wire import twilio as tw

LIST_KEY = "conferences"

# --- Conference Summary status (ConferenceStatus) ---------------------------------------------------------
STATUS_IN_PROGRESS = "in_progress"
STATUS_NOT_STARTED = "not_started"
STATUS_COMPLETED = tw.COMPLETED
STATUS_SUMMARY_TIMEOUT = "summary_timeout"
#: REST 2010 conference status → Insights status
STATUS_FROM_CONFERENCE = {tw.CONF_INIT: STATUS_NOT_STARTED, tw.CONF_IN_PROGRESS: STATUS_IN_PROGRESS,
                          tw.CONF_COMPLETED: STATUS_COMPLETED}
#: Insights status → REST 2010 conference status (the list's Status filter)
CONFERENCE_FROM_STATUS = {v: k for k, v in STATUS_FROM_CONFERENCE.items()}

# --- ProcessingState ----------------------------------------------------------------------------------------
PROCESSING_COMPLETE = "complete"
PROCESSING_IN_PROGRESS = "in_progress"


def end_reason(reason_conference_ended):
    """REST 2010 ``reason_conference_ended`` (``last-participant-left`` …) → Insights ``end_reason``
    (``last_participant_left`` …: the same words, underscored); None stays None."""
    return reason_conference_ended.replace("-", "_") if reason_conference_ended else None


def reason_conference_ended(end_reason_value):
    """Insights ``end_reason`` → REST 2010 ``reason_conference_ended`` (the EndReason list filter)."""
    return end_reason_value.replace("_", "-")


# --- ConferenceList query parameters -----------------------------------------------------------------------
CONFERENCE_SID = tw.CONFERENCE_SID
FRIENDLY_NAME = tw.FRIENDLY_NAME
STATUS = tw.STATUS
CREATED_AFTER = "CreatedAfter"
CREATED_BEFORE = "CreatedBefore"
MIXER_REGION = "MixerRegion"
TAGS = "Tags"
SUBACCOUNT = "Subaccount"
DETECTED_ISSUES = "DetectedIssues"
END_REASON = "EndReason"

# --- Conference Summary fields, in the SDK model's order ------------------------------------------------------
CONFERENCE_SUMMARY_FIELDS = (
    "conference_sid", "account_sid", "friendly_name", "create_time", "start_time", "end_time",
    "duration_seconds", "connect_duration_seconds", "status", "max_participants", "max_concurrent_participants",
    "unique_participants", "end_reason", "ended_by", "mixer_region", "mixer_region_requested",
    "recording_enabled", "detected_issues", "tags", "tag_info", "processing_state", "url", "links")
#: Twilio fields with no source in fsbridge: always null
NO_SOURCE = ("max_participants", "detected_issues", "tags", "tag_info")

# --- Conference Participant Summary -------------------------------------------------------------------------
PARTICIPANTS_LIST_KEY = "participants"
PARTICIPANT_SID = "ParticipantSid"
LABEL = "Label"
EVENTS = "Events"
#: REST 2010 participant status → Insights call_status (CallStatus enum); statuses not listed → null
CALL_STATUS_FROM_PARTICIPANT = {tw.P_CONNECTED: "answered", tw.P_COMPLETE: tw.COMPLETED, tw.P_FAILED: "fail",
                                tw.P_RINGING: tw.RINGING}
PARTICIPANT_SUMMARY_FIELDS = (
    "participant_sid", "label", "conference_sid", "call_sid", "account_sid", "call_direction", "from", "to",
    "call_status", "country_code", "is_moderator", "join_time", "leave_time", "duration_seconds",
    "outbound_queue_length", "outbound_time_in_queue", "jitter_buffer_size", "is_coach", "coached_participants",
    "participant_region", "conference_region", "call_type", "processing_state", "properties", "events",
    "metrics", "url")
#: participant fields with no source in fsbridge (yet): always null
PARTICIPANT_NO_SOURCE = ("call_direction", "country_code", "outbound_queue_length", "outbound_time_in_queue",
                         "jitter_buffer_size", "participant_region", "call_type")

# --- Participant Summary ``metrics`` (shape of Twilio's documented example: inbound / outbound objects) --------
METRICS_INBOUND = "inbound"
METRICS_OUTBOUND = "outbound"
M_PACKETS_LOST = "total_packets_lost"
M_PACKETS_RECEIVED = "total_packets_received"
M_LOSS_PERCENTAGE = "packet_loss_percentage"
M_JITTER = "jitter"
M_LATENCY = "latency"
M_MOS = "mos"
M_AVG = "avg"
M_MAX = "max"

# --- engine-neutral call quality carried on a CHANNEL_HANGUP_COMPLETE NativeEvent's ``extra`` pairs ----------
#: (name, decimal string) pairs an engine attaches at hangup; each optional. Receive direction (the caller's
#: audio as the bridge received it). Times in ms; MOS 1–5.
Q_PACKETS_RECEIVED = "fsbridge-quality-packets-received"
Q_PACKETS_LOST = "fsbridge-quality-packets-lost"
Q_JITTER_AVG_MS = "fsbridge-quality-jitter-avg-ms"
Q_JITTER_MAX_MS = "fsbridge-quality-jitter-max-ms"
Q_LATENCY_AVG_MS = "fsbridge-quality-latency-avg-ms"
Q_LATENCY_MAX_MS = "fsbridge-quality-latency-max-ms"
Q_MOS = "fsbridge-quality-mos"
#: which engine measured it: ``freeswitch`` | ``standalone``
Q_SOURCE = "fsbridge-quality-source"
QUALITY_EXTRAS = (Q_PACKETS_RECEIVED, Q_PACKETS_LOST, Q_JITTER_AVG_MS, Q_JITTER_MAX_MS, Q_LATENCY_AVG_MS,
                  Q_LATENCY_MAX_MS, Q_MOS)

# --- Insights Event Stream (CloudEvents as Twilio's Event Streams webhook sink sends them) --------------------
EVENT_CONFERENCE_PARTIAL = "com.twilio.voice.insights.conference-summary.partial"
EVENT_CONFERENCE_COMPLETE = "com.twilio.voice.insights.conference-summary.complete"
EVENT_PARTICIPANT_COMPLETE = "com.twilio.voice.insights.conference-participant-summary.complete"
SCHEMA_CONFERENCE = "https://events-schemas.twilio.com/VoiceInsights.ConferenceSummary/2"
SCHEMA_PARTICIPANT = "https://events-schemas.twilio.com/VoiceInsights.ConferenceParticipantSummary/2"
CLOUDEVENTS_VERSION = "1.0"
#: Twilio's JSON-body webhook signing: the body's SHA-256 (hex) in this query parameter of the signed URL
BODY_SHA256 = "bodySHA256"

# --- Participant Summary ``properties`` (the keys fsbridge has a source for) and ``events`` ------------------
P_START_CONFERENCE_ON_ENTER = "start_conference_on_enter"
P_END_CONFERENCE_ON_EXIT = "end_conference_on_exit"
P_BEEP_ON_ENTER = "beep_on_enter"
P_BEEP_ON_EXIT = "beep_on_exit"
#: REST 2010 participant event → its Participant Summary ``events`` key (Unix ms timestamps)
EVENT_KEYS = {tw.PARTICIPANT_MUTE: "mute", tw.PARTICIPANT_UNMUTE: "unmute", tw.PARTICIPANT_HOLD: "hold",
              tw.PARTICIPANT_UNHOLD: "unhold"}
