"""Delivery against real local HTTP receivers (gevent WSGI on 127.0.0.1), real SQLite outbox files: order,
outages, restarts, retries, signatures.

Simulated time (injected clock/sleep) for the 60-second outage; synchronisation by events with timeouts.
Shared receivers and helpers: tests/fixtures/callbacks.py.
"""
import base64
import json
import logging
from urllib.parse import parse_qsl

import gevent
import gevent.event
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fsbridge.callbacks import signing
from fsbridge.callbacks.dispatcher import Dispatcher
from fsbridge.conference import events as ev
from fsbridge.store.db import make_engine

from fixtures.callbacks import AC, TOKEN, Receiver, SimClock, assert_twilio_signed, evt, free_port, seqs_by_conference
from fixtures.callbacks import engine  # noqa: F401,F811 - fixture


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
