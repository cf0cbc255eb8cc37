"""Node rows and heartbeats in PostgreSQL (table ``fsb_cluster_nodes``).

Every time comparison uses the database clock (``now()``), so node clocks never matter. A node is *alive*
while its state is ``up`` and its last heartbeat is younger than the failure timeout; a node that stops
heartbeating is *stale* and one survivor ends its conferences (:mod:`.failover`). A node (re)joining takes
the same per-node advisory lock the survivor holds while ending its rooms (:func:`node_lock_key`), so a
restart never races a failover of its own previous run.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import List, Optional

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from . import tables as t

UP = "up"
DOWN = "down"


def node_lock_key(name: str) -> int:
    """The advisory-lock key (signed 64-bit) owned by node ``name``'s failover and (re)join."""
    return int.from_bytes(hashlib.sha256(b"fsbridge-node:" + name.encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class NodeInfo:
    """One node row: ``name``, ``api_url`` (internal API), ``sip_address``, ``region``, ``state``, ``load``."""

    name: str
    api_url: str
    sip_address: Optional[str]
    region: Optional[str]
    state: str
    load: int


def alive_clause(timeout_s: float):
    """SQL condition (on ``fsb_cluster_nodes``): state ``up`` and a heartbeat younger than ``timeout_s``
    seconds by the database clock — the one definition of *alive* (registry and placement)."""
    return and_(t.nodes.c.state == UP, fresh_clause(timeout_s))


def fresh_clause(timeout_s: float):
    """SQL condition: ``heartbeat_at`` within the last ``timeout_s`` seconds (database clock)."""
    return t.nodes.c.heartbeat_at >= func.now() - text(f"interval '{float(timeout_s):.3f} seconds'")


def _info(row) -> NodeInfo:
    return NodeInfo(row.name, row.api_url, row.sip_address, row.region, row.state, row.load)


class NodeRegistry:
    """The node table seen from node ``me``. ``engine``: SQLAlchemy engine on the cluster's PostgreSQL;
    ``failure_timeout_s``: seconds without a heartbeat after which a node is stale."""

    def __init__(self, engine, me: str, failure_timeout_s: float):
        self.engine = engine
        self.me = me
        self.timeout = float(failure_timeout_s)

    def join(self, api_url: str, sip_address: Optional[str], region: Optional[str], conn=None) -> None:
        """Insert or refresh this node's row: state ``up``, heartbeat now, generation + 1."""
        stmt = pg_insert(t.nodes).values(name=self.me, api_url=api_url, sip_address=sip_address, region=region,
                                         state=UP, heartbeat_at=func.now(), load=0, generation=1)
        stmt = stmt.on_conflict_do_update(index_elements=[t.nodes.c.name], set_=dict(
            api_url=api_url, sip_address=sip_address, region=region, state=UP, heartbeat_at=func.now(), load=0,
            generation=t.nodes.c.generation + 1))
        if conn is not None:
            conn.execute(stmt)
            return
        with self.engine.begin() as c:
            c.execute(stmt)

    def heartbeat(self, load: int) -> bool:
        """Refresh this node's heartbeat and load; False when its row is gone or marked down (a survivor
        declared it dead: it must rejoin)."""
        with self.engine.begin() as c:
            n = c.execute(update(t.nodes).where(and_(t.nodes.c.name == self.me, t.nodes.c.state == UP))
                          .values(heartbeat_at=func.now(), load=int(load))).rowcount
        return n == 1

    def leave(self) -> None:
        """A clean stop: state ``down`` (its rooms were ended by the stop itself)."""
        with self.engine.begin() as c:
            c.execute(update(t.nodes).where(t.nodes.c.name == self.me).values(state=DOWN))

    def _fresh(self):
        return fresh_clause(self.timeout)

    def alive(self) -> List[NodeInfo]:
        """Nodes up with a fresh heartbeat, by name."""
        with self.engine.connect() as c:
            rows = c.execute(select(t.nodes).where(alive_clause(self.timeout)).order_by(t.nodes.c.name)).all()
        return [_info(r) for r in rows]

    def get(self, name: str) -> Optional[NodeInfo]:
        """The row of node ``name``, or None."""
        with self.engine.connect() as c:
            row = c.execute(select(t.nodes).where(t.nodes.c.name == name)).first()
        return _info(row) if row is not None else None

    def is_alive(self, name: str) -> bool:
        """Node ``name`` is up with a fresh heartbeat."""
        with self.engine.connect() as c:
            return c.execute(select(t.nodes.c.name).where(and_(
                t.nodes.c.name == name, alive_clause(self.timeout)))).first() is not None

    def stale(self) -> List[str]:
        """Other nodes still marked up whose heartbeat is older than the failure timeout."""
        with self.engine.connect() as c:
            rows = c.execute(select(t.nodes.c.name).where(and_(
                t.nodes.c.state == UP, t.nodes.c.name != self.me, ~self._fresh())).order_by(t.nodes.c.name)).all()
        return [r.name for r in rows]

    def stale_in(self, conn, name: str) -> bool:
        """Within ``conn``'s transaction (holding the node's lock): is ``name`` still up and stale?"""
        return conn.execute(select(t.nodes.c.name).where(and_(
            t.nodes.c.name == name, t.nodes.c.state == UP, ~self._fresh()))).first() is not None

    def mark_down(self, conn, name: str) -> None:
        """Within ``conn``'s transaction: node ``name`` is down."""
        conn.execute(update(t.nodes).where(t.nodes.c.name == name).values(state=DOWN))


def try_lock(conn, name: str) -> bool:
    """``pg_try_advisory_xact_lock`` on node ``name``'s key within ``conn``'s transaction."""
    return bool(conn.execute(select(func.pg_try_advisory_xact_lock(node_lock_key(name)))).scalar())


def lock(conn, name: str) -> None:
    """``pg_advisory_xact_lock`` (waits) on node ``name``'s key within ``conn``'s transaction."""
    conn.execute(select(func.pg_advisory_xact_lock(node_lock_key(name))))


__all__ = ["NodeRegistry", "NodeInfo", "alive_clause", "fresh_clause", "node_lock_key", "try_lock", "lock", "UP", "DOWN"]
