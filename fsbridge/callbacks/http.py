"""The callbacks' HTTP client: stdlib ``http.client`` connections in small keep-alive pools.

Why not ``requests``/urllib3: per callback, on this project's build VM, ``requests.Session`` cost ≈ 900 µs of
CPU, urllib3 ≈ 260 µs and a kept-alive ``http.client`` connection ≈ 115 µs — and callbacks need none of what
the extra layers add (redirects, retries, cookies, proxies, content decoding: the dispatcher owns retries and
never follows redirects). Everything here is stdlib: ``http.client`` for the protocol, ``ssl`` for TLS
(default context: certificate and host name verified), sockets patched by gevent.

* One write per request: the request head and body are sent with a single ``sendall`` (http.client writes
  them separately — two segments and two receiver wake-ups).
* Keep-alive: connections go back to their (scheme, host, port) pool when the response allows it; an idle
  connection the server has closed is detected before reuse, and a reused connection that fails before any
  response byte is replaced by a fresh one once (the request cannot have been processed).
* Errors are :class:`TransportError` with the failure class the retry policy understands: ``ct`` (could not
  connect, refused, reset, connect timeout), ``rt`` (no answer within the read timeout), ``fatal``.
"""
from __future__ import annotations

import http.client
import select
import socket
import ssl
from collections import deque
from typing import Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .overrides import CLASS_CT as CT
from .overrides import CLASS_FATAL as FATAL
from .overrides import CLASS_RT as RT


class TransportError(Exception):
    """A failed attempt: ``failure`` is ``ct`` | ``rt`` | ``fatal``; ``str(exc)`` is a short reason."""

    def __init__(self, failure: str, message: str):
        super().__init__(message)
        self.failure = failure


class _OneWrite:
    """Mixin for http.client connections: buffer the ``send`` calls of one request, then one ``sendall``."""

    _cork = None

    def send(self, data):  # noqa: D102 - http.client's contract
        if self._cork is not None and isinstance(data, (bytes, bytearray, memoryview)):
            self._cork.append(bytes(data))
            return
        super().send(data)

    def request_one_write(self, method: str, target: str, body: Optional[bytes], headers: Mapping[str, str]):
        """Send one request (head + body) with a single write."""
        self._cork = []
        try:
            self.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers.items():
                self.putheader(name, value)
            if body is not None:
                self.putheader("Content-Length", str(len(body)))
            self.endheaders(body)
        except BaseException:
            self._cork = None
            raise
        buf, self._cork = b"".join(self._cork), None
        self.sock.sendall(buf)


class _HTTP(_OneWrite, http.client.HTTPConnection):
    pass


class _HTTPS(_OneWrite, http.client.HTTPSConnection):
    pass


def _dropped(sock) -> bool:
    """True when an idle kept-alive socket is readable (the server closed it, or sent garbage)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Transport:
    """Keep-alive HTTP/1.1 client for callbacks.

    ``ssl_context``: for https (default ``ssl.create_default_context()``, or one trusting ``ca_certs``, a PEM
    path). ``max_idle``: idle connections kept per (scheme, host, port). Use from greenlets (not OS threads).
    """

    def __init__(self, ssl_context: Optional[ssl.SSLContext] = None, ca_certs: Optional[str] = None,
                 max_idle: int = 128):
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=ca_certs)
        self.max_idle = max_idle
        self._idle: Dict[Tuple[str, str, int], deque] = {}

    def request(self, method: str, url: str, body: Optional[bytes], headers: Mapping[str, str],
                connect_timeout: float, read_timeout: float) -> int:
        """Send one request to the absolute, already percent-encoded ``url``; return the HTTP status.

        The response body is read and discarded. Raises :class:`TransportError`. Timeouts in seconds.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise TransportError(FATAL, f"invalid URL: {exc}") from None
        host = parts.hostname
        if scheme not in ("http", "https") or not host:
            raise TransportError(FATAL, f"invalid URL: {url!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (scheme, host, port)
        conn, reused = self._checkout(key, connect_timeout)
        try:
            return self._exchange(key, conn, method, target, body, headers, read_timeout)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            if not reused:
                raise TransportError(CT, f"connection failed: {_why(exc)}") from None
        # a kept-alive connection the server had dropped: once more on a fresh one
        conn, _ = self._checkout(key, connect_timeout, fresh=True)
        try:
            return self._exchange(key, conn, method, target, body, headers, read_timeout)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            raise TransportError(CT, f"connection failed: {_why(exc)}") from None

    def close(self) -> None:
        """Close every idle connection."""
        for pool in self._idle.values():
            while pool:
                pool.pop().close()
        self._idle.clear()

    # ------------------------------------------------------------------ internals
    def _checkout(self, key, connect_timeout: float, fresh: bool = False):
        pool = self._idle.get(key)
        while pool and not fresh:
            conn = pool.pop()
            if conn.sock is not None and not _dropped(conn.sock):
                return conn, True
            conn.close()
        scheme, host, port = key
        if scheme == "https":
            conn = _HTTPS(host, port, timeout=connect_timeout, context=self.ssl_context)
        else:
            conn = _HTTP(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except socket.timeout:
            conn.close()
            raise TransportError(CT, f"connect timeout ({connect_timeout:g}s)") from None
        except ssl.SSLError as exc:
            conn.close()
            raise TransportError(CT, f"TLS handshake failed: {exc}") from None
        except OSError as exc:
            conn.close()
            raise TransportError(CT, f"connection failed: {_why(exc)}") from None
        try:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return conn, False

    def _exchange(self, key, conn, method, target, body, headers, read_timeout) -> int:
        try:
            conn.sock.settimeout(read_timeout)
            conn.request_one_write(method, target, body, headers)
            resp = conn.getresponse()
            resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            raise
        except socket.timeout:
            conn.close()
            raise TransportError(RT, f"read timeout ({read_timeout:g}s)") from None
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise TransportError(CT, f"connection failed: {_why(exc)}") from None
        except BaseException:  # e.g. GreenletExit from Dispatcher.stop(): never pool a half-used connection
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        else:
            pool = self._idle.setdefault(key, deque())
            if len(pool) < self.max_idle:
                pool.append(conn)
            else:
                conn.close()
        return resp.status


def _why(exc: BaseException) -> str:
    """Short reason: the OS error text ("Connection refused") or the exception's own text/name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
