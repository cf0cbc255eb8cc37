"""#14 item 3 (SSRF) and item 4 (error text as an oracle), through a served bridge: the tenant's app on
127.0.0.1 (allowed) names internal targets — a service on 127.0.0.2, cloud metadata, a decimal-encoded
address, the bridge's own port, a redirect hop to an internal address — for the voice URL, Redirect, Play,
waitUrl, AnnounceUrl and status callbacks. The internal service must receive nothing; REST errors must not
name the address."""
from __future__ import annotations

import socket

import pytest
from flask import Response

from fsbridge.egress import EgressDenied, EgressPolicy
from fsbridge.runtime.fetch import FetchError, Fetcher
from security_support import Site, bridge, call, errors_of, rest, twilio_error, xml

METADATA = "http://169.254.169.254/latest/meta-data/"
DECIMAL_METADATA = "http://2852039166/latest/meta-data/"      # 169.254.169.254 as one decimal number


@pytest.fixture
def sites():
    app, victim = Site("127.0.0.1"), Site("127.0.0.2")
    yield app, victim
    app.stop()
    victim.stop()


@pytest.fixture
def served(tmp_path, sites):
    app, victim = sites
    server = bridge(tmp_path, app)
    yield server, app, victim
    server.stop()


def conference(server, name, statuses):
    """The account's conference ``name`` once its status is one of ``statuses`` (REST list, waited for)."""
    found = []

    def look():
        found[:] = [c for c in rest(server, "Conferences.json", method="GET").json()["conferences"]
                    if c["friendly_name"] == name and c["status"] in statuses]
        return bool(found)
    assert server.bridge.wait_until(look, 20), f"no conference {name} in {statuses}"
    return found[0]


def test_default_policy_refuses_internal_ranges_and_allows_public():
    policy = EgressPolicy()
    for ip in ("169.254.169.254", "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "0.0.0.0", "100.64.0.1",
               "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "224.0.0.1"):
        assert not policy.allowed(ip, 80), ip
    assert policy.allowed("93.184.216.34", 443) and policy.allowed("2606:4700::1111", 443)
    opened = EgressPolicy(allow=["0.0.0.0/0", "::/0"], own=[("0.0.0.0", 8080)])
    assert not opened.allowed("169.254.169.254", 80), "metadata stays denied even when everything is allowed"
    assert not opened.allowed("127.0.0.1", 8080) and opened.allowed("127.0.0.1", 8081)   # the bridge itself
    assert not EgressPolicy(allow=["10.0.0.0/8"], deny=["10.9.0.0/16"]).allowed("10.9.1.1", 80)
    with pytest.raises(ValueError):
        EgressPolicy(allow=["not-a-network"])


def test_resolved_once_and_only_checked_addresses_are_connected(sites):
    """DNS rebinding: the name is resolved once by the policy, denied answers are dropped, and the socket
    goes to the address that was checked (here the name resolves to a denied and an allowed address)."""
    app, victim = sites
    port = int(app.url.rsplit(":", 1)[1])
    calls = []

    def resolver(host, p, *_a):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", p)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", p))]

    policy = EgressPolicy(allow=["127.0.0.1/32"], resolver=resolver)
    got = Fetcher(egress=policy).fetch_markup(f"http://tenant.example:{port}/voice")
    assert got.status == 200 and calls == ["tenant.example"] and app.paths() == ["/voice"]
    deny_all = EgressPolicy(resolver=resolver)
    with pytest.raises(EgressDenied):
        deny_all.resolve("tenant.example", port)
    assert victim.paths() == []


