"""Delivery against real local HTTP receivers (gevent WSGI on 127.0.0.1), real SQLite outbox files.

Simulated time (injected clock/sleep) for the 60-second outage; synchronisation by events with timeouts.
"""
import base64
import json
import logging
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

import gevent
import gevent.event
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gevent.pywsgi import WSGIServer
from twilio.request_validator import RequestValidator

from fsbridge.callbacks import signing
from fsbridge.callbacks.dispatcher import Dispatcher
from fsbridge.conference import events as ev
from fsbridge.conference.events import CallbackConfig, DomainEvent, ParticipantView
from fsbridge.markup.model import Hook
from fsbridge.store.db import make_engine

AC = "AC00000000000000000000000000000001"
TOKEN = "s3cret-auth-token"
T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class Receiver:
    """A real HTTP server on 127.0.0.1 recording every request; ``status`` may be an int or a callable
    ``(n) -> int`` (n = 1-based request count); ``gate`` (a gevent Event) holds requests on ``/slow``."""

    def __init__(self, port=0, status=200):
        self.requests = []
        self.status = status
        self.gate = None
        self._changed = gevent.event.Event()
        self.port = port
        self.server = None

    def start(self):
        """Listen now (not before: until then the port refuses connections)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it (Linux)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.server = WSGIServer(listener, self._app, log=None, error_log=None)
        self.server.start()
        self.port = self.server.server_port
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop(timeout=1)

    def url(self, path="/cb"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _app(self, environ, start_response):
        body = environ["wsgi.input"].read()
        path = environ["PATH_INFO"]
        if self.gate is not None and path.startswith("/slow"):
            self.gate.wait()
        qs = environ.get("QUERY_STRING", "")
        self.requests.append({
            "method": environ["REQUEST_METHOD"], "path": path, "query": qs, "body": body,
            "url": f"http://127.0.0.1:{self.port}{path}" + (f"?{qs}" if qs else ""),
            "headers": {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")},
            "content_type": environ.get("CONTENT_TYPE"),
        })
        self._changed.set()
        status = self.status(len(self.requests)) if callable(self.status) else self.status
        start_response(f"{status} X", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    def wait_for(self, n, timeout=5.0):
        with gevent.Timeout(timeout, False):
            while True:
                self._changed.clear()
                if len(self.requests) >= n:
                    return True
                self._changed.wait()
        return len(self.requests) >= n

    def form(self, i):
        return dict(parse_qsl(self.requests[i]["body"].decode()))


class SimClock:
    """Simulated time: ``sleep(s)`` advances the clock (and yields); ``at(t, fn)`` runs fn once time ≥ t."""

    def __init__(self, start=1_700_000_000.0):
        self.t = start
        self.start = start
        self.hooks = []

    def __call__(self):
        return self.t

    def at(self, seconds, fn):
        self.hooks.append([self.start + seconds, fn])

    def sleep(self, s):
        self.t += s
        for hook in [h for h in self.hooks if h[0] <= self.t]:
            self.hooks.remove(hook)
            hook[1]()
        gevent.sleep(0.001)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def evt(conference, seq, url, name=ev.PARTICIPANT_JOIN, dialect="twiml", events=("join", "leave", "mute"), **hook):
    return DomainEvent(
        name=name, account_sid=AC, conference_sid=conference, friendly_name=f"room-{conference}",
        sequence_number=seq, timestamp=T0 + timedelta(seconds=seq),
        callbacks=CallbackConfig(dialect=dialect, status_callback=Hook(url, **hook), status_events=events),
        participant=ParticipantView(call_sid=f"CA{conference}{seq}", from_="+1555", to="+1666"),
        member_count=seq, started_at=T0,
    )


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}")


def seqs_by_conference(receiver):
    out = {}
    for i in range(len(receiver.requests)):
        f = receiver.form(i)
        out.setdefault(f["ConferenceSid"], []).append(int(f["SequenceNumber"]))
    return out


def assert_twilio_signed(receiver):
    validator = RequestValidator(TOKEN)
    for r in receiver.requests:
        params = dict(parse_qsl(r["body"].decode()))
        assert validator.validate(r["url"], params, r["headers"]["x-twilio-signature"]), r["url"]


def test_outage_of_60s_then_back_every_event_once_in_order(engine):
    port = free_port()
    receiver = Receiver(port=port)
    clock = SimClock()
    clock.at(60, receiver.start)
    d = Dispatcher(engine, {AC: TOKEN}, clock=clock, sleep=clock.sleep, deadline_s=600).start()
    url = f"http://127.0.0.1:{port}/cb"
    ids = []
    for seq in range(1, 6):  # two conferences, interleaved
        ids.append(d.enqueue(evt("CFa", seq, url)))
        ids.append(d.enqueue(evt("CFb", seq, url)))
    try:
        assert d.wait_idle(15)
        assert clock.t - clock.start >= 60  # the receiver really was down for 60 simulated seconds
        assert len(receiver.requests) == 10
        assert seqs_by_conference(receiver) == {"CFa": [1, 2, 3, 4, 5], "CFb": [1, 2, 3, 4, 5]}
        assert_twilio_signed(receiver)
        tokens = [r["headers"]["i-twilio-idempotency-token"] for r in receiver.requests]
        assert len(set(tokens)) == 10
        first = d.status(ids[0])
        assert first.state == "delivered" and first.attempts > 3 and first.last_error is None
        assert all(s.state == "delivered" for s in d.status(conference_sid="CFa"))
    finally:
        d.stop()
        receiver.stop()


def test_restart_delivers_pending_events(tmp_path):
    path = tmp_path / "restart.sqlite"
    port = free_port()
    failed_once = gevent.event.Event()
    d1 = Dispatcher(make_engine(f"sqlite:///{path}"), {AC: TOKEN}, deadline_s=3600, backoff_factor=30,
                    on_update=lambda i, state, a, e: state == "retrying" and failed_once.set()).start()
    url = f"http://127.0.0.1:{port}/cb"
    ids = [d1.enqueue(evt("CFr", seq, url)) for seq in (1, 2, 3)]
    assert failed_once.wait(5)  # first attempt refused; worker now backing off
    d1.stop()
    before = d1.status(ids[0])
    assert before.state == "retrying" and before.attempts >= 1
    assert before.last_error == "connection failed: Connection refused"
    assert d1.status(ids[1]).state == "pending"
    receiver = Receiver(port=port).start()
    d2 = Dispatcher(make_engine(f"sqlite:///{path}"), {AC: TOKEN}).start()  # a new process, same file
    try:
        assert d2.wait_idle(5)
        assert seqs_by_conference(receiver) == {"CFr": [1, 2, 3]}
        assert_twilio_signed(receiver)
        assert [d2.status(i).state for i in ids] == ["delivered"] * 3
        assert d2.status(ids[0]).attempts == before.attempts + 1
    finally:
        d2.stop()
        receiver.stop()


def test_slow_receiver_does_not_delay_other_conferences(engine):
    receiver = Receiver().start()
    receiver.gate = gevent.event.Event()
    d = Dispatcher(engine, {AC: TOKEN}).start()
    try:
        d.enqueue(evt("CFslow", 1, receiver.url("/slow")))
        d.enqueue(evt("CFslow", 2, receiver.url("/slow")))
        for seq in (1, 2, 3):
            d.enqueue(evt("CFfast", seq, receiver.url("/fast")))
        assert receiver.wait_for(3, timeout=5)
        assert seqs_by_conference(receiver) == {"CFfast": [1, 2, 3]}  # slow #1 is still held
        receiver.gate.set()
        assert d.wait_idle(5)
        assert seqs_by_conference(receiver)["CFslow"] == [1, 2]
    finally:
        d.stop()
        receiver.stop()


def test_interleaved_conferences_keep_order_under_concurrency(engine):
    import random

    rnd = random.Random(7)

    def jitter(n):
        gevent.sleep(rnd.random() * 0.003)  # a receiver of uneven speed (not synchronisation)
        return 200

    receiver = Receiver(status=jitter).start()
    d = Dispatcher(engine, {AC: TOKEN}).start()
    try:
        for seq in range(1, 21):
            for conf in ("CF1", "CF2", "CF3", "CF4"):
                d.enqueue(evt(conf, seq, receiver.url()))
        assert d.wait_idle(10)
        got = seqs_by_conference(receiver)
        assert got == {c: list(range(1, 21)) for c in ("CF1", "CF2", "CF3", "CF4")}
    finally:
        d.stop()
        receiver.stop()


def test_5xx_retried_4xx_not_and_fragment_overrides(engine):
    receiver = Receiver(status=lambda n: 503 if n <= 2 else 200).start()
    d = Dispatcher(engine, {AC: TOKEN}, backoff_factor=0.001).start()
    try:
        ok = d.enqueue(evt("CFx", 1, receiver.url("/cb")))
        assert d.wait_idle(5)
        s = d.status(ok)
        assert (s.state, s.attempts, s.last_error) == ("delivered", 3, None)

        receiver.status = 404
        gone = d.enqueue(evt("CFx", 2, receiver.url("/cb")))
        assert d.wait_idle(5)
        s = d.status(gone)
        assert (s.state, s.attempts, s.last_error) == ("failed", 1, "HTTP 404")

        receiver.status = 500
        before = len(receiver.requests)
        budget = d.enqueue(evt("CFx", 3, receiver.url("/cb?a=b#rc=1&rp=5xx")))
        assert d.wait_idle(5)
        assert d.status(budget).state == "failed" and d.status(budget).attempts == 2
        assert len(receiver.requests) - before == 2
        assert receiver.requests[-1]["url"].endswith("/cb?a=b")  # fragment never sent
        assert_twilio_signed(receiver)  # signed over the URL as requested

        receiver.status = 200
        receiver.gate = gevent.event.Event()  # /slow never answers → read timeout
        rt = d.enqueue(evt("CFx", 4, receiver.url("/slow#rc=0&rt=200")))
        assert d.wait_idle(5)
        s = d.status(rt)
        assert s.state == "failed" and s.attempts == 1 and "read timeout" in s.last_error
        receiver.gate.set()
    finally:
        d.stop()
        receiver.stop()


def test_bad_urls_fail_clearly_and_do_not_block_the_queue(engine, caplog):
    receiver = Receiver().start()
    d = Dispatcher(engine, {AC: TOKEN}).start()
    try:
        with caplog.at_level(logging.ERROR, logger="fsbridge.callbacks"):
            bad_scheme = d.enqueue(evt("CFbad", 1, "ftp://example.com/cb"))
            relative = d.enqueue(evt("CFbad", 2, "/relative/cb"))
            bad_port = d.enqueue(evt("CFbad", 3, "http://example.com:99999/cb"))
        good = d.enqueue(evt("CFbad", 4, receiver.url()))
        assert d.wait_idle(5)
        assert d.status(bad_scheme).state == "failed" and "scheme" in d.status(bad_scheme).last_error
        assert d.status(relative).state == "failed" and "relative URL" in d.status(relative).last_error
        assert d.status(bad_port).state == "failed" and d.status(bad_port).attempts == 0
        assert d.status(good).state == "delivered"
        assert sum("will never be sent" in r.getMessage() for r in caplog.records) == 3
    finally:
        d.stop()
        receiver.stop()


def test_deadline_gives_up_then_next_event_goes(engine):
    port = free_port()
    clock = SimClock()
    d = Dispatcher(engine, {AC: TOKEN}, clock=clock, sleep=clock.sleep, deadline_s=20).start()
    try:
        dead = d.enqueue(evt("CFd", 1, f"http://127.0.0.1:{port}/cb"))
        assert d.wait_idle(5)
        s = d.status(dead)
        assert s.state == "failed" and s.attempts >= 3 and "connection" in s.last_error
        assert clock.t - clock.start <= 20
    finally:
        d.stop()


def test_telnyx_and_jambonz_signatures_and_basic_auth(engine):
    receiver = Receiver().start()
    key = Ed25519PrivateKey.generate()
    d = Dispatcher(engine, {AC: TOKEN}, telnyx_private_key=key, jambonz_secret={AC: "jz-secret"}).start()
    try:
        d.enqueue(evt("CFt", 1, receiver.url("/telnyx"), dialect="texml", events=("join",)))
        d.enqueue(evt("CFj", 1, receiver.url("/jambonz"), dialect="jambonz", events=("join",),
                      username="u", password="p"))
        assert d.wait_idle(5)
        by_path = {r["path"]: r for r in receiver.requests}
        tx = by_path["/telnyx"]
        assert signing.telnyx_verify(key.public_key(), tx["headers"]["telnyx-timestamp"], tx["body"],
                                     tx["headers"]["telnyx-signature-ed25519"])
        assert dict(parse_qsl(tx["body"].decode()))["StatusCallbackEvent"] == "participant-join"
        jz = by_path["/jambonz"]
        assert jz["content_type"] == "application/json"
        assert signing.jambonz_verify("jz-secret", jz["headers"]["jambonz-signature"], jz["body"])
        assert json.loads(jz["body"])["event"] == "join"
        assert jz["headers"]["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    finally:
        d.stop()
        receiver.stop()


def test_telnyx_keys_per_account(engine):
    """Each account's Telnyx callbacks are signed with that account's own key; an account without one is
    sent unsigned (no Twilio signature either: Telnyx receivers do not check one)."""
    import dataclasses

    receiver = Receiver().start()
    other = "AC" + "b" * 32
    key_a, key_b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    d = Dispatcher(engine, {AC: TOKEN, other: "tok-b"}, telnyx_private_key={AC: key_a, other: key_b}).start()
    try:
        d.enqueue(evt("CFa", 1, receiver.url("/a"), dialect="texml", events=("join",)))
        d.enqueue(dataclasses.replace(evt("CFb", 1, receiver.url("/b"), dialect="texml", events=("join",)),
                                      account_sid=other))
        d.enqueue(dataclasses.replace(evt("CFc", 1, receiver.url("/c"), dialect="texml", events=("join",)),
                                      account_sid="AC" + "c" * 32))
        assert d.wait_idle(5)
        by_path = {r["path"]: r for r in receiver.requests}
        for path, key, wrong in (("/a", key_a, key_b), ("/b", key_b, key_a)):
            h, body = by_path[path]["headers"], by_path[path]["body"]
            assert signing.telnyx_verify(key.public_key(), h["telnyx-timestamp"], body, h["telnyx-signature-ed25519"])
            assert not signing.telnyx_verify(wrong.public_key(), h["telnyx-timestamp"], body,
                                             h["telnyx-signature-ed25519"])
        unsigned = by_path["/c"]["headers"]
        assert "telnyx-signature-ed25519" not in unsigned and "x-twilio-signature" not in unsigned
    finally:
        d.stop()
        receiver.stop()


def test_enqueue_is_durable_before_start_and_unsubscribed_is_not_queued(engine):
    d = Dispatcher(engine, {AC: TOKEN})
    assert d.enqueue(evt("CFn", 1, "http://127.0.0.1:9/cb", name=ev.PARTICIPANT_HOLD)) is None
    row = d.enqueue(evt("CFn", 2, "http://127.0.0.1:9/cb"))
    s = d.status(row)
    assert (s.state, s.attempts, s.sequence_number, s.event_name) == ("pending", 0, 2, "participant-join")


def test_random_5xx_retries_never_reorder_a_conference(engine):
    import random

    rnd = random.Random(11)
    receiver = Receiver(status=lambda n: 503 if rnd.random() < 0.3 else 200).start()
    d = Dispatcher(engine, {AC: TOKEN}, backoff_factor=0.0005).start()
    try:
        for seq in range(1, 16):
            for conf in ("CFp", "CFq", "CFr"):
                d.enqueue(evt(conf, seq, receiver.url()))
        assert d.wait_idle(10)
        ok = {}
        for i, r in enumerate(receiver.requests):
            f = receiver.form(i)
            ok.setdefault(f["ConferenceSid"], []).append(int(f["SequenceNumber"]))
        # every attempt of a conference (failed or not) is in non-decreasing order, none skipped
        for conf in ("CFp", "CFq", "CFr"):
            assert ok[conf] == sorted(ok[conf]) and sorted(set(ok[conf])) == list(range(1, 16))
        assert len(receiver.requests) > 45  # some 503s really happened and were retried
        assert all(s.state == "delivered" for c in ("CFp", "CFq", "CFr") for s in d.status(conference_sid=c))
    finally:
        d.stop()
        receiver.stop()


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
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from fsbridge.callbacks.http import Transport

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp_path / "c.pem", tmp_path / "k.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
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
