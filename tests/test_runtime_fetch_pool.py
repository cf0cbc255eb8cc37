"""Voice fetches reuse kept-alive connections (issue #16 goal 4) and carry no cookies between fetches.
A real HTTP/1.1 server on port 0 records each request's client port and Cookie header."""
from __future__ import annotations

import http.server
import threading

from fsbridge.runtime.fetch import Fetcher


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Handler.seen.append((self.client_address[1], self.headers.get("Cookie")))
        body = b"<Response/>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Set-Cookie", "session=tenant-a; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_fetches_share_one_connection_and_no_cookie():
    _Handler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/voice"
        f = Fetcher(timeout_s=5)
        for _ in range(3):
            assert f.fetch_markup(url, "POST", {"CallSid": "CA1"}).body == b"<Response/>"
    finally:
        server.shutdown()
        server.server_close()
    ports = {p for p, _ in _Handler.seen}
    assert len(_Handler.seen) == 3 and len(ports) == 1, _Handler.seen   # one TCP connection for all three
    assert [c for _, c in _Handler.seen] == [None, None, None]           # the Set-Cookie was not kept


class _Redirecting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log: list = []
    other = ""    # base URL of another host (127.0.0.2 …) for the cross-host hop

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Redirecting.log.append((self.command, self.path, body, self.headers.get("Authorization")))
        hops = {"/302": "/doc", "/303": "/doc", "/307": "/doc", "/rel": "doc", "/away": self.other + "/doc",
                "/loop": "/loop"}
        if self.path in hops:
            self.send_response(int(self.path[1:]) if self.path[1:].isdigit() else 302)
            self.send_header("Location", hops[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        out = b"<Response/>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _answer   # noqa: N815 - http.server's naming

    def log_message(self, *args):
        pass


def test_redirects_follow_rfc_9110():
    """urllib3's redirects: 303 turns a POST into a GET without body, 302/307 keep method and body (RFC 9110
    §15.4.3 allows either for 302); a relative Location resolves against the URL; Basic auth is kept on the
    same origin and dropped on another; the answer's URL is the last hop's; a redirect loop ends in 11200."""
    import pytest
    from fsbridge.egress import EgressPolicy
    from fsbridge.runtime.fetch import FetchError

    servers = [http.server.ThreadingHTTPServer((host, 0), _Redirecting) for host in ("127.0.0.1", "127.0.0.2")]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % servers[0].server_address[1]
    _Redirecting.other = "http://127.0.0.2:%d" % servers[1].server_address[1]
    f = Fetcher(timeout_s=5, egress=EgressPolicy(allow=("127.0.0.0/8",)))
    try:
        for path, method in (("/302", "POST"), ("/303", "GET"), ("/307", "POST"), ("/rel", "POST")):
            _Redirecting.log = []
            got = f.fetch_markup(base + path, "POST", {"A": "1"}, username="u", password="p")
            assert got.url == base + "/doc" and got.body == b"<Response/>"
            (m1, p1, b1, a1), (m2, p2, b2, a2) = _Redirecting.log
            assert (m1, p1, b1) == ("POST", path, b"A=1") and a1 and a1.startswith("Basic ")
            assert (m2, p2) == (method, "/doc") and b2 == (b"A=1" if method == "POST" else b"") and a2 == a1
        _Redirecting.log = []
        f.fetch_markup(base + "/away", "POST", {"A": "1"}, username="u", password="p")
        assert [(m, p, a is None) for m, p, _, a in _Redirecting.log] == [("POST", "/away", False),
                                                                         ("POST", "/doc", True)]
        with pytest.raises(FetchError) as err:
            f.fetch_markup(base + "/loop", "GET")
        assert err.value.code == 11200
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_a_trickled_redirect_body_cannot_hold_the_fetch_past_its_budget():
    """urllib3 drains a 3xx body before following the redirect, and each trickled byte arrives inside the
    read timeout: the fetch's overall budget (connect + read timeout) still ends it, with 11200 (review)."""
    import socket
    import time

    import gevent
    import pytest
    from fsbridge.egress import EgressPolicy
    from fsbridge.runtime.fetch import FetchError

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def tarpit():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /doc\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not stop.wait(0.1):   # one chunk of one byte every 100 ms, never the last chunk
            conn.sendall(b"1\r\nx\r\n")
        conn.close()

    server = gevent.spawn(tarpit)
    f = Fetcher(timeout_s=1.0, connect_timeout_s=0.5, egress=EgressPolicy(allow=("127.0.0.1/32",)))
    t0 = time.monotonic()
    try:
        with pytest.raises(FetchError) as err:
            f.fetch_markup("http://127.0.0.1:%d/voice" % listener.getsockname()[1], "POST", {"A": "1"})
        assert err.value.code == 11200 and time.monotonic() - t0 < 3.0
    finally:
        stop.set()
        server.join(5)
        listener.close()
