"""The cluster's parts in one process (issue #18): the ``[cluster]`` settings, the internal API's signature
and its 401/403 refusals, the moved verb's JSON, and on PostgreSQL (a database of its own) the atomic
placement claim under concurrency, the policies, heartbeat staleness and the per-node advisory lock."""
from __future__ import annotations

import json
import types

import gevent
import pytest
from sqlalchemy import text, update

from cluster_support import fresh_database
from fsbridge import config
from fsbridge.cluster import signing, tables, verbs
from fsbridge.cluster.internal import create_internal_app
from fsbridge.cluster.placement import Placement
from fsbridge.cluster.registry import NodeRegistry, try_lock
from fsbridge.config_cluster import ClusterSettings
from fsbridge.markup import parse

SECRET = "unit-secret-0123456789"


def test_no_cluster_section_is_one_node_and_a_section_is_parsed(tmp_path):
    assert config.from_mapping({}).cluster is None
    s = config.from_mapping({"cluster": {"node": "fs1", "secret": SECRET, "placement": "region",
                                         "region": "us1", "regions": {"us1": ["fs1", "fs2"], "ie1": "fs3"},
                                         "sip_address": "10.0.0.1:5060"}})
    c = s.cluster
    assert (c.node, c.placement, c.failure_timeout, c.heartbeat_interval) == ("fs1", "region", 10.0, 1.0)
    assert c.regions == {"us1": ("fs1", "fs2"), "ie1": ("fs3",)} and SECRET not in repr(c)
    env = config.apply_env(config.from_mapping({"cluster": {"node": "a", "secret": SECRET}}),
                           {"FSBRIDGE_CLUSTER_SECRET": "another-secret-0123456"})
    assert env.cluster.secret == "another-secret-0123456"


@pytest.mark.parametrize("table, message", [
    ({"node": "fs1", "secret": "short"}, "secret"),
    ({"node": "bad name!", "secret": SECRET}, "cluster.node"),
    ({"node": "fs1", "secret": SECRET, "placement": "random"}, "placement"),
    ({"node": "fs1", "secret": SECRET, "placement": "region"}, "regions"),
    ({"node": "fs1", "secret": SECRET, "heartbeat_interval": 5, "failure_timeout": 6}, "twice"),
    ({"node": "fs1", "secret": SECRET, "api_port": "x"}, "numbers"),
])
def test_bad_cluster_settings_are_refused(table, message):
    with pytest.raises(config.ConfigError, match=message):
        config.from_mapping({"cluster": table})


def test_signature_verifies_in_both_directions_and_refuses_tampering():
    headers = signing.sign(SECRET, "n1", "POST", "/cluster/v1/calls", b'{"a":1}', now=1000)
    assert signing.verify(SECRET, headers, "POST", "/cluster/v1/calls", b'{"a":1}', now=1010) is None
    assert signing.verify(SECRET, headers, "POST", "/cluster/v1/calls", b'{"a":2}', now=1010) == 403
    assert signing.verify("wrong-secret-0123456789", headers, "POST", "/cluster/v1/calls", b'{"a":1}',
                          now=1010) == 403
    assert signing.verify(SECRET, headers, "POST", "/cluster/v1/calls", b'{"a":1}', now=2000) == 403
    assert signing.verify(SECRET, {}, "POST", "/cluster/v1/calls", b"", now=1000) == 401
    for ts in ("9" * 400, "9" * 5000, "nan", "1e9", ""):
        forged = dict(headers, **{signing.TIMESTAMP: ts})
        assert signing.verify(SECRET, forged, "POST", "/cluster/v1/calls", b'{"a":1}', now=1010) in (401, 403), ts


