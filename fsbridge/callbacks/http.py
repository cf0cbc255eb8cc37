"""The callbacks' HTTP client: pooled HTTP/1.1 keep-alive connections per app host, retries left to the
dispatcher.

Requests go through the standard library's :mod:`http.client` (maintained with Python; the HTTP/1.1
framing, chunked and keep-alive handling) on connections kept per (scheme, host, port): measured on this
project's machine a callback POST costs ≈ 160 µs of CPU this way against ≈ 370 µs through a urllib3 pool
(whose per-request URL parsing, dropped-connection poll and response wrapping dominate; issue 16).
Connections are opened only to an address the :class:`fsbridge.egress.EgressPolicy` accepted (the name is
resolved once; the policy sees the real address); TLS verifies the certificate and the host *name* (SNI)
with :func:`ssl.create_default_context`. A pooled connection the server closed while idle is replaced
transparently (one fresh attempt). The dispatcher owns retries and backoff and never follows redirects.
Errors become :class:`TransportError` with the failure class the retry policy understands: ``ct`` (could
not connect, refused, reset, connect timeout, TLS failure), ``rt`` (no answer within the read timeout),
``fatal`` (a URL that can never work, or an address the egress policy refuses).
"""
from __future__ import annotations

import http.client
import socket
import ssl
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from fsbridge.egress import EgressDenied, EgressPolicy

from .overrides import CLASS_CT as CT
from .overrides import CLASS_FATAL as FATAL
from .overrides import CLASS_RT as RT
from .overrides import url_problem

_Key = Tuple[str, str, int]
#: what a request on a connection the server has closed meanwhile raises (a pooled one gets one fresh retry)
_DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)


class TransportError(Exception):
    """A failed attempt: ``failure`` is ``ct`` | ``rt`` | ``fatal``; ``str(exc)`` is a short reason."""

    def __init__(self, failure: str, message: str):
        super().__init__(message)
        self.failure = failure


