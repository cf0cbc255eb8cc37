"""Dial-out (Twilio create Participant): the queued participant, the engine's originate (FreeSWITCH) or a
virtual callee (standalone), the watch on its outcome, and a failed dial-out reported through the normal
publish path. The REST API hands over the typed ``<Dial><Conference>`` (``fsbridge.api.participant_params``)."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Optional

import gevent

from fsbridge.conference.ids import is_sid, new_sid
from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.markup.model import Dial, Response
from fsbridge.runtime.calls import is_media_url
from fsbridge.runtime.progress import COMPLETED, RINGING
from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw
from fsbridge.wire.twilio import CALL_FAILED, DIAL_OUT_FAILED_STATUSES

log = logging.getLogger("fsbridge.runtime.bridge")

#: ring time of a dial-out when CreateParticipant gives no ``Timeout`` (Twilio: 30 s)
DEFAULT_RING_TIMEOUT_S = 30


class DialOutMixin:
    """Dial-out of :class:`~fsbridge.runtime.bridge.Bridge`."""

    def add_participant(self, account_sid: str, conference_sid_or_name: str, from_: str, to: str, dial: Dial,
                        *, timeout_s: Optional[int] = None, progress=None) -> str:
        """Dial out and join (Twilio create Participant). Returns the new CallSid.

        ``dial``: the ``<Dial><Conference>`` the dialled call runs (its conference's ``name`` is replaced by the
        friendly name when ``conference_sid_or_name`` is a ConferenceSid); ``timeout_s``: ring seconds (Twilio
        ``Timeout``, default 30).

        The participant exists at once with status ``queued`` (``ConferenceState.dial_out``; recorded in the
        store, so GET Participants/{CallSid}.json finds it), then the call is placed: on FreeSWITCH
        ``bgapi originate`` (``to`` a number, ``sip:`` URI or dial string), on the standalone engine a virtual callee whose audio is ``to`` (a media URL: ``file:``/
        ``tone:``/``silence:``). When it answers, its ``<Dial><Conference>`` join adopts the queued
        participant; when it cannot be placed or is not answered, :meth:`_dial_out_failed` reports
        participant-leave (participant_add_failed, ParticipantCallStatus busy|no-answer|failed) through the
        normal publish path (store + callbacks). Raises DomainError (16025 duplicate Label, 16020 full,
        13240, 21201 bad parameters / an engine that cannot dial ``to``), EngineUnavailable (503).
        Source: Twilio Participants resource (create), TwiML Conference statusCallback table.
        """
        from fsbridge.conference.errors import INVALID_PARAMETER, DomainError, not_found
        name = conference_sid_or_name
        dialect = TWIML
        if is_sid(conference_sid_or_name, "CF"):
            info = self.state.conference(conference_sid_or_name)
            if info is None or info.account_sid != account_sid:
                raise not_found(f"Conference {conference_sid_or_name}")
            name, dialect = info.friendly_name, info.dialect
        conf = replace(dial.conference, name=name)
        first = Response(verbs=(replace(dial, conference=conf),), dialect=dialect)
        virtual = is_media_url(to)
        if not virtual and not self.engine.can_originate:
            raise DomainError(INVALID_PARAMETER,
                              f"To {to!r}: this engine dials virtual callees only (file:/path, tone:HZ)")
        if virtual and not self.engine.can_create_calls:
            raise DomainError(INVALID_PARAMETER, f"To {to!r}: this engine cannot place virtual calls")
        if virtual:
            from fsbridge.media_policy import MediaRefused, virtual_source
            try:
                virtual_source(to, self.settings.media_dirs)
            except MediaRefused as exc:
                raise DomainError(INVALID_PARAMETER, f"To: {exc}") from None
        if not self.engine_available():
            raise EngineUnavailable("the engine is not reachable")
        call_sid = new_sid("CA")
        with self._lock:
            outcome = self.state.dial_out(account_sid=account_sid, call_sid=call_sid, conference=conf,
                                          dialect=dialect, from_=from_, to=to, timestamp_us=self.now_us())
            self._publish(outcome.events)
            self._execute(outcome.commands)
            self._record_queued(call_sid)
        log.info("call %s %s → %s: dialling out (add participant to %r), queued", call_sid, from_, to, name)
        self.track_progress(progress, account_sid=account_sid, call_sid=call_sid, from_=from_, to=to,
                            direction=tw.DIRECTION_OUTBOUND_API)
        if virtual:
            gevent.spawn(self._virtual_dial_out, call_sid, account_sid, from_, to, first, dialect)
            return call_sid
        self._originated[call_sid] = dict(account_sid=account_sid, from_=from_, to=to, dialect=dialect,
                                          first=first)
        timeout_s = int(timeout_s or DEFAULT_RING_TIMEOUT_S)
        try:
            job = self.engine.originate(to, from_, call_sid, timeout_s=timeout_s)
        except EngineError as exc:   # accepted (queued) already: the failure is reported as Twilio does
            self._originated.pop(call_sid, None)
            log.warning("call %s: dial-out failed: %s", call_sid, exc)
            self._dial_out_failed(call_sid, CALL_FAILED, str(exc))
            return call_sid
        gevent.spawn(self._watch_originate, call_sid, job, timeout_s + 60)
        if progress is not None and getattr(job, "ringing", None) is not None:
            gevent.spawn(self._watch_ringing, call_sid, job, timeout_s + 60)
        return call_sid

    def _watch_ringing(self, call_sid: str, job, timeout_s: float) -> None:
        """Report call-progress ``ringing`` when the engine says the dial-out rings (FreeSWITCH
        CHANNEL_PROGRESS; ``job.ringing`` is an Event)."""
        if job.ringing.wait(timeout_s):
            self.call_progress(call_sid, RINGING)

    def _record_queued(self, call_sid: str) -> None:
        """Store the queued participant ``call_sid`` (no DomainEvent reports it). Under the bridge lock."""
        view = self.state.participant_of_call(call_sid)
        info = self.state.conference(view.conference_sid) if view is not None else None
        if self.store is None or info is None:
            return
        try:
            self.store.record_queued(info, view)
        except Exception:
            log.exception("store.record_queued failed for %s", call_sid)

    def _virtual_dial_out(self, call_sid: str, account_sid: str, from_: str, to: str, first: Response,
                          dialect: str) -> None:
        """Standalone engine: place the virtual callee of a queued dial-out (its own greenlet, as a real
        dial-out is asynchronous); a callee that cannot be placed (unreadable file, bad media URL) is a
        failed dial-out (ParticipantCallStatus ``failed``)."""
        try:
            self.place_call(account_sid, from_, to, to, url=None, first=first, dialect=dialect,
                            direction=tw.DIRECTION_OUTBOUND_API, call_sid=call_sid)
        except (ValueError, EngineError) as exc:
            log.warning("call %s: dial-out failed: %s", call_sid, exc)
            self._dial_out_failed(call_sid, CALL_FAILED, str(exc))

    def _dial_out_failed(self, call_sid: str, call_status: str, detail: Optional[str]) -> None:
        """Report a dial-out that will never join (``ConferenceState.dial_out_failed``) through the normal
        publish path. ``call_status`` outside busy|no-answer|failed|canceled becomes failed. Nothing happens
        for a call that is no longer a queued participant."""
        if call_status not in DIAL_OUT_FAILED_STATUSES:
            call_status = CALL_FAILED
        self.call_progress(call_sid, COMPLETED, call_status)
        with self._lock:
            outcome = self.state.dial_out_failed(call_sid, call_status, detail, timestamp_us=self.now_us())
            self._publish(outcome.events)
            self._execute(outcome.commands)

    def _watch_originate(self, call_sid: str, job, timeout_s: float = 120) -> None:
        """Wait (up to ``timeout_s``) for a dial-out's BACKGROUND_JOB outcome. Answered: the call comes back
        on the outbound socket (:meth:`on_call`). Otherwise (busy, no-answer, failed — FreeSWITCH causes
        mapped by ``originate_status`` —, no result in time, or ESL lost: failed) it is forgotten and
        reported by :meth:`_dial_out_failed` (participant-leave, participant_add_failed)."""
        try:
            status, detail = job.wait(timeout_s)
        except Exception as exc:
            status, detail = CALL_FAILED, str(exc)
        if status != tw.DIAL_ANSWERED:
            self._originated.pop(call_sid, None)
            log.warning("call %s: dial-out %s: %s", call_sid, status, detail)
            self._dial_out_failed(call_sid, status, detail)

