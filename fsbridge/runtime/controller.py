"""The :class:`~fsbridge.runtime.control.ConferenceControl` the REST API uses: each write runs the domain
intent, sends its commands and waits (bounded) for the engine's confirming event
(:meth:`~fsbridge.runtime.core.BridgeCore._intent`); AnnounceUrl/HoldUrl media is fetched before the lock."""
from __future__ import annotations

import logging
from typing import Optional, Tuple

from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw
from fsbridge.runtime.registry import CallRecord

log = logging.getLogger("fsbridge.runtime.bridge")


class ControlMixin:
    """Live-conference writes of :class:`~fsbridge.runtime.bridge.Bridge` (Twilio Conference /
    Participant / Recording updates); add_participant is in :mod:`fsbridge.runtime.dialout`."""

    def _fetch_media(self, account_sid: str, url: str, method: str, call_sid: Optional[str] = None,
                     dialect: str = TWIML) -> Tuple[str, ...]:
        """Media for an AnnounceUrl/HoldUrl (audio file, or a Play/Say/Pause document), fetched as the call
        ``call_sid`` (or the account) before any lock is taken. Raises DomainError 21201 when unusable."""
        from fsbridge.conference.errors import INVALID_PARAMETER, DomainError
        from fsbridge.markup.errors import MarkupError
        from fsbridge.runtime.fetch import FetchError
        from fsbridge.runtime.session import CallSession
        rec = self.registry.get(call_sid) if call_sid else None
        if rec is None:
            rec = CallRecord(call_sid=call_sid or "", account_sid=account_sid, from_="", to="",
                             direction=tw.DIRECTION_OUTBOUND_API, unique_id="", dialect=dialect)

        class _NoLeg:
            hung_up = False

        session = CallSession(self, rec, rec.leg or _NoLeg(), url=url, method=method, dialect=dialect)
        session.answered = True
        try:
            return session.media_from_url(url, method)
        except (FetchError, MarkupError) as exc:
            # details to the log only: no internal-network oracle (#14)
            log.warning("media document %s for %s: %s %s", url, account_sid, exc.code, exc.message)
            raise DomainError(INVALID_PARAMETER, f"The URL could not be used (Twilio error {exc.code})") from None

    def stored_participant(self, account_sid: str, conference_sid: str, call_sid: str):
        """The account's connected participant ``call_sid`` (a CallSid) as the store's row holds it — every
        event published so far applied, date_created/date_updated those of its first/last event — built from
        the domain without a store read (issue 21); a :class:`~fsbridge.store.rows.ParticipantRow`, or None
        when the domain cannot tell (unknown, another account's, not connected, a label): ask the store."""
        from fsbridge.store.rows import ParticipantRow
        found = self.state.published_participant(account_sid, conference_sid, call_sid)
        if found is None:
            return None
        v, created, updated = found
        return ParticipantRow(
            conference_sid=conference_sid, call_sid=v.call_sid, account_sid=account_sid, label=v.label,
            muted=v.muted, hold=v.hold, coaching=v.coaching, call_sid_to_coach=v.call_sid_to_coach,
            end_conference_on_exit=v.end_conference_on_exit, start_conference_on_enter=v.start_conference_on_enter,
            beep=v.beep, status=v.status, from_=v.from_, to=v.to, date_created=created, date_updated=updated,
            left_at=None, last_sequence=0)

    def _conference_dialect(self, conference_sid: str) -> str:
        info = self.state.conference(conference_sid)
        return info.dialect if info is not None else TWIML

    def end_conference(self, account_sid: str, conference_sid: str) -> None:
        """Twilio Conference update ``Status=completed``: end the room (ReasonConferenceEnded
        conference-ended-via-api); returns once the engine's conference-destroy was applied or
        ``confirm_timeout_s`` passed. Raises DomainError 20404, EngineUnavailable."""
        self._intent(self.state.end, account_sid, conference_sid)

    def announce(self, account_sid: str, conference_sid: str, url: str, method: str = "POST",
                 call_sid: Optional[str] = None) -> None:
        """Twilio Conference/Participant ``AnnounceUrl`` (+ ``AnnounceMethod``): fetch ``url`` (audio, or a
        Play/Say/Pause/Redirect document) before taking the lock, then play it to the room or to ``call_sid``
        (CallSid or label). Raises DomainError 21201 (unusable URL), 20404, 21220, EngineUnavailable."""
        who = None
        if call_sid:
            view = self.state.participant(conference_sid, call_sid)
            who = view.call_sid if view is not None else call_sid
        media = self._fetch_media(account_sid, url, method, who, self._conference_dialect(conference_sid))
        self._intent(self.state.announce, account_sid, conference_sid, url, media, who=who)

    def update_participant(self, account_sid: str, conference_sid: str, call_sid_or_label: str, *,
                           muted: Optional[bool] = None, hold: Optional[bool] = None,
                           hold_url: Optional[str] = None, hold_method: str = "GET",
                           announce_url: Optional[str] = None, announce_method: str = "POST",
                           wait_url: Optional[str] = None, wait_method: str = "POST",
                           beep_on_exit: Optional[bool] = None,
                           end_conference_on_exit: Optional[bool] = None,
                           coaching: Optional[bool] = None, call_sid_to_coach: Optional[str] = None) -> str:
        """Twilio Participant update: apply each given change (None = unchanged) — Muted, Hold (+ HoldUrl
        audio/document fetched before the lock), BeepOnExit, EndConferenceOnExit, Coaching/CallSidToCoach,
        WaitUrl, AnnounceUrl — each waiting (bounded) for its engine confirmation. ``wait_method`` is accepted
        for the contract and unused. Returns the participant's CallSid. Raises DomainError 20404 (unknown
        conference/participant or another account's), 21220 (not connected), 21201 (unusable URL),
        EngineUnavailable."""
        from fsbridge.conference.errors import not_found
        view = self.state.participant(conference_sid, call_sid_or_label)
        info = self.state.conference(conference_sid)
        if view is None or info is None or info.account_sid != account_sid:
            raise not_found(f"Participant {call_sid_or_label}")
        who = view.call_sid
        dialect = info.dialect   # the conference looked up above (not a second domain lookup)
        hold_media = None
        if hold and hold_url:
            hold_media = self._fetch_media(account_sid, hold_url, hold_method, who, dialect)
        announce_media = None
        if announce_url:
            announce_media = self._fetch_media(account_sid, announce_url, announce_method, who, dialect)
        if muted is not None:
            self._intent(self.state.set_muted, account_sid, conference_sid, who, muted)
        if hold is not None:
            if hold_media is not None:
                self._intent(self.state.set_hold, account_sid, conference_sid, who, hold, media=hold_media)
            else:
                self._intent(self.state.set_hold, account_sid, conference_sid, who, hold)
        if any(v is not None for v in (beep_on_exit, end_conference_on_exit, coaching, call_sid_to_coach,
                                       wait_url)):
            self._intent(self.state.modify, account_sid, conference_sid, who, beep_on_exit=beep_on_exit,
                         end_conference_on_exit=end_conference_on_exit, coaching=coaching,
                         call_sid_to_coach=call_sid_to_coach, wait_url=wait_url)
        if announce_media is not None:
            self._intent(self.state.announce, account_sid, conference_sid, announce_url, announce_media, who=who)
        return who

    def kick(self, account_sid: str, conference_sid: str, call_sid_or_label: str) -> None:
        """Twilio DELETE Participant: the call leaves the conference (ReasonParticipantLeft
        participant_updated_via_api; its Dial completes and the call continues with its next verb).
        ``call_sid_or_label``: CallSid or participant label. Raises DomainError 20404, 21220,
        EngineUnavailable."""
        self._intent(self.state.kick, account_sid, conference_sid, call_sid_or_label)

    def start_recording(self, account_sid: str, conference_sid: str) -> str:
        """Record an in-progress conference from now on, as ``record="record-from-start"`` does at the start
        (the console's Record button: Twilio's REST has no create for Conference Recordings). Returns the new
        RecordingSid once the engine's start-recording was applied (recording-in-progress, then the
        recordingStatusCallback as configured) or ``confirm_timeout_s`` passed. Raises DomainError 20404,
        21220 (the conference is not in progress, or a recording is already running), EngineUnavailable."""
        self._intent(self.state.start_recording, account_sid, conference_sid)
        return self.state.conference(conference_sid).recording_sids[-1]

    def update_recording(self, account_sid: str, conference_sid: str, recording_sid: str, status: str,
                         pause_behavior: str = "silence") -> None:
        """Twilio Conference Recording update ``Status`` = paused | in-progress | stopped. ``pause_behavior``
        is accepted for the contract and ignored: both engines leave paused audio out of the file (Twilio
        ``PauseBehavior=skip``; FreeSWITCH ``recording pause``). Raises DomainError 20404, 21201 (bad status), EngineUnavailable."""
        self._intent(self.state.update_recording, account_sid, conference_sid, recording_sid, status)
