"""The callbacks' HTTP client: urllib3's keep-alive connection pools, with retries left to the dispatcher.

urllib3 (maintained, already under ``requests``) gives pooled HTTP/1.1 keep-alive, detection of pooled
connections the server dropped, and TLS with certificate and host-name verification. The dispatcher owns
retries and backoff and never follows redirects, so both are off here. Errors become
:class:`TransportError` with the failure class the retry policy understands: ``ct`` (could not connect,
refused, reset, connect timeout, TLS failure), ``rt`` (no answer within the read timeout), ``fatal``
(a URL that can never work).
"""
from __future__ import annotations

import ssl
from typing import Mapping, Optional

import urllib3
from urllib3.exceptions import HTTPError, ReadTimeoutError

from fsbridge.egress import EgressDenied, EgressPolicy, pool_manager

from .overrides import CLASS_CT as CT
from .overrides import CLASS_FATAL as FATAL
from .overrides import CLASS_RT as RT
from .overrides import url_problem


class TransportError(Exception):
    """A failed attempt: ``failure`` is ``ct`` | ``rt`` | ``fatal``; ``str(exc)`` is a short reason."""

    def __init__(self, failure: str, message: str):
        super().__init__(message)
        self.failure = failure


class Transport:
    """Keep-alive HTTP/1.1 client for callbacks (a :class:`urllib3.PoolManager`).

    ``ssl_context``: for https (default: verify against the system store, or ``ca_certs``, a PEM path).
    ``max_idle``: connections kept per (scheme, host, port). Use from greenlets (sockets patched by gevent).
    ``egress``: the :class:`fsbridge.egress.EgressPolicy` every connection obeys (default: :meth:`fsbridge.egress.EgressPolicy.default`);
    a refused address is a ``fatal`` failure.
    """

    def __init__(self, ssl_context: Optional[ssl.SSLContext] = None, ca_certs: Optional[str] = None,
                 max_idle: int = 128, egress: Optional[EgressPolicy] = None):
        self.egress = egress if egress is not None else EgressPolicy.default()
        self._pool = pool_manager(self.egress, num_pools=64, maxsize=max_idle, block=False,
                                         ssl_context=ssl_context, ca_certs=ca_certs,
                                         cert_reqs="CERT_REQUIRED", retries=False)

    def request(self, method: str, url: str, body: Optional[bytes], headers: Mapping[str, str],
                connect_timeout: float, read_timeout: float) -> int:
        """Send one request to the absolute, already percent-encoded ``url``; return the HTTP status.

        The response body is read and discarded. Timeouts in seconds. Raises :class:`TransportError`
        (``fatal`` for a URL :func:`.overrides.url_problem` rejects, without a request).
        """
        problem = url_problem(url)
        if problem:
            raise TransportError(FATAL, problem)
        try:
            resp = self._pool.request(method, url, body=body, headers=dict(headers), redirect=False,
                                      retries=False, preload_content=True,
                                      timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))
        except EgressDenied as exc:
            raise TransportError(FATAL, str(exc)) from None
        except ReadTimeoutError:
            raise TransportError(RT, f"read timeout ({read_timeout:g}s)") from None
        except (HTTPError, OSError) as exc:
            raise TransportError(CT, f"connection failed: {_why(exc)}") from None
        return resp.status

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()


def _why(exc: BaseException) -> str:
    """Short reason: the innermost OS error text ("Connection refused") or the exception's own text."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return text.split(": ", 1)[-1] if text else type(exc).__name__