def test_internal_api_answers_only_signed_requests():
    node = types.SimpleNamespace(me="n1", secret=SECRET, mover=None, tenant_app=None, bridge=None)
    client = create_internal_app(node).test_client()
    assert client.get("/cluster/v1/health").status_code == 401
    bad = signing.sign("not-the-secret-0123456", "n2", "GET", "/cluster/v1/health", b"")
    assert client.get("/cluster/v1/health", headers=bad).status_code == 403
    good = signing.sign(SECRET, "n2", "GET", "/cluster/v1/health", b"")
    resp = client.get("/cluster/v1/health", headers=good)
    assert resp.status_code == 200 and resp.json == {"node": "n1"}
    body = b"{}"
    moved = client.post("/cluster/v1/calls", data=body,
                        headers=signing.sign(SECRET, "n2", "POST", "/cluster/v1/calls", body))
    assert moved.status_code == 503   # no bridge yet
    unsigned = client.post("/cluster/v1/rest", data=b'{"method": "POST"}')
    assert unsigned.status_code == 401
    assert client.get("/cluster/v1/health", headers=good).status_code == 403   # the same request replayed
    fresh = signing.sign(SECRET, "n2", "GET", "/cluster/v1/health", b"")
    forged = dict(fresh, **{signing.TIMESTAMP: "9" * 400})
    assert client.get("/cluster/v1/health", headers=forged).status_code == 403
    raw_query = {"QUERY_STRING": "a=\xff"}   # not UTF-8: refused, not a 500
    assert client.get("/cluster/v1/health", environ_overrides=raw_query, headers=fresh).status_code == 403
    assert client.get("/cluster/v1/health", headers=fresh).status_code == 200   # refusals consume no nonce


