"""Callback transport and outbox details against real local HTTP(S) receivers and real SQLite outbox files:
the outbox writer, signatures over the URL as sent, a private CA, purging, keep-alive reconnects,
checkpoints, URL classification. Shared receivers and helpers: tests/fixtures/callbacks.py.
"""
from urllib.parse import parse_qsl

import gevent
import gevent.event
import pytest
from gevent.pywsgi import WSGIServer
from twilio.request_validator import RequestValidator

from fsbridge.callbacks.dispatcher import Dispatcher

from fixtures.callbacks import AC, TOKEN, Receiver, SimClock, evt
from fixtures.callbacks import engine  # noqa: F401,F811 - fixture


def test_outbox_writer_round_trip(engine):
    from fsbridge.callbacks import outbox
    from fsbridge.callbacks.render import render

    outbox.outbox.create(engine, checkfirst=True)
    w = outbox.Writer(engine)
    req = render(evt("CFw", 4, "http://127.0.0.1:9/cb"))
    a = w.insert(req, 10.0)
    b = w.insert(req, 11.0, state=outbox.FAILED, last_error="nope")
    w.mark_many([dict(row_id=a, new_state="delivered", new_attempts=2, new_error=None, next_at=None, done_at=12.5)])
    w.close()
    with engine.connect() as conn:
        sa, sb = outbox.status(conn, a), outbox.status(conn, b)
        reloaded = outbox._row(conn.execute(outbox.outbox.select().where(outbox.outbox.c.id == a)).first())
    assert (sa.state, sa.attempts, sa.delivered_at, sa.sequence_number) == ("delivered", 2, 12.5, 4)
    assert (sb.state, sb.last_error, sb.created_at) == ("failed", "nope", 11.0)
    assert reloaded.request == req


def test_signature_matches_the_url_as_sent_even_with_unencoded_characters(engine):
    receiver = Receiver().start()
    d = Dispatcher(engine, {AC: TOKEN}).start()
    try:
        d.enqueue(evt("CFu", 1, receiver.url("/cb?room=Team Meeting&who=é")))
        d.enqueue(evt("CFu", 2, receiver.url("/cb?room=Team Meeting"), method="GET"))
        assert d.wait_idle(5)
        assert [r["query"] for r in receiver.requests][0] == "room=Team%20Meeting&who=%C3%A9"
        validator = RequestValidator(TOKEN)
        post, get = receiver.requests
        assert validator.validate(post["url"], dict(parse_qsl(post["body"].decode())),
                                  post["headers"]["x-twilio-signature"])
        assert validator.validate(get["url"], {}, get["headers"]["x-twilio-signature"])
    finally:
        d.stop()
        receiver.stop()


def test_https_receiver_verified_against_a_private_ca(engine, tmp_path):
    from fsbridge.callbacks.http import Transport
    from tls_support import self_signed_ca

    certfile, keyfile = self_signed_ca(tmp_path)
    got = []
    done = gevent.event.Event()

    def app(environ, start_response):
        got.append((environ["PATH_INFO"], environ["wsgi.input"].read()))
        done.set()
        start_response("204 No Content", [])
        return [b""]

    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certfile), str(keyfile))
    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None, ssl_context=ctx)
    server.start()
    d = Dispatcher(engine, {AC: TOKEN}, transport=Transport(ca_certs=str(certfile))).start()
    try:
        row = d.enqueue(evt("CFtls", 1, f"https://127.0.0.1:{server.server_port}/tls"))
        assert d.wait_idle(5) and done.is_set()
        assert d.status(row).state == "delivered"
        assert got[0][0] == "/tls" and b"SequenceNumber=1" in got[0][1]
    finally:
        d.stop()
        server.stop()


def test_purge_keeps_open_rows(engine):
    clock = SimClock()
    receiver = Receiver().start()
    d = Dispatcher(engine, {AC: TOKEN}, clock=clock, sleep=clock.sleep).start()
    try:
        done = d.enqueue(evt("CFg", 1, receiver.url()))
        gone = d.enqueue(evt("CFg", 2, "ftp://nowhere/cb"))
        assert d.wait_idle(5)
        d.stop()
        still_open = d.enqueue(evt("CFg", 3, receiver.url()))  # not started: stays pending
        clock.t += 100
        assert d.purge(max_age_s=200) == 0
        assert d.purge(max_age_s=50) == 2
        assert d.status(done) is None and d.status(gone) is None
        assert d.status(still_open).state == "pending"
    finally:
        d.stop()
        receiver.stop()


def test_keepalive_connection_dropped_by_server_is_replaced_transparently(engine):
    from gevent.server import StreamServer

    accepted, bodies = [], []
    got = gevent.event.Event()

    def handle(sock, _addr):  # answers one request keep-alive style, then closes (an idle-timeout server)
        accepted.append(sock)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0])
        while len(body) < length:
            body += sock.recv(65536)
        bodies.append(body)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        sock.close()
        got.set()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    d = Dispatcher(engine, {AC: TOKEN}).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/cb"
        a = d.enqueue(evt("CFk", 1, url))
        assert d.wait_idle(5) and got.wait(5)
        b = d.enqueue(evt("CFk", 2, url))
        assert d.wait_idle(5)
        assert len(accepted) == 2 and len(bodies) == 2
        assert [d.status(a).attempts, d.status(b).attempts] == [1, 1]
        assert d.status(b).state == "delivered"
    finally:
        d.stop()
        server.stop()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)   # SQLite's WAL checkpoints only
def test_outbox_writer_checkpoints_off_the_hub(engine, tmp_path):
    from fsbridge.callbacks import outbox
    from fsbridge.callbacks.render import render

    outbox.outbox.create(engine, checkfirst=True)
    ran = []
    w = outbox.Writer(engine, checkpoint_every=10, checkpoint_runner=lambda fn: ran.append(fn) or fn())
    assert w.conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # never inside a commit
    w.conn.commit()
    req = render(evt("CFc", 1, "http://127.0.0.1:9/cb"))
    for _ in range(25):
        w.insert(req, 1.0)
    assert len(ran) == 2 and not w._checkpoints._running
    wal = tmp_path / "outbox.sqlite-wal"
    assert wal.exists()
    w.close()


def test_transport_classifies_bad_urls_fatal_and_refused_connect_ct():
    from fsbridge.callbacks.http import Transport, TransportError

    t = Transport()
    for url, failure, words in [("ftp://h/cb", "fatal", "scheme"), ("http://h:notaport/cb", "fatal", "malformed"),
                                ("http:///cb", "fatal", "no host"),
                                ("http://127.0.0.1:9/cb", "ct", "Connection refused")]:
        with pytest.raises(TransportError) as info:
            t.request("POST", url, b"", {}, 1.0, 1.0)
        assert info.value.failure == failure and words in str(info.value), (url, str(info.value))
    t.close()
