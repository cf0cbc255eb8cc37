"""The ``[cluster]`` section of fsbridge.toml (issue #18): several fsbridge nodes on one PostgreSQL.

No ``[cluster]`` section (the default) = one node, exactly as before. With it::

    [cluster]
    node = "fs1"                       # this node's unique name (FSBRIDGE_CLUSTER_NODE)
    api_host = "10.0.0.11"             # the internal API listener (never the tenant REST port)
    api_port = 8090                    # 0 = any free port (tests)
    api_url = "http://10.0.0.11:8090"  # how the other nodes reach it (default http://api_host:bound port)
    sip_address = "10.0.0.11:5060"     # this node's FreeSWITCH, as the other nodes reach it (SIP moves)
    sip_profile = "internal"           # the sofia profile a move leaves this node's FreeSWITCH by
    sip_auth = "user:password"         # credentials a move answers the owner FreeSWITCH's challenge with
                                       # (FSBRIDGE_CLUSTER_SIP_AUTH; none: the owner admits peers by ACL)
    secret = "…"                       # shared by every node (FSBRIDGE_CLUSTER_SECRET; ≥ 16 characters)
    heartbeat_interval = 1.0           # s between heartbeats
    failure_timeout = 10.0             # s without a heartbeat before a survivor ends the node's rooms
    placement = "first-call"           # first-call | least-loaded | region
    region = "us1"                     # this node's group (placement = "region")
    [cluster.regions]                  # Twilio <Conference region="…"> → the node names serving it
    us1 = ["fs1", "fs2"]
    ie1 = ["fs3"]

The PostgreSQL URL is ``[storage] database_url`` (a cluster needs PostgreSQL). docs/cluster.md describes it.
Leaf module (imports nothing of fsbridge): :mod:`fsbridge.config` parses the file with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

FIRST_CALL = "first-call"
LEAST_LOADED = "least-loaded"
REGION = "region"
POLICIES = (FIRST_CALL, LEAST_LOADED, REGION)
MIN_SECRET = 16


class ClusterConfigError(ValueError):
    """A ``[cluster]`` setting that cannot be used (message names the key)."""


@dataclass(frozen=True)
class ClusterSettings:
    """One node's cluster settings (see the module docstring); durations in seconds."""

    node: str
    secret: str = field(repr=False)
    api_host: str = "127.0.0.1"
    api_port: int = 0
    api_url: Optional[str] = None
    sip_address: Optional[str] = None
    sip_profile: str = "internal"
    sip_auth: Optional[str] = field(default=None, repr=False)
    heartbeat_interval: float = 1.0
    failure_timeout: float = 10.0
    placement: str = FIRST_CALL
    region: Optional[str] = None
    regions: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)

    def advertised_url(self, bound_port: int) -> str:
        """``api_url``, else ``http://api_host:bound_port`` (0.0.0.0 → 127.0.0.1)."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "", "::") else self.api_host
        return f"http://{host}:{bound_port}"


def parse(data: Optional[Mapping], env: Mapping[str, str]) -> Optional[ClusterSettings]:
    """``[cluster]`` (a parsed TOML table, or None) overlaid by ``FSBRIDGE_CLUSTER_NODE`` /
    ``FSBRIDGE_CLUSTER_SECRET`` → ClusterSettings, or None when there is no cluster. Raises
    :class:`ClusterConfigError`."""
    if data is None and not env.get("FSBRIDGE_CLUSTER_NODE"):
        return None
    data = dict(data or {})
    node = str(env.get("FSBRIDGE_CLUSTER_NODE") or data.get("node") or "").strip()
    secret = str(env.get("FSBRIDGE_CLUSTER_SECRET") or data.get("secret") or "")
    if not node or len(node) > 64 or not all(ch.isalnum() or ch in "-_." for ch in node):
        raise ClusterConfigError("cluster.node must be a name of letters, digits, '-', '_' or '.' (≤ 64)")
    if len(secret) < MIN_SECRET:
        raise ClusterConfigError(f"cluster.secret (or FSBRIDGE_CLUSTER_SECRET) must have ≥ {MIN_SECRET} "
                                 "characters")
    regions: Dict[str, Tuple[str, ...]] = {}
    raw = data.get("regions") or {}
    if not isinstance(raw, Mapping):
        raise ClusterConfigError("cluster.regions must be a table: region = [node names]")
    for name, nodes in raw.items():
        if isinstance(nodes, str):
            nodes = [nodes]
        if not isinstance(nodes, (list, tuple)) or not nodes:
            raise ClusterConfigError(f"cluster.regions.{name} must be a non-empty list of node names")
        regions[str(name)] = tuple(str(n) for n in nodes)
    try:
        s = ClusterSettings(
            node=node, secret=secret, api_host=str(data.get("api_host", "127.0.0.1")),
            api_port=int(data.get("api_port", 0)), api_url=data.get("api_url"),
            sip_address=data.get("sip_address"), sip_profile=str(data.get("sip_profile", "internal")),
            sip_auth=env.get("FSBRIDGE_CLUSTER_SIP_AUTH") or data.get("sip_auth"),
            heartbeat_interval=float(data.get("heartbeat_interval", 1.0)),
            failure_timeout=float(data.get("failure_timeout", 10.0)),
            placement=str(data.get("placement", FIRST_CALL)).lower(),
            region=data.get("region"), regions=regions)
    except (TypeError, ValueError):
        raise ClusterConfigError("cluster: api_port, heartbeat_interval and failure_timeout must be numbers") \
            from None
    if s.placement not in POLICIES:
        raise ClusterConfigError(f"cluster.placement must be one of {', '.join(POLICIES)}")
    if s.placement == REGION and not s.regions:
        raise ClusterConfigError("cluster.placement = \"region\" needs a [cluster.regions] map")
    if s.sip_auth is not None and ":" not in s.sip_auth:
        raise ClusterConfigError("cluster.sip_auth must be \"user:password\"")
    for key, value in (("sip_address", s.sip_address or ""), ("sip_profile", s.sip_profile),
                       ("sip_auth", s.sip_auth or "")):
        if any(ch in value for ch in ",{}[]\n\r\t '\""):
            raise ClusterConfigError(f"cluster.{key} must not contain separators, quotes or spaces")
    if not 0 <= s.api_port <= 65535:
        raise ClusterConfigError("cluster.api_port must be 0..65535")
    if s.heartbeat_interval <= 0 or s.failure_timeout < 2 * s.heartbeat_interval:
        raise ClusterConfigError("cluster.failure_timeout must be at least twice cluster.heartbeat_interval (> 0)")
    return s


__all__ = ["ClusterSettings", "ClusterConfigError", "parse", "POLICIES", "FIRST_CALL", "LEAST_LOADED", "REGION"]
