"""REST writes carried between nodes (fsbridge.cluster.forward + internal), in one process: a stand-in tenant
app on each of two "nodes" (same blueprint name and auth order as fsbridge's), the owner's real internal API
on a real HTTP server. A write for a conference the other node runs comes back with the owner's exact status,
content type and body; reads and local conferences are never carried; an unreachable live owner → 503
(Twilio 20503); a dead owner → served here; the carried request cannot be replayed unsigned."""
from __future__ import annotations

import types

from flask import Blueprint, Flask, g, jsonify, request

from fsbridge.cluster import forward
from fsbridge.cluster.internal import create_internal_app
from fsbridge.cluster.peers import Peers
from fsbridge.cluster.registry import NodeInfo
from fsbridge.local import HttpApp

SECRET = "forward-secret-0123456789"


def tenant(name, seen):
    """A tenant app like fsbridge's: blueprint ``twilio_conferences``, auth in its before_request first."""
    app = Flask(name)
    bp = Blueprint("twilio_conferences", name)

    @bp.route("/Accounts/<AccountSid>/Conferences/<Sid>.json", methods=["GET", "POST"])
    def conference(AccountSid, Sid):
        seen.append((name, request.method, Sid, request.form.to_dict()))
        if Sid == "CFmissing":
            return jsonify(code=20404, message=f"The requested resource {request.path} was not found"), 404
        return jsonify(sid=Sid, served_by=name, status=request.form.get("Status", "in-progress")), 200

    app.register_blueprint(bp)

    def auth():
        if request.authorization is None or request.authorization.password != "token":
            return jsonify(code=20003, message="Authenticate"), 401
        g.account_sid = request.view_args["AccountSid"]
        return None
    app.before_request_funcs.setdefault(bp.name, []).append(auth)
    return app


class Registry:
    def __init__(self, alive):
        self.alive_names = alive

    def is_alive(self, name):
        return name in self.alive_names


def make_node(me, local_rooms, owners, peers_info, alive):
    state = types.SimpleNamespace(conference=lambda sid: types.SimpleNamespace(status="in-progress")
                                  if sid in local_rooms else None)
    return types.SimpleNamespace(
        me=me, secret=SECRET, bridge=types.SimpleNamespace(state=state), mover=None, tenant_app=None,
        room_owner=lambda sid: owners.get(sid), peer=lambda name: peers_info.get(name),
        placement=types.SimpleNamespace(owner=lambda account, name: None),
        registry=Registry(alive), peers=Peers(me, SECRET))


def test_writes_are_carried_to_the_owner_and_answered_as_it_answers():
    seen = []
    owner_app = tenant("n1", seen)
    owner = make_node("n1", {"CFowned", "CFmissing"}, {}, {}, {"n1"})
    owner.tenant_app = owner_app
    internal = HttpApp(create_internal_app(owner)).start()
    dead_port = HttpApp(Flask("gone")).start()
    dead_url = dead_port.url
    dead_port.stop()
    owners = {"CFowned": "n1", "CFmissing": "n1", "CFlocal": "n2", "CFunreachable": "n3", "CFdead": "n4"}
    info = {"n1": NodeInfo("n1", internal.url, None, None, "up", 0),
            "n3": NodeInfo("n3", dead_url, None, None, "up", 0)}
    node2 = make_node("n2", {"CFlocal"}, owners, info, {"n1", "n2", "n3"})
    app2 = tenant("n2", seen)
    forward.install(app2, node2, ["twilio_conferences"], "twilio_conferences")
    c = app2.test_client()
    auth = {"Authorization": "Basic QUMxOnRva2Vu"}   # AC1:token
    try:
        r = c.post("/Accounts/AC1/Conferences/CFowned.json", data={"Status": "completed"}, headers=auth)
        assert r.status_code == 200 and r.json == {"sid": "CFowned", "served_by": "n1", "status": "completed"}
        assert seen[-1] == ("n1", "POST", "CFowned", {"Status": "completed"})
        r = c.post("/Accounts/AC1/Conferences/CFmissing.json", data={"Status": "completed"}, headers=auth)
        assert r.status_code == 404 and r.json["message"].endswith("/Conferences/CFmissing.json was not found")
        assert r.headers["Content-Type"] == "application/json"
        assert c.get("/Accounts/AC1/Conferences/CFowned.json", headers=auth).json["served_by"] == "n2"   # reads
        assert c.post("/Accounts/AC1/Conferences/CFlocal.json", headers=auth).json["served_by"] == "n2"
        r = c.post("/Accounts/AC1/Conferences/CFunreachable.json", headers=auth)
        assert r.status_code == 503 and r.json["code"] == 20503
        assert c.post("/Accounts/AC1/Conferences/CFdead.json", headers=auth).json["served_by"] == "n2"
        assert c.post("/Accounts/AC1/Conferences/CFowned.json").status_code == 401   # never carried unauthenticated
        # the owner's own auth applies to the carried request too
        assert c.post("/Accounts/AC1/Conferences/CFowned.json", headers={
            "Authorization": "Basic QUMxOndyb25n"}).status_code == 401
        # the internal API itself refuses an unsigned carried request
        import requests
        assert requests.post(internal.url + "/cluster/v1/rest", json={"method": "POST"}, timeout=5).status_code == 401
    finally:
        internal.stop()


def test_a_malformed_answer_from_the_owner_is_a_503_not_a_500():
    """A node of ours answering 2xx with something that is not an envelope (not JSON, not an object, a bad
    status, a body that is not base64, a content type with a line break) → 503 / 20503, never a 500."""
    answers = [(b"ok", "text/plain"), (b"[1, 2]", "application/json"),
               (b'{"status": "200", "body": ""}', "application/json"),
               (b'{"status": 999, "body": ""}', "application/json"),
               (b'{"status": true, "body": ""}', "application/json"),
               (b'{"status": 200, "body": "***"}', "application/json"),
               (b'{"status": 200, "body": "", "content_type": "text/plain\\r\\nX-Evil: 1"}', "application/json"),
               (b'{"status": 200, "body": "", "content_type": ["x"]}', "application/json")]
    liar = Flask("liar")

    @liar.route("/cluster/v1/rest", methods=["POST"])
    def rest():
        body, ctype = answers[len(served)]
        served.append(body)
        return body, 200, {"Content-Type": ctype}

    served = []
    server = HttpApp(liar).start()
    info = {"n1": NodeInfo("n1", server.url, None, None, "up", 0)}
    node2 = make_node("n2", set(), {"CFowned": "n1"}, info, {"n1", "n2"})
    app2 = tenant("n2", [])
    forward.install(app2, node2, ["twilio_conferences"], "twilio_conferences")
    c = app2.test_client()
    try:
        for body, _ in answers:
            r = c.post("/Accounts/AC1/Conferences/CFowned.json", headers={"Authorization": "Basic QUMxOnRva2Vu"})
            assert (r.status_code, r.json["code"]) == (503, 20503), body
            assert "X-Evil" not in r.headers
        assert len(served) == len(answers)
    finally:
        server.stop()
