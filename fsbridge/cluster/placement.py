"""Placement: which node runs a conference (account + FriendlyName), claimed atomically in PostgreSQL.

A claim is one ``INSERT … ON CONFLICT DO NOTHING`` on ``fsb_cluster_placements`` (primary key account +
FriendlyName) followed by reading the row back in the same transaction: whichever node's insert won, every
node reads the same owner (PostgreSQL makes a conflicting insert wait for the winner's commit). The owner
releases the row when the conference ends (:meth:`Placement.release`); a survivor releases a dead node's rows
(:meth:`Placement.drop_node`).

Policies (``[cluster] placement``), used only when the room has no owner yet:

* ``first-call`` — the node where the first call arrives;
* ``least-loaded`` — the live node owning the fewest rooms (ties: by name);
* ``region`` — Twilio ``<Conference region="…">`` mapped to a group of nodes (``[cluster.regions]``), the
  node itself when it belongs to that group, else the least-loaded live node of the group; a region not
  mapped (or none given) uses this node's own ``region``; no live node in the group → this node.
"""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from fsbridge.config_cluster import FIRST_CALL, LEAST_LOADED, REGION, ClusterSettings

from . import tables as t
from .registry import alive_clause


class Placement:
    """Placement rows seen from this node. ``engine``: SQLAlchemy engine (PostgreSQL); ``settings``: the
    node's :class:`~fsbridge.config_cluster.ClusterSettings` (name, policy, region map, failure timeout)."""

    def __init__(self, engine, settings: ClusterSettings):
        self.engine = engine
        self.settings = settings
        self.me = settings.node

    # ------------------------------------------------------------------ policy
    def least_loaded(self, conn, among: Optional[List[str]] = None) -> Optional[str]:
        """The live node (of ``among``, if given) owning the fewest rooms, ties by name; None if none."""
        owned = (select(t.placements.c.node, func.count().label("n")).group_by(t.placements.c.node)
                 .subquery())
        q = (select(t.nodes.c.name).select_from(t.nodes.outerjoin(owned, owned.c.node == t.nodes.c.name))
             .where(alive_clause(self.settings.failure_timeout)).order_by(func.coalesce(owned.c.n, 0), t.nodes.c.name).limit(1))
        if among is not None:
            q = q.where(t.nodes.c.name.in_(list(among)))
        return conn.execute(q).scalar()

    def choose(self, conn, region: Optional[str] = None) -> str:
        """The node a new room goes to under the configured policy (see the module docstring)."""
        policy = self.settings.placement
        if policy == FIRST_CALL:
            return self.me
        if policy == LEAST_LOADED:
            return self.least_loaded(conn) or self.me
        if policy == REGION:
            group = self.settings.regions.get(region or "") or self.settings.regions.get(
                self.settings.region or "")
            if group:
                if self.me in group:
                    return self.me
                return self.least_loaded(conn, list(group)) or self.me
        return self.me

    # ------------------------------------------------------------------ claims
    def claim(self, account_sid: str, friendly_name: str, region: Optional[str] = None) -> str:
        """The node that owns room (``account_sid``, ``friendly_name``): the existing owner, or the node the
        policy chooses, inserted atomically (concurrent claims from any nodes all return the same owner)."""
        with self.engine.begin() as conn:
            owner = self._owner(conn, account_sid, friendly_name)
            if owner is not None:
                return owner
            node = self.choose(conn, region)
            conn.execute(pg_insert(t.placements).values(account_sid=account_sid, friendly_name=friendly_name,
                                                        node=node).on_conflict_do_nothing())
            return self._owner(conn, account_sid, friendly_name)

    def _owner(self, conn, account_sid: str, friendly_name: str) -> Optional[str]:
        return conn.execute(select(t.placements.c.node).where(and_(
            t.placements.c.account_sid == account_sid, t.placements.c.friendly_name == friendly_name))).scalar()

    def owner(self, account_sid: str, friendly_name: str) -> Optional[str]:
        """The node owning room (``account_sid``, ``friendly_name``), or None."""
        with self.engine.connect() as conn:
            return self._owner(conn, account_sid, friendly_name)

    def take_over(self, account_sid: str, friendly_name: str, dead: str) -> str:
        """Move the room's placement from ``dead`` (a stale node) to this node; returns the owner after."""
        with self.engine.begin() as conn:
            conn.execute(update(t.placements).where(and_(
                t.placements.c.account_sid == account_sid, t.placements.c.friendly_name == friendly_name,
                t.placements.c.node == dead)).values(node=self.me, claimed_at=func.now()))
            return self._owner(conn, account_sid, friendly_name) or self.me

    def release(self, account_sid: str, friendly_name: str) -> None:
        """This node's room (``account_sid``, ``friendly_name``) ended: free its placement."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.placements).where(and_(
                t.placements.c.account_sid == account_sid, t.placements.c.friendly_name == friendly_name,
                t.placements.c.node == self.me)))

    # ------------------------------------------------------------------ rooms (ConferenceSid → node)
    def room_opened(self, conference_sid: str, account_sid: str, friendly_name: str) -> None:
        """This node's domain opened conference ``conference_sid``."""
        with self.engine.begin() as conn:
            conn.execute(pg_insert(t.rooms).values(conference_sid=conference_sid, account_sid=account_sid,
                                                   friendly_name=friendly_name, node=self.me)
                         .on_conflict_do_nothing())

    def room_closed(self, conference_sid: str) -> None:
        """Conference ``conference_sid`` ended (its row goes)."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.rooms).where(t.rooms.c.conference_sid == conference_sid))

    def room_owner(self, conference_sid: str) -> Optional[str]:
        """The node running conference ``conference_sid``, or None (ended, or never in this cluster)."""
        with self.engine.connect() as conn:
            return conn.execute(select(t.rooms.c.node).where(t.rooms.c.conference_sid == conference_sid)).scalar()

    def rooms_of(self, conn, node: str) -> List[str]:
        """ConferenceSids node ``node`` runs (within ``conn``)."""
        return [r.conference_sid for r in conn.execute(select(t.rooms.c.conference_sid).where(
            t.rooms.c.node == node).order_by(t.rooms.c.conference_sid)).all()]

    def drop_node(self, conn, node: str) -> None:
        """Within ``conn``'s transaction: forget every room and placement of node ``node``."""
        conn.execute(delete(t.rooms).where(t.rooms.c.node == node))
        conn.execute(delete(t.placements).where(t.placements.c.node == node))


__all__ = ["Placement"]