def test_a_nonce_is_accepted_once_within_the_window_and_must_be_well_formed():
    guard = signing.ReplayGuard()
    headers = signing.sign(SECRET, "n1", "POST", "/cluster/v1/rest", b"x", now=1000)
    assert signing.verify(SECRET, headers, "POST", "/cluster/v1/rest", b"x", now=1001, guard=guard) is None
    assert signing.verify(SECRET, headers, "POST", "/cluster/v1/rest", b"x", now=1059, guard=guard) == 403
    other = signing.sign(SECRET, "n1", "POST", "/cluster/v1/rest", b"x", now=1000)
    assert other[signing.NONCE] != headers[signing.NONCE]
    assert signing.verify(SECRET, other, "POST", "/cluster/v1/rest", b"x", now=1002, guard=guard) is None
    swapped = dict(other, **{signing.NONCE: "0" * 32})   # the nonce is signed: a new one breaks the MAC
    assert signing.verify(SECRET, swapped, "POST", "/cluster/v1/rest", b"x", now=1002) == 403
    missing = {k: v for k, v in other.items() if k != signing.NONCE}
    assert signing.verify(SECRET, missing, "POST", "/cluster/v1/rest", b"x", now=1002) == 401
    for bad in ("-x", "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "\n"):
        forged = dict(other, **{signing.NONCE: bad})
        assert signing.verify(SECRET, forged, "POST", "/cluster/v1/rest", b"x", now=1002) == 403, bad
    small = signing.ReplayGuard(window_s=10)
    assert small.first_use("a" * 32, 0) and not small.first_use("a" * 32, 10)
    assert small.first_use("a" * 32, 10.5)   # forgotten once older than the window
    assert len(small._seen) == len(small._order) == 1


def test_the_moved_verb_round_trips_as_json_and_nothing_else_is_built():
    doc = parse('<Response><Dial action="/after" hangupOnStar="true" timeLimit="60"><Conference muted="true" '
                'beep="onExit" coach="CA' + "1" * 32 + '" endConferenceOnExit="true" participantLabel="agent" '
                'waitUrl="/wait" statusCallback="/cb" statusCallbackEvent="join leave">Room 1</Conference>'
                '</Dial></Response>', "twiml")
    dial = doc.verbs[0]
    back = verbs.from_json(json.loads(json.dumps(verbs.to_json(dial))))
    assert back == dial
    with pytest.raises(ValueError):
        verbs.from_json({"_type": "Popen", "args": ["sh"]})
    with pytest.raises(ValueError):
        verbs.from_json({"_type": "Hook", "url": "/x", "evil": 1})


@pytest.fixture
def db(pg_url):
    from fsbridge.store.db import make_engine
    url, drop = fresh_database(pg_url)
    engine = make_engine(url)
    tables.create_all(engine)
    yield engine
    engine.dispose()
    drop()


def _node(engine, name, **kw):
    s = ClusterSettings(node=name, secret=SECRET, failure_timeout=5.0, heartbeat_interval=1.0, **kw)
    reg = NodeRegistry(engine, name, s.failure_timeout)
    reg.join(f"http://{name}", None, s.region)
    return reg, Placement(engine, s)


def test_concurrent_claims_from_three_nodes_agree_on_one_owner(db):
    placements = [_node(db, f"n{i}")[1] for i in (1, 2, 3)]
    jobs = [gevent.spawn(placements[i % 3].claim, "AC1", f"room-{i % 5}") for i in range(30)]
    gevent.joinall(jobs, raise_error=True)
    by_room = {}
    for i, job in enumerate(jobs):
        by_room.setdefault(f"room-{i % 5}", set()).add(job.value)
    assert all(len(owners) == 1 for owners in by_room.values()), by_room
    assert placements[0].owner("AC1", "room-0") in ("n1", "n2", "n3")
    owner = placements[0].owner("AC1", "room-1")
    mine = next(p for p in placements if p.me == owner)
    mine.release("AC1", "room-1")
    assert placements[0].owner("AC1", "room-1") is None


def test_least_loaded_and_region_policies(db):
    _, p1 = _node(db, "n1", placement="least-loaded")
    _, p2 = _node(db, "n2", placement="least-loaded")
    assert p1.claim("AC1", "a") == "n1"          # tie → by name
    assert p1.claim("AC1", "b") == "n2"          # n1 owns one room now
    assert p2.claim("AC1", "c") == "n1"
    stale, _ = _node(db, "n0")                   # no rooms and first by name, but no longer alive
    down, _ = _node(db, "n00")
    down.leave()
    with db.begin() as conn:
        conn.execute(update(tables.nodes).where(tables.nodes.c.name == "n0").values(
            heartbeat_at=text("now() - interval '1 hour'")))
    assert p1.claim("AC1", "d") == "n2"          # the stale n0 and the down n00 are never chosen
    regions = {"us1": ("n1",), "ie1": ("n2",)}
    _, r1 = _node(db, "n1", placement="region", region="us1", regions=regions)
    assert r1.claim("AC1", "eu-room", "ie1") == "n2"
    assert r1.claim("AC1", "us-room", None) == "n1"
    assert r1.claim("AC1", "unknown-region", "au1") == "n1"


def test_stale_nodes_are_found_and_one_survivor_gets_the_lock(db):
    r1, p1 = _node(db, "n1")
    r2, _ = _node(db, "n2")
    r3, _ = _node(db, "n3")
    assert r1.stale() == [] and {n.name for n in r1.alive()} == {"n1", "n2", "n3"}
    with db.begin() as conn:
        conn.execute(update(tables.nodes).where(tables.nodes.c.name == "n3").values(
            heartbeat_at=text("now() - interval '1 hour'")))
    assert r1.stale() == ["n3"] and r2.stale() == ["n3"] and not r1.is_alive("n3")
    assert p1.claim("AC1", "room") == "n1" and p1.take_over("AC1", "room", "n3") == "n1"
    with db.begin() as first, db.begin() as second:
        assert try_lock(first, "n3") is True
        assert try_lock(second, "n3") is False      # the other survivor skips n3
        assert r1.stale_in(first, "n3")
        r1.mark_down(first, "n3")
    assert r1.stale() == [] and r3.heartbeat(0) is False   # a node declared down must rejoin


def test_internal_api_answers_malformed_signed_bodies_with_400_and_oversize_with_413():
    from flask import Flask
    from fsbridge.cluster.internal import MAX_BODY_BYTES
    from fsbridge.cluster.moves import Mover
    tenant = Flask("tenant")
    tenant.post("/x")(lambda: "ok")
    node = types.SimpleNamespace(me="n1", secret=SECRET, tenant_app=tenant,
                                 bridge=types.SimpleNamespace(running=True))
    node.mover = Mover.__new__(Mover)
    node.mover.node = node
    client = create_internal_app(node).test_client()

    def post(path, body):
        return client.post(path, data=body, headers=signing.sign(SECRET, "n2", "POST", path, body))
    for body in (b"[]", b'"s"', b"\xff", b'{"method": "POST", "path": "/x", "headers": [1]}',
                 b'{"method": "POST", "path": "/x", "body": "!!"}'):
        resp = post("/cluster/v1/rest", body)
        assert resp.status_code == 400 and "message" in resp.json, body
    verb = verbs.to_json(parse("<Response><Dial><Conference>r</Conference></Dial></Response>", "twiml").verbs[0])
    move = {"verb": verb, "call_sid": "CA1", "dialect": "twiml", "account_sid": "AC1", "from": "a", "to": "b",
            "direction": "inbound"}
    for body in (b"[]", json.dumps(dict(move, origin=[])).encode(), json.dumps(dict(move, origin={})).encode()):
        resp = post("/cluster/v1/calls", body)
        assert resp.status_code == 400 and "message" in resp.json, body
    resp = post("/cluster/v1/rest", b"a" * (MAX_BODY_BYTES + 1))
    assert resp.status_code == 413 and "message" in resp.json
