"""The egress policy: which addresses the bridge's outgoing HTTP may reach (voice/Redirect/Dial-action
fetches, ``<Play>``/waitUrl/holdUrl/AnnounceUrl media and documents, status callbacks).

Tenants choose those URLs, so without a policy a tenant could make the bridge request cloud metadata
(``169.254.169.254``), decimal-encoded internal addresses (``http://2852039166/``), services on the host's
loopback or the bridge's own REST port (SSRF). The check is made on the *resolved* address, inside the
connection of urllib3 (maintained, already under ``requests``): :class:`EgressPolicy` resolves the host once,
drops every address it refuses and connects to an address it accepted — the name is never resolved a second
time, so DNS rebinding cannot slip a different address in. Every redirect hop opens its own connection and is
checked again. TLS still verifies the certificate against the host *name* (SNI), not the address.

Decision for one address (first match wins):

1. the bridge's own listen address (host + port, ``own``) → denied;
2. cloud-metadata addresses (:data:`METADATA`) → always denied;
3. the operator's ``deny`` networks → denied;
4. the operator's ``allow`` networks → allowed;
5. :data:`DEFAULT_DENY` (loopback, RFC 1918 private, CGNAT, link-local, ``0.0.0.0/8``, multicast, reserved,
   IPv6 unique-local/link-local) → denied;
6. anything else (public addresses) → allowed.

Operators whose apps sit on loopback or private ranges allow those networks explicitly
(``[egress] allow = ["127.0.0.0/8"]`` in fsbridge.toml; the Vagrant example does so). docs/security.md.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as u3conn

METADATA = tuple(ipaddress.ip_network(n) for n in (
    "169.254.169.254/32",    # AWS, GCP, Azure, OpenStack, DigitalOcean …
    "169.254.170.2/32",      # AWS ECS task metadata
    "100.100.100.200/32",    # Alibaba Cloud
    "fd00:ec2::254/128",     # AWS IPv6 IMDS
))

DEFAULT_DENY = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
    "169.254.0.0/16", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96", "100::/64",
))

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


#: environment variable: comma-separated networks to allow (read by fsbridge.config.load and EgressPolicy.default)
ALLOW_ENV = "FSBRIDGE_EGRESS_ALLOW"


def allow_from_env(env) -> Tuple[str, ...]:
    """The networks ``$FSBRIDGE_EGRESS_ALLOW`` names (comma-separated, blanks ignored); () when unset."""
    return tuple(n.strip() for n in env.get(ALLOW_ENV, "").split(",") if n.strip())


class EgressDenied(Exception):
    """The policy refuses every address ``host`` resolves to. ``str(exc)`` names host and addresses: for the
    log only (API errors must not echo it: it would map the internal network)."""

    def __init__(self, host: str, port: int, addresses: Sequence[str], reason: str):
        super().__init__(f"egress to {host}:{port} refused ({reason}: {', '.join(addresses) or 'no address'})")
        self.host = host
        self.port = port


def _networks(items: Iterable[str], what: str) -> Tuple[Network, ...]:
    out = []
    for item in items or ():
        try:
            out.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ValueError(f"egress.{what}: {item!r} is not an IP network (e.g. 10.0.0.0/8)") from None
    return tuple(out)


def _plain(addr: Address) -> Address:
    """IPv4-mapped IPv6 (``::ffff:127.0.0.1``) → the IPv4 address it carries."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class EgressPolicy:
    """Allow/deny decisions for outgoing connections (see module docstring for the order).

    ``allow`` / ``deny``: networks as strings (``"127.0.0.0/8"``, ``"::1"``); raises ValueError for a bad
    one. ``own``: ``(host, port)`` listen addresses of this bridge (host ``0.0.0.0``/``::`` = every local
    address); :meth:`add_own` adds one once a port-0 socket is bound. ``resolver``: ``getaddrinfo``-like
    callable (tests)."""

    def __init__(self, allow: Iterable[str] = (), deny: Iterable[str] = (),
                 own: Iterable[Tuple[str, int]] = (), resolver=None):
        self.allow = _networks(allow, "allow")
        self.deny = _networks(deny, "deny")
        self._own: List[Tuple[Optional[Address], int]] = []
        self._resolve = resolver or socket.getaddrinfo
        for host, port in own:
            self.add_own(host, port)

    @classmethod
    def default(cls, env=None) -> "EgressPolicy":
        """The policy of a client built without one: the default deny list, plus the networks in
        ``$FSBRIDGE_EGRESS_ALLOW`` (comma-separated; the same variable :func:`fsbridge.config.load` reads)."""
        import os
        return cls(allow_from_env(os.environ if env is None else env))

    @classmethod
    def from_settings(cls, settings) -> "EgressPolicy":
        """The policy a :class:`fsbridge.config.Settings` asks for (``egress_allow``, ``egress_deny``), denying
        the bridge's own sockets: the REST listen address when its port is fixed and, with the FreeSWITCH
        engine, the outbound-socket server and FreeSWITCH's event socket (an allowed loopback must not let a
        tenant's URL talk to ESL)."""
        own = [(settings.host, settings.port)] if getattr(settings, "port", 0) else []
        if getattr(settings, "engine", "") == "freeswitch":
            own += [(settings.outbound_host, settings.outbound_port), (settings.esl_host, settings.esl_port)]
        return cls(getattr(settings, "egress_allow", ()), getattr(settings, "egress_deny", ()), own)

    def add_own(self, host: str, port: int) -> None:
        """Deny ``host:port`` (this bridge's listen address; an unspecified host = any address at ``port``
        that is loopback or private)."""
        try:
            addr = _plain(ipaddress.ip_address(host))
        except ValueError:
            addr = None
        if addr is not None and addr.is_unspecified:
            addr = None
        self._own.append((addr, int(port)))

    def reason(self, address: str, port: int) -> Optional[str]:
        """Why ``address`` (an IP literal) at ``port`` is refused, or None when it is allowed."""
        addr = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
        for own, own_port in self._own:
            if own_port == port and (addr == own or (own is None and not addr.is_global)):
                return "the bridge's own listen address"
        if any(addr in n for n in METADATA if n.version == addr.version):
            return "cloud metadata address"
        if any(addr in n for n in self.deny if n.version == addr.version):
            return "denied network"
        if any(addr in n for n in self.allow if n.version == addr.version):
            return None
        if any(addr in n for n in DEFAULT_DENY if n.version == addr.version):
            return "non-public address (allow it in [egress] allow)"
        return None

    def allowed(self, address: str, port: int) -> bool:
        """True when the policy lets a connection to ``address``:``port`` through."""
        return self.reason(address, port) is None

    def resolve(self, host: str, port: int) -> List[Tuple[int, str]]:
        """Resolve ``host`` once and keep the addresses the policy allows: ``[(family, ip), …]`` in resolver
        order. Raises :class:`EgressDenied` when none is allowed, socket.gaierror when resolution fails."""
        infos = self._resolve(host, port, 0, socket.SOCK_STREAM)
        ok, refused, why = [], [], ""
        for family, _type, _proto, _name, sockaddr in infos:
            ip = sockaddr[0]
            reason = self.reason(ip, port)
            if reason is None:
                if (family, ip) not in ok:
                    ok.append((family, ip))
            else:
                refused.append(ip)
                why = why or reason
        if not ok:
            raise EgressDenied(host, port, refused, why or "no address")
        return ok

    def connect(self, host: str, port: int, timeout: Optional[float],
                opener: Callable[..., socket.socket] = socket.create_connection) -> socket.socket:
        """A TCP connection to the first address of ``host`` the policy allows that answers (:meth:`resolve`,
        then ``opener((ip, port), timeout)`` per address in resolver order). Raises :class:`EgressDenied`,
        socket.gaierror, or the last address's OSError (``socket.timeout`` for a timed-out connect)."""
        last: Optional[OSError] = None
        for _family, ip in self.resolve(host, port):
            try:
                return opener((ip, port), timeout)
            except OSError as exc:
                last = exc
        raise last if last is not None else OSError("no address to connect to")


