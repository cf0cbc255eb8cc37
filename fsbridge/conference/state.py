"""ConferenceState: the index of all conferences of one bridge, sans-IO (model: h11 ``_state.py``).

It keeps the conference instances by ConferenceSid and by account + friendly name, and participants by
CallSid and engine channel id (Unique-ID); each instance is a :class:`~fsbridge.conference.room.Conference`
owning its rules (admission, start/end, participants, recordings, announcements). Inputs are *intents*
(``join``, ``set_muted``, ``kick`` …, from the runtime / REST API) and *native events* (``apply``, from an
engine); ``resync`` reconciles with an engine snapshot. An intent validates, may raise
:class:`DomainError`, and returns engine commands; the state itself changes only when the engine's
confirming native event arrives (``mute-member`` makes the participant muted and yields
``participant-mute``). Exceptions, because no engine event exists for them: ``modify`` changes state at
once; ``end`` of a conference without connected members completes it at once.

Every output is an :class:`Outcome`: engine commands in order + typed domain events
(:mod:`fsbridge.conference.events`) in sequence order. The caller serialises calls (one lock); nothing
here does I/O, reads the network or sleeps. The event order is explained in docs/domain.md.

Sources: twilio-twiml-conference-noun.txt, twilio-conference-resource.txt (one in-progress instance per
friendly name), telnyx-texml-conference.txt, jambonz-conference-verb.txt,
../shared/fixtures/freeswitch/README.md (engine event order).
"""
from __future__ import annotations

import collections
import time
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple

from fsbridge.conference import commands as C
from fsbridge.conference import ids
from fsbridge.wire import twilio as R
from fsbridge.conference.admission import DEFAULT_HOLD_MUSIC, MAX_LABEL, MAX_NAME, Admission
from fsbridge.conference.errors import INVALID_PARAMETER, DomainError, not_found
from fsbridge.conference.events import ParticipantView, RecordingView
from fsbridge.conference.model import ConferenceInfo, MemberRecord
from fsbridge.conference.outcome import EMPTY, Outcome, dt
from fsbridge.conference.room import LIVE, Conference
from fsbridge.conference.routing import NativeRouting

KEEP_COMPLETED = 10000   # completed instances kept for queries (the store keeps them for ever)


