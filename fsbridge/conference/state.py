"""ConferenceState: Twilio conference semantics as a sans-IO state machine (model: h11 ``_state.py``).

Inputs are *intents* (``join``, ``set_muted``, ``kick`` …, from the runtime / REST API) and *native events*
(``apply``, from an engine). An intent validates, may raise :class:`DomainError`, and returns engine
commands; the state itself changes only when the engine's confirming native event arrives (``mute-member``
makes the participant muted and yields ``participant-mute``). Exceptions, because no engine event exists
for them: ``modify`` (exit beep, endConferenceOnExit, coaching, waitUrl) changes state at once; ``end`` of a
conference without connected members completes it at once.

Every output is an :class:`Outcome`: engine commands in order + domain events in SequenceNumber order.
The caller serialises calls (one lock); nothing here does I/O, reads the network or sleeps.
The event order chosen is explained in docs/domain.md.

Sources: twilio-twiml-conference-noun.txt (attributes, start/end rules, statusCallback parameters),
twilio-conference-events-announcement.txt (Team Meeting: start when the second participant joins),
twilio-conference-resource.txt (one in-progress instance per friendly name), telnyx-texml-conference.txt,
jambonz-conference-verb.txt, ../shared/fixtures/freeswitch/README.md (engine event order).
"""
from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple

from fsbridge.conference import commands as C
from fsbridge.conference import events as ev
from fsbridge.conference import ids
from fsbridge.conference import native as N
from fsbridge.conference import reasons as R
from fsbridge.conference.errors import (BAD_COACH, CONFERENCE_FULL, DUPLICATE_LABEL, INVALID_PARAMETER,
                                        INVALID_STATE, DomainError, not_found)
from fsbridge.conference.events import DomainEvent, ParticipantView, RecordingView
from fsbridge.conference.model import ConferenceInfo, ConferenceRecord, MemberRecord, RecordingRecord
from fsbridge.conference.native import EngineSnapshot, NativeEvent
from fsbridge.conference.rules import (beep_flags, beep_mode, callback_config, jitter_buffer_ms,
                                       should_start)
from fsbridge.conference.subscriptions import is_status_event, is_subscribed
from fsbridge.markup import model as markup
from fsbridge.markup.twiml import PARTICIPANT_LABEL_MAX as MAX_LABEL   # Twilio participantLabel ≤ 128

DEFAULT_HOLD_MUSIC = C.DEFAULT_HOLD_MUSIC
MAX_NAME = 128           # Twilio Conference friendly_name: max 128 characters
KEEP_COMPLETED = 10000   # completed instances kept for queries (the store keeps them for ever)
#: participant statuses of someone present or on the way (queued dial-out, connecting, connected)
LIVE = (R.P_QUEUED, R.P_CONNECTING, R.P_CONNECTED)


@dataclass(frozen=True)
class Outcome:
    """What one call into :class:`ConferenceState` produced.

    ``commands``: :mod:`fsbridge.conference.commands` objects to send to the engine, in order.
    ``events``: :class:`DomainEvent` s in SequenceNumber order (per conference), to record and dispatch.
    """

    commands: tuple = ()
    events: tuple = ()


EMPTY = Outcome()


def _dt(timestamp_us: int) -> datetime:
    return datetime.fromtimestamp(timestamp_us / 1e6, tz=timezone.utc)


def _member_settings(conference: markup.Conference, coach_member: Optional[MemberRecord]) -> dict:
    """The MemberRecord fields a participant takes from its ``conference`` noun (a new join, or a queued
    dial-out adopted by its answered call): participantLabel, muted, start/endConferenceOnEnter/Exit, beep,
    waitUrl, and coaching ``coach_member`` (Twilio TwiML Conference / jambonz conference verb)."""
    return dict(
        label=conference.participant_label, muted=conference.muted,
        start_conference_on_enter=conference.start_conference_on_enter,
        end_conference_on_exit=conference.end_conference_on_exit, beep=beep_mode(conference.beep),
        wait_url=conference.wait_url, coaching=coach_member is not None,
        call_sid_to_coach=coach_member.call_sid if coach_member else None)


class _Out:
    """Collects commands and events while one input is processed."""

    def __init__(self) -> None:
        self.commands: List[object] = []
        self.events: List[DomainEvent] = []

    def outcome(self) -> Outcome:
        return Outcome(tuple(self.commands), tuple(self.events))