class _EgressConnection:
    """Mixin for urllib3 connections: ``_new_conn`` connects only to an address the policy checked."""

    egress_policy: EgressPolicy

    def _new_conn(self) -> socket.socket:
        def opener(address, timeout):
            return u3conn.create_connection(address, timeout, source_address=self.source_address,
                                            socket_options=self.socket_options)
        try:
            return self.egress_policy.connect(self._dns_host, self.port, self.timeout, opener)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except socket.timeout as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                            f"(connect timeout={self.timeout})") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc


def pool_classes(policy: EgressPolicy) -> dict:
    """``{"http": pool class, "https": pool class}`` whose connections obey ``policy`` (for
    ``urllib3.PoolManager.pool_classes_by_scheme``)."""
    http_conn = type("EgressHTTPConnection", (_EgressConnection, HTTPConnection), {"egress_policy": policy})
    https_conn = type("EgressHTTPSConnection", (_EgressConnection, HTTPSConnection), {"egress_policy": policy})
    return {"http": type("EgressHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("EgressHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}


def pool_manager(policy: EgressPolicy, **kw) -> urllib3.PoolManager:
    """A :class:`urllib3.PoolManager` (``kw`` as urllib3 takes them) whose every connection obeys ``policy``."""
    manager = urllib3.PoolManager(**kw)
    manager.pool_classes_by_scheme = pool_classes(policy)
    return manager


class EgressAdapter(HTTPAdapter):
    """A ``requests`` transport adapter whose connections obey ``policy`` (mount it for ``http://`` and
    ``https://``; proxies are refused, since the check must see the real destination)."""

    def __init__(self, policy: EgressPolicy, **kw):
        self.egress_policy = policy
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        """Build requests' pool manager, then swap in the policy's pool classes."""
        super().init_poolmanager(*args, **kw)
        self.poolmanager.pool_classes_by_scheme = pool_classes(self.egress_policy)

    def proxy_manager_for(self, proxy, **kw):
        """Proxies would hide the destination from the policy: refused."""
        raise EgressDenied(str(proxy), 0, (), "proxies are not supported by the egress policy")


def session(policy: EgressPolicy, max_redirects: int = 10, **adapter_kw):
    """A ``requests.Session``: both schemes through :class:`EgressAdapter` (``adapter_kw`` as
    ``HTTPAdapter`` takes them, e.g. pool sizes), no proxies from the environment (``trust_env`` off), at most
    ``max_redirects`` redirect hops (each checked)."""
    import requests
    s = requests.Session()
    s.trust_env = False
    s.max_redirects = max_redirects
    adapter = EgressAdapter(policy, **adapter_kw)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s
