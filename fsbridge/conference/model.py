"""The domain's records: mutable ones owned by the domain (each conference's
:class:`~fsbridge.conference.room.Conference`, indexed by :class:`~fsbridge.conference.state.ConferenceState`)
and the frozen read-only views it hands out.

Only the domain (room.py, media.py, admission.py) mutates the ``*Record`` classes; every query returns a
frozen view
(:class:`ConferenceInfo`, :class:`~fsbridge.conference.events.ParticipantView`,
:class:`~fsbridge.conference.events.RecordingView`). Times are timezone-aware UTC datetimes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional, Tuple

from fsbridge.conference.errors import INVALID_STATE, DomainError, not_found
from fsbridge.conference.events import CallbackConfig, ParticipantView, RecordingView
from fsbridge.wire import TWIML
from fsbridge.wire import twilio as R

#: participant statuses of someone present or on the way (queued dial-out, connecting, connected)
LIVE = (R.P_QUEUED, R.P_CONNECTING, R.P_CONNECTED)


@dataclass(frozen=True)
class ConferenceInfo:
    """A conference instance as the REST API shows it (Twilio Conference resource).

    ``status``: init|in-progress|completed. ``reason_conference_ended``: a ReasonConferenceEnded value or
    None while not completed. ``member_count``: connected participants (joined, not left).
    ``recording_sids``: RecordingSids of this conference in creation order. ``started_at``/``ended_at``:
    engine times of conference-start / conference-end (None if not (yet) happened).
    """

    sid: str
    account_sid: str
    friendly_name: str
    status: str
    date_created: datetime
    date_updated: datetime
    region: Optional[str] = None
    reason_conference_ended: Optional[str] = None
    call_sid_ending_conference: Optional[str] = None
    participant_label_ending_conference: Optional[str] = None
    member_count: int = 0
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    recording_sids: Tuple[str, ...] = ()
    started_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    dialect: str = TWIML
    max_participants: int = 250


@dataclass
class MemberRecord:
    """One participant (mutable, owned by its Conference). ``member_id`` is None until add-member;
    ``unique_id`` is "" while a REST dial-out is queued (no engine channel known yet)."""

    call_sid: str
    unique_id: str
    conference_sid: str
    account_sid: str
    label: Optional[str]
    muted: bool
    start_conference_on_enter: bool
    end_conference_on_exit: bool
    beep: str
    date_created: datetime
    date_updated: datetime
    coaching: bool = False
    call_sid_to_coach: Optional[str] = None
    hold: bool = False
    from_: str = ""
    to: str = ""
    wait_url: Optional[str] = None
    member_id: Optional[int] = None
    status: str = R.P_CONNECTING
    speaking: bool = False
    end_conference_grace_s: Optional[float] = None   # jambonz endConferenceDuration (s) of an ECOE member
    engine_talking: bool = False         # the engine's last start/stop-talking, reported or not (issue 17)
    leave_reason: Optional[str] = None   # ReasonParticipantLeft decided by an intent (kick, end)
    kicked: bool = False                 # removed by kick/hup rather than by its own hangup
    dialed: bool = False                 # created by a REST dial-out (Twilio create Participant)
    join_waiting: bool = False           # its JoinMember said ``waiting`` (the room had not started)
    #: the last Muted / Hold a REST update asked for (None: never); the engine confirms later, so an update
    #: made before that confirmation is decided against what was asked, not against the older state (#21)
    asked_muted: Optional[bool] = None
    asked_hold: Optional[bool] = None
    #: what the store's participant row holds (issue 21: a REST write answers from it, no store read): the
    #: view the last event carrying this participant had, and the times of its first and last such event
    #: (the row's date_created — a REST dial-out's creation, stored when queued — and date_updated)
    published: Optional[ParticipantView] = field(default=None, repr=False, compare=False)
    first_published: Optional[datetime] = None
    last_published: Optional[datetime] = None

    @property
    def joined(self) -> bool:
        """True once the engine confirmed the member (add-member) and until it left."""
        return self.member_id is not None and self.status == R.P_CONNECTED

    def view(self) -> ParticipantView:
        """The frozen :class:`ParticipantView` of this participant now."""
        return ParticipantView(
            call_sid=self.call_sid, label=self.label, muted=self.muted, hold=self.hold,
            coaching=self.coaching, call_sid_to_coach=self.call_sid_to_coach,
            end_conference_on_exit=self.end_conference_on_exit,
            start_conference_on_enter=self.start_conference_on_enter, beep=self.beep, status=self.status,
            from_=self.from_, to=self.to, conference_sid=self.conference_sid, member_id=self.member_id,
            account_sid=self.account_sid, date_created=self.date_created, date_updated=self.date_updated)


@dataclass
class RecordingRecord:
    """A conference recording. ``status``: processing (asked, not confirmed) → in-progress ⇄ paused →
    stopped (asked) → completed | absent."""

    sid: str
    path: str
    trim_silence: bool
    status: str = R.REC_PROCESSING
    start_time: Optional[datetime] = None
    duration_s: Optional[int] = None
    file_size: Optional[int] = None

    def view(self) -> RecordingView:
        """The frozen :class:`RecordingView` of this recording now."""
        return RecordingView(sid=self.sid, status=self.status, path=self.path, start_time=self.start_time,
                             duration_s=self.duration_s, file_size=self.file_size)


@dataclass
class ConferenceRecord:
    """One conference instance's data (mutable); :class:`~fsbridge.conference.room.Conference` adds its rules."""

    sid: str
    account_sid: str
    friendly_name: str
    dialect: str
    callbacks: CallbackConfig
    date_created: datetime
    date_updated: datetime
    max_participants: int = 250
    record_from_start: bool = False
    trim_silence: bool = True
    region: Optional[str] = None
    status: str = R.CONF_INIT
    sequence: int = 0
    started_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    # Set when the end has been decided but members are still being removed by the engine.
    ending_reason: Optional[str] = None
    call_sid_ending: Optional[str] = None
    label_ending: Optional[str] = None
    reason_text: Optional[str] = None
    members: Dict[str, MemberRecord] = field(default_factory=dict)   # by CallSid, pending + joined
    recordings: Dict[str, RecordingRecord] = field(default_factory=dict)
    announcements: List[Tuple[Optional[int], str, str]] = field(default_factory=list)  # (member_id, file, url)
    dialed_out: bool = False   # a REST dial-out (queued participant) was ever added: the instance is public
    grace: int = 0                               # jambonz endConferenceDuration: token of the scheduled end
    grace_end: Optional[Tuple[str, str, Optional[str], str]] = None   # (reason, call_sid, label, text) of the pending end
    last_left: Optional[Tuple[str, Optional[str], bool]] = None  # (call_sid, label, kicked) of the last leave

    # Participants by status, counted as they change (issue #16: joins O(1) in room size): every change of a
    # member's ``status`` and every insertion/removal in ``members`` goes through add_member / set_status /
    # remove_member, so counts never need a scan of ``members`` (which keeps those who left).
    status_counts: Dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    coaching_seen: bool = False   # someone coached once (admit, modify, restore): a leave looks for its coaches

    def add_member(self, m: MemberRecord) -> None:
        """Register ``m`` under its CallSid (a new join, a queued dial-out, a restored participant); a record
        of the same CallSid that left before (the same call joining again) is replaced."""
        old = self.members.get(m.call_sid)
        if old is not None:
            self.status_counts[old.status] -= 1
            if m.first_published is None:   # the same call again: its store row keeps its date_created
                m.first_published = old.first_published
        self.members[m.call_sid] = m
        self.status_counts[m.status] = self.status_counts.get(m.status, 0) + 1
        self.coaching_seen = self.coaching_seen or m.coaching

    def set_status(self, m: MemberRecord, status: str) -> None:
        """Move registered ``m`` to participant ``status`` (R.P_*), keeping the counts."""
        self.status_counts[m.status] -= 1
        m.status = status
        self.status_counts[status] = self.status_counts.get(status, 0) + 1

    def remove_member(self, m: MemberRecord) -> None:
        """Forget registered ``m`` (a join that never reached the room)."""
        del self.members[m.call_sid]
        self.status_counts[m.status] -= 1

    def count(self, *statuses: str) -> int:
        """How many participants have one of ``statuses`` (R.P_*) — O(1)."""
        return sum(self.status_counts.get(s, 0) for s in statuses)

    def find(self, who: str) -> MemberRecord:
        """The live participant whose CallSid or label is ``who``; else DomainError 20404."""
        m = self.members.get(who)
        if m is None or m.status not in LIVE:
            m = next((x for x in self.members.values() if x.status in LIVE and x.label is not None
                      and x.label == who), None)
        if m is None:
            raise not_found(f"Participant {who}")
        return m

    def joined_member(self, who: str) -> MemberRecord:
        """The connected participant ``who``; DomainError 20404 (unknown), 21220 (not connected yet)."""
        m = self.find(who)
        if not m.joined:
            raise DomainError(INVALID_STATE, f"Participant {who} is not connected to the conference yet")
        return m

    def member_by_id(self, member_id: Optional[int]) -> Optional[MemberRecord]:
        """The participant with engine member id ``member_id`` (any status), or None."""
        if member_id is None:
            return None
        return next((x for x in self.members.values() if x.member_id == member_id), None)

    @property
    def joined_count(self) -> int:
        """len(:attr:`joined`) without the scan: a connected participant always has its member id."""
        return self.status_counts.get(R.P_CONNECTED, 0)

    @property
    def joined(self) -> List[MemberRecord]:
        """Participants the engine confirmed and that have not left, in join order (a scan: for iteration;
        counts come from :attr:`joined_count`)."""
        return [m for m in self.members.values() if m.joined] if self.joined_count else []

    @property
    def ever_joined(self) -> bool:
        """Someone's add-member arrived once (members who joined stay in ``members`` after they leave)."""
        return any(m.member_id is not None for m in self.members.values())

    @property
    def pending(self) -> List[MemberRecord]:
        """Participants asked to join whose add-member has not arrived."""
        if not self.status_counts.get(R.P_CONNECTING):
            return []
        return [m for m in self.members.values() if m.member_id is None and m.status == R.P_CONNECTING]

    @property
    def queued(self) -> List[MemberRecord]:
        """REST dial-outs (Twilio create Participant) not answered yet (status queued)."""
        return [m for m in self.members.values() if m.status == R.P_QUEUED] if self.count(R.P_QUEUED) else []

    @property
    def ending(self) -> bool:
        """The end has been decided (EndConference sent), the conference is not completed yet."""
        return self.ending_reason is not None and self.status != R.CONF_COMPLETED

    def info(self) -> ConferenceInfo:
        """The frozen :class:`ConferenceInfo` of this conference now."""
        done = self.status == R.CONF_COMPLETED
        return ConferenceInfo(
            sid=self.sid, account_sid=self.account_sid, friendly_name=self.friendly_name, status=self.status,
            date_created=self.date_created, date_updated=self.date_updated, region=self.region,
            reason_conference_ended=self.ending_reason if done else None,
            call_sid_ending_conference=self.call_sid_ending if done else None,
            participant_label_ending_conference=self.label_ending if done else None,
            member_count=self.joined_count, callbacks=self.callbacks, recording_sids=tuple(self.recordings),
            started_at=self.started_at, ended_at=self.ended_at, dialect=self.dialect,
            max_participants=self.max_participants)


__all__ = ["ConferenceInfo", "LIVE", "MemberRecord", "RecordingRecord", "ConferenceRecord"]