class ConferenceState:
    """All conferences of one bridge, sans-IO; the caller serialises calls (one lock).

    ``recordings_dir``: directory recordings go to (``<dir>/<RecordingSid>.wav``). ``clock``: returns
    seconds since the epoch, used only for times no engine event gives (join without ``timestamp_us``,
    modify); ``new_sid``: SID factory ``prefix → sid`` (tests may make it deterministic).
    """

    def __init__(self, *, recordings_dir: str = "recordings", clock: Callable[[], float] = time.time,
                 new_sid: Callable[[str], str] = ids.new_sid):
        self.recordings_dir = recordings_dir
        self._clock = clock
        self._new_sid = new_sid
        self._confs: Dict[str, ConferenceRecord] = {}
        self._by_name: Dict[Tuple[str, str], str] = {}       # (account, friendly name) → latest sid
        self._by_call: Dict[str, str] = {}                   # CallSid → conference sid (not left)
        self._by_uid: Dict[str, str] = {}                    # unique_id → CallSid (not left)
        self._cancelled: Dict[str, str] = {}                 # unique_id → room: join outlived its conference
        self._cancelled_calls: Dict[str, str] = {}           # CallSid → room: dial-out outlived its conference
        self._completed: collections.deque = collections.deque()

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=timezone.utc)

    def _emit(self, out: _Out, conf: ConferenceRecord, name: str, ts: datetime,
              participant: Optional[MemberRecord] = None, **fields) -> None:
        conf.sequence += 1
        conf.date_updated = ts
        subscribed = is_subscribed(name, conf.callbacks)
        status_sequence = None
        if subscribed and is_status_event(name):
            conf.status_sequence += 1
            status_sequence = conf.status_sequence
        out.events.append(DomainEvent(
            name=name, account_sid=conf.account_sid, conference_sid=conf.sid,
            friendly_name=conf.friendly_name, sequence_number=conf.sequence, timestamp=ts,
            status_sequence=status_sequence, callbacks=conf.callbacks, subscribed=subscribed,
            member_count=len(conf.joined), started_at=conf.started_at,
            participant=participant.view() if participant is not None else None, **fields))

    def _get_conf(self, account_sid: str, conference_sid: str) -> ConferenceRecord:
        conf = self._confs.get(conference_sid)
        if conf is None or conf.account_sid != account_sid:
            raise not_found(f"Conference {conference_sid}")
        return conf

    def _find(self, conf: ConferenceRecord, who: str) -> MemberRecord:
        """The live (queued/connecting/connected) participant whose CallSid or label is ``who``; else 20404."""
        live = [m for m in conf.members.values() if m.status in LIVE]
        m = next((x for x in live if x.call_sid == who), None) or next(
            (x for x in live if x.label is not None and x.label == who), None)
        if m is None:
            raise not_found(f"Participant {who}")
        return m

    def _joined_member(self, account_sid: str, conference_sid: str, who: str) -> Tuple[ConferenceRecord, MemberRecord]:
        conf = self._get_conf(account_sid, conference_sid)
        m = self._find(conf, who)
        if not m.joined:
            raise DomainError(INVALID_STATE, f"Participant {who} is not connected to the conference yet")
        return conf, m

    def _member_of_event(self, event: NativeEvent) -> Tuple[Optional[ConferenceRecord], Optional[MemberRecord]]:
        conf = self._confs.get(event.room)
        if conf is None:
            return None, None
        m = None
        if event.unique_id is not None:
            cs = self._by_uid.get(event.unique_id)
            if cs is not None:
                m = conf.members.get(cs)
        if m is None and event.member_id is not None:
            m = next((x for x in conf.members.values() if x.member_id == event.member_id), None)
        if m is not None and m.status not in (R.P_CONNECTING, R.P_CONNECTED):
            m = None
        return conf, m

    def _active_recordings(self, conf: ConferenceRecord) -> List[RecordingRecord]:
        return [r for r in conf.recordings.values()
                if r.status in (R.REC_PROCESSING, R.REC_IN_PROGRESS, R.REC_PAUSED)]

    # ------------------------------------------------------------------ intents
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
            m.unique_id, m.status, m.date_updated = unique_id, R.P_CONNECTING, ts
            for name, value in _member_settings(conference, coach_member).items():
                setattr(m, name, value)
            m.from_, m.to = from_ or m.from_, to or m.to
        else:
            m = self._new_member(conf, call_sid, unique_id, account_sid, conference, coach_member, from_, to, ts)
        self._by_uid[unique_id] = call_sid
        enter, exit_ = beep_flags(m.beep)
        m.join_waiting = conf.status == R.CONF_INIT
        return Outcome(commands=(C.JoinMember(
            room=conf.sid, unique_id=unique_id, call_sid=call_sid, muted=m.muted,
            waiting=m.join_waiting, wait_media=tuple(wait_media),
            jitter_buffer_ms=jitter_buffer_ms(conference.jitter_buffer_size), enter_beep=enter,
            exit_beep=exit_, max_members=conf.max_participants, end_conference=m.end_conference_on_exit),))

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
        m = self._new_member(conf, call_sid, "", account_sid, conference, coach_member, from_, to, ts)
        m.status, m.dialed = R.P_QUEUED, True
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
        ts = _dt(timestamp_us) if timestamp_us is not None else self._now()
        out = _Out()
        self._fail_pending(out, self._confs[m.conference_sid], m, ts, call_status)
        return out.outcome()

    def _queued_member(self, call_sid: str) -> Optional[MemberRecord]:
        """The queued dial-out participant ``call_sid`` (not answered yet), or None."""
        conf = self._confs.get(self._by_call.get(call_sid or "", ""))
        m = conf.members.get(call_sid) if conf is not None else None
        return m if m is not None and m.status == R.P_QUEUED else None

    def _admit(self, account_sid: str, call_sid: str, conference: markup.Conference, dialect: str,
               timestamp_us: Optional[int], queued: Optional[MemberRecord] = None
               ) -> Tuple[ConferenceRecord, Optional[MemberRecord], datetime]:
        """Checks shared by :meth:`join` and :meth:`dial_out`; finds or creates the instance.

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
        ts = _dt(timestamp_us) if timestamp_us is not None else self._now()

        if queued is not None:
            conf = self._confs[queued.conference_sid]
        else:
            conf = self._confs.get(self._by_name.get((account_sid, name), ""))
            if conf is not None and (conf.status == R.CONF_COMPLETED or conf.ending):
                conf = None
        live = [m for m in conf.members.values() if m.status in LIVE and m is not queued] if conf else []
        if label is not None and any(m.label == label for m in live):
            raise DomainError(DUPLICATE_LABEL, f"Participant label {label!r} already exists in the conference")
        coach_member = None
        coach_target = conference.coach or conference.speak_only_to   # Twilio coach / jambonz speakOnlyTo
        if coach_target:
            coach_member = next((m for m in live if coach_target in (m.call_sid, m.label)), None)
            if coach_member is None or not coach_member.joined:
                raise DomainError(BAD_COACH, f"Call {coach_target} to coach is not in the conference")
        if conf is not None and len(live) >= conf.max_participants:
            raise DomainError(CONFERENCE_FULL, f"Conference {name!r} is full ({conf.max_participants})")
        if conf is None:
            conf = ConferenceRecord(
                sid=self._new_sid(ids.CONFERENCE), account_sid=account_sid, friendly_name=name,
                dialect=dialect, callbacks=callback_config(conference, dialect), date_created=ts,
                date_updated=ts, max_participants=max(1, int(conference.max_participants)),
                record_from_start=conference.record == R.RECORD_FROM_START,
                trim_silence=conference.trim == R.TRIM_SILENCE, region=conference.region)
            self._confs[conf.sid] = conf
            self._by_name[(account_sid, name)] = conf.sid
        elif conf.region is None and conference.region:
            conf.region = conference.region
        return conf, coach_member, ts

    def _new_member(self, conf: ConferenceRecord, call_sid: str, unique_id: str, account_sid: str,
                    conference: markup.Conference, coach_member: Optional[MemberRecord], from_: str, to: str,
                    ts: datetime) -> MemberRecord:
        """A new participant record (status connecting) registered in ``conf`` and by CallSid."""
        m = MemberRecord(
            call_sid=call_sid, unique_id=unique_id, conference_sid=conf.sid, account_sid=account_sid,
            date_created=ts, date_updated=ts, from_=from_, to=to,
            **_member_settings(conference, coach_member))
        conf.members[call_sid] = m
        self._by_call[call_sid] = conf.sid
        return m

    def set_muted(self, account_sid: str, conference_sid: str, who: str, muted: bool) -> Outcome:
        """Twilio Participant ``Muted``: → MuteMember/UnmuteMember (nothing when already so).

        The participant-mute/-unmute event comes with the engine's mute-member/unmute-member.
        Raises DomainError 20404 (no such conference/participant), 21220 (not connected yet).
        """
        conf, m = self._joined_member(account_sid, conference_sid, who)
        if m.muted == bool(muted):
            return EMPTY
        cmd = C.MuteMember if muted else C.UnmuteMember
        return Outcome(commands=(cmd(room=conf.sid, member_id=m.member_id),))

    def set_hold(self, account_sid: str, conference_sid: str, who: str, hold: bool,
                 media: tuple = (DEFAULT_HOLD_MUSIC,)) -> Outcome:
        """Twilio Participant ``Hold`` (+ ``HoldUrl`` resolved to ``media``): → HoldMember/UnholdMember
        (nothing when already so). participant-hold/-unhold come with hold-member/unhold-member.
        Raises DomainError 20404, 21220 as :meth:`set_muted`."""
        conf, m = self._joined_member(account_sid, conference_sid, who)
        if m.hold == bool(hold):
            return EMPTY
        if hold:
            return Outcome(commands=(C.HoldMember(room=conf.sid, member_id=m.member_id, media=tuple(media)),))
        return Outcome(commands=(C.UnholdMember(room=conf.sid, member_id=m.member_id),))

    def modify(self, account_sid: str, conference_sid: str, who: str, *, beep_on_exit: Optional[bool] = None,
               end_conference_on_exit: Optional[bool] = None, coaching: Optional[bool] = None,
               call_sid_to_coach: Optional[str] = None, wait_url: Optional[str] = None) -> Outcome:
        """Twilio Participant update of BeepOnExit / EndConferenceOnExit / Coaching / CallSidToCoach /
        WaitUrl. No engine event confirms these, so the state changes now and one participant-modify is
        emitted when anything changed (Twilio statusCallbackEvent ``modify``). Commands: SetExitBeep,
        SetCoach. ``call_sid_to_coach`` without ``coaching`` implies coaching=True.

        Raises DomainError 20404, 21220 as :meth:`set_muted`; 13240 when coaching targets a call that is
        not a connected participant of this conference (or the participant itself).
        """
        conf, m = self._joined_member(account_sid, conference_sid, who)
        out = _Out()
        changed = False
        if coaching is None and call_sid_to_coach is not None:
            coaching = True
        if coaching:
            target_sid = call_sid_to_coach or m.call_sid_to_coach
            target = conf.members.get(target_sid) if target_sid else None
            if target is None or not target.joined or target is m:
                raise DomainError(BAD_COACH, f"Call {target_sid} to coach is not in the conference")
            if not m.coaching or m.call_sid_to_coach != target.call_sid:
                m.coaching, m.call_sid_to_coach = True, target.call_sid
                out.commands.append(C.SetCoach(room=conf.sid, coach_member_id=m.member_id,
                                               coached_member_id=target.member_id))
                changed = True
        elif coaching is False and m.coaching:
            m.coaching, m.call_sid_to_coach = False, None
            out.commands.append(C.SetCoach(room=conf.sid, coach_member_id=m.member_id, coached_member_id=None))
            changed = True
        if beep_on_exit is not None:
            enter, exit_ = beep_flags(m.beep)
            if exit_ != bool(beep_on_exit):
                m.beep = beep_mode((enter, bool(beep_on_exit)))
                out.commands.append(C.SetExitBeep(room=conf.sid, member_id=m.member_id, enabled=bool(beep_on_exit)))
                changed = True
        if end_conference_on_exit is not None and m.end_conference_on_exit != bool(end_conference_on_exit):
            m.end_conference_on_exit = bool(end_conference_on_exit)
            changed = True
        if wait_url is not None and wait_url != m.wait_url:
            m.wait_url = wait_url
            changed = True
        if changed:
            ts = self._now()
            m.date_updated = ts
            self._emit(out, conf, ev.PARTICIPANT_MODIFY, ts, m)
        return out.outcome()

    def kick(self, account_sid: str, conference_sid: str, who: str, *,
             reason: str = R.LEFT_PARTICIPANT_UPDATED_VIA_API) -> Outcome:
        """Remove a participant (Twilio DELETE Participant; the call continues) → KickMember.

        ``reason``: the ReasonParticipantLeft to report (default participant_updated_via_api; the runtime
        passes participant_hung_up for hangupOnStar / timeLimit leaves, which then count as "left", not
        "kicked", for ReasonConferenceEnded). participant-leave comes with the engine's del-member.
        Raises DomainError 20404, 21220 as :meth:`set_muted`; 21201 for an unknown reason.
        """
        if reason not in R.REASONS_PARTICIPANT_LEFT:
            raise DomainError(INVALID_PARAMETER, f"Unknown ReasonParticipantLeft {reason!r}")
        conf, m = self._joined_member(account_sid, conference_sid, who)
        if m.leave_reason is None:
            m.leave_reason = reason
        m.kicked = reason != R.LEFT_PARTICIPANT_HUNG_UP
        return Outcome(commands=(C.KickMember(room=conf.sid, member_id=m.member_id),))

    def announce(self, account_sid: str, conference_sid: str, url: str, media: tuple,
                 who: Optional[str] = None) -> Outcome:
        """Twilio AnnounceUrl to the conference (``who`` None) or to one participant → PlayMedia.

        ``media``: the resolved media of ``url`` (non-empty). announcement-end comes with the engine's
        play-file-done / play-file-member-done for the last item, announcement-fail with a play-file
        carrying ``error``. Raises DomainError 20404, 21220 (conference completed / participant not
        connected), 21201 (empty media).
        """
        conf = self._get_conf(account_sid, conference_sid)
        if conf.status == R.CONF_COMPLETED or conf.ending:
            raise DomainError(INVALID_STATE, f"Conference {conference_sid} is not in progress")
        if not media:
            raise DomainError(INVALID_PARAMETER, "AnnounceUrl gave nothing to play")
        member_id = None
        if who is not None:
            _, m = self._joined_member(account_sid, conference_sid, who)
            member_id = m.member_id
        conf.announcements.append((member_id, media[-1], url))
        return Outcome(commands=(C.PlayMedia(room=conf.sid, media=tuple(media), member_id=member_id),))

    def end(self, account_sid: str, conference_sid: str) -> Outcome:
        """Twilio Conference update ``Status=completed`` (ReasonConferenceEnded conference-ended-via-api).

        → StopRecording for active recordings, then EndConference. Remaining participants leave on their
        del-member (ReasonParticipantLeft conference_ended_via_api), then conference-end. With nobody
        connected, conference-end is emitted at once. Already completed or ending: nothing.
        Raises DomainError 20404.
        """
        conf = self._get_conf(account_sid, conference_sid)
        if conf.status == R.CONF_COMPLETED or conf.ending:
            return EMPTY
        out = _Out()
        self._decide_end(out, conf, R.CONFERENCE_ENDED_VIA_API, None, None,
                         R.LEFT_CONFERENCE_ENDED_VIA_API, "Conference ended via API", self._now())
        return out.outcome()

    def start_recording(self, account_sid: str, conference_sid: str, *, trim_silence: Optional[bool] = None) -> Outcome:
        """Start recording an in-progress conference now (what record-from-start does at the start) →
        StartRecording to ``recordings_dir/<RecordingSid>.wav``; the new RecordingSid is the last of
        ``conference(sid).recording_sids``; recording-in-progress comes with the engine's start-recording.
        ``trim_silence``: None = the conference's ``trim``. Raises DomainError 20404; 21220 when the
        conference is not in progress (wait music is never recorded) or a recording is already running."""
        conf = self._get_conf(account_sid, conference_sid)
        if conf.status != R.CONF_IN_PROGRESS or conf.ending:
            raise DomainError(INVALID_STATE, f"Conference {conference_sid} is not in progress")
        if self._active_recordings(conf):
            raise DomainError(INVALID_STATE, f"Conference {conference_sid} is already being recorded")
        out = _Out()
        self._new_recording(out, conf, conf.trim_silence if trim_silence is None else bool(trim_silence))
        return out.outcome()

    def _new_recording(self, out: _Out, conf: ConferenceRecord, trim_silence: bool) -> None:
        sid = self._new_sid(ids.RECORDING)
        rec = RecordingRecord(sid=sid, path=os.path.join(self.recordings_dir, f"{sid}.wav"),
                              trim_silence=trim_silence)
        conf.recordings[sid] = rec
        out.commands.append(C.StartRecording(room=conf.sid, path=rec.path, trim_silence=rec.trim_silence))

    def update_recording(self, account_sid: str, conference_sid: str, recording_sid: str, status: str) -> Outcome:
        """Twilio Conference Recording update ``Status`` = paused | in-progress | stopped →
        PauseRecording / ResumeRecording / StopRecording (nothing when already so). State changes on the
        engine's pause-/resume-/stop-recording. Raises DomainError 20404, 21201 (bad status),
        21220 (recording already finished)."""
        conf = self._get_conf(account_sid, conference_sid)
        rec = conf.recordings.get(recording_sid)
        if rec is None:
            raise not_found(f"Recording {recording_sid}")
        if status not in (R.REC_PAUSED, R.REC_IN_PROGRESS, R.REC_STOPPED):
            raise DomainError(INVALID_PARAMETER, f"Recording status {status!r} must be paused, in-progress or stopped")
        if rec.status in (R.REC_STOPPED, R.REC_COMPLETED, R.REC_ABSENT):
            if status == R.REC_STOPPED:
                return EMPTY
            raise DomainError(INVALID_STATE, f"Recording {recording_sid} is {rec.status}")
        if status == rec.status:
            return EMPTY
        cmd = {R.REC_PAUSED: C.PauseRecording, R.REC_IN_PROGRESS: C.ResumeRecording,
               R.REC_STOPPED: C.StopRecording}[status]
        return Outcome(commands=(cmd(room=conf.sid, path=rec.path),))

    # ------------------------------------------------------------------ end rules
    def _decide_end(self, out: _Out, conf: ConferenceRecord, reason: str, call_sid: Optional[str],
                    label: Optional[str], others_reason: str, text: str, ts: datetime) -> None:
        """Fix the end (reason, who) and ask the engine to remove everyone; finish if nobody is left."""
        conf.ending_reason, conf.call_sid_ending, conf.label_ending = reason, call_sid, label
        conf.reason_text = text
        self._cancel_pending(out, conf, ts)
        for m in conf.queued:   # dial-outs not answered yet will never join: reported before conference-end
            self._cancelled_calls[m.call_sid] = conf.sid
            self._fail_pending(out, conf, m, ts, R.CALL_CANCELED)
        for m in conf.joined:
            if m.leave_reason is None:
                m.leave_reason = others_reason
        for rec in self._active_recordings(conf):
            out.commands.append(C.StopRecording(room=conf.sid, path=rec.path))
        out.commands.append(C.EndConference(room=conf.sid))
        if not conf.joined:
            self._finish(out, conf, ts)

    def _finish(self, out: _Out, conf: ConferenceRecord, ts: datetime) -> None:
        """Complete the conference: conference-end once; pending joins are cancelled (kicked on arrival)."""
        if conf.status == R.CONF_COMPLETED:
            return
        self._cancel_pending(out, conf, ts)
        conf.status = R.CONF_COMPLETED
        conf.ended_at = ts
        self._emit(out, conf, ev.CONFERENCE_END, ts, reason_conference_ended=conf.ending_reason,
                   call_sid_ending_conference=conf.call_sid_ending,
                   participant_label_ending_conference=conf.label_ending, reason=conf.reason_text)
        self._completed.append(conf.sid)
        while len(self._completed) > KEEP_COMPLETED:
            old = self._confs.pop(self._completed.popleft(), None)
            if old is not None and self._by_name.get((old.account_sid, old.friendly_name)) == old.sid:
                del self._by_name[(old.account_sid, old.friendly_name)]

    def _cancel_pending(self, out: _Out, conf: ConferenceRecord, ts: datetime) -> None:
        """Joins still on their way when the end is decided never join: kicked if add-member comes. An
        answered REST dial-out among them was visible (queued) to the API: its participant-leave
        (participant_add_failed, canceled) is reported."""
        for m in conf.pending:
            self._cancelled[m.unique_id] = conf.sid
            self._fail_pending(out, conf, m, ts, R.CALL_CANCELED)

    def _forget_member(self, m: MemberRecord) -> None:
        if self._by_call.get(m.call_sid) == m.conference_sid:
            del self._by_call[m.call_sid]
        if self._by_uid.get(m.unique_id) == m.call_sid:
            del self._by_uid[m.unique_id]

    def _leave(self, out: _Out, conf: ConferenceRecord, m: MemberRecord, ts: datetime,
               hangup_cause: Optional[str]) -> None:
        """The engine removed ``m``: participant-leave, then the end rules (Twilio TwiML Conference)."""
        if m.speaking:
            m.speaking = False
            self._emit(out, conf, ev.PARTICIPANT_SPEECH_STOP, ts, m)
        reason = m.leave_reason or R.LEFT_PARTICIPANT_HUNG_UP
        kicked = m.kicked and reason != R.LEFT_PARTICIPANT_HUNG_UP
        hung_up = hangup_cause is not None     # FreeSWITCH: del-member carries Hangup-Cause only when the
        #                                        channel is hanging up; otherwise the call continues
        m.status = R.P_COMPLETE
        m.date_updated = ts
        self._forget_member(m)
        conf.announcements = [a for a in conf.announcements if a[0] is None or a[0] != m.member_id]
        for other in conf.joined:   # a coach whose coached participant left coaches nobody
            if other.coaching and other.call_sid_to_coach == m.call_sid:
                other.coaching, other.call_sid_to_coach = False, None
                out.commands.append(C.SetCoach(room=conf.sid, coach_member_id=other.member_id,
                                               coached_member_id=None))
        self._emit(out, conf, ev.PARTICIPANT_LEAVE, ts, m, reason_participant_left=reason,
                   participant_call_status=R.CALL_COMPLETED if hung_up else R.CALL_IN_PROGRESS)
        conf.last_left = (m.call_sid, m.label, kicked)
        if conf.status == R.CONF_COMPLETED:
            return
        if conf.ending:
            if not conf.joined:
                self._finish(out, conf, ts)
            return
        if m.end_conference_on_exit:
            end_reason = R.ECOE_KICKED if kicked else R.ECOE_LEFT
            text = (f"Participant {m.call_sid} with endConferenceOnExit "
                    f"{'was kicked' if kicked else 'left'}")
            self._decide_end(out, conf, end_reason, m.call_sid, m.label,
                             R.LEFT_MODERATOR_ENDED_CONFERENCE, text, ts)
            return
        self._maybe_last_left(out, conf, ts)

    def _maybe_last_left(self, out: _Out, conf: ConferenceRecord, ts: datetime) -> None:
        """Nobody connected and nobody on the way (connecting or queued dial-out): the conference ends
        (last-participant-left/-kicked). A conference nobody ever joined is dropped without an event —
        unless a REST dial-out was queued in it (its ConferenceSid was answered to the API and its failure
        reported): then it ends with conference-end like any other (docs/domain.md)."""
        if conf.status == R.CONF_COMPLETED or conf.ending or conf.joined or conf.pending or conf.queued:
            return
        if not conf.ever_joined and not conf.dialed_out:   # refused joins only: the instance never existed
            self._drop(conf)
            return
        call_sid, label, kicked = conf.last_left or (None, None, False)
        conf.ending_reason = R.LAST_PARTICIPANT_KICKED if kicked else R.LAST_PARTICIPANT_LEFT
        conf.call_sid_ending, conf.label_ending = call_sid, label
        conf.reason_text = f"Last participant {'was kicked' if kicked else 'left'}"
        for rec in self._active_recordings(conf):
            out.commands.append(C.StopRecording(room=conf.sid, path=rec.path))
        self._finish(out, conf, ts)

    def _drop(self, conf: ConferenceRecord) -> None:
        self._confs.pop(conf.sid, None)
        if self._by_name.get((conf.account_sid, conf.friendly_name)) == conf.sid:
            del self._by_name[(conf.account_sid, conf.friendly_name)]

    def _start(self, out: _Out, conf: ConferenceRecord, ts: datetime) -> None:
        """conference-start, StartConference, and record-from-start's StartRecording."""
        conf.status = R.CONF_IN_PROGRESS
        conf.started_at = ts
        self._emit(out, conf, ev.CONFERENCE_START, ts)
        out.commands.append(C.StartConference(room=conf.sid))
        if conf.record_from_start:
            self._new_recording(out, conf, conf.trim_silence)

    # ------------------------------------------------------------------ native events
    def apply(self, event: NativeEvent) -> Outcome:
        """Consume one engine event (FreeSWITCH mod_conference ``Action`` semantics, see native.py).

        Unknown rooms/members and repeats are ignored (empty Outcome), so an engine may repeat itself:
        a conference still starts and ends exactly once. Never raises for engine input.
        """
        handler = self._HANDLERS.get(event.action)
        if handler is None:
            return EMPTY
        out = _Out()
        handler(self, out, event, _dt(event.timestamp_us))
        return out.outcome()

    def _on_add_member(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        if event.unique_id is not None and event.unique_id in self._cancelled:
            room = self._cancelled.pop(event.unique_id)
            if event.member_id is not None:
                out.commands.append(C.KickMember(room=room, member_id=event.member_id))
            return
        conf, m = self._member_of_event(event)
        if conf is None or m is None or m.member_id is not None or event.member_id is None:
            return
        if conf.status == R.CONF_COMPLETED:
            return
        m.member_id = event.member_id
        m.status = R.P_CONNECTED
        m.date_updated = ts
        if m.coaching:   # the coached participant may have left meanwhile
            target = conf.members.get(m.call_sid_to_coach or "")
            if target is not None and target.joined:
                out.commands.append(C.SetCoach(room=conf.sid, coach_member_id=m.member_id,
                                               coached_member_id=target.member_id))
            else:
                m.coaching, m.call_sid_to_coach = False, None
        self._emit(out, conf, ev.PARTICIPANT_JOIN, ts, m)
        if conf.status == R.CONF_INIT and not conf.ending and should_start(conf.joined):
            self._start(out, conf, ts)
        elif conf.status == R.CONF_IN_PROGRESS and m.join_waiting:
            # Its JoinMember was computed before the start (two joins in flight at once) and reached the
            # engine after it: without this the member would wait for ever. StartConference only touches
            # waiting members, in both engines.
            out.commands.append(C.StartConference(room=conf.sid))

    def _on_del_member(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._member_of_event(event)
        if conf is None or m is None or not m.joined:
            return
        self._leave(out, conf, m, ts, event.hangup_cause)

    def _on_kick(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._member_of_event(event)
        if conf is None or m is None or not m.joined:
            return
        if m.leave_reason is None:
            m.leave_reason = R.LEFT_PARTICIPANT_UPDATED_VIA_API
            m.kicked = True

    def _on_hangup(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        """A channel ended. A pending join is dropped; a connected member leaves (if del-member is lost)."""
        if event.unique_id is None:
            return
        self._cancelled.pop(event.unique_id, None)
        call_sid = self._by_uid.get(event.unique_id)
        conf = self._confs.get(self._by_call.get(call_sid or "", ""))
        if conf is None:
            return
        m = conf.members[call_sid]
        if m.joined:
            self._leave(out, conf, m, ts, event.hangup_cause or "NORMAL_CLEARING")
        elif m.status == R.P_CONNECTING:   # answered, hung up before the room took it
            self._fail_pending(out, conf, m, ts, R.CALL_COMPLETED)

    def _on_join_refused(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        if event.unique_id is None:
            return
        self._cancelled.pop(event.unique_id, None)
        conf, m = self._member_of_event(event)
        if conf is None or m is None or m.member_id is not None:
            return
        self._fail_pending(out, conf, m, ts)

    def _fail_pending(self, out: _Out, conf: ConferenceRecord, m: MemberRecord, ts: datetime,
                      call_status: str = R.CALL_FAILED) -> None:
        """A join that never reached the room (refused, the channel ended first, or a queued dial-out
        that failed or was cancelled) is dropped. A REST dial-out was visible to the API since it was
        queued, so it gets participant-leave (participant_add_failed, ``call_status``) and, when nobody
        left before it, counts as who left last; other joins leave no trace. Then the end rules run
        (nothing while the end is already decided)."""
        m.status = R.P_FAILED
        m.date_updated = ts
        self._forget_member(m)
        del conf.members[m.call_sid]
        if m.dialed:
            self._emit(out, conf, ev.PARTICIPANT_LEAVE, ts, m, reason_participant_left=R.LEFT_PARTICIPANT_ADD_FAILED,
                       participant_call_status=call_status)
            if conf.last_left is None:
                conf.last_left = (m.call_sid, m.label, False)
        self._maybe_last_left(out, conf, ts)

    def _on_flag(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._member_of_event(event)
        if conf is None or m is None or not m.joined:
            return
        a = event.action
        attr, value, name = {
            N.MUTE_MEMBER: ("muted", True, ev.PARTICIPANT_MUTE),
            N.UNMUTE_MEMBER: ("muted", False, ev.PARTICIPANT_UNMUTE),
            N.HOLD_MEMBER: ("hold", True, ev.PARTICIPANT_HOLD),
            N.UNHOLD_MEMBER: ("hold", False, ev.PARTICIPANT_UNHOLD),
        }[a]
        if getattr(m, attr) == value:
            return
        if value and m.speaking:   # muting/holding a talker: FreeSWITCH sends no stop-talking
            m.speaking = False
            self._emit(out, conf, ev.PARTICIPANT_SPEECH_STOP, ts, m)
        setattr(m, attr, value)
        m.date_updated = ts
        self._emit(out, conf, name, ts, m)

    def _on_talk(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        conf, m = self._member_of_event(event)
        if conf is None or m is None or not m.joined:
            return
        if event.action == N.START_TALKING:
            if m.speaking or m.muted or m.hold or conf.status != R.CONF_IN_PROGRESS or conf.ending:
                return
            m.speaking = True
            self._emit(out, conf, ev.PARTICIPANT_SPEECH_START, ts, m)
        elif m.speaking:
            m.speaking = False
            self._emit(out, conf, ev.PARTICIPANT_SPEECH_STOP, ts, m)

    def _on_play_done(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        conf = self._confs.get(event.room)
        if conf is None or event.file is None:
            return
        member_id = event.member_id if event.action == N.PLAY_FILE_MEMBER_DONE else None
        if event.action == N.PLAY_FILE_MEMBER_DONE and member_id is None and event.unique_id is not None:
            _, m = self._member_of_event(event)
            member_id = m.member_id if m else None
        failed = event.action == N.PLAY_FILE and event.error is not None
        if event.action == N.PLAY_FILE and not failed:
            return
        for i, (mid, file, url) in enumerate(conf.announcements):
            if file == event.file and (failed or mid == member_id):
                del conf.announcements[i]
                m = next((x for x in conf.members.values() if mid is not None and x.member_id == mid
                          and x.joined), None)
                if failed:
                    self._emit(out, conf, ev.ANNOUNCEMENT_FAIL, ts, m, announce_url=url,
                               reason_announcement_failed=event.error)
                else:
                    self._emit(out, conf, ev.ANNOUNCEMENT_END, ts, m, announce_url=url)
                return

    def _on_recording(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        conf = self._confs.get(event.room)
        if conf is None or event.path is None:
            return
        rec = next((r for r in conf.recordings.values() if r.path == event.path), None)
        if rec is None:
            return
        a = event.action
        if a == N.START_RECORDING and rec.status == R.REC_PROCESSING:
            rec.status, rec.start_time = R.REC_IN_PROGRESS, ts
            self._emit(out, conf, ev.RECORDING_IN_PROGRESS, ts, recording=rec.view())
        elif a == N.PAUSE_RECORDING and rec.status == R.REC_IN_PROGRESS:
            rec.status = R.REC_PAUSED
        elif a == N.RESUME_RECORDING and rec.status == R.REC_PAUSED:
            rec.status = R.REC_IN_PROGRESS
        elif a == N.STOP_RECORDING and rec.status in (R.REC_PROCESSING, R.REC_IN_PROGRESS, R.REC_PAUSED):
            rec.duration_s = int(round((event.duration_ms or 0) / 1000))
            rec.file_size = event.file_size
            absent = not event.duration_ms or event.file_size == 0
            rec.status = R.REC_ABSENT if absent else R.REC_COMPLETED
            name = ev.RECORDING_ABSENT if absent else ev.RECORDING_COMPLETED
            self._emit(out, conf, name, ts, recording=rec.view())
            if not absent and conf.callbacks.event_callback_url and conf.callbacks.recording_status_callback is None:
                # the deprecated eventCallbackUrl; "Providing a recordingStatusCallback will result in no
                # conference-record-end callbacks" (Twilio TwiML Conference)
                self._emit(out, conf, ev.CONFERENCE_RECORD_END, ts, recording=rec.view())

    def _on_destroy(self, out: _Out, event: NativeEvent, ts: datetime) -> None:
        """The engine destroyed the room: whoever it still lists for us has left."""
        conf = self._confs.get(event.room)
        if conf is None or conf.status == R.CONF_COMPLETED:
            return
        for m in list(conf.joined):
            if m.joined:
                self._leave(out, conf, m, ts, None)

    _HANDLERS = {
        N.ADD_MEMBER: _on_add_member,
        N.DEL_MEMBER: _on_del_member,
        N.KICK_MEMBER: _on_kick,
        N.HUP_MEMBER: _on_kick,
        N.MUTE_MEMBER: _on_flag,
        N.UNMUTE_MEMBER: _on_flag,
        N.HOLD_MEMBER: _on_flag,
        N.UNHOLD_MEMBER: _on_flag,
        N.START_TALKING: _on_talk,
        N.STOP_TALKING: _on_talk,
        N.PLAY_FILE: _on_play_done,
        N.PLAY_FILE_DONE: _on_play_done,
        N.PLAY_FILE_MEMBER_DONE: _on_play_done,
        N.START_RECORDING: _on_recording,
        N.PAUSE_RECORDING: _on_recording,
        N.RESUME_RECORDING: _on_recording,
        N.STOP_RECORDING: _on_recording,
        N.CONFERENCE_DESTROY: _on_destroy,
        N.CHANNEL_HANGUP_COMPLETE: _on_hangup,
        N.JOIN_REFUSED: _on_join_refused,
    }

    # ------------------------------------------------------------------ resync
    def resync(self, snapshot: EngineSnapshot) -> Outcome:
        """Reconcile with what the engine has now (:class:`EngineSnapshot`: after a reconnect, FreeSWITCH
        ``json_list``; at start-up).

        For every conference not completed: connected participants the engine no longer lists leave
        (participant-leave, then the end rules); pending joins the engine lists join (participant-join,
        start rule); mute/hold flags that differ are adopted (participant-mute/-unmute/-hold/-unhold); a
        speaker the engine no longer reports talking stops (participant-speech-stop). Joins that outlived
        their conference are kicked. Members of unknown rooms or with unknown channel ids are ignored
        (no CallSid is known for them, so no participant can be made up).
        """
        out = _Out()
        members, timestamp_us = snapshot.members, snapshot.timestamp_us
        ts = _dt(timestamp_us)
        listed = {(s.room, s.unique_id) for s in members}
        for conf in list(self._confs.values()):
            if conf.status == R.CONF_COMPLETED:
                continue
            for m in list(conf.joined):
                if (conf.sid, m.unique_id) not in listed and m.joined:
                    self._on_del_member(out, NativeEvent(N.DEL_MEMBER, conf.sid, timestamp_us,
                                                         unique_id=m.unique_id, member_id=m.member_id), ts)
        for snap in members:
            if snap.unique_id in self._cancelled:     # a join that outlived its conference: remove it
                out.commands.append(C.KickMember(room=self._cancelled.pop(snap.unique_id), member_id=snap.member_id))
                continue
            conf = self._confs.get(snap.room)
            if conf is None or conf.status == R.CONF_COMPLETED:
                continue
            call_sid = self._by_uid.get(snap.unique_id)
            m = conf.members.get(call_sid or "")
            if m is None:
                continue
            if m.member_id is None:
                self._on_add_member(out, NativeEvent(N.ADD_MEMBER, conf.sid, timestamp_us,
                                                     unique_id=snap.unique_id, member_id=snap.member_id), ts)
            if not m.joined:
                continue
            for flag, on, off in (("muted", N.MUTE_MEMBER, N.UNMUTE_MEMBER), ("hold", N.HOLD_MEMBER, N.UNHOLD_MEMBER)):
                want = getattr(snap, flag)
                if getattr(m, flag) != want:
                    self._on_flag(out, NativeEvent(on if want else off, conf.sid, timestamp_us,
                                                   unique_id=snap.unique_id, member_id=m.member_id), ts)
            if m.speaking and not snap.talking:
                self._on_talk(out, NativeEvent(N.STOP_TALKING, conf.sid, timestamp_us,
                                               unique_id=snap.unique_id, member_id=m.member_id), ts)
        return out.outcome()

    # ------------------------------------------------------------------ queries
    def conference(self, conference_sid: str) -> Optional[ConferenceInfo]:
        """The conference with this ConferenceSid (any status), or None."""
        conf = self._confs.get(conference_sid)
        return conf.info() if conf else None

    def conference_by_name(self, account_sid: str, friendly_name: str) -> Optional[ConferenceInfo]:
        """The account's instance of ``friendly_name`` that is not completed, or None."""
        conf = self._confs.get(self._by_name.get((account_sid, friendly_name), ""))
        return conf.info() if conf is not None and conf.status != R.CONF_COMPLETED else None

    def conferences(self, account_sid: Optional[str] = None) -> Tuple[ConferenceInfo, ...]:
        """All conferences kept (of ``account_sid`` when given), oldest first."""
        return tuple(c.info() for c in self._confs.values() if account_sid in (None, c.account_sid))

    def participant(self, conference_sid: str, who: str) -> Optional[ParticipantView]:
        """A participant (by CallSid or label) that is queued, connecting or connected, or None."""
        conf = self._confs.get(conference_sid)
        if conf is None:
            return None
        try:
            return self._find(conf, who).view()
        except DomainError:
            return None

    def participants(self, conference_sid: str) -> Tuple[ParticipantView, ...]:
        """Participants queued (dial-out not answered yet), connecting or connected (Twilio Participants
        list), in creation order."""
        conf = self._confs.get(conference_sid)
        if conf is None:
            return ()
        return tuple(m.view() for m in conf.members.values() if m.status in LIVE)

    def participant_of_call(self, call_sid: str) -> Optional[ParticipantView]:
        """The participant this call is (queued, connecting or connected) in any conference, or None."""
        conf = self._confs.get(self._by_call.get(call_sid, ""))
        m = conf.members.get(call_sid) if conf else None
        return m.view() if m is not None else None

    def recording(self, recording_sid: str) -> Optional[Tuple[str, RecordingView]]:
        """``(conference_sid, RecordingView)`` of a recording, or None."""
        for conf in self._confs.values():
            rec = conf.recordings.get(recording_sid)
            if rec is not None:
                return conf.sid, rec.view()
        return None

    def recordings(self, conference_sid: str) -> Tuple[RecordingView, ...]:
        """The conference's recordings in creation order (empty for an unknown conference)."""
        conf = self._confs.get(conference_sid)
        return tuple(r.view() for r in conf.recordings.values()) if conf else ()


__all__ = ["ConferenceState", "Outcome", "DomainError", "ConferenceInfo", "DEFAULT_HOLD_MUSIC"]
