"""The standalone engine's event queue: NativeEvents made during a tick or a command are handed to one
dispatcher greenlet (or flushed by hand in tests), never delivered from inside the mixing code."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

import gevent.queue

from fsbridge.conference.native import NativeEvent

if TYPE_CHECKING:  # pragma: no cover
    from .rooms import _Member, _Room

log = logging.getLogger("fsbridge.engines.standalone.engine")


def _flag(b: bool) -> str:
    return "true" if b else "false"


class EventQueueMixin:
    """Events of :class:`StandaloneEngine`: ``_emit`` (build + queue), ``_handoff``, ``flush``."""

    def flush(self) -> None:
        """Deliver every queued event to the sink now, in the calling greenlet (when not started)."""
        self._handoff()
        if self._dispatcher is not None:
            return
        while True:
            try:
                item = self._queue.get_nowait()
            except gevent.queue.Empty:
                return
            self._deliver(item)

    def _dispatch_loop(self) -> None:
        for item in self._queue:
            if item is StopIteration:
                return
            self._deliver(item)

    def _deliver(self, item) -> None:
        try:
            if isinstance(item, NativeEvent):
                if self._sink is not None:
                    self._sink(item)
            elif callable(item):
                item()
        except Exception:
            log.exception("event sink failed")

    def _handoff(self) -> None:
        if self._pending:
            for item in self._pending:
                self._queue.put(item)
            self._pending = []

    def _emit(self, action: str, room: Optional["_Room"], unique_id: Optional[str] = None,
              member: Optional[_Member] = None, **fields) -> NativeEvent:
        if member is not None:
            talking = bool(member.room.talk.talking[member.slot])   # alloc_slot grew the bank to the slot
            flags = (("Hear", _flag(not member.hold)), ("Speak", _flag(not member.muted)),
                     ("Talking", _flag(talking)), ("Hold", _flag(member.hold)),
                     ("Caller-Caller-ID-Number", member.call.from_),
                     ("Caller-Destination-Number", member.call.to))
            fields["extra"] = flags + tuple(fields.get("extra", ()))
            fields.setdefault("member_type", member.member_type)
            unique_id = member.call.unique_id
        if room is not None:
            fields.setdefault("conference_size", len(room.members))
        # Inside a tick the frame [t, t+20 ms) is being processed: decisions are made at its end.
        ts = self.clock.epoch_us() + (self.clock.frame_ms * 1000 if self._in_tick else 0)
        ev = NativeEvent(action=action, room=room.name if room else "", timestamp_us=ts,
                         unique_id=unique_id, member_id=member.id if member else fields.pop("member_id", None),
                         **{k: v for k, v in fields.items() if k != "member_id"})
        self.events.append(ev)
        self._pending.append(ev)
        return ev
