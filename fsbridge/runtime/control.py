"""What the REST API (and the CLI) may ask of the running bridge: the control surface of live conferences.

Implemented by :class:`fsbridge.runtime.bridge.Bridge`. Each method runs the domain intent, sends the
resulting engine commands, waits (bounded) for the engine's confirming event, and returns. Errors are
:class:`fsbridge.conference.errors.DomainError` (``code`` = Twilio error code, ``status`` = HTTP status)
or :class:`fsbridge.engines.base.EngineUnavailable` (→ HTTP 503). Conferences are addressed by
ConferenceSid, participants by CallSid or participant label, recordings by RecordingSid.
"""
from __future__ import annotations

from typing import Optional, Protocol

from fsbridge.markup.model import Dial


class ConferenceControl(Protocol):
    """Live-conference operations (Twilio Conference / Participant / Recording resources' writes)."""

    def end_conference(self, account_sid: str, conference_sid: str) -> None:
        """Twilio ``Status=completed``: reason conference-ended-via-api."""

    def announce(self, account_sid: str, conference_sid: str, url: str, method: str = "POST",
                 call_sid: Optional[str] = None) -> None:
        """Play AnnounceUrl (audio or a Play/Say/Pause document) to the room or one participant."""

    def update_participant(self, account_sid: str, conference_sid: str, call_sid_or_label: str, *,
                           muted: Optional[bool] = None, hold: Optional[bool] = None,
                           hold_url: Optional[str] = None, hold_method: str = "GET",
                           announce_url: Optional[str] = None, announce_method: str = "POST",
                           wait_url: Optional[str] = None, wait_method: str = "POST",
                           beep_on_exit: Optional[bool] = None,
                           end_conference_on_exit: Optional[bool] = None,
                           coaching: Optional[bool] = None, call_sid_to_coach: Optional[str] = None) -> str:
        """Apply the given changes; returns the participant's CallSid."""

    def kick(self, account_sid: str, conference_sid: str, call_sid_or_label: str) -> None:
        """DELETE participant: the call leaves the conference (its Dial completes, the call continues)."""

    def add_participant(self, account_sid: str, conference_sid_or_name: str, from_: str, to: str, dial: Dial,
                        *, timeout_s: Optional[int] = None, progress=None) -> str:
        """Dial out and join (Twilio create Participant). ``dial``: the typed ``<Dial><Conference>`` the
        dialled call runs, built from the CreateParticipant body by
        :meth:`fsbridge.api.participant_params.CreateParticipant.dial` (the conference ``name`` is replaced by
        the friendly name when ``conference_sid_or_name`` is a ConferenceSid); ``timeout_s``: ring seconds
        (Twilio ``Timeout``; None: 30); ``progress``: the call's StatusCallback
        (:class:`~fsbridge.runtime.progress.ProgressHook`) or None. Returns the new CallSid; the participant is ``queued`` until the call
        joins, and a failed dial-out is reported as participant-leave (participant_add_failed)."""

    def update_recording(self, account_sid: str, conference_sid: str, recording_sid: str, status: str,
                         pause_behavior: str = "silence") -> None:
        """Recording ``Status`` = paused | in-progress | stopped."""

    def start_recording(self, account_sid: str, conference_sid: str) -> str:
        """Record an in-progress conference from now on (the console's Record button); returns the RecordingSid."""

    def engine_available(self) -> bool:
        """False while the engine is unreachable (REST writes answer 503)."""


