"""Several dispatchers (nodes) on one PostgreSQL outbox: per-conference leases (issue 18 item 4).

Order per conference needs one sender per conference at a time, so what is leased is the conference's queue
(``callback_outbox.queue_key``), not single rows. Table ``callback_lease`` (``queue_key`` primary key,
``node``, ``lease_until`` in the database's clock, Unix seconds):

* **Own first.** The node that writes a conference's callbacks takes (or keeps) its lease in the same
  transaction as the rows (``INSERT … ON CONFLICT DO UPDATE … WHERE`` the lease is free, expired or already
  its own) and delivers them at once — no claim round trip on the normal path. Rows written for a queue
  another live node holds are announced with ``NOTIFY fsbridge_outbox, '<queue_key>'``; the holder loads them.
* **Claim.** Every node ``LISTEN``s (a wake-up, not a poll) and, every ``lease_s / 3`` seconds, renews its
  leases (``UPDATE … WHERE node = me``) and claims queues that have open rows and a free or expired lease:
  ``SELECT … FOR UPDATE SKIP LOCKED`` then ``UPDATE`` to itself, so two nodes never take the same queue and
  never wait on each other's claims. A node that stops (crash, kill, network loss) stops renewing; after
  ``lease_s`` a survivor claims its queues and sends every row still open, from the oldest.
* **Safety margin.** A node sends only while its last successful renewal is younger than ``0.75 × lease_s``
  (local monotonic clock), so a stalled node stops before its lease can be claimed by another.

Delivery stays at-least-once: a node that dies after the receiver got a POST but before the "delivered" mark
was committed leaves the row open, and the survivor sends it again with the same idempotency token
(``I-Twilio-Idempotency-Token``) and SequenceNumber. Within one conference callbacks are never in flight
on two nodes at once (while the database's clock and the lease hold) and keep outbox-id order.
Idle leases (no open rows, nothing queued here) are released at the next renewal. PostgreSQL only (SQLite
has one dispatcher per file: no leases, its dispatcher loads every open row at start).
"""
from __future__ import annotations

import logging
import select
import time
from typing import Iterable, List, Optional, Set

import gevent
from sqlalchemy import Column, Float, String, Table, text

from fsbridge.store.db import create_tables, metadata

from . import outbox as ob

log = logging.getLogger("fsbridge.callbacks")

CHANNEL = "fsbridge_outbox"

lease = Table(
    "callback_lease",
    metadata,
    Column("queue_key", String(64), primary_key=True),
    Column("node", String(128), nullable=False),
    Column("lease_until", Float, nullable=False),
)

_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"
_OPEN = "state IN ('pending', 'retrying')"
_TAKE = text(f"""
    INSERT INTO callback_lease (queue_key, node, lease_until) VALUES (:key, :node, {_NOW} + :lease_s)
    ON CONFLICT (queue_key) DO UPDATE SET node = EXCLUDED.node, lease_until = EXCLUDED.lease_until
     WHERE callback_lease.lease_until < {_NOW} OR callback_lease.node = EXCLUDED.node
    RETURNING queue_key""")
_ENSURE = text(f"""
    INSERT INTO callback_lease (queue_key, node, lease_until)
    SELECT DISTINCT queue_key, '', 0 FROM callback_outbox WHERE {_OPEN}
    ON CONFLICT (queue_key) DO NOTHING""")
_CLAIMABLE = f"""
    SELECT queue_key FROM callback_lease l
     WHERE (l.lease_until < {_NOW} OR l.node = :node) {{only}}
       AND EXISTS (SELECT 1 FROM callback_outbox o WHERE o.queue_key = l.queue_key AND o.{_OPEN})
     ORDER BY l.node = :node, queue_key LIMIT :limit FOR UPDATE SKIP LOCKED"""
_SET = text(f"UPDATE callback_lease SET node = :node, lease_until = {_NOW} + :lease_s "
            "WHERE queue_key = ANY(:keys)")
