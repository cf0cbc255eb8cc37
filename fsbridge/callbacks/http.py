"""The callbacks' HTTP client: urllib3 pools whose connections send a request in one write.

urllib3 (like http.client) writes the request head and the body with two ``send`` calls. On loopback/LAN each
send is a segment and a receiver wake-up; coalescing them saved ≈ 20 % of the client CPU per callback here
(≈ 420 → 330 µs, bench/callbacks.py's machine) and lets the receiver read the request at once. Nothing else
about urllib3's behaviour changes (connect happens on the first real write; errors surface as before).
"""
from __future__ import annotations

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _OneWrite:
    """Mixin: buffer every ``send`` made while ``request`` runs, then send them as one buffer."""

    _cork = None

    def request(self, *args, **kwargs):  # noqa: D102 - same contract as urllib3's
        self._cork = []
        try:
            super().request(*args, **kwargs)
        except BaseException:
            self._cork = None
            raise
        buf, self._cork = self._cork, None
        if buf:
            super().send(b"".join(buf))

    def send(self, data):  # noqa: D102 - same contract as http.client's
        if self._cork is not None and isinstance(data, (bytes, bytearray, memoryview)):
            self._cork.append(bytes(data))
            return
        super().send(data)


class OneWriteHTTPConnection(_OneWrite, HTTPConnection):
    """urllib3 HTTPConnection sending head + body in one write."""


class OneWriteHTTPSConnection(_OneWrite, HTTPSConnection):
    """urllib3 HTTPSConnection sending head + body in one write (one TLS record when small)."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = OneWriteHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = OneWriteHTTPSConnection


def pool_manager(num_pools: int = 256, maxsize: int = 128, **connection_kw) -> urllib3.PoolManager:
    """A ``urllib3.PoolManager`` for callbacks: keep-alive pools (``maxsize`` connections per host, extra ones
    opened and dropped under bursts rather than blocking), no urllib3-level retries or redirects (the
    dispatcher owns both), one write per request. ``connection_kw`` go to urllib3 (e.g. ``ca_certs=path``)."""
    pm = urllib3.PoolManager(num_pools=num_pools, maxsize=maxsize, block=False, retries=False, **connection_kw)
    pm.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return pm