class ConferenceState(Admission, NativeRouting):
    """All conferences of one bridge, sans-IO; the caller serialises calls (one lock).

    ``recordings_dir``: directory recordings go to (``<dir>/<RecordingSid>.wav``). ``clock``: returns
    seconds since the epoch, used only for times no engine event gives (join without ``timestamp_us``,
    modify); ``new_sid``: SID factory ``prefix → sid`` (tests may make it deterministic).
    """

    def __init__(self, *, recordings_dir: str = "recordings", clock: Callable[[], float] = time.time,
                 new_sid: Callable[[str], str] = ids.new_sid):
        self.recordings_dir = recordings_dir
        self._clock = clock
        self.new_sid = new_sid
        self._confs: Dict[str, Conference] = {}
        self._by_name: Dict[Tuple[str, str], str] = {}       # (account, friendly name) → latest sid
        self._by_call: Dict[str, str] = {}                   # CallSid → conference sid (not left)
        self._by_uid: Dict[str, str] = {}                    # unique_id → CallSid (not left)
        self._cancelled: Dict[str, str] = {}                 # unique_id → room: join outlived its conference
        self._cancelled_calls: Dict[str, str] = {}           # CallSid → room: dial-out outlived its conference
        self._completed: collections.deque = collections.deque()
        self._restored: set = set()                          # sids loaded from the store, not resynced yet

    # ------------------------------------------------------------------ told by the conferences
    def forget(self, m: MemberRecord) -> None:
        """``m`` left or failed: its CallSid and channel id are free again."""
        if self._by_call.get(m.call_sid) == m.conference_sid:
            del self._by_call[m.call_sid]
        if self._by_uid.get(m.unique_id) == m.call_sid:
            del self._by_uid[m.unique_id]

    def cancel_join(self, unique_id: str, room: str) -> None:
        """A join on its way outlived its conference: kick it if its add-member comes."""
        self._cancelled[unique_id] = room

    def cancel_dial(self, call_sid: str, room: str) -> None:
        """A queued dial-out outlived its conference: refuse its join if the call answers."""
        self._cancelled_calls[call_sid] = room

    def completed(self, conf: Conference) -> None:
        """``conf`` completed: keep it for queries, the newest KEEP_COMPLETED only."""
        self._completed.append(conf.sid)
        while len(self._completed) > KEEP_COMPLETED:
            old = self._confs.get(self._completed.popleft())
            if old is not None:
                self.drop(old)

    def restore(self, stored) -> List[str]:
        """Load conferences the store has as not completed (:class:`~fsbridge.conference.restore.
        StoredConference` s) before the engine's first snapshot: that :meth:`resync` adopts or ends them.
        Returns the ConferenceSids added."""
        from fsbridge.conference.restore import restore
        return restore(self, stored)

    # ------------------------------------------------------------------ read by resync
    def live_conferences(self) -> List[Conference]:
        """The conferences not completed, oldest first."""
        return [c for c in self._confs.values() if c.status != R.CONF_COMPLETED]

    def member_of_channel(self, conf: Conference, unique_id: str) -> Optional[MemberRecord]:
        """``conf``'s participant on engine channel ``unique_id`` (not left), or None."""
        return conf.members.get(self._by_uid.get(unique_id, ""))

    def take_cancelled_join(self, unique_id: str) -> Optional[str]:
        """The room of a join on channel ``unique_id`` that outlived its conference (forgotten now), or None."""
        return self._cancelled.pop(unique_id, None)

    def drop(self, conf: Conference) -> None:
        """Forget ``conf`` without an event: it never existed for anyone (only refused joins), or it is a
        completed conference past the KEEP_COMPLETED kept for queries."""
        self._confs.pop(conf.sid, None)
        if self._by_name.get((conf.account_sid, conf.friendly_name)) == conf.sid:
            del self._by_name[(conf.account_sid, conf.friendly_name)]

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=timezone.utc)

    def _ts(self, timestamp_us: Optional[int]) -> datetime:
        return dt(timestamp_us) if timestamp_us is not None else self._now()

    def _get_conf(self, account_sid: str, conference_sid: str) -> Conference:
        conf = self._confs.get(conference_sid)
        if conf is None or conf.account_sid != account_sid:
            raise not_found(f"Conference {conference_sid}")
        return conf

    # ------------------------------------------------------------------ intents
    def set_muted(self, account_sid: str, conference_sid: str, who: str, muted: bool) -> Outcome:
        """Twilio Participant ``Muted``: → MuteMember/UnmuteMember (nothing when already so).

        The participant-mute/-unmute event comes with the engine's mute-member/unmute-member.
        Raises DomainError 20404 (no such conference/participant), 21220 (not connected yet).
        """
        return self._get_conf(account_sid, conference_sid).set_muted(who, muted)

    def set_hold(self, account_sid: str, conference_sid: str, who: str, hold: bool,
                 media: tuple = (DEFAULT_HOLD_MUSIC,)) -> Outcome:
        """Twilio Participant ``Hold`` (+ ``HoldUrl`` resolved to ``media``): → HoldMember/UnholdMember
        (nothing when already so). participant-hold/-unhold come with hold-member/unhold-member.
        Raises DomainError 20404, 21220 as :meth:`set_muted`."""
        return self._get_conf(account_sid, conference_sid).set_hold(who, hold, media)

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
        return self._get_conf(account_sid, conference_sid).modify(
            who, self._now(), beep_on_exit=beep_on_exit, end_conference_on_exit=end_conference_on_exit,
            coaching=coaching, call_sid_to_coach=call_sid_to_coach, wait_url=wait_url)

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
        return self._get_conf(account_sid, conference_sid).kick(who, reason)

    def announce(self, account_sid: str, conference_sid: str, url: str, media: tuple,
                 who: Optional[str] = None) -> Outcome:
        """Twilio AnnounceUrl to the conference (``who`` None) or to one participant → PlayMedia.

        ``media``: the resolved media of ``url`` (non-empty). announcement-end comes with the engine's
        play-file-done / play-file-member-done for the last item, announcement-fail with a play-file
        carrying ``error``. Raises DomainError 20404, 21220 (conference completed / participant not
        connected), 21201 (empty media).
        """
        return self._get_conf(account_sid, conference_sid).announce(url, media, who)

    def end(self, account_sid: str, conference_sid: str) -> Outcome:
        """Twilio Conference update ``Status=completed`` (ReasonConferenceEnded conference-ended-via-api).

        → StopRecording for active recordings, then EndConference. Remaining participants leave on their
        del-member (ReasonParticipantLeft conference_ended_via_api), then conference-end. With nobody
        connected, conference-end is emitted at once. Already completed or ending: nothing.
        Raises DomainError 20404.
        """
        return self._get_conf(account_sid, conference_sid).end(self._now())

    def distribute_dtmf(self, call_sid: str, digits: str) -> Outcome:
        """jambonz ``distributeDtmf``: ``digits`` pressed by ``call_sid`` go to every other connected member
        of its conference (one SendDtmf each, in join order). Not in a conference: nothing."""
        conf = self._confs.get(self._by_call.get(call_sid, ""))
        if conf is None or not digits:
            return EMPTY
        return Outcome(commands=tuple(C.SendDtmf(room=conf.sid, member_id=m.member_id, digits=digits)
                                      for m in conf.joined if m.call_sid != call_sid))

    def grace_over(self, conference_sid: str, token: int) -> Outcome:
        """The runtime's timer for :class:`~.commands.EndConferenceAfter` fired (jambonz endConferenceDuration):
        end the conference now unless its pending end was cancelled. Unknown / completed conference: nothing."""
        conf = self._confs.get(conference_sid)
        return conf.grace_over(token, self._now()) if conf is not None else EMPTY

    def start_recording(self, account_sid: str, conference_sid: str, *, trim_silence: Optional[bool] = None) -> Outcome:
        """Start recording an in-progress conference now (what record-from-start does at the start) →
        StartRecording to ``recordings_dir/<RecordingSid>.wav``; the new RecordingSid is the last of
        ``conference(sid).recording_sids``; recording-in-progress comes with the engine's start-recording.
        ``trim_silence``: None = the conference's ``trim``. Raises DomainError 20404; 21220 when the
        conference is not in progress (wait music is never recorded) or a recording is already running."""
        return self._get_conf(account_sid, conference_sid).start_recording(trim_silence)

    def update_recording(self, account_sid: str, conference_sid: str, recording_sid: str, status: str) -> Outcome:
        """Twilio Conference Recording update ``Status`` = paused | in-progress | stopped →
        PauseRecording / ResumeRecording / StopRecording (nothing when already so). State changes on the
        engine's pause-/resume-/stop-recording. Raises DomainError 20404, 21201 (bad status),
        21220 (recording already finished)."""
        return self._get_conf(account_sid, conference_sid).update_recording(recording_sid, status)

    # ------------------------------------------------------------------ native events
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
            return conf.find(who).view()
        except DomainError:
            return None

    def published_participant(self, account_sid: str, conference_sid: str, call_sid: str
                              ) -> Optional[Tuple[ParticipantView, datetime, datetime]]:
        """What the store's row holds of the account's *connected* participant ``call_sid`` (a CallSid, not a
        label): ``(view of the last event carrying it, time of its first such event, time of its last)`` — the
        row's fields, date_created and date_updated — or None (unknown, another account's, not connected,
        nothing published). Read-only (issue 21: a REST write answers from it instead of a store read)."""
        conf = self._confs.get(conference_sid)
        if conf is None or conf.account_sid != account_sid:
            return None
        m = conf.members.get(call_sid)
        if m is None or not m.joined or m.published is None or m.first_published is None:
            return None
        return m.published, m.first_published, m.last_published

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


__all__ = ["ConferenceState", "Outcome", "EMPTY", "DomainError", "ConferenceInfo", "DEFAULT_HOLD_MUSIC", "MAX_NAME",
           "MAX_LABEL"]
