"""The console's live view of the bridge's event stream: who is talking now, each conference's timeline, and
the fan-out to server-sent-event subscribers.

:class:`LiveHub` is a bridge event listener (``Bridge.listeners.append(hub.on_event)``). It runs in the
bridge's event path, so it only touches memory: non-blocking puts into bounded per-subscriber queues (a slow
browser loses updates, never the bridge). The timeline of the last ``keep_conferences`` conferences is kept
in memory (``keep_events`` entries each); after a restart the console falls back to the store's join/leave
times.
"""
from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Set

import gevent.queue

from fsbridge.wire import twilio as tw

SPEECH_START = tw.PARTICIPANT_SPEECH_START
SPEECH_STOP = tw.PARTICIPANT_SPEECH_STOP
_CLOSED = object()


@dataclass(frozen=True)
class TimelineEntry:
    """One event of a conference as the timeline draws it. ``t``: engine time, seconds since the epoch."""

    t: float
    event: str
    call_sid: Optional[str]
    label: Optional[str]
    sequence: int

    def as_json(self) -> dict:
        """``{"t", "event", "call_sid", "label", "seq"}`` for the page's script."""
        return {"t": self.t, "event": self.event, "call_sid": self.call_sid, "label": self.label,
                "seq": self.sequence}


class Subscription:
    """One SSE client: the account it is scoped to, an optional conference filter and its bounded queue."""

    def __init__(self, account_sid: str, conference_sid: Optional[str], maxsize: int) -> None:
        self.account_sid = account_sid
        self.conference_sid = conference_sid
        self.queue: gevent.queue.Queue = gevent.queue.Queue(maxsize=maxsize)
        self.dropped = 0

    def get(self, timeout: float) -> Optional[dict]:
        """The next message, None after ``timeout`` seconds; raises StopIteration once the hub closed."""
        try:
            item = self.queue.get(timeout=timeout)
        except gevent.queue.Empty:
            return None
        if item is _CLOSED:
            raise StopIteration
        return item


class LiveHub:
    """Talking state, timelines and SSE fan-out, fed by domain events (duck-typed: ``name``,
    ``account_sid``, ``conference_sid``, ``sequence_number``, ``timestamp``, ``participant``)."""

    def __init__(self, keep_conferences: int = 500, keep_events: int = 5000, queue_size: int = 1000) -> None:
        self.keep_conferences = keep_conferences
        self.keep_events = keep_events
        self.queue_size = queue_size
        self._timelines: "collections.OrderedDict[str, Deque[TimelineEntry]]" = collections.OrderedDict()
        self._talking: Dict[str, Set[str]] = {}
        self._subs: List[Subscription] = []
        self._lock = threading.Lock()
        self.closed = False

    # ------------------------------------------------------------------ feed
    def on_event(self, event: Any) -> None:
        """Bridge listener: record the event, update the talking set, notify subscribers (never blocks)."""
        name = getattr(event, "name", None) or type(event).__name__
        conf = getattr(event, "conference_sid", None)
        if not conf:
            return
        p = getattr(event, "participant", None)
        call_sid = getattr(p, "call_sid", None)
        label = getattr(p, "label", None)
        ts = getattr(event, "timestamp", None)
        t = ts.timestamp() if ts is not None else 0.0
        entry = TimelineEntry(t, name, call_sid, label, int(getattr(event, "sequence_number", 0) or 0))
        with self._lock:
            line = self._timelines.get(conf)
            if line is None:
                line = self._timelines[conf] = collections.deque(maxlen=self.keep_events)
                while len(self._timelines) > self.keep_conferences:
                    old, _ = self._timelines.popitem(last=False)
                    self._talking.pop(old, None)
            line.append(entry)
            talking = self._talking.setdefault(conf, set())
            if name == SPEECH_START and call_sid:
                talking.add(call_sid)
            elif name in (SPEECH_STOP, tw.PARTICIPANT_LEAVE) and call_sid:
                talking.discard(call_sid)
            elif name == tw.CONFERENCE_END:
                talking.clear()
            subs = list(self._subs)
        message = dict(entry.as_json(), conference_sid=conf)
        account = getattr(event, "account_sid", None)
        for sub in subs:
            if sub.account_sid != account or (sub.conference_sid and sub.conference_sid != conf):
                continue
            try:
                sub.queue.put_nowait(message)
            except gevent.queue.Full:
                sub.dropped += 1

    # ------------------------------------------------------------------ reads
    def talking(self, conference_sid: str) -> Set[str]:
        """CallSids talking now in that conference (empty when unknown)."""
        with self._lock:
            return set(self._talking.get(conference_sid, ()))

    def timeline(self, conference_sid: str) -> List[TimelineEntry]:
        """That conference's events in order (empty when not kept)."""
        with self._lock:
            return list(self._timelines.get(conference_sid, ()))

    # ------------------------------------------------------------------ subscribers
    def subscribe(self, account_sid: str, conference_sid: Optional[str] = None) -> Subscription:
        """A new subscriber for the account's events (of one conference when given)."""
        sub = Subscription(account_sid, conference_sid, self.queue_size)
        if self.closed:
            sub.queue.put_nowait(_CLOSED)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscriber (its stream ended)."""
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def close(self) -> None:
        """End every stream (server shutdown: open SSE responses must not hold the HTTP server's stop)."""
        self.closed = True
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.queue.put_nowait(_CLOSED)
            except gevent.queue.Full:
                try:
                    sub.queue.get_nowait()
                    sub.queue.put_nowait(_CLOSED)
                except (gevent.queue.Empty, gevent.queue.Full):
                    pass