_NEWEST = text(f"SELECT max(id) FROM callback_outbox WHERE queue_key = :key AND {_OPEN}")
_RENEW = text(f"UPDATE callback_lease SET lease_until = {_NOW} + :lease_s WHERE node = :node RETURNING queue_key")
_RELEASE = text(f"""DELETE FROM callback_lease l WHERE l.node = :node AND l.queue_key = ANY(:keys)
    AND NOT EXISTS (SELECT 1 FROM callback_outbox o WHERE o.queue_key = l.queue_key AND o.{_OPEN})""")


class Leases:
    """The lease side of a :class:`~.dispatcher.Dispatcher` built with ``node=`` (see module docstring).

    ``dispatcher``: the owner (its engine must be PostgreSQL; ValueError otherwise). ``node``: this node's
    name (unique in the cluster). ``lease_s``: lease length in seconds (renewed every ``lease_s / 3``; a dead
    node's queues are taken over after ``lease_s`` to ``lease_s × 4/3``). ``claim_batch``: queues claimed per
    round."""

    def __init__(self, dispatcher, node: str, lease_s: float = 10.0, claim_batch: int = 200):
        if dispatcher.engine.dialect.name != "postgresql":
            raise ValueError("callback leases (node=…) need a PostgreSQL outbox; SQLite has one dispatcher")
        if not node:
            raise ValueError("node name must not be empty")
        self.d = dispatcher
        self.node = node
        self.lease_s = float(lease_s)
        self.claim_batch = claim_batch
        self.held: Set[str] = set()
        self._valid_until = 0.0             # monotonic: send only before this
        self._loop: Optional[gevent.Greenlet] = None
        self._listen = None
        create_tables(dispatcher.engine, lease)

    # ------------------------------------------------------------ used by the dispatcher
    def holds(self, key: str) -> bool:
        """True while this node may send ``key``'s callbacks (lease held and renewed recently)."""
        return key in self.held and time.monotonic() < self._valid_until

    def before_commit(self, conn, rows) -> List[ob.OutboxRow]:
        """Inside the group commit, before the insert: take the leases of the new rows' queues where free;
        NOTIFY the others. Returns the rows that need fresh ids: those of a queue just taken over whose
        still-open rows (another node's) have higher ids."""
        keys = sorted({r.queue_key for r in rows if r.state == ob.PENDING} - self.held)
        stale: List[ob.OutboxRow] = []
        for key in keys:
            if conn.execute(_TAKE, dict(key=key, node=self.node, lease_s=self.lease_s)).first() is not None:
                self.held.add(key)
                newest = conn.execute(_NEWEST, dict(key=key)).scalar()
                mine = [r for r in rows if r.queue_key == key]
                if newest is not None and newest > min(r.id for r in mine):
                    stale += mine
            else:
                conn.execute(text("SELECT pg_notify(:ch, :key)"), dict(ch=CHANNEL, key=key))
        return stale

    # ------------------------------------------------------------ life cycle
    def start(self) -> None:
        """LISTEN, renew/claim once (a restarted node takes its own queues back at once), then keep doing so
        on every NOTIFY and every ``lease_s / 3`` seconds."""
        self._listen = self._open_listener()
        self._round(None)
        self._loop = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop listening and renewing (leases are left to expire: survivors take over after ``lease_s``)."""
        if self._loop is not None:
            self._loop.kill()
            self._loop = None
        if self._listen is not None:
            try:
                self._listen.invalidate()   # a LISTENing connection must not go back to the pool
            except Exception:
                pass
            self._listen = None
        self.held.clear()
        self._valid_until = 0.0

    def _open_listener(self):
        raw = self.d.engine.raw_connection()
        raw.driver_connection.autocommit = True
        raw.driver_connection.cursor().execute(f"LISTEN {CHANNEL}")
        return raw

    def _notified(self, wait: float) -> List[str]:
        """Wait up to ``wait`` s for NOTIFYs; their payloads. A lost listening connection is reopened (its
        NOTIFYs are lost meanwhile: the next round finds the rows anyway)."""
        try:
            if self._listen is None:
                self._listen = self._open_listener()
            pg = self._listen.driver_connection
            readable, _, _ = select.select([pg], [], [], wait)   # gevent-patched: the hub waits
            if not readable:
                return []
            pg.poll()
            keys = [n.payload for n in pg.notifies]
            del pg.notifies[:]
            return keys
        except Exception as exc:
            log.warning("callbacks: node %s lost its LISTEN connection (%s); reopening", self.node, exc)
            try:
                if self._listen is not None:
                    self._listen.invalidate()
            except Exception:
                pass
            self._listen = None
            gevent.sleep(min(wait, 1.0))
            return []

    def _run(self) -> None:
        tick = self.lease_s / 3.0
        next_tick = time.monotonic() + tick
        while True:
            keys = self._notified(max(0.0, next_tick - time.monotonic()))
            try:
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + tick
                    self._round(None)
                elif keys:
                    self._round(keys)
            except Exception:
                log.exception("callbacks: lease round of node %s failed", self.node)

    # ------------------------------------------------------------ rounds
    def _round(self, keys: Optional[Iterable[str]]) -> None:
        """``keys`` None: renew, release idle, claim any claimable queue. Else: load new rows of those
        queues held here, claim those free."""
        d = self.d
        d._flush()   # our own marks first, so a reload does not resend what was just delivered
        with d.engine.begin() as conn:
            if keys is None:
                started = time.monotonic()
                renewed = {k for (k,) in conn.execute(_RENEW, dict(node=self.node, lease_s=self.lease_s))}
                self._valid_until = started + 0.75 * self.lease_s
                for key in self.held - renewed:
                    log.warning("callbacks: node %s lost the lease of %s", self.node, key)
                self.held = renewed
                idle = [k for k in self.held if k not in d._queues]
                if idle:
                    conn.execute(_RELEASE, dict(node=self.node, keys=idle))
                    gone = set(idle) - {k for (k,) in conn.execute(
                        text("SELECT queue_key FROM callback_lease WHERE node = :node AND queue_key = ANY(:keys)"),
                        dict(node=self.node, keys=idle))}
                    self.held -= gone
                conn.execute(_ENSURE)
                got = self._claim(conn, None)
                load = [k for k in got if k not in d._queues]
            else:
                keys = set(keys)
                mine = [k for k in keys if k in self.held]
                others = [k for k in keys if k not in self.held]
                got = self._claim(conn, others) if others else []
                load = mine + [k for k in got if k not in mine]
            rows = self._open_rows(conn, load) if load else []
        queued = {r.id for key in load for r in d._queues.get(key, ())}
        for row in rows:   # rows queued here already (this node's own, in flight) are not queued twice
            if self.holds(row.queue_key) and row.id not in queued:
                d._push(row)
        if rows:
            log.info("callbacks: node %s took %d open callback(s) of %d conference(s)", self.node, len(rows),
                     len({r.queue_key for r in rows}))

    def _claim(self, conn, only: Optional[List[str]]) -> List[str]:
        sql = _CLAIMABLE.format(only="AND l.queue_key = ANY(:only)" if only is not None else "")
        params = dict(node=self.node, limit=self.claim_batch)
        if only is not None:
            params["only"] = list(only)
        keys = [k for (k,) in conn.execute(text(sql), params)]
        if set(keys) - self.held and self.d._writer is not None:
            self.d._writer.fresh_block()   # our next ids sort after the rows taken over
        if keys:
            conn.execute(_SET, dict(node=self.node, lease_s=self.lease_s, keys=keys))
            self.held.update(keys)
            if self._valid_until < time.monotonic():   # first round: the claim itself counts as a renewal
                self._valid_until = time.monotonic() + 0.75 * self.lease_s
        return keys

    def _open_rows(self, conn, keys: List[str]) -> List[ob.OutboxRow]:
        result = conn.execute(ob.outbox.select().where(ob.outbox.c.queue_key.in_(keys))
                              .where(ob.outbox.c.state.in_(ob.OPEN_STATES)).order_by(ob.outbox.c.id))
        return [ob._row(r) for r in result]
