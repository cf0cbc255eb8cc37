"""What every route needs: the app's store, control and settings, plus the shared lookups and the guarded
control (:func:`live_control`). Set up by :func:`fsbridge.api.app.create_app` under ``app.extensions["fsbridge"]``."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional

from flask import current_app

from fsbridge.api.errors import ApiError, UNAVAILABLE, from_control, not_found
from fsbridge.runtime.control import ConferenceControl
from fsbridge.store import Store
from fsbridge.store.rows import ConferenceRow, ParticipantRow, RecordingRow


@dataclass
class ApiContext:
    """``accounts``: {AccountSid: AuthToken}; ``telnyx_keys``: {api_key: account_sid}; ``region``: the
    Twilio ``region`` value rendered; ``control``: a ConferenceControl, or None for a read-only API."""

    store: Store
    control: Optional[ConferenceControl]
    accounts: Mapping[str, str]
    telnyx_keys: Mapping[str, str] = field(default_factory=dict)
    base_url: Optional[str] = None
    region: str = "us1"
    api_keys: Mapping[str, tuple] = field(default_factory=dict)   # {SK…: (AccountSid, secret)}
    exports: Optional[object] = None   # Bulk Export job runner (fsbridge.api.bulkexport_jobs.ExportRunner), #22


def ctx() -> ApiContext:
    """The current app's ApiContext."""
    return current_app.extensions["fsbridge"]


@contextmanager
def live_control() -> Iterator[ConferenceControl]:
    """``with live_control() as control: control.kick(…)`` — the app's ConferenceControl, called directly;
    what it raises becomes an ApiError (DomainError code/status, EngineUnavailable → 503). A missing control
    or an engine reported unavailable → 503 before the block runs."""
    control = ctx().control
    if control is None:
        raise ApiError(503, UNAVAILABLE, "This bridge has no conference engine attached (read-only API)")
    if not control.engine_available():
        raise ApiError(503, UNAVAILABLE, "Conference engine unavailable")
    try:
        yield control
    except Exception as exc:  # noqa: BLE001 - what from_control does not map is re-raised
        mapped = from_control(exc)
        if mapped is None:
            raise
        raise mapped from exc


def conference_or_404(account_sid: str, conference_sid: str) -> ConferenceRow:
    """The account's conference, or 20404."""
    row = ctx().store.conference(account_sid, conference_sid)
    if row is None:
        raise not_found()
    return row


def participant_or_404(account_sid: str, conference_sid: str, who: str) -> ParticipantRow:
    """The participant (CallSid or label, including one who left) of the account's conference, or 20404.
    (The store's lookup is scoped by account and conference, so no separate conference check is needed.)"""
    row = ctx().store.participant(account_sid, conference_sid, who)
    if row is None:
        raise not_found()
    return row


def recording_or_404(account_sid: str, conference_sid: str, recording_sid: str) -> RecordingRow:
    """The recording of the account's conference, or 20404 (the store's lookup is scoped by account and
    conference, as :func:`participant_or_404`'s)."""
    row = ctx().store.recording(account_sid, conference_sid, recording_sid)
    if row is None:
        raise not_found()
    return row
