"""Sink: collects what an engine sends to its event sink."""
from __future__ import annotations

from typing import Optional

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from fsbridge.conference.native import EngineSnapshot


class Sink:
    """Collects NativeEvents (``events``) and EngineSnapshots (``snapshots``) from an engine's event sink;
    ``wait(pred)`` blocks on a gevent Event (no sleeps) until an event matching ``pred`` arrived, else AssertionError after ``timeout`` seconds."""

    def __init__(self, timeout: float = 5.0):
        self.events = []
        self.snapshots = []     # EngineSnapshots (sent after each ESL (re)connect)
        self.timeout = timeout
        self._changed = gevent.event.Event()

    def __call__(self, ev):
        (self.snapshots if isinstance(ev, EngineSnapshot) else self.events).append(ev)
        self._changed.set()
        self._changed = gevent.event.Event()

    def wait(self, pred, timeout: Optional[float] = None):
        """The first event so far or to come for which ``pred(event)`` is true."""
        with gevent.Timeout(self.timeout if timeout is None else timeout, False):
            while True:
                hits = [e for e in self.events if pred(e)]
                if hits:
                    return hits[0]
                self._changed.wait()
        raise AssertionError("no such event; got %r" % [(e.action, e.room, e.member_id) for e in self.events])

    def actions(self, room=None):
        """The actions received so far (of one room when ``room`` is given)."""
        return [e.action for e in self.events if room is None or e.room == room]
