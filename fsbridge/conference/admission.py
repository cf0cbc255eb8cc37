"""Admission of calls into conferences (a part of :class:`~fsbridge.conference.state.ConferenceState`):
``join`` (an answered call asks to join), ``dial_out`` (Twilio create Participant: queued at once) and
``dial_out_failed``. The index picks or creates the instance (one in-progress instance per account and
friendly name); the instance's own checks are :meth:`~fsbridge.conference.room.Conference.admit`.

Sources: twilio-twiml-conference-noun.txt (the first participant fixes the callbacks, record, trim,
maxParticipants; region from the first that gives one), twilio-conference-resource.txt ("only one of these
distinct conferences may be in-progress at any given time"), twilio Participants resource (create → queued).
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional, Tuple

from fsbridge.conference import commands as C
from fsbridge.conference import ids
from fsbridge.wire import twilio as R
from fsbridge.conference import tables as T
from fsbridge.conference.errors import BAD_COACH, INVALID_PARAMETER, INVALID_STATE, DomainError
from fsbridge.conference.model import MemberRecord
from fsbridge.conference.outcome import EMPTY, Out, Outcome
from fsbridge.conference.room import Conference, member_fields
from fsbridge.conference.rules import beep_flags, callback_config, jitter_buffer_ms
from fsbridge.markup import model as markup

DEFAULT_HOLD_MUSIC = C.DEFAULT_HOLD_MUSIC
MAX_NAME = 128           # Twilio Conference friendly_name: max 128 characters
MAX_LABEL = 128          # Twilio participantLabel: max 128 characters


class Admission:
    """join / dial_out / dial_out_failed of :class:`~fsbridge.conference.state.ConferenceState` (its
    indexes ``_confs``, ``_by_name``, ``_by_call``, ``_by_uid``, ``_cancelled_calls``)."""

    def _queued_member(self, call_sid: str) -> Optional[MemberRecord]:
        """The queued dial-out participant ``call_sid`` (not answered yet), or None."""
        conf = self._confs.get(self._by_call.get(call_sid or "", ""))
        m = conf.members.get(call_sid) if conf is not None else None
        return m if m is not None and m.status == R.P_QUEUED else None

    def join(self, *, account_sid: str, call_sid: str, unique_id: str, conference: markup.Conference,
             dialect: str, from_: str = "", to: str = "", wait_media: tuple = (DEFAULT_HOLD_MUSIC,),
             timestamp_us: Optional[int] = None) -> Outcome:
        """Ask to put a call into the conference named ``conference.name`` of ``account_sid``.

        Finds the account's instance of that name that is not completed (nor ending), or creates a new one
        (new ConferenceSid, status init; Twilio: "only one of these distinct conferences may be in-progress
        at any given time"). The first participant fixes statusCallback/statusCallbackEvent/record/trim/
        maxParticipants, and the first one giving ``region`` fixes the region (Twilio TwiML Conference).
        Returns one :class:`JoinMember` command (room = ConferenceSid, ``waiting`` = not started); the
        participant joins on the engine's add-member. ``wait_media``: the resolved waitUrl media
        (``()`` = silence, Twilio waitUrl=""). ``timestamp_us``: call time (µs), else the clock.

        A call that is a queued dial-out (:meth:`dial_out`, answered now) adopts its queued participant:
        same conference instance, same CallSid, status queued → connecting (its label stays reserved).

        Raises DomainError: 16025 duplicate participantLabel in the conference; 13240 ``conference.coach``
        (or jambonz ``speak_only_to``, a CallSid or memberTag) is not a connected participant of it;
        16020 maxParticipants reached; 21201 bad name/label/dialect;
        21220 the call is already in a conference, or it is a dial-out whose conference ended meanwhile.
        """
        if not unique_id:
            raise DomainError(INVALID_PARAMETER, "account_sid, call_sid and unique_id are required")
        queued = self._queued_member(call_sid)
        if queued is not None and queued.account_sid != account_sid:
            raise DomainError(INVALID_STATE, f"Call {call_sid} is already in a conference")
        if call_sid in self._cancelled_calls:
            room = self._cancelled_calls.pop(call_sid)
            raise DomainError(INVALID_STATE, f"Conference {room} of dial-out {call_sid} has ended")
        if unique_id in self._by_uid:
            raise DomainError(INVALID_STATE, f"Call {call_sid} is already in a conference")
        conf, coach_member, ts = self._admit(account_sid, call_sid, conference, dialect, timestamp_us,
                                             queued=queued)
        if queued is not None:
            m = queued
            m.unique_id, m.date_updated = unique_id, ts
            conf.set_status(m, T.step(T.PARTICIPANT, m.status, T.JOIN)[0])
            for name, value in member_fields(conference, coach_member).items():
                setattr(m, name, value)
            m.from_, m.to = from_ or m.from_, to or m.to
        else:
            m = self._new_member(conf, call_sid, unique_id, account_sid, conference, coach_member, from_, to, ts,
                                 T.JOIN)
        self._by_uid[unique_id] = call_sid
        enter, exit_ = beep_flags(m.beep)
        m.join_waiting = conf.status == R.CONF_INIT
        return Outcome(commands=(C.JoinMember(
            room=conf.sid, unique_id=unique_id, call_sid=call_sid, muted=m.muted,
            waiting=m.join_waiting, wait_media=tuple(wait_media),
            jitter_buffer_ms=jitter_buffer_ms(conference.jitter_buffer_size), enter_beep=enter,
            exit_beep=exit_, max_members=conf.max_participants, end_conference=m.end_conference_on_exit and not m.end_conference_grace_s),))

    def dial_out(self, *, account_sid: str, call_sid: str, conference: markup.Conference, dialect: str,
                 from_: str = "", to: str = "", timestamp_us: Optional[int] = None) -> Outcome:
        """Twilio create Participant (REST dial-out): the participant exists at once with status ``queued``.

        Same checks and conference choice as :meth:`join` (the instance named ``conference.name`` that is
        not completed nor ending, else a new one): the queued participant reserves its label (16025 for a
        duplicate) and a seat (16020). It is not a member: it starts nothing and does not count in
        member_count. When the dialled call answers, its :meth:`join` (same ``call_sid``) adopts it; when
        the dial-out fails, :meth:`dial_out_failed` reports it. No command (the runtime dials) and no event
        (Twilio sends no statusCallback for a queued participant) — the result is always empty; the
        participant is visible through :meth:`participant` / :meth:`participant_of_call`.
        Source: Twilio Participants resource (create → status queued), TwiML Conference statusCallback table.

        Raises DomainError: 16025, 13240, 16020, 21201 as :meth:`join`; 21220 the call is already in a
        conference.
        """
        if call_sid in self._cancelled_calls or self._queued_member(call_sid) is not None:
            raise DomainError(INVALID_STATE, f"Call {call_sid} is already in a conference")
        conf, coach_member, ts = self._admit(account_sid, call_sid, conference, dialect, timestamp_us)
        m = self._new_member(conf, call_sid, "", account_sid, conference, coach_member, from_, to, ts, T.DIAL_OUT)
        m.dialed = True
        conf.dialed_out = True
        return EMPTY

    def dial_out_failed(self, call_sid: str, call_status: str, cause: Optional[str] = None,
                        timestamp_us: Optional[int] = None) -> Outcome:
        """The dial-out of a queued participant failed (busy, not answered, unreachable, cancelled).

        ``call_status``: the Twilio ParticipantCallStatus — ``busy`` | ``no-answer`` | ``failed`` |
        ``canceled`` (the engine maps its own causes; FreeSWITCH: engines/freeswitch/engine.py
        ``originate_status``). ``cause``: the engine's detail (e.g. ``USER_BUSY``), informational.
        Emits ``participant-leave`` with ReasonParticipantLeft ``participant_add_failed`` and that
        ParticipantCallStatus (participant status ``failed``); the participant was never a member, so
        member_count is unchanged and no start rule runs. If that leaves a conference with nobody connected
        and nobody on the way, the end rules run (docs/domain.md: a conference only dial-outs were ever
        added to ends with conference-end, reason last-participant-left). A call that is not a queued
        participant (unknown, already answered and joining, already failed): empty Outcome.
        Raises DomainError 21201 for another ``call_status``. Source: twilio-twiml-conference-noun.txt
        statusCallback table (ParticipantCallStatus, ReasonParticipantLeft rows).
        """
        if call_status not in R.DIAL_OUT_FAILED_STATUSES:
            raise DomainError(INVALID_PARAMETER, f"ParticipantCallStatus {call_status!r} is not a failed dial-out")
        m = self._queued_member(call_sid)
        if m is None:
            self._cancelled_calls.pop(call_sid, None)   # cancelled by its conference's end: it never comes
            return EMPTY
        out = Out()
        self._confs[m.conference_sid].fail_pending(out, m, self._ts(timestamp_us), call_status)
        return out.outcome()

    def _admit(self, account_sid: str, call_sid: str, conference: markup.Conference, dialect: str,
               timestamp_us: Optional[int], queued: Optional[MemberRecord] = None
               ) -> Tuple[Conference, Optional[MemberRecord], datetime]:
        """Checks shared by :meth:`join` and :meth:`dial_out`; finds or creates the instance (the
        conference's own checks: :meth:`Conference.admit`).

        ``queued``: the call's own queued participant (a join adopting it): its conference is used and it
        does not collide with itself. Returns (conference, coached member or None, timestamp)."""
        if dialect not in markup.DIALECTS:
            raise DomainError(INVALID_PARAMETER, f"Unknown dialect {dialect!r}")
        name = conference.name
        if not name or len(name) > MAX_NAME:
            raise DomainError(INVALID_PARAMETER, "Conference name must be 1 to 128 characters")
        label = conference.participant_label
        if label is not None and (label == "" or len(label) > MAX_LABEL):
            raise DomainError(INVALID_PARAMETER, "participantLabel must be 1 to 128 characters")
        if not call_sid or not account_sid:
            raise DomainError(INVALID_PARAMETER, "account_sid, call_sid and unique_id are required")
        if call_sid in self._by_call and queued is None:
            raise DomainError(INVALID_STATE, f"Call {call_sid} is already in a conference")
        ts = self._ts(timestamp_us)
        if queued is not None:
            conf = self._confs[queued.conference_sid]
        else:
            conf = self._confs.get(self._by_name.get((account_sid, name), ""))
            if conf is not None and (conf.status == R.CONF_COMPLETED or conf.ending):
                conf = None
        if conf is None:
            coach_target = conference.coach or conference.speak_only_to
            if coach_target:   # nobody is in a new conference to coach
                raise DomainError(BAD_COACH, f"Call {coach_target} to coach is not in the conference")
            conf = Conference(
                sid=self.new_sid(ids.CONFERENCE), account_sid=account_sid, friendly_name=name,
                dialect=dialect, callbacks=callback_config(conference, dialect), date_created=ts,
                date_updated=ts, max_participants=max(1, int(conference.max_participants)),
                record_from_start=conference.record == R.RECORD_FROM_START,
                trim_silence=conference.trim == R.TRIM_SILENCE, region=conference.region, index=self)
            self._confs[conf.sid] = conf
            self._by_name[(account_sid, name)] = conf.sid
            return conf, None, ts
        coach_member = conf.admit(conference, queued)
        if conf.region is None and conference.region:
            conf.region = conference.region
        return conf, coach_member, ts

    def _new_member(self, conf: Conference, call_sid: str, unique_id: str, account_sid: str,
                    conference: markup.Conference, coach_member: Optional[MemberRecord], from_: str, to: str,
                    ts: datetime, how: str) -> MemberRecord:
        """A new participant record (``how``: T.JOIN → connecting, T.DIAL_OUT → queued) registered in
        ``conf`` and by CallSid."""
        m = MemberRecord(
            call_sid=call_sid, unique_id=unique_id, conference_sid=conf.sid, account_sid=account_sid,
            date_created=ts, date_updated=ts, from_=from_, to=to, status=T.step(T.PARTICIPANT, None, how)[0],
            **member_fields(conference, coach_member))
        conf.add_member(m)
        self._by_call[call_sid] = conf.sid
        return m


__all__ = ["Admission", "DEFAULT_HOLD_MUSIC", "MAX_NAME", "MAX_LABEL"]