def test_connect_tries_only_allowed_addresses_in_order_and_raises_the_last_failure():
    """EgressPolicy.connect (the one connect loop of the callback transport, the voice fetch's urllib3 pool and
    media-stream forks): a refused allowed address is skipped for the next one; a denied one is never tried;
    all failing → the last OSError; nothing allowed → EgressDenied."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.3", 0))   # bound, never listening: connections to it are refused
    tried = []

    def resolver(host, p, *_a):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, p)) for ip in ("10.0.0.1", "127.0.0.3", "127.0.0.1")]

    def opener(address, timeout):
        tried.append(address[0])
        return socket.create_connection(("127.0.0.3", closed.getsockname()[1]) if address[0] == "127.0.0.3"
                                        else address, timeout)
    try:
        policy = EgressPolicy(allow=["127.0.0.0/8"], resolver=resolver)
        with policy.connect("tenant.example", port, 2.0, opener) as sock:
            assert sock.getpeername() == ("127.0.0.1", port) and tried == ["127.0.0.3", "127.0.0.1"]
        only_closed = EgressPolicy(allow=["127.0.0.3/32"], resolver=resolver)
        with pytest.raises(ConnectionRefusedError):
            only_closed.connect("tenant.example", port, 2.0, opener)
        with pytest.raises(EgressDenied):
            EgressPolicy(resolver=resolver).connect("tenant.example", port, 2.0, opener)
    finally:
        listener.close()
        closed.close()


def test_voice_url_to_internal_targets_is_refused(served):
    server, app, victim = served
    for url in (victim.url + "/admin", METADATA, DECIMAL_METADATA, server.base_url + "/2010-04-01/Accounts"):
        sid = call(server, url)
        codes = [code for code, _ in errors_of(server, sid)]
        assert codes and codes[0] == 11205, (url, codes)
    assert victim.paths() == []


def test_redirect_hops_are_checked(served):
    """A 302 from the allowed app to the internal service is refused at the hop, like a direct request."""
    server, app, victim = served
    app.routes["/voice"] = lambda req: Response("", status=302, headers={"Location": victim.url + "/secret"})
    sid = call(server, app.url + "/voice")
    assert [code for code, _ in errors_of(server, sid)][:1] == [11205]
    assert victim.paths() == [] and app.paths() == ["/voice"]


def test_redirect_play_and_wait_url_to_internal_targets(served):
    server, app, victim = served
    app.routes["/voice"] = lambda req: xml(f"<Response><Play>{victim.url}/a.wav</Play>"
                                           f"<Redirect>{victim.url}/next</Redirect></Response>")
    sid = call(server, app.url + "/voice")
    codes = [code for code, _ in errors_of(server, sid)]
    assert 11205 in codes, codes
    app.routes["/voice"] = lambda req: xml(f'<Response><Dial><Conference waitUrl="{DECIMAL_METADATA}" '
                                           f'statusCallback="{victim.url}/cb" statusCallbackEvent="start join">'
                                           f'Room</Conference></Dial></Response>')
    sid = call(server, app.url + "/voice", TimeLimit="2")
    assert [(code, msg.split()[0]) for code, msg in errors_of(server, sid)] == [(11205, "waitUrl")]
    assert victim.paths() == []


def test_status_callbacks_to_internal_targets_are_never_sent(served):
    server, app, victim = served
    app.routes["/voice"] = lambda req: xml(f'<Response><Dial><Conference statusCallback="{victim.url}/cb" '
                                           'statusCallbackEvent="start end join leave">CbRoom</Conference>'
                                           '</Dial></Response>')
    sid = call(server, app.url + "/voice", TimeLimit="1")
    errors_of(server, sid)
    conference(server, "CbRoom", ("completed",))
    assert victim.paths() == []


def test_announce_url_failure_names_the_code_not_the_network(served):
    """Item 4: an AnnounceUrl that cannot be fetched → 400 with the Twilio code; no address, port or reason
    (a tenant could otherwise map the internal ports that are open)."""
    server, app, victim = served
    app.routes["/voice"] = lambda req: xml("<Response><Dial><Conference>Ann</Conference></Dial></Response>")
    sid = call(server, app.url + "/voice")
    conf = conference(server, "Ann", ("init", "in-progress"))
    for target in ("http://127.0.0.1:9/x", victim.url + "/x", METADATA):
        r = rest(server, f"Conferences/{conf['sid']}.json", {"AnnounceUrl": target})
        body = twilio_error(r, 400, 21201)
        for leak in ("127.0.0", "169.254", ":9", "refused", "egress", "connection"):
            assert leak not in body["message"], body
    rest(server, f"Calls/{sid}.json", {"Status": "completed"})
    assert victim.paths() == []


def test_plain_fetcher_and_transport_default_to_the_deny_policy(monkeypatch, sites):
    """A client built without a policy uses the default one (plus $FSBRIDGE_EGRESS_ALLOW)."""
    from fsbridge.callbacks.http import Transport, TransportError
    app, victim = sites
    monkeypatch.delenv("FSBRIDGE_EGRESS_ALLOW")
    with pytest.raises(FetchError) as info:
        Fetcher().fetch_markup(app.url + "/voice")
    assert info.value.code == 11205
    with pytest.raises(TransportError) as info:
        Transport().request("POST", app.url + "/cb", b"", {}, 2, 2)
    assert info.value.failure == "fatal"
    assert app.paths() == []
