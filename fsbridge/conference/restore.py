"""Conferences loaded back from the store after a restart (start-up reconciliation, issue 15).

The store (:meth:`fsbridge.store.store.Store.live_conferences`) returns every conference left ``init`` or
``in-progress`` as a :class:`StoredConference`; :func:`restore` turns them into live
:class:`~fsbridge.conference.room.Conference` instances of a ConferenceState, *before* the engine's first
:class:`~fsbridge.conference.native.EngineSnapshot` is applied. That snapshot then decides their fate through
the one resync path (:meth:`ConferenceState.resync`): a room the engine still has is adopted (its members
re-attached to their CallSids), a room it no longer has ends with participant-leave, recording and
conference-end events — numbered after the last event the store recorded, so the history stays gapless.

Restored participants have no engine channel yet: their ``unique_id`` is their CallSid (the standalone
engine's channel id; FreeSWITCH members are re-keyed by :class:`MemberSnapshot.call_sid`) and their
``member_id`` a placeholder (negative, in join order) until the engine lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, List, Optional, Tuple

from fsbridge.wire import twilio as R
from fsbridge.conference.events import CallbackConfig, ParticipantView, RecordingView
from fsbridge.conference.model import MemberRecord, RecordingRecord


@dataclass(frozen=True)
class StoredConference:
    """A conference the store has as not completed. ``sequence``: the last DomainEvent sequence number
    recorded (the next event is ``sequence + 1``). ``participants``: those not left (any status),
    oldest first. ``recordings``: those not finished (processing, in-progress, paused)."""

    sid: str
    account_sid: str
    friendly_name: str
    dialect: str
    status: str
    date_created: datetime
    date_updated: datetime
    sequence: int
    callbacks: CallbackConfig = CallbackConfig()
    region: Optional[str] = None
    started_at: Optional[datetime] = None
    participants: Tuple[ParticipantView, ...] = ()
    recordings: Tuple[RecordingView, ...] = ()


def restore(state, stored: Iterable[StoredConference]) -> List[str]:
    """Add the ``stored`` conferences to ``state`` (a ConferenceState) as live instances; conferences it
    already has are skipped. Returns the ConferenceSids added (resync decides their fate)."""
    from fsbridge.conference.room import Conference
    added = []
    for s in stored:
        if s.sid in state._confs or s.status == R.CONF_COMPLETED:
            continue
        conf = Conference(sid=s.sid, account_sid=s.account_sid, friendly_name=s.friendly_name, dialect=s.dialect,
                          callbacks=s.callbacks, date_created=s.date_created, date_updated=s.date_updated,
                          region=s.region, status=s.status, sequence=s.sequence, started_at=s.started_at,
                          index=state)
        for i, p in enumerate(s.participants):
            joined = p.status == R.P_CONNECTED
            m = MemberRecord(
                call_sid=p.call_sid, unique_id=p.call_sid, conference_sid=s.sid, account_sid=s.account_sid,
                label=p.label, muted=p.muted, start_conference_on_enter=p.start_conference_on_enter,
                end_conference_on_exit=p.end_conference_on_exit, beep=p.beep,
                date_created=p.date_created or s.date_created, date_updated=p.date_updated or s.date_updated,
                coaching=p.coaching, call_sid_to_coach=p.call_sid_to_coach, hold=p.hold, from_=p.from_, to=p.to,
                member_id=-(i + 1) if joined else None, status=p.status if p.status in (
                    R.P_QUEUED, R.P_CONNECTED) else R.P_CONNECTING, dialed=p.status == R.P_QUEUED)
            m.published, m.first_published, m.last_published = m.view(), p.date_created, p.date_updated
            conf.add_member(m)
            conf.dialed_out = conf.dialed_out or m.dialed
            state._by_call[m.call_sid] = s.sid
            state._by_uid[m.unique_id] = m.call_sid
        for r in s.recordings:
            conf.recordings[r.sid] = RecordingRecord(sid=r.sid, path=r.path, trim_silence=True, status=r.status,
                                                     start_time=r.start_time)
        state._confs[s.sid] = conf
        state._by_name[(s.account_sid, s.friendly_name)] = s.sid
        state._restored.add(s.sid)
        added.append(s.sid)
    return added


__all__ = ["StoredConference", "restore"]
