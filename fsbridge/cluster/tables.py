"""The cluster's tables (PostgreSQL, beside the store's): on their own :data:`metadata`, created by
:func:`create_all`.

* ``fsb_cluster_nodes``: one row per node name — its internal API URL, SIP address, region, ``state``
  (``up`` | ``down``), ``heartbeat_at`` (database clock, so node clocks never matter), ``load`` (live
  conferences + calls, for the least-loaded policy), ``generation`` (bumped on every start).
* ``fsb_cluster_placements``: one row per (account, FriendlyName) in use — the node that owns the room.
  The primary key makes the claim atomic (``INSERT … ON CONFLICT DO NOTHING``, then read the owner).
* ``fsb_cluster_rooms``: ConferenceSid → owning node, written when the owner's domain opens the conference,
  removed when it ends: what a survivor ends when that node dies, and where REST writes are carried.
* ``fsb_cluster_moves``: a call on its way to the owner over SIP — what the owner needs to run it, under a
  one-time token the SIP INVITE carries (signed) in ``X-Fsbridge-Move``.
"""
from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, func

from fsbridge.store.db import create_tables

metadata = MetaData()

nodes = Table(
    "fsb_cluster_nodes", metadata,
    Column("name", String(64), primary_key=True),
    Column("api_url", String(255), nullable=False),
    Column("sip_address", String(255), nullable=True),
    Column("region", String(32), nullable=True),
    Column("state", String(8), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("load", Integer, nullable=False, default=0),
    Column("generation", Integer, nullable=False, default=1),
)

placements = Table(
    "fsb_cluster_placements", metadata,
    Column("account_sid", String(64), primary_key=True),
    Column("friendly_name", String(128), primary_key=True),
    Column("node", String(64), nullable=False, index=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rooms = Table(
    "fsb_cluster_rooms", metadata,
    Column("conference_sid", String(34), primary_key=True),
    Column("account_sid", String(64), nullable=False),
    Column("friendly_name", String(128), nullable=False),
    Column("node", String(64), nullable=False, index=True),
)

moves = Table(
    "fsb_cluster_moves", metadata,
    Column("token", String(32), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

def create_all(engine, *others) -> None:
    """Create the cluster tables — and the tables of ``others`` (MetaData, e.g. the store's, outbox
    included) — if missing, under the schema advisory lock (:func:`fsbridge.store.db.create_tables`): nodes
    starting together do not race on ``CREATE TABLE``."""
    create_tables(engine, metadata, *others)


__all__ = ["metadata", "nodes", "placements", "rooms", "moves", "create_all"]
