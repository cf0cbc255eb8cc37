"""REST writes on any node (issue #18, "REST on any node"): a write to a conference another node runs is
carried to that node and answered exactly as it answers.

:func:`install` adds a ``before_request`` to the tenant app's Twilio blueprints, after their Basic-auth
check (so an unauthenticated request never costs a hop). For ``POST``/``DELETE`` on a conference path —
Conference update (end, announce), Participant create (dial-out) / update (mute, hold, coach, announce,
wait URL) / delete (kick), Conference Recording update / delete — it looks up the conference's node
(``fsb_cluster_rooms`` by ConferenceSid; the placement by FriendlyName for a dial-out addressed by name).
A conference this node runs, or one no live node runs, is served here. Otherwise the request (method, path,
query, Authorization, Content-Type, body) goes to the owner's internal API (``POST /cluster/v1/rest``, signed),
which runs it through its own tenant app; its status, content type and body are returned unchanged.
Reads are never carried: every node reads the shared PostgreSQL store.
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Iterable, Optional

from flask import Response, g, request

from fsbridge.wire import twilio as tw

from .internal import CARRIED_HEADERS, FORWARDED, REST_PATH
from .peers import PeerError

log = logging.getLogger("fsbridge.cluster")

WRITES = ("POST", "DELETE")
UNAVAILABLE = 20503


def _unavailable(node_name: str) -> Response:
    body = {"code": UNAVAILABLE, "message": f"The conference's node {node_name} cannot be reached; try again",
            "more_info": f"https://www.twilio.com/docs/errors/{UNAVAILABLE}", "status": 503}
    return Response(json.dumps(body), status=503, mimetype="application/json")


def owner_of_request(node, conference_blueprint: str) -> Optional[str]:
    """The node a write request must run on, or None to run it here (see the module docstring)."""
    args = request.view_args or {}
    key = args.get(tw.CONFERENCE_SID)
    if key is None and request.blueprint == conference_blueprint:
        key = args.get("Sid")
    if not key:
        return None
    if key.startswith("CF"):
        info = node.bridge.state.conference(key)
        if info is not None and info.status != tw.CONF_COMPLETED:
            return None
        owner = node.room_owner(key)
    else:   # a FriendlyName (Participant create)
        owner = node.placement.owner(getattr(g, "account_sid", ""), key)
    return owner if owner and owner != node.me else None


def carry(node, owner: str) -> Optional[Response]:
    """Send the current request to node ``owner``; its answer as a Flask Response, a 503 when it is alive
    but unreachable, or None (serve here) when it is dead."""
    peer = node.peer(owner)
    if peer is None:   # dead (or gone): served here, as a single node answers for a room it does not run
        return None
    envelope = {"method": request.method, "path": request.path, "query": request.query_string.decode(),
                "headers": {k: request.headers[k] for k in CARRIED_HEADERS if k in request.headers},
                "body": base64.b64encode(request.get_data()).decode()}
    try:
        answer = node.peers.post_json(peer.api_url, REST_PATH, envelope)
    except PeerError as exc:
        log.warning("REST %s %s: owner %s unreachable: %s", request.method, request.path, owner, exc)
        if exc.status is None and not node.registry.is_alive(owner):   # died since the last heartbeat
            return None
        return _unavailable(owner)
    resp = _relayed(answer)
    if resp is None:   # a node of ours answered something that is not an envelope: a fault, not the tenant's
        log.warning("REST %s %s: owner %s answered a malformed envelope", request.method, request.path, owner)
        return _unavailable(owner)
    return resp


def _relayed(answer: dict) -> Optional[Response]:
    """The owner's envelope (internal.py: status, content_type, base64 body) as a Response, or None when it
    is malformed (status not an HTTP status, body not base64, content type not text)."""
    status, body, ctype = answer.get("status"), answer.get("body") or "", answer.get("content_type")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return None
    if not isinstance(body, str) or not isinstance(ctype, (str, type(None))) or "\n" in (ctype or "") \
            or "\r" in (ctype or ""):
        return None
    try:
        raw = base64.b64decode(body, validate=True)
    except ValueError:
        return None
    resp = Response(raw, status=status)
    if ctype:
        resp.headers["Content-Type"] = ctype
    return resp


def install(tenant_app, node, blueprints: Iterable[str], conference_blueprint: str) -> None:
    """Carry conference writes of ``tenant_app``'s ``blueprints`` (names; each already authenticates in a
    before_request) to their owning node. ``conference_blueprint``: the blueprint whose ``Sid`` view
    argument is a ConferenceSid."""

    def _carry_writes():
        if request.method not in WRITES or request.environ.get(FORWARDED):
            return None
        owner = owner_of_request(node, conference_blueprint)
        return carry(node, owner) if owner else None

    for name in blueprints:
        tenant_app.before_request_funcs.setdefault(name, []).append(_carry_writes)


__all__ = ["install", "owner_of_request", "carry"]
