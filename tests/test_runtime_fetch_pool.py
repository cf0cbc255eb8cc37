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
