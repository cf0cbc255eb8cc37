"""The statusCallback SequenceNumber is delivery bookkeeping, decided once in the callbacks layer
(fsbridge/callbacks/subscriptions.py StatusSequence, used by the Dispatcher): it counts only the status
events actually subscribed, per conference, and can continue after a restart from the outbox rows.
Real SQLite outbox files; no HTTP (the dispatcher is not started)."""
from fsbridge.callbacks import outbox
from fsbridge.callbacks.dispatcher import Dispatcher
from fsbridge.callbacks.subscriptions import StatusSequence
from fsbridge.conference import events as ev

from fixtures.callbacks import evt
from fixtures.callbacks import engine  # noqa: F401,F811 - fixture

URL = "http://127.0.0.1:9/cb"


def rows(engine, cf):
    with engine.connect() as conn:
        return outbox.conference_status(conn, cf)


def test_only_subscribed_status_events_take_a_number(engine):  # noqa: F811
    d = Dispatcher(engine)
    events = ("join", "leave")
    ids = [d.enqueue(evt("CF1", 1, URL, events=events)),
           d.enqueue(evt("CF1", 2, URL, name=ev.PARTICIPANT_MUTE, events=events)),   # not subscribed
           d.enqueue(evt("CF1", 3, URL, name=ev.PARTICIPANT_LEAVE, events=events, method="GET")),
           d.enqueue(evt("CF2", 1, URL, events=events))]
    assert ids[1] is None and None not in (ids[0], ids[2], ids[3])
    with engine.connect() as conn:
        assert outbox.last_status_sequence(conn, "CF1") == 2      # the GET row's number is in its URL
        assert outbox.last_status_sequence(conn, "CF2") == 1
        assert outbox.last_status_sequence(conn, "CFnone") == 0
    assert [r.sequence_number for r in rows(engine, "CF1")] == [1, 3]   # the history ordinal, kept as is


def test_a_restarted_dispatcher_can_continue_a_conferences_count_from_the_outbox(engine):  # noqa: F811
    first = Dispatcher(engine)
    for seq in (1, 2, 3):
        first.enqueue(evt("CF1", seq, URL))
    with engine.connect() as conn:
        second = Dispatcher(engine, sequence=StatusSequence(lookup=lambda cf: outbox.last_status_sequence(conn, cf)))
        second.enqueue(evt("CF1", 4, URL))
        second.enqueue(evt("CF9", 1, URL))
    with engine.connect() as conn:
        assert outbox.last_status_sequence(conn, "CF1") == 4 and outbox.last_status_sequence(conn, "CF9") == 1


def test_conference_end_forgets_the_count():
    seq = StatusSequence(start={"CF1": 6})
    e = evt("CF1", 9, URL)
    assert seq.take(e) == 7
    seq.forget("CF1")
    assert seq.take(e) == 1
