"""The API server's request-header reader (fsbridge.api.httpheaders) — unit level and through the real server
(``fsbridge.api.serve`` on port 0, raw sockets): same environ as pywsgi's ``email``-based reader for good
requests, 400 (never 5xx) for malformed header blocks."""
import io
import socket

import pytest
from gevent.pywsgi import headers_factory
from http.client import HTTPException

from fsbridge.api import serve
from fsbridge.api.httpheaders import MAX_FIELDS, MAX_LINE, RequestHeaders

GOOD = (b"Host: 127.0.0.1:1\r\nUser-Agent: python-requests/2.32\r\nContent-Length: 10\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nX-Twice: a\r\nx-twice: b\r\n"
        b"Authorization: Basic QUM6dA==\r\n\r\nMuted=true")


def test_same_fields_as_pywsgi_reader():
    mine, theirs = RequestHeaders(io.BytesIO(GOOD)), headers_factory(io.BytesIO(GOOD))
    assert mine.status == theirs.status == ""
    assert list(mine.headers) == list(theirs.headers)
    for name in ("content-length", "Content-Type", "X-TWICE", "authorization", "missing"):
        assert mine.get(name) == theirs.get(name)
    assert mine.typeheader == theirs.typeheader == "application/x-www-form-urlencoded"
    assert mine.getheader("x-twice") == "a"


def test_delete_removes_every_field_of_the_name():
    h = RequestHeaders(io.BytesIO(GOOD))
    del h["X-Twice"]
    assert h.get("x-twice") is None and "x-twice" not in h
    assert not any(line.lower().startswith("x-twice") for line in h.headers)


def test_folded_line_is_unfolded():
    h = RequestHeaders(io.BytesIO(b"X-Long: one\r\n two\r\n\tthree\r\nHost: h\r\n\r\n"))
    assert h.status == "" and h.get("x-long") == "one two three" and h.get("host") == "h"


@pytest.mark.parametrize("block", [b"NoColon\r\n\r\n", b": empty name\r\n\r\n", b"Bad : space\r\n\r\n",
                                   b" leading-fold\r\n\r\n", b"X: " + b"a" * MAX_LINE + b"\r\n\r\n"])
def test_malformed_block_sets_status(block):
    assert RequestHeaders(io.BytesIO(block)).status


def test_too_many_fields_raise_as_http_client_does():
    block = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS + 1)) + b"\r\n"
    with pytest.raises(HTTPException):
        RequestHeaders(io.BytesIO(block))
    assert RequestHeaders(io.BytesIO(block.split(b"X-%d:" % MAX_FIELDS)[0] + b"\r\n")).status == ""


@pytest.fixture
def server():
    seen = []

    def app(environ, start_response):
        seen.append(environ)
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    srv = serve(app)
    yield srv, seen
    srv.stop()


def _exchange(port, raw):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def test_server_builds_environ_from_headers(server):
    srv, seen = server
    reply = _exchange(srv.server_port, b"POST /x?a=1 HTTP/1.1\r\nConnection: close\r\n"
                      + GOOD.replace(b"Host: 127.0.0.1:1", b"Host: h"))
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"Muted=true")
    env = seen[0]
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded" and env["CONTENT_LENGTH"] == "10"
    assert env["HTTP_AUTHORIZATION"] == "Basic QUM6dA==" and env["HTTP_X_TWICE"] == "a,b"
    assert env["QUERY_STRING"] == "a=1" and env["PATH_INFO"] == "/x"


@pytest.mark.parametrize("block", [b"NoColon\r\n", b"Bad : space\r\n",
                                   b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS + 1))])
def test_server_answers_400_to_malformed_headers(server, block):
    srv, seen = server
    reply = _exchange(srv.server_port, b"GET / HTTP/1.1\r\nHost: h\r\n" + block + b"\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and not seen
