"""SQLAlchemy Core tables for conference history, declared on the shared :data:`fsbridge.store.db.metadata`.

Portable SQL only (SQLite by default, PostgreSQL by URL). Times are naive ``DateTime`` holding UTC.
Rows are kept after a conference ends and after a participant leaves (Twilio lets you read both back).
Sources: Twilio Conference / Participant / Conference Recording resources
(../shared/specs/twilio_api_v2010_conferences.json).

* ``fsb_conferences``: one row per conference instance (ConferenceSid ``CF…``).
  ``status``: init | in-progress | completed. ``last_sequence``: highest applied DomainEvent sequence.
* ``fsb_participants``: one row per (conference, CallSid); ``left_at`` set once the call left.
* ``fsb_recordings``: one row per RecordingSid (``RE…``); ``path`` is the local audio file.
* ``fsb_applied_events``: (conference_sid, sequence_number) of every recorded DomainEvent — makes
  :meth:`fsbridge.store.store.Store.record` idempotent.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text

from fsbridge.store.db import metadata
from fsbridge.wire import TWIML

conferences = Table(
    "fsb_conferences",
    metadata,
    Column("sid", String(34), primary_key=True),
    Column("account_sid", String(64), nullable=False),
    Column("friendly_name", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("dialect", String(16), nullable=False, default=TWIML),
    Column("region", String(16), nullable=True),
    Column("reason_conference_ended", String(64), nullable=True),
    Column("call_sid_ending_conference", String(64), nullable=True),
    Column("participant_label_ending_conference", String(128), nullable=True),
    Column("date_created", DateTime, nullable=False),
    Column("date_updated", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=True),
    Column("ended_at", DateTime, nullable=True),
    Column("last_sequence", Integer, nullable=False, default=0),
)
Index("ix_fsb_conferences_account_created", conferences.c.account_sid, conferences.c.date_created)
Index("ix_fsb_conferences_account_name", conferences.c.account_sid, conferences.c.friendly_name)

participants = Table(
    "fsb_participants",
    metadata,
    Column("conference_sid", String(34), primary_key=True),
    Column("call_sid", String(64), primary_key=True),
    Column("account_sid", String(64), nullable=False),
    Column("label", String(128), nullable=True),
    Column("muted", Boolean, nullable=False, default=False),
    Column("hold", Boolean, nullable=False, default=False),
    Column("coaching", Boolean, nullable=False, default=False),
    Column("call_sid_to_coach", String(64), nullable=True),
    Column("end_conference_on_exit", Boolean, nullable=False, default=False),
    Column("start_conference_on_enter", Boolean, nullable=False, default=True),
    Column("beep", String(16), nullable=False, default="true"),
    Column("status", String(16), nullable=False),
    Column("from_", String(128), nullable=False, default=""),
    Column("to", String(128), nullable=False, default=""),
    Column("date_created", DateTime, nullable=False),
    Column("date_updated", DateTime, nullable=False),
    Column("left_at", DateTime, nullable=True),
    Column("last_sequence", Integer, nullable=False, default=0),
)
Index("ix_fsb_participants_label", participants.c.conference_sid, participants.c.label)

recordings = Table(
    "fsb_recordings",
    metadata,
    Column("sid", String(34), primary_key=True),
    Column("account_sid", String(64), nullable=False),
    Column("conference_sid", String(34), nullable=False),
    Column("call_sid", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("path", Text, nullable=False, default=""),
    Column("start_time", DateTime, nullable=True),
    Column("duration_s", Integer, nullable=True),
    Column("file_size", Integer, nullable=True),
    Column("channels", Integer, nullable=False, default=1),
    Column("source", String(32), nullable=False, default="Conference"),
    Column("error_code", Integer, nullable=True),
    Column("date_created", DateTime, nullable=False),
    Column("date_updated", DateTime, nullable=False),
    Column("last_sequence", Integer, nullable=False, default=0),
)
Index("ix_fsb_recordings_conference", recordings.c.conference_sid, recordings.c.date_created)

applied_events = Table(
    "fsb_applied_events",
    metadata,
    Column("conference_sid", String(34), primary_key=True),
    Column("sequence_number", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)

conference_callbacks = Table(
    "fsb_conference_callbacks",
    metadata,
    Column("sid", String(34), primary_key=True),
    Column("config", Text, nullable=False),
)
"""``fsb_conference_callbacks``: each conference's CallbackConfig as JSON (where its callbacks go), written
with its first participant-join — what start-up reconciliation needs to send a crashed conference's
leave/end callbacks (issue 15). A table of its own, so databases made before it get it from create_all."""

call_continuations = Table(
    "fsb_call_continuations",
    metadata,
    Column("call_sid", String(64), primary_key=True),
    Column("account_sid", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("date_created", DateTime, nullable=False),
)
"""``fsb_call_continuations``: for a call that is in a conference on an engine whose calls outlive the bridge
(FreeSWITCH), what its application does when it leaves (the Dial verb, the verbs after it, the document URL,
dialect, when it joined) as JSON — written at the join, deleted when the call left its room; the next bridge
continues an adopted call from it (issue 15)."""

engine_state = Table(
    "fsb_engine_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
)
"""``fsb_engine_state``: small facts about an engine kept across bridge restarts, e.g. FreeSWITCH's
``${core_uuid}`` (key ``core_uuid@<esl host:port>``): a FreeSWITCH restarted while the bridge was down is
recognised at the bridge's start (issue 15)."""
