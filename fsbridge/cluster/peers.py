"""The signed HTTP client one node reaches another's internal API with (``requests`` keep-alive sessions;
the internal addresses are the operator's, so the tenant egress policy does not apply to them)."""
from __future__ import annotations

import json
import logging
from typing import Optional, Tuple

import requests

from . import signing

log = logging.getLogger("fsbridge.cluster")


class PeerError(RuntimeError):
    """The peer could not be reached or refused the request (``status`` None when unreachable)."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


class Peers:
    """Signed requests from node ``me`` (``secret``: the shared secret; ``timeout_s``: per request)."""

    def __init__(self, me: str, secret: str, timeout_s: float = 10.0):
        self.me = me
        self._secret = secret
        self.timeout_s = timeout_s
        self._http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=64)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)

    def request(self, base_url: str, method: str, path: str, body: bytes = b"",
                content_type: str = "application/json") -> Tuple[int, dict, bytes]:
        """Send one signed request to ``base_url + path``; returns ``(status, headers, body)``. Raises
        :class:`PeerError` when the peer is unreachable."""
        headers = signing.sign(self._secret, self.me, method, path, body)
        headers["Content-Type"] = content_type
        try:
            resp = self._http.request(method, base_url.rstrip("/") + path, data=body, headers=headers,
                                      timeout=self.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            raise PeerError(f"{base_url}: {type(exc).__name__}") from None
        return resp.status_code, dict(resp.headers), resp.content

    def post_json(self, base_url: str, path: str, payload: dict) -> dict:
        """POST ``payload`` as JSON; returns the JSON object answered (an empty body: ``{}``). Raises
        :class:`PeerError` (unreachable: status None; a non-2xx answer, or a 2xx whose body is not a JSON
        object: with its status)."""
        status, _, body = self.request(base_url, "POST", path, json.dumps(payload).encode())
        if status >= 300:
            raise PeerError(f"{base_url}{path}: HTTP {status} {body[:200]!r}", status)
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise PeerError(f"{base_url}{path}: HTTP {status}, not a JSON object: {body[:200]!r}", status)
        return answer

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._http.close()


__all__ = ["Peers", "PeerError"]