class _Connection(http.client.HTTPConnection):
    """An http.client connection that connects only to an address the egress policy accepted."""

    def __init__(self, host: str, port: int, policy: EgressPolicy, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.egress_policy = policy
        self._body: Optional[bytes] = None

    def post(self, method: str, target: str, body: Optional[bytes], headers: Mapping[str, str]) -> None:
        """Send one request with head and body in a single ``send`` (http.client writes them separately:
        two packets and two system calls with TCP_NODELAY)."""
        self._body = None
        self.putrequest(method, target)
        for name, value in headers.items():
            self.putheader(name, value)
        if body is not None:
            self.putheader("Content-Length", str(len(body)))
            self._body = body
        self.endheaders()

    def send(self, data) -> None:
        """Write ``data`` (the request head from :meth:`post` gets its body appended)."""
        body, self._body = self._body, None
        super().send(data + body if body else data)

    def _egress_socket(self) -> socket.socket:
        sock = self.egress_policy.connect(self.host, self.port, self.timeout)   # EgressDenied, gaierror, OSError
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def connect(self) -> None:
        """Open the TCP connection (egress-checked address, TCP_NODELAY)."""
        self.sock = self._egress_socket()


class _TLSConnection(_Connection):
    """:class:`_Connection` wrapped in TLS (certificate and host name verified by ``context``)."""

    def __init__(self, host: str, port: int, policy: EgressPolicy, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, policy, timeout)
        self.context = context

    def connect(self) -> None:
        """TCP as :class:`_Connection`, then the TLS handshake with SNI = the URL's host name."""
        sock = self._egress_socket()
        try:
            self.sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class Transport:
    """Keep-alive HTTP/1.1 client for callbacks: idle connections kept per (scheme, host, port).

    ``ssl_context``: for https (default: verify against the system store, or ``ca_certs``, a PEM path).
    ``max_idle``: connections kept per (scheme, host, port). Use from greenlets (sockets patched by gevent).
    ``egress``: the :class:`fsbridge.egress.EgressPolicy` every connection obeys (default:
    :meth:`fsbridge.egress.EgressPolicy.default`); a refused address is a ``fatal`` failure.
    """

    def __init__(self, ssl_context: Optional[ssl.SSLContext] = None, ca_certs: Optional[str] = None,
                 max_idle: int = 128, egress: Optional[EgressPolicy] = None):
        self.egress = egress if egress is not None else EgressPolicy.default()
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=ca_certs)
        self.max_idle = max_idle
        self._idle: Dict[_Key, List[_Connection]] = {}
        self._targets: Dict[str, Tuple[_Key, str]] = {}   # url → (pool key, request target); bounded

    def _target(self, url: str) -> Tuple[_Key, str]:
        hit = self._targets.get(url)
        if hit is not None:
            return hit
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        key = (scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        hit = (key, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        if len(self._targets) >= 4096:
            self._targets.clear()
        self._targets[url] = hit
        return hit

    def _new(self, key: _Key, timeout: float) -> _Connection:
        scheme, host, port = key
        if scheme == "https":
            return _TLSConnection(host, port, self.egress, timeout, self.ssl_context)
        return _Connection(host, port, self.egress, timeout)

    def request(self, method: str, url: str, body: Optional[bytes], headers: Mapping[str, str],
                connect_timeout: float, read_timeout: float) -> int:
        """Send one request to the absolute, already percent-encoded ``url``; return the HTTP status.

        The response body is read and discarded. Timeouts in seconds. Raises :class:`TransportError`
        (``fatal`` for a URL :func:`.overrides.url_problem` rejects, without a request).
        """
        problem = url_problem(url) if url not in self._targets else None
        if problem:
            raise TransportError(FATAL, problem)
        key, target = self._target(url)
        idle = self._idle.get(key)
        while idle:   # a pooled connection first; if the server dropped it meanwhile, one fresh attempt
            conn = idle.pop()
            try:
                return self._exchange(conn, key, method, target, body, headers, read_timeout)
            except _DROPPED:
                conn.close()
        conn = self._new(key, connect_timeout)
        try:
            conn.connect()
        except EgressDenied as exc:
            raise TransportError(FATAL, str(exc)) from None
        except (socket.timeout, TimeoutError):
            conn.close()
            raise TransportError(CT, f"connection failed: connect timeout ({connect_timeout:g}s)") from None
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            raise _connection_failed(conn, exc) from None
        try:
            return self._exchange(conn, key, method, target, body, headers, read_timeout)
        except _DROPPED as exc:
            raise _connection_failed(conn, exc) from None

    def _exchange(self, conn: _Connection, key: _Key, method: str, target: str, body: Optional[bytes],
                  headers: Mapping[str, str], read_timeout: float) -> int:
        """One request/response on ``conn``; the connection goes back to the pool unless it must close."""
        try:
            conn.sock.settimeout(read_timeout)
            conn.post(method, target, body, headers)
            resp = conn.getresponse()
            resp.read()
        except _DROPPED:
            raise
        except (socket.timeout, TimeoutError):
            conn.close()
            raise TransportError(RT, f"read timeout ({read_timeout:g}s)") from None
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            raise _connection_failed(conn, exc) from None
        if resp.will_close:
            conn.close()
        else:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle:
                idle.append(conn)
            else:
                conn.close()
        return resp.status

    def close(self) -> None:
        """Close every pooled connection."""
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _connection_failed(conn: _Connection, exc: BaseException) -> TransportError:
    """Close ``conn`` (it is unusable) and return the ``CT`` error for ``exc`` (the caller raises it)."""
    conn.close()
    return TransportError(CT, f"connection failed: {_why(exc)}")


def _why(exc: BaseException) -> str:
    """Short reason: the innermost OS error text ("Connection refused") or the exception's own text."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return text.split(": ", 1)[-1] if text else type(exc).__name__
