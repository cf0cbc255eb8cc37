"""Who is who: CallSid ↔ engine Unique-ID ↔ member id ↔ participant label ↔ conference, and each call's record.

The standalone engine uses the CallSid as Unique-ID; FreeSWITCH has its own channel UUID. The bridge updates
member/conference fields from the engine's add-member / del-member events (FreeSWITCH Member-ID, room name =
ConferenceSid). All methods are cheap dict operations, called from greenlets of one process.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import gevent.event

from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw


@dataclass
class CallRecord:
    """One call. ``status``: Twilio CallStatus (queued → ringing → in-progress → completed | failed);
    ``errors``: Twilio error notifications ``(code, message)`` raised while running it; ``started``/``ended``:
    wall-clock Unix seconds; ``done``: set when the call has ended."""

    call_sid: str
    account_sid: str
    from_: str
    to: str
    direction: str
    unique_id: str
    dialect: str = TWIML
    status: str = tw.CALL_QUEUED
    conference_sid: Optional[str] = None
    member_id: Optional[int] = None
    label: Optional[str] = None
    joined_us: Optional[int] = None
    left_us: Optional[int] = None
    errors: List[tuple] = field(default_factory=list)
    steps: List[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    ended: Optional[float] = None
    done: gevent.event.Event = field(default_factory=gevent.event.Event, repr=False)
    leg: object = field(default=None, repr=False)
    session: object = field(default=None, repr=False)
    origin: Optional[dict] = field(default=None, repr=False)   # a virtual call's source/dtmf/hangup (cluster moves)


class Registry:
    """CallRecords by CallSid, with an index by Unique-ID (the engine's events name the channel)."""

    def __init__(self):
        self._by_sid: Dict[str, CallRecord] = {}
        self._by_uid: Dict[str, str] = {}
        self._ended: deque = deque()   # CallSids of ended calls, in the order prune() saw them end

    def add(self, record: CallRecord) -> CallRecord:
        """Register a new call."""
        self._by_sid[record.call_sid] = record
        self._by_uid[record.unique_id] = record.call_sid
        return record

    def get(self, call_sid: str) -> Optional[CallRecord]:
        """The call with this CallSid, or None."""
        return self._by_sid.get(call_sid)

    def by_unique_id(self, unique_id: Optional[str]) -> Optional[CallRecord]:
        """The call whose engine channel id is ``unique_id``, or None."""
        sid = self._by_uid.get(unique_id or "")
        return self._by_sid.get(sid) if sid else None

    def joined(self, unique_id: str, room: str, member_id: Optional[int],
               timestamp_us: Optional[int] = None) -> Optional[CallRecord]:
        """Record an add-member: the call ``unique_id`` is member ``member_id`` of ``room`` since
        ``timestamp_us`` (engine time, µs)."""
        rec = self.by_unique_id(unique_id)
        if rec is not None:
            rec.conference_sid = room
            rec.member_id = member_id
            rec.joined_us = timestamp_us
            rec.left_us = None
        return rec

    def left(self, unique_id: str, timestamp_us: Optional[int] = None) -> Optional[CallRecord]:
        """Record a del-member of the call ``unique_id`` at ``timestamp_us`` (engine time, µs; the
        ConferenceSid stays on the record for the Dial action)."""
        rec = self.by_unique_id(unique_id)
        if rec is not None:
            rec.member_id = None
            rec.left_us = timestamp_us
        return rec

    def prune(self, record: Optional[CallRecord] = None, keep_completed: int = 10_000) -> None:
        """Note that ``record`` ended, then forget the oldest ended calls beyond ``keep_completed`` (a
        long-running serve stays bounded). O(1) per call: the ended calls are queued, not searched for."""
        if record is not None:
            self._ended.append(record.call_sid)
        while len(self._ended) > keep_completed:
            rec = self._by_sid.pop(self._ended.popleft(), None)
            if rec is not None and self._by_uid.get(rec.unique_id) == rec.call_sid:
                del self._by_uid[rec.unique_id]

    def calls(self) -> List[CallRecord]:
        """All calls, oldest first."""
        return list(self._by_sid.values())

    def active(self) -> List[CallRecord]:
        """Calls that have not ended."""
        return [r for r in self._by_sid.values() if not r.done.is_set()]
