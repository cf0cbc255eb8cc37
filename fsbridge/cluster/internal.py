"""The internal API: its own listener (``[cluster] api_host/api_port``), never mounted on the tenant REST
app, every request signed with the cluster's shared secret (:mod:`.signing`; unsigned → 401, bad signature
or stale timestamp → 403, checked in constant time).

Routes (JSON):

* ``GET /cluster/v1/health`` → ``{"node": name}``;
* ``POST /cluster/v1/calls`` — a call moved here (:meth:`~fsbridge.cluster.moves.Mover.accept`) → 201;
* ``POST /cluster/v1/rest`` — a tenant REST write carried from a non-owning node (:mod:`.forward`):
  ``{"method", "path", "query", "headers", "body" (base64)}`` is run through this node's own tenant app
  (its authentication included) and its answer returned as ``{"status", "content_type", "body"}`` — so the
  tenant gets exactly the status and body a single node would give.
"""
from __future__ import annotations

import base64
import json
import logging

from flask import Flask, Response, request
from gevent.pywsgi import WSGIServer
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response as WResponse

from . import signing

log = logging.getLogger("fsbridge.cluster")

FORWARDED = "fsbridge.cluster.forwarded"   # WSGI environ key of a carried request (never set from a header)
REST_PATH = "/cluster/v1/rest"
CARRIED_HEADERS = ("Authorization", "Content-Type", "Accept", "User-Agent")
MAX_BODY_BYTES = 8 * 1024 * 1024   # a carried REST body (≤ the tenant limit) in base64, with room to spare


def _json(status: int, payload: dict) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _object(raw: bytes) -> dict:
    """A request body that must be one JSON object; raises ValueError (→ 400) for anything else, so a
    peer's malformed body is a 400 rather than an AttributeError's 500."""
    payload = json.loads(raw or b"{}")
    if not isinstance(payload, dict):
        raise ValueError(f"a JSON object expected, not {type(payload).__name__}")
    return payload


def replay(tenant_app, envelope: dict) -> dict:
    """Run a carried REST request (``envelope`` as in the module docstring) through ``tenant_app`` (the
    node's Flask REST app) marked :data:`FORWARDED`; returns the answer envelope. Raises KeyError (no
    ``path``/``method``), TypeError or ValueError (``headers`` not an object, ``body`` not strict base64)."""
    headers = envelope.get("headers") or {}
    if not isinstance(headers, dict):
        raise TypeError("headers: an object expected")
    headers = {k: v for k, v in headers.items() if k in CARRIED_HEADERS}
    builder = EnvironBuilder(path=str(envelope["path"]), method=str(envelope["method"]).upper(),
                             query_string=str(envelope.get("query") or ""), headers=headers,
                             data=base64.b64decode(envelope.get("body") or "", validate=True))
    environ = builder.get_environ()
    environ[FORWARDED] = True
    resp = WResponse.from_app(tenant_app, environ, buffered=True)
    return {"status": resp.status_code, "content_type": resp.headers.get("Content-Type", ""),
            "body": base64.b64encode(resp.get_data()).decode()}


def create_internal_app(node) -> Flask:
    """The internal API's Flask app for ``node`` (a :class:`~fsbridge.cluster.node.ClusterNode`: ``me``,
    ``secret``, ``mover``, ``tenant_app``)."""
    app = Flask("fsbridge.cluster.internal", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    replays = signing.ReplayGuard()

    @app.before_request
    def _authenticate():
        query = request.query_string.decode("utf-8", "replace")   # raw bytes: a hostile one fails the check
        path = request.path + (("?" + query) if query else "")
        refused = signing.verify(node.secret, request.headers, request.method, path, request.get_data(),
                                 guard=replays)
        if refused is not None:
            log.warning("internal API: %s %s from %s refused (%d)", request.method, request.path,
                        request.remote_addr, refused)
            return _json(refused, {"message": "unauthenticated" if refused == 401 else "forbidden"})
        return None

    @app.get("/cluster/v1/health")
    def health():
        return _json(200, {"node": node.me})

    @app.post("/cluster/v1/calls")
    def move():
        if node.bridge is None or not node.bridge.running:
            return _json(503, {"message": "not ready"})
        try:
            call_sid = node.mover.accept(_object(request.get_data()))
        except (ValueError, TypeError) as exc:
            return _json(400, {"message": str(exc)})
        return _json(201, {"call_sid": call_sid})

    @app.post(REST_PATH)
    def rest():
        if node.tenant_app is None:
            return _json(503, {"message": "not ready"})
        try:
            envelope = _object(request.get_data())
            return _json(200, replay(node.tenant_app, envelope))
        except (KeyError, TypeError, ValueError) as exc:
            return _json(400, {"message": f"bad envelope: {exc}"})

    @app.errorhandler(404)
    def _nf(_exc):
        return _json(404, {"message": "not found"})

    @app.errorhandler(405)
    def _na(_exc):
        return _json(405, {"message": "method not allowed"})

    @app.errorhandler(413)
    def _tl(_exc):
        return _json(413, {"message": f"body over {MAX_BODY_BYTES} bytes"})

    return app


class InternalServer:
    """The internal API on a gevent WSGI server: ``start()`` binds ``host:port`` (0 = any) and serves;
    ``port`` is the bound port; ``stop()``. ``server_cls``: the WSGIServer class (the composition root passes
    the API's TCP_NODELAY one: fsbridge.api.server_class)."""

    def __init__(self, app, host: str, port: int, server_cls=WSGIServer):
        self.server = server_cls((host, port), app, log=None)
        self.port = None

    def bind(self) -> int:
        """Bind the listening socket (before serving: the bound port is advertised first); returns it."""
        if self.port is None:
            self.server.init_socket()
            self.port = self.server.socket.getsockname()[1]
        return self.port

    def start(self) -> "InternalServer":
        """Bind (if not yet) and serve in the background."""
        self.bind()
        self.server.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving."""
        self.server.stop(timeout=timeout)


__all__ = ["create_internal_app", "InternalServer", "replay", "FORWARDED", "REST_PATH"]
