"""Node failure (issue #18, "Node failure"): heartbeats, and a survivor ending a dead node's conferences.

:class:`Monitor` runs one greenlet per node: every ``heartbeat_interval`` it refreshes the node's row
(:meth:`~fsbridge.cluster.registry.NodeRegistry.heartbeat`) and looks for nodes whose heartbeat is older
than ``failure_timeout``. For each, inside one transaction holding that node's advisory lock
(``pg_try_advisory_xact_lock``: exactly one survivor works on it; the others skip it), re-checked stale
under the lock, it

1. loads the dead node's live conferences from the store (``fsb_cluster_rooms`` says which) and ends them
   through the start-up reconciliation path, scoped to them (:func:`end_conferences`): they are restored
   into this node's domain (``ConferenceState.restore``, :mod:`fsbridge.conference.restore`) and a snapshot
   of this node's own rooms is applied (``ConferenceState.resync``), in which they have *vanished* — so the
   domain emits participant-leave for each caller, the recordings complete (files repaired,
   :func:`fsbridge.runtime.recovery.with_recording_files`) and conference-end, with the reasons a restart
   gives (participant_hung_up; last-participant-left) and SequenceNumbers continuing after the delivered
   ones; this node's store and outbox record and send them;
2. drops the dead node's placements and rooms, and marks it ``down``.

A restarted node rejoins under the same lock (:meth:`~fsbridge.cluster.node.ClusterNode.join`): whatever a
survivor has not ended yet, it ends itself at start-up (its store view is scoped to its own rooms). Rooms are
not migrated live: the calls of a dead node are gone with it.
"""
from __future__ import annotations

import logging
from typing import List

import gevent

from fsbridge.conference.native import EngineSnapshot, MemberSnapshot

from .registry import try_lock

log = logging.getLogger("fsbridge.cluster")


def local_snapshot(state, now_us: int, exclude=()) -> EngineSnapshot:
    """An EngineSnapshot of what ``state`` (a ConferenceState) has live now, leaving out the conferences in
    ``exclude``: applied, it changes nothing but makes the excluded (restored) conferences vanish."""
    members, rooms = [], []
    for conf in state.live_conferences():
        if conf.sid in exclude:
            continue
        rooms.append(conf.sid)
        for m in conf.joined:
            members.append(MemberSnapshot(room=conf.sid, member_id=m.member_id, unique_id=m.unique_id,
                                          muted=m.muted, hold=m.hold, talking=m.speaking, call_sid=m.call_sid))
    return EngineSnapshot(timestamp_us=now_us, members=tuple(members), rooms=tuple(rooms))


def end_conferences(bridge, stored) -> List[str]:
    """End ``stored`` conferences (StoredConference s of a dead node) on ``bridge`` with their full callback
    sequence (see the module docstring); returns the ConferenceSids ended."""
    if not stored:
        return []
    return bridge.restore_and_resync(
        stored, lambda added: local_snapshot(bridge.state, bridge.now_us(), exclude=set(added)))


class Monitor:
    """Heartbeats and failure detection of ``node`` (a :class:`~fsbridge.cluster.node.ClusterNode`)."""

    def __init__(self, node):
        self.node = node
        self._greenlet = None
        self._stopping = False

    def start(self) -> "Monitor":
        """Start the heartbeat greenlet."""
        self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        """Stop it."""
        self._stopping = True
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=2)

    def _run(self) -> None:
        interval = self.node.settings.heartbeat_interval
        while not self._stopping:
            try:
                self.beat()
                bridge = self.node.bridge
                if bridge is not None and bridge.running:   # a survivor needs its bridge up
                    for name in self.node.registry.stale():
                        self.take_over(name)
            except Exception:
                log.exception("cluster heartbeat failed")
            gevent.sleep(interval)   # the heartbeat period (a timer, not a synchronisation)

    def beat(self) -> None:
        """Refresh this node's heartbeat; rejoin if a survivor declared it down meanwhile."""
        node = self.node
        if not node.registry.heartbeat(node.load()):
            log.error("node %s was declared down by the cluster (heartbeats late?): rejoining", node.me)
            node.join()
        node.refresh_peers()

    def take_over(self, dead: str) -> List[str]:
        """End node ``dead``'s conferences if this node wins its lock and it is still stale; returns the
        ConferenceSids ended (empty when another survivor did it, or it came back)."""
        node = self.node
        with node.engine.begin() as conn:
            if not try_lock(conn, dead) or not node.registry.stale_in(conn, dead):
                return []
            sids = set(node.placement.rooms_of(conn, dead))
            stored = [c for c in node.store.live_conferences() if c.sid in sids] if sids else []
            ended = end_conferences(node.bridge, stored)
            node.placement.drop_node(conn, dead)
            node.registry.mark_down(conn, dead)
        log.warning("node %s is dead (no heartbeat for %.1f s): ended its %d conference(s) %s", dead,
                    node.settings.failure_timeout, len(ended), ", ".join(ended))
        return ended


__all__ = ["Monitor", "end_conferences", "local_snapshot"]
