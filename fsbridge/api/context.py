"""What every route needs: the app's store, control and settings, plus the shared lookups and the guarded
control call. Set up by :func:`fsbridge.api.app.create_app` under ``app.extensions["fsbridge"]``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from flask import current_app

from fsbridge.api.errors import ApiError, UNAVAILABLE, from_control, not_found
from fsbridge.store import Store
from fsbridge.store.rows import ConferenceRow, ParticipantRow, RecordingRow


@dataclass
class ApiContext:
    """``accounts``: {AccountSid: AuthToken}; ``telnyx_keys``: {api_key: account_sid}; ``region``: the
    Twilio ``region`` value rendered; ``control``: a ConferenceControl, or None for a read-only API."""

    store: Store
    control: Any
    accounts: Mapping[str, str]
    telnyx_keys: Mapping[str, str] = field(default_factory=dict)
    base_url: Optional[str] = None
    region: str = "us1"


def ctx() -> ApiContext:
    """The current app's ApiContext."""
    return current_app.extensions["fsbridge"]


def call_control(method: str, *args, **kwargs) -> Any:
    """Call ``control.<method>(*args, **kwargs)``; its errors become ApiErrors (DomainError code/status,
    EngineUnavailable → 503). A missing control or an engine reported unavailable → 503 without calling."""
    control = ctx().control
    if control is None:
        raise ApiError(503, UNAVAILABLE, "This bridge has no conference engine attached (read-only API)")
    available: Callable[[], bool] = getattr(control, "engine_available", lambda: True)
    if not available():
        raise ApiError(503, UNAVAILABLE, "Conference engine unavailable")
    try:
        return getattr(control, method)(*args, **kwargs)
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
