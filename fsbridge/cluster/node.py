"""One node of the cluster: :class:`ClusterNode` joins ``fsbridge serve``'s composition (fsbridge.app) when
the settings have a ``[cluster]`` section.

Order (BridgeServer.start): ``ClusterNode(...)`` creates the cluster tables and binds the internal API;
:meth:`ClusterNode.join` registers the node (under its advisory lock, see :mod:`.failover`); the bridge is
built on :meth:`ClusterNode.bridge_store` (the store, with start-up recovery scoped to this node's rooms);
:meth:`ClusterNode.attach` hooks the bridge (call moves, room bookkeeping) and the tenant REST app (carried
writes); :meth:`ClusterNode.start` serves the internal API and starts heartbeats. :meth:`ClusterNode.stop`
after the bridge stopped (its rooms ended) marks the node down.
"""
from __future__ import annotations

import logging
from typing import Iterable

from fsbridge.conference.events import CONFERENCE_END, PARTICIPANT_JOIN
from fsbridge.wire import twilio as tw

from . import forward, tables
from .failover import Monitor
from .internal import InternalServer, create_internal_app
from .moves import Mover
from .peers import Peers
from .placement import Placement
from .registry import NodeRegistry, lock

log = logging.getLogger("fsbridge.cluster")


class ScopedStore:
    """The store as this node's bridge sees it: everything delegated, except that start-up recovery
    (``live_conferences``) returns only the conferences this node ran (``fsb_cluster_rooms``) — the others
    belong to live nodes, or to a dead node's survivor."""

    def __init__(self, store, node: "ClusterNode"):
        self._store = store
        self._node = node

    def __getattr__(self, name):
        return getattr(self._store, name)

    def live_conferences(self):
        """This node's conferences left open (by a crash of its previous run)."""
        with self._node.engine.connect() as conn:
            mine = set(self._node.placement.rooms_of(conn, self._node.me))
        return [c for c in self._store.live_conferences() if c.sid in mine] if mine else []


class ClusterNode:
    """This process as a cluster node. ``settings``: fsbridge.config.Settings with ``cluster`` set;
    ``db_engine``: the store's SQLAlchemy engine (PostgreSQL); ``store``: the fsbridge Store;
    ``server_cls``: the WSGIServer class for the internal API (TCP_NODELAY)."""

    def __init__(self, settings, db_engine, store, server_cls=None):
        if db_engine.dialect.name != "postgresql":
            raise ValueError("a [cluster] needs storage.database_url on PostgreSQL (postgresql+psycopg2://…)")
        self.settings = settings.cluster
        self.me = self.settings.node
        self.secret = self.settings.secret
        self.engine = db_engine
        self.store = store
        from fsbridge.store.db import metadata as store_metadata   # the store's tables, outbox included
        tables.create_all(db_engine, store_metadata)
        self.registry = NodeRegistry(db_engine, self.me, self.settings.failure_timeout)
        self.placement = Placement(db_engine, self.settings)
        self.peers = Peers(self.me, self.secret)
        self.mover = Mover(self)
        self.monitor = Monitor(self)
        self.bridge = None
        self.tenant_app = None
        kw = {"server_cls": server_cls} if server_cls is not None else {}
        self.internal = InternalServer(create_internal_app(self), self.settings.api_host, self.settings.api_port,
                                       **kw)
        self.api_url = self.settings.advertised_url(self.internal.bind())
        self._open: set = set()
        self._alive: dict = {}          # name → NodeInfo of the live nodes, refreshed every heartbeat
        self._room_owner: dict = {}     # ConferenceSid → node (a conference never changes node)

    def join(self) -> None:
        """Register (or re-register) this node, waiting for a survivor still ending its previous run."""
        with self.engine.begin() as conn:
            lock(conn, self.me)
            self.registry.join(self.api_url, self.settings.sip_address, self.settings.region, conn=conn)
        log.info("cluster node %s joined (internal API %s, placement %s)", self.me, self.api_url,
                 self.settings.placement)

    def bridge_store(self):
        """The store to build the bridge on (:class:`ScopedStore`)."""
        return ScopedStore(self.store, self)

    def attach(self, bridge, tenant_app, blueprints: Iterable[str], conference_blueprint: str) -> None:
        """Hook ``bridge`` (call moves, room bookkeeping) and ``tenant_app`` (carried REST writes)."""
        self.bridge = bridge
        self.tenant_app = tenant_app
        bridge.cluster = self.mover
        bridge.listeners.append(self.on_event)
        forward.install(tenant_app, self, blueprints, conference_blueprint)

    def start(self) -> "ClusterNode":
        """Serve the internal API and start heartbeats / failure detection."""
        self.internal.start()
        self.monitor.start()
        return self

    def stop(self) -> None:
        """Stop heartbeats and the internal API; mark the node down (call after the bridge stopped)."""
        self.monitor.stop()
        self.internal.stop()
        try:
            self.registry.leave()
        except Exception:
            log.exception("cluster: marking node %s down failed", self.me)
        self.peers.close()

    def refresh_peers(self) -> None:
        """Re-read the live nodes (called by the heartbeat loop)."""
        self._alive = {n.name: n for n in self.registry.alive()}

    def peer(self, name: str):
        """The NodeInfo of live node ``name`` as of the last heartbeat (re-read once if unknown), or None."""
        info = self._alive.get(name)
        if info is None:
            self.refresh_peers()
            info = self._alive.get(name)
        return info

    def room_owner(self, conference_sid: str):
        """The node running conference ``conference_sid`` (cached: a conference never changes node), or
        None."""
        owner = self._room_owner.get(conference_sid)
        if owner is None:
            owner = self.placement.room_owner(conference_sid)
            if owner is not None:
                if len(self._room_owner) > 10000:
                    self._room_owner.clear()
                self._room_owner[conference_sid] = owner
        return owner

    def load(self) -> int:
        """Live conferences + active calls here (the heartbeat's ``load``)."""
        if self.bridge is None:
            return 0
        return len(self.bridge.state.live_conferences()) + len(self.bridge.registry.active())

    def on_event(self, event) -> None:
        """Bridge listener (runs under the bridge lock): a conference's first participant-join records the
        room as this node's; its conference-end removes it and frees the placement unless this node already
        runs a newer conference of that name."""
        name = event.name
        if name == PARTICIPANT_JOIN and event.conference_sid not in self._open:
            self._open.add(event.conference_sid)
            self.placement.room_opened(event.conference_sid, event.account_sid, event.friendly_name)
        elif name == CONFERENCE_END:
            self._open.discard(event.conference_sid)
            self.placement.room_closed(event.conference_sid)
            newer = self.bridge.state.conference_by_name(event.account_sid, event.friendly_name)
            if newer is None or newer.status == tw.CONF_COMPLETED or newer.sid == event.conference_sid:
                self.placement.release(event.account_sid, event.friendly_name)


__all__ = ["ClusterNode", "ScopedStore"]
