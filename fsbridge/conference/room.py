"""One conference instance and its rules: :class:`Conference` (admission, start and end rules, participant
intents, the engine's member events). Recordings and announcements are in :mod:`.media`; the lifecycles
are the tables of :mod:`.tables`; :class:`~fsbridge.conference.state.ConferenceState` is the index that
finds the conference an input is for and routes it here.

The event order and the seed sentence behind each choice are in docs/domain.md. Sources: twilio-twiml-conference-
noun.txt (start/end rules, statusCallback parameters), twilio-conference-events-announcement.txt,
../shared/fixtures/freeswitch/README.md (engine event order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from fsbridge.conference import commands as C
from fsbridge.conference import events as E
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference import tables as T
from fsbridge.conference.errors import BAD_COACH, CONFERENCE_FULL, DUPLICATE_LABEL, DomainError
from fsbridge.conference.media import MediaRules
from fsbridge.conference.model import LIVE, ConferenceRecord, MemberRecord
from fsbridge.conference.outcome import EMPTY, Out, Outcome
from fsbridge.conference.recovery_rules import RecoveryRules
from fsbridge.conference.rules import beep_flags, beep_mode, should_start
from fsbridge.markup import model as markup
from fsbridge.wire import JAMBONZ



@dataclass(eq=False)
class Conference(RecoveryRules, MediaRules, ConferenceRecord):
    """One conference instance (its record + its rules). ``index``: the owning ConferenceState, told when
    a member is forgotten, a join or dial-out is cancelled, the conference completes or is dropped."""

    index: Any = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ output
    def emit(self, out: Out, kind: type, ts: datetime, participant: Optional[MemberRecord] = None,
             **fields) -> None:
        """Append one event of ``kind`` with the next sequence number (history ordinal)."""
        self.sequence += 1
        self.date_updated = ts
        view = None
        if participant is not None:   # what the store's row of it will hold (MemberRecord.published)
            view = participant.published = participant.view()
            participant.last_published = ts
            if participant.first_published is None:
                participant.first_published = participant.date_created if participant.dialed else ts
        out.events.append(kind(
            account_sid=self.account_sid, conference_sid=self.sid, friendly_name=self.friendly_name,
            sequence_number=self.sequence, timestamp=ts, callbacks=self.callbacks,
            member_count=self.joined_count, started_at=self.started_at, participant=view, **fields))

    # ------------------------------------------------------------------ admission
    def admit(self, conference: markup.Conference, queued: Optional[MemberRecord]) -> Optional[MemberRecord]:
        """Check that a participant may be added (``queued``: the call's own queued dial-out, which does not
        collide with itself); returns the member it coaches, or None. Raises DomainError 16025 duplicate
        label, 13240 coach target not connected, 16020 maxParticipants reached."""
        label = conference.participant_label
        coach_target = conference.coach or conference.speak_only_to   # Twilio coach / jambonz speakOnlyTo
        live = [m for m in self.members.values() if m.status in LIVE and m is not queued] \
            if label is not None or coach_target else ()   # a scan only when a label or coach asks for one
        if label is not None and any(m.label == label for m in live):
            raise DomainError(DUPLICATE_LABEL, f"Participant label {label!r} already exists in the conference")
        coach_member = None
        if coach_target:
            coach_member = next((m for m in live if coach_target in (m.call_sid, m.label)), None)
            if coach_member is None or not coach_member.joined:
                raise DomainError(BAD_COACH, f"Call {coach_target} to coach is not in the conference")
            self.coaching_seen = True   # every coaching join passes here (a queued dial-out's adoption too)
        seats = self.count(*LIVE) - (1 if queued is not None and queued.status in LIVE else 0)
        if seats >= self.max_participants:
            raise DomainError(CONFERENCE_FULL, f"Conference {conference.name!r} is full ({self.max_participants})")
        return coach_member

    # ------------------------------------------------------------------ participant intents
    def set_muted(self, who: str, muted: bool) -> Outcome:
        """→ MuteMember/UnmuteMember; nothing when already so and so asked last (model.asked_muted)."""
        m = self.joined_member(who)
        if m.muted == bool(muted) and m.asked_muted in (None, bool(muted)):
            return EMPTY
        m.asked_muted = bool(muted)
        return Outcome(commands=((C.MuteMember if muted else C.UnmuteMember)(room=self.sid, member_id=m.member_id),))

    def set_hold(self, who: str, hold: bool, media: tuple) -> Outcome:
        """→ HoldMember(media)/UnholdMember, nothing when already so and so asked last (as set_muted)."""
        m = self.joined_member(who)
        if m.hold == bool(hold) and m.asked_hold in (None, bool(hold)):
            return EMPTY
        m.asked_hold = bool(hold)
        if hold:
            return Outcome(commands=(C.HoldMember(room=self.sid, member_id=m.member_id, media=tuple(media)),))
        return Outcome(commands=(C.UnholdMember(room=self.sid, member_id=m.member_id),))

    def modify(self, who: str, ts: datetime, *, beep_on_exit: Optional[bool], end_conference_on_exit: Optional[bool],
               coaching: Optional[bool], call_sid_to_coach: Optional[str], wait_url: Optional[str]) -> Outcome:
        """See ConferenceState.modify: changes now, one participant-modify when anything changed."""
        m = self.joined_member(who)
        out = Out()
        changed = False
        if coaching is None and call_sid_to_coach is not None:
            coaching = True
        if coaching:
            target_sid = call_sid_to_coach or m.call_sid_to_coach
            target = self.members.get(target_sid) if target_sid else None
            if target is None or not target.joined or target is m:
                raise DomainError(BAD_COACH, f"Call {target_sid} to coach is not in the conference")
            if not m.coaching or m.call_sid_to_coach != target.call_sid:
                m.coaching, m.call_sid_to_coach = True, target.call_sid
                self.coaching_seen = True
                out.commands.append(C.SetCoach(room=self.sid, coach_member_id=m.member_id,
                                               coached_member_id=target.member_id))
                changed = True
        elif coaching is False and m.coaching:
            m.coaching, m.call_sid_to_coach = False, None
            out.commands.append(C.SetCoach(room=self.sid, coach_member_id=m.member_id, coached_member_id=None))
            changed = True
        if beep_on_exit is not None:
            enter, exit_ = beep_flags(m.beep)
            if exit_ != bool(beep_on_exit):
                m.beep = beep_mode((enter, bool(beep_on_exit)))
                out.commands.append(C.SetExitBeep(room=self.sid, member_id=m.member_id, enabled=bool(beep_on_exit)))
                changed = True
        if end_conference_on_exit is not None and m.end_conference_on_exit != bool(end_conference_on_exit):
            m.end_conference_on_exit = bool(end_conference_on_exit)
            changed = True
        if wait_url is not None and wait_url != m.wait_url:
            m.wait_url = wait_url
            changed = True
        if changed:
            m.date_updated = ts
            self.emit(out, E.ParticipantModified, ts, m)
        return out.outcome()

    def kick(self, who: str, reason: str) -> Outcome:
        """→ KickMember; the leave (with ``reason``) comes with the engine's del-member."""
        m = self.joined_member(who)
        if m.leave_reason is None:
            m.leave_reason = reason
        m.kicked = reason != R.LEFT_PARTICIPANT_HUNG_UP
        return Outcome(commands=(C.KickMember(room=self.sid, member_id=m.member_id),))

    # ------------------------------------------------------------------ engine member events
    def on_add_member(self, out: Out, m: MemberRecord, member_id: int, ts: datetime) -> None:
        """add-member: the participant joins (coach link re-checked), then the start rule runs (for a jambonz
        conference conference-start comes before the starter's participant-join, as jambonz sends them)."""
        if m.member_id is not None or self.status == R.CONF_COMPLETED:
            return
        new, kinds = T.step(T.PARTICIPANT, m.status, T.ADDED) or (None, None)
        if new is None:
            return
        m.member_id, m.date_updated = member_id, ts
        self.set_status(m, new)
        if m.end_conference_on_exit and self.grace_end is not None:   # its join cancels the grace end
            self.grace_end, self.grace = None, self.grace + 1
        if m.coaching:   # the coached participant may have left meanwhile
            target = self.members.get(m.call_sid_to_coach or "")
            if target is not None and target.joined:
                out.commands.append(C.SetCoach(room=self.sid, coach_member_id=m.member_id,
                                               coached_member_id=target.member_id))
            else:
                m.coaching, m.call_sid_to_coach = False, None
        starting = self.status == R.CONF_INIT and not self.ending and should_start(self.joined)
        if starting and self.callbacks.dialect == JAMBONZ:
            self._start(out, ts, m)   # jambonz-feature-server notifies start before the starter's join
        for kind in kinds:
            self.emit(out, kind, ts, m)
        if starting:
            if self.callbacks.dialect != JAMBONZ:
                self._start(out, ts, m)
        elif self.status == R.CONF_IN_PROGRESS and m.join_waiting:
            # Its JoinMember was computed before the start (two joins in flight at once) and reached the
            # engine after it: without this the member would wait for ever. StartConference only touches
            # waiting members, in both engines.
            out.commands.append(C.StartConference(room=self.sid))

    def on_kicked(self, m: MemberRecord) -> None:
        """kick-member / hup-member: the engine removes ``m`` on request (the leave follows)."""
        if m.leave_reason is None:
            m.leave_reason = R.LEFT_PARTICIPANT_UPDATED_VIA_API
            m.kicked = True

    def on_flag(self, out: Out, m: MemberRecord, action: str, ts: datetime) -> None:
        """mute/unmute/hold/unhold-member (table :data:`.tables.FLAGS`)."""
        attr, value, kind = T.FLAGS[action]
        if getattr(m, attr) == value:
            return
        if value and m.speaking:   # muting/holding a talker: FreeSWITCH sends no stop-talking
            self.on_talk(out, m, N.STOP_TALKING, ts)
        setattr(m, attr, value)
        m.date_updated = ts
        self.emit(out, kind, ts, m)

    def on_talk(self, out: Out, m: MemberRecord, action: str, ts: datetime) -> None:
        """start/stop-talking (table :data:`.tables.SPEECH`); a start only counts while the conference is in
        progress (not ending) and the member is neither muted nor held. The engine's word is remembered
        (``engine_talking``) so that a member talking through the conference start is reported right after
        conference-start (:meth:`_start`)."""
        m.engine_talking = action == N.START_TALKING
        found = T.step(T.SPEECH, m.speaking, action)
        if found is None:
            return
        if found[0] and (m.muted or m.hold or self.status != R.CONF_IN_PROGRESS or self.ending):
            return
        m.speaking = found[0]
        for kind in found[1]:
            self.emit(out, kind, ts, m)

    def on_destroy(self, out: Out, ts: datetime) -> None:
        """The engine destroyed the room: whoever it still lists for us has left."""
        if self.status == R.CONF_COMPLETED:
            return
        for m in list(self.joined):
            if m.joined:
                self.leave(out, m, ts, None)

    # ------------------------------------------------------------------ lifecycle
    def _start(self, out: Out, ts: datetime, starter: MemberRecord) -> None:
        """conference-start (``call``: ``starter``), then speech-start of every member the engine reports
        talking (unmuted, not held), StartConference, and record-from-start's StartRecording."""
        self.status, kinds = T.step(T.CONFERENCE, self.status, T.START)
        self.started_at = ts
        for kind in kinds:
            self.emit(out, kind, ts, call=starter.view())
        for m in self.joined:   # speech already under way (dropped while waiting) starts now, in join order
            if m.engine_talking and not m.speaking:
                self.on_talk(out, m, N.START_TALKING, ts)
        out.commands.append(C.StartConference(room=self.sid))
        if self.record_from_start:
            self.new_recording(out, self.trim_silence)

    def grace_over(self, token: int, ts: datetime) -> Outcome:
        """The endConferenceDuration after an endConferenceOnExit member left has passed (``token``: the
        EndConferenceAfter's): the conference ends as it would have at the leave, unless that end was
        cancelled (an endConferenceOnExit member joined) or the conference ended meanwhile."""
        if token != self.grace or self.grace_end is None or self.status == R.CONF_COMPLETED or self.ending:
            return EMPTY
        reason, call_sid, label, text = self.grace_end
        self.grace_end = None
        out = Out()
        self.decide_end(out, reason, call_sid, label, R.LEFT_MODERATOR_ENDED_CONFERENCE, text, ts)
        return out.outcome()

    def end(self, ts: datetime) -> Outcome:
        """The API ends the conference (nothing when completed or ending)."""
        if self.status == R.CONF_COMPLETED or self.ending:
            return EMPTY
        out = Out()
        self.decide_end(out, R.CONFERENCE_ENDED_VIA_API, None, None, R.LEFT_CONFERENCE_ENDED_VIA_API,
                        "Conference ended via API", ts)
        return out.outcome()

    def decide_end(self, out: Out, reason: str, call_sid: Optional[str], label: Optional[str],
                   others_reason: str, text: str, ts: datetime) -> None:
        """Fix the end (reason, who) and ask the engine to remove everyone; finish if nobody is left."""
        self.ending_reason, self.call_sid_ending, self.label_ending = reason, call_sid, label
        self.reason_text = text
        self._cancel_pending(out, ts)
        for m in self.queued:   # dial-outs not answered yet will never join: reported before conference-end
            self.index.cancel_dial(m.call_sid, self.sid)
            self.fail_pending(out, m, ts, R.CALL_CANCELED)
        for m in self.joined:
            if m.leave_reason is None:
                m.leave_reason = others_reason
        self.stop_recordings(out)
        out.commands.append(C.EndConference(room=self.sid))
        if not self.joined:
            self._finish(out, ts)

    def _finish(self, out: Out, ts: datetime) -> None:
        """Complete the conference: conference-end once; pending joins are cancelled (kicked on arrival)."""
        found = T.step(T.CONFERENCE, self.status, T.END)
        if found is None:
            return
        self._cancel_pending(out, ts)
        self.status = found[0]
        self.ended_at = ts
        who = self.members.get(self.call_sid_ending or (self.last_left or ("",))[0] or "")
        for kind in found[1]:
            self.emit(out, kind, ts, call=who.view() if who is not None else None,
                      reason_conference_ended=self.ending_reason,
                      call_sid_ending_conference=self.call_sid_ending,
                      participant_label_ending_conference=self.label_ending, reason=self.reason_text)
        self.index.completed(self)

    def _cancel_pending(self, out: Out, ts: datetime) -> None:
        """Joins still on their way when the end is decided never join: kicked if add-member comes. An
        answered REST dial-out among them was visible (queued) to the API: its participant-leave
        (participant_add_failed, canceled) is reported."""
        for m in self.pending:
            self.index.cancel_join(m.unique_id, self.sid)
            self.fail_pending(out, m, ts, R.CALL_CANCELED)

    def fail_pending(self, out: Out, m: MemberRecord, ts: datetime, call_status: str = R.CALL_FAILED) -> None:
        """A join that never reached the room (refused, the channel ended first, or a queued dial-out that
        failed or was cancelled) is dropped. A REST dial-out was visible to the API since it was queued, so
        it gets participant-leave (participant_add_failed, ``call_status``) and, when nobody left before it,
        counts as who left last; other joins leave no trace. Then the end rules run (nothing while the end
        is already decided)."""
        new, kinds = T.step(T.PARTICIPANT, m.status, T.ADD_FAILED if m.dialed else T.REFUSED)
        self.set_status(m, new)
        m.date_updated = ts
        self.index.forget(m)
        self.remove_member(m)
        for kind in kinds:
            self.emit(out, kind, ts, m, reason_participant_left=R.LEFT_PARTICIPANT_ADD_FAILED,
                      participant_call_status=call_status)
        if m.dialed and self.last_left is None:
            self.last_left = (m.call_sid, m.label, False)
        self.maybe_last_left(out, ts)

    def leave(self, out: Out, m: MemberRecord, ts: datetime, hangup_cause: Optional[str]) -> None:
        """The engine removed ``m``: participant-leave, then the end rules (Twilio TwiML Conference)."""
        if m.speaking:
            self.on_talk(out, m, N.STOP_TALKING, ts)
        reason = m.leave_reason or R.LEFT_PARTICIPANT_HUNG_UP
        kicked = m.kicked and reason != R.LEFT_PARTICIPANT_HUNG_UP
        hung_up = hangup_cause is not None     # FreeSWITCH: del-member carries Hangup-Cause only when the
        #                                        channel is hanging up; otherwise the call continues
        new, kinds = T.step(T.PARTICIPANT, m.status, T.LEFT)
        self.set_status(m, new)
        m.date_updated = ts
        self.index.forget(m)
        self.forget_announcements(m.member_id)
        for other in (self.joined if self.coaching_seen else ()):   # a coach of the leaver coaches nobody
            if other.coaching and other.call_sid_to_coach == m.call_sid:
                other.coaching, other.call_sid_to_coach = False, None
                out.commands.append(C.SetCoach(room=self.sid, coach_member_id=other.member_id,
                                               coached_member_id=None))
        for kind in kinds:
            self.emit(out, kind, ts, m, reason_participant_left=reason,
                      participant_call_status=R.CALL_COMPLETED if hung_up else R.CALL_IN_PROGRESS)
        self.last_left = (m.call_sid, m.label, kicked)
        if self.status == R.CONF_COMPLETED:
            return
        if self.ending:
            if not self.joined_count:
                self._finish(out, ts)
            return
        if m.end_conference_on_exit:
            end_reason = R.ECOE_KICKED if kicked else R.ECOE_LEFT
            text = f"Participant {m.call_sid} with endConferenceOnExit {'was kicked' if kicked else 'left'}"
            if m.end_conference_grace_s and self.joined_count:   # jambonz endConferenceDuration: end it later
                self.grace += 1
                self.grace_end = (end_reason, m.call_sid, m.label, text)
                out.commands.append(C.EndConferenceAfter(room=self.sid, delay_s=m.end_conference_grace_s,
                                                         token=self.grace))
                return
            self.decide_end(out, end_reason, m.call_sid, m.label, R.LEFT_MODERATOR_ENDED_CONFERENCE, text, ts)
            return
        self.maybe_last_left(out, ts)

    def maybe_last_left(self, out: Out, ts: datetime) -> None:
        """Nobody connected and nobody on the way (connecting or queued dial-out): the conference ends
        (last-participant-left/-kicked). A conference nobody ever joined is dropped without an event —
        unless a REST dial-out was queued in it (its ConferenceSid was answered to the API and its failure
        reported): then it ends with conference-end like any other (docs/domain.md)."""
        if self.status == R.CONF_COMPLETED or self.ending or self.count(R.P_CONNECTED, R.P_CONNECTING, R.P_QUEUED):
            return
        if not self.ever_joined and not self.dialed_out:   # refused joins only: the instance never existed
            self.index.drop(self)
            return
        call_sid, label, kicked = self.last_left or (None, None, False)
        self.ending_reason = R.LAST_PARTICIPANT_KICKED if kicked else R.LAST_PARTICIPANT_LEFT
        self.call_sid_ending, self.label_ending = call_sid, label
        self.reason_text = f"Last participant {'was kicked' if kicked else 'left'}"
        self.stop_recordings(out)
        self._finish(out, ts)


def member_fields(conference: markup.Conference, coach_member: Optional[MemberRecord]) -> dict:
    """The MemberRecord fields a participant takes from its ``conference`` noun (a new join, or a queued
    dial-out adopted by its answered call): participantLabel, muted, start/endConferenceOnEnter/Exit, beep,
    waitUrl, and coaching ``coach_member`` (Twilio TwiML Conference / jambonz conference verb)."""
    return dict(
        label=conference.participant_label, muted=conference.muted,
        start_conference_on_enter=conference.start_conference_on_enter,
        end_conference_on_exit=conference.end_conference_on_exit, beep=beep_mode(conference.beep),
        wait_url=conference.wait_url, coaching=coach_member is not None,
        call_sid_to_coach=coach_member.call_sid if coach_member else None,
        end_conference_grace_s=conference.end_conference_duration or None)


__all__ = ["Conference", "LIVE", "member_fields"]
