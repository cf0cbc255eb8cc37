"""The REST hot path's shortcuts (issue 16 goal 3) keep the wire exact: one send per small response (and
chunked responses still framed), the JSON as Flask's jsonify renders it, the memoized Authorization parse
still checking the credentials on every request, list statements built once per shape."""
import socket

import pytest
import requests
from flask import Flask, Response, jsonify

from fixtures.api.harness import AC_A, TOKEN_A, api  # noqa: F401 - fixture
from fsbridge.api import auth as api_auth
from fsbridge.api import render, serve, server_class
from fsbridge.store.rows import PageRequest

ROOT_A = f"/2010-04-01/Accounts/{AC_A}"


def test_small_response_leaves_in_one_send_and_chunked_stays_framed(monkeypatch):
    app = Flask("t")

    @app.get("/small")
    def small():
        return jsonify({"a": 1})

    @app.get("/stream")
    def stream():
        return Response((part for part in (b"ab", b"", b"cd")), mimetype="text/plain")   # no Content-Length

    sends = []
    handler = server_class().handler_class
    real = handler._sendall
    monkeypatch.setattr(handler, "_sendall", lambda self, data: (sends.append(bytes(data)), real(self, data))[1])
    server = serve(app, "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        r = requests.get(base + "/small")
        assert r.json() == {"a": 1}
        assert len(sends) == 1 and sends[0].startswith(b"HTTP/1.1 200") and sends[0].endswith(b'{"a":1}\n')
        sends.clear()
        r = requests.get(base + "/stream")
        assert r.text == "abcd" and r.headers["Transfer-Encoding"] == "chunked"
        assert sends[-1] == b"0\r\n\r\n" and b"2\r\nab\r\n" in sends
    finally:
        server.stop()


@pytest.mark.parametrize("body", [
    {"a": None, "b": True, "c": 3, "ü": "é\u2028<>&", "z": [1, {"y": "x"}], "uri": "/2010-04-01/x.json"},
    {"participants": [], "page": 0, "next_page_uri": None},
])
def test_json_response_is_byte_for_byte_jsonify(body):
    app = Flask("t")
    app.json.sort_keys = False
    with app.app_context():
        ours, theirs = render.json_response(body), jsonify(body)
        assert ours.get_data() == theirs.get_data()
        assert ours.mimetype == theirs.mimetype == "application/json"
        assert ours.status_code == theirs.status_code == 200


def test_memoized_authorization_parse_still_checks_every_request(api):  # noqa: F811 - fixture
    url = api.base + f"{ROOT_A}/Conferences.json"
    api_auth._PARSED.clear()   # module-wide: other tests' clients authenticated too
    assert requests.get(url, auth=(AC_A, TOKEN_A)).status_code == 200
    assert requests.get(url, auth=(AC_A, TOKEN_A)).status_code == 200   # parse memoized
    assert requests.get(url, auth=(AC_A, "wrong")).status_code == 401
    assert requests.get(url, headers={"Authorization": "Basic !!!"}).status_code == 401
    assert requests.get(url, headers={"Authorization": "Basic !!!"}).status_code == 401
    kept = dict(api_auth._PARSED)
    assert [v[1:] for v in kept.values()] == [(AC_A, TOKEN_A)]   # only the header that authenticated
    for i in range(50):   # strangers' headers (junk, a wrong token) are never kept: no growth, no eviction
        assert requests.get(url, auth=(f"AC{i:032x}", "x" * 32)).status_code == 401
        assert requests.get(url, headers={"Authorization": f"Basic junk{i}"}).status_code == 401
        api_auth._credentials(f"Basic junk{i}")
    assert api_auth._PARSED == kept
    for i in range(api_auth._PARSED_MAX + 10):   # and the map never grows past its bound
        api_auth._remember(f"Basic k{i}", ("basic", f"k{i}", ""))
    assert len(api_auth._PARSED) <= api_auth._PARSED_MAX
    assert requests.get(url, auth=(AC_A, TOKEN_A)).status_code == 200


def test_list_statements_built_once_per_shape(api):  # noqa: F811 - fixture
    s = api.seed()
    store = api.store
    shapes = lambda: {k for k in store._stmts if k[0] == "list"}   # noqa: E731
    before = shapes()
    first = store.list_participants(AC_A, s["cf"], page=PageRequest(limit=1))
    again = store.list_participants(AC_A, s["cf"], page=PageRequest(limit=1))
    assert [r.call_sid for r in first.items] == [r.call_sid for r in again.items]
    assert len(shapes() - before) == 1
    nxt = store.list_participants(AC_A, s["cf"], page=PageRequest(limit=1, after=first.last_key))
    assert [r.call_sid for r in nxt.items] == [s["bob"]] and first.items[0].call_sid == s["alice"]
    assert store.list_participants(AC_A, s["cf"], page=PageRequest(limit=1, offset=1)).items == nxt.items
    assert store.list_participants(AC_A, s["cf"], muted=True).items == []
    assert len(store.list_participants(AC_A, s["cf"], muted=False).items) == 2
    assert len(shapes() - before) == 4   # first page, keyset, offset, Muted filter


def test_list_statements_keep_the_account_scope_even_when_it_is_none(api):  # noqa: F811 - fixture
    s = api.seed()
    store = api.store
    assert store.list_participants(AC_A, s["cf"]).items   # the seeded conference has participants
    assert store.list_participants(None, s["cf"]).items == []   # no account: no rows, not every account's
    assert store.list_participants(AC_A, None).items == []
    assert store.list_conferences(AC_A).items
    assert store.list_conferences(None).items == []
    assert store.list_recordings(None, None).items == []


def test_uri_segments_memoize_only_short_values():
    from fsbridge.api import paths
    long_label = "é/" * 200
    assert paths.build(paths.TW_PARTICIPANTS, AccountSid=AC_A, ConferenceSid=long_label).endswith(
        "/Conferences/" + "%C3%A9%2F" * 200 + "/Participants.json")
    assert paths.build(paths.TW_PARTICIPANTS, AccountSid=AC_A, ConferenceSid="a b/c").endswith(
        "/Conferences/a%20b%2Fc/Participants.json")
    paths._segment_memo.cache_clear()
    paths.build(paths.TW_PARTICIPANTS, AccountSid=AC_A, ConferenceSid=long_label)
    assert paths._segment_memo.cache_info().currsize == 1   # the Sid, not the long label
