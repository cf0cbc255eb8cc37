"""A cluster of fsbridge nodes on one PostgreSQL (issue #18; docs/cluster.md).

Small modules, each one job:

* :mod:`.tables` — the cluster's own tables (nodes, placements, rooms) on the store's PostgreSQL;
* :mod:`.registry` — node rows and heartbeats (database clock), dead-node detection;
* :mod:`.placement` — a conference (account + FriendlyName) claimed atomically by one node (``INSERT … ON
  CONFLICT``), released when it ends; the placement policies;
* :mod:`.signing` — the internal API's HMAC-SHA256 request signature (constant-time check);
* :mod:`.peers` — the signed HTTP client other nodes are reached with;
* :mod:`.internal` — the internal API listener (its own port, never on the tenant REST app): call moves
  and carried REST writes;
* :mod:`.moves` — moving a call to the node that owns its room (standalone virtual calls);
* :mod:`.forward` — REST writes on a non-owning node carried to the owner (same status codes and bodies);
* :mod:`.failover` — a survivor ends a dead node's conferences through the start-up reconciliation path;
* :mod:`.node` — the composition: :class:`~.node.ClusterNode` started by ``fsbridge serve``.

Layer: below the runtime and the API (it reaches the bridge and the Flask app through the objects it is
given, never by importing them), beside the store.
"""
