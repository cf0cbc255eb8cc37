"""Store: DomainEvents → conference / participant / recording rows on a real SQLite file and on a real
PostgreSQL (the session's throw-away cluster, tests/pg_support.py, or FSBRIDGE_TEST_PG)."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fsbridge.conference import events as ev
from fsbridge.store import DateRange, PageRequest, Store
from fsbridge.store.db import make_engine
from pg_support import store  # noqa: F401  (store: pytest fixture, SQLite + PostgreSQL)

AC = "AC" + "1" * 32
CF = "CF" + "a" * 32
CA1 = "CA" + "1" * 32
CA2 = "CA" + "2" * 32
RE = "RE" + "e" * 32
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def e(name, seq, *, at=0, cf=CF, **kw):
    return ev.make(name, account_sid=AC, conference_sid=cf, friendly_name="room",
                          sequence_number=seq, timestamp=T0 + timedelta(seconds=at), **kw)


def p(call_sid=CA1, **kw):
    return ev.ParticipantView(call_sid=call_sid, **kw)


def test_lifecycle_and_history(store):
    assert store.record(e(ev.PARTICIPANT_JOIN, 1, participant=p(label="alice", from_="+1555", to="room")))
    c = store.conference(AC, CF)
    assert c.status == "init" and c.friendly_name == "room" and c.date_created == T0
    store.record(e(ev.CONFERENCE_START, 2, at=1))
    assert store.conference(AC, CF).status == "in-progress"
    store.record(e(ev.PARTICIPANT_JOIN, 3, at=2, participant=p(CA2)))
    store.record(e(ev.PARTICIPANT_MUTE, 4, at=3, participant=p(label="alice", muted=True)))
    got = store.participant(AC, CF, "alice")
    assert got.call_sid == CA1 and got.muted and got.present and got.from_ == "+1555"
    assert [x.call_sid for x in store.list_participants(AC, CF, muted=True).items] == [CA1]
    store.record(e(ev.PARTICIPANT_LEAVE, 5, at=4, participant=p(label="alice", muted=True)))
    left = store.participant(AC, CF, CA1)
    assert not left.present and left.status == "complete"
    assert [x.call_sid for x in store.list_participants(AC, CF).items] == [CA2]
    assert {x.call_sid for x in store.list_participants(AC, CF, include_left=True).items} == {CA1, CA2}
    store.record(e(ev.CONFERENCE_END, 6, at=5, reason_conference_ended="last-participant-left",
                   call_sid_ending_conference=CA2))
    c = store.conference(AC, CF)
    assert (c.status, c.reason_conference_ended, c.call_sid_ending_conference) == (
        "completed", "last-participant-left", CA2)
    assert c.date_updated == T0 + timedelta(seconds=5)
    assert store.list_participants(AC, CF).items == []  # conference-end empties the room
    assert store.last_sequence(CF) == 6


def test_participant_mute_and_hold_events_are_kept_with_the_event_once(store):
    """Store.record keeps a participant mute / unmute / hold (the Insights Participant Summary ``events``,
    fsbridge.store.participant_events) with the event itself; other events and a re-recorded one add nothing."""
    from fsbridge.store import participant_events
    ms = int(T0.timestamp() * 1000)
    assert store.record(e(ev.PARTICIPANT_JOIN, 1, participant=p()))
    assert store.record(e(ev.PARTICIPANT_MUTE, 2, at=1, participant=p(muted=True)))
    assert store.record(e(ev.PARTICIPANT_HOLD, 3, at=2, participant=p(CA2, hold=True)))
    assert store.record(e(ev.PARTICIPANT_UNMUTE, 4, at=3, participant=p()))
    assert not store.record(e(ev.PARTICIPANT_MUTE, 2, at=9, participant=p(muted=True)))   # the same again
    assert participant_events.load(store.engine, CF, [CA1, CA2]) == {
        CA1: {"mute": [ms + 1000], "unmute": [ms + 3000]}, CA2: {"hold": [ms + 2000]}}


def test_record_is_idempotent_and_never_rolls_back(store):
    assert store.record(e(ev.PARTICIPANT_JOIN, 1, participant=p()))
    assert store.record(e(ev.PARTICIPANT_MUTE, 3, participant=p(muted=True)))
    assert not store.record(e(ev.PARTICIPANT_MUTE, 3, participant=p(muted=True)))
    # seq 2 arrives late: recorded, but the participant keeps the newer state
    assert store.record(e(ev.PARTICIPANT_UNMUTE, 2, participant=p(muted=False)))
    assert store.participant(AC, CF, CA1).muted is True


def test_accounts_are_separate(store):
    store.record(e(ev.CONFERENCE_START, 1))
    assert store.conference("AC" + "9" * 32, CF) is None
    assert store.list_conferences("AC" + "9" * 32).items == []


def test_recordings(store):
    rec = ev.RecordingView(sid=RE, status="in-progress", path="/tmp/x.wav", start_time=T0)
    store.record(e(ev.RECORDING_IN_PROGRESS, 1, recording=rec))
    assert store.recording(AC, CF, RE).status == "in-progress"
    assert store.set_recording_status(AC, CF, RE, "paused") and store.recording(AC, CF, RE).status == "paused"
    assert not store.set_recording_status("AC" + "9" * 32, CF, RE, "in-progress")  # another account's
    store.record(e(ev.RECORDING_COMPLETED, 2, recording=ev.RecordingView(sid=RE, status="", duration_s=7)))
    r = store.recording(AC, CF, RE)
    assert (r.status, r.duration_s, r.path) == ("completed", 7, "/tmp/x.wav")
    assert not store.set_recording_status(AC, CF, RE, "in-progress")  # a finished recording stays finished
    assert [x.sid for x in store.list_recordings(AC, CF).items] == [RE]
    assert store.delete_recording(AC, CF, RE).sid == RE
    assert store.recording(AC, CF, RE) is None


def test_paging_filters_and_keyset(store):
    sids = []
    for i in range(7):
        cf = "CF%032x" % i
        sids.append(cf)
        store.record(e(ev.CONFERENCE_START, 1, cf=cf, at=i * 86400))
    newest_first = list(reversed(sids))
    page = store.list_conferences(AC, page=PageRequest(limit=3))
    assert [c.sid for c in page.items] == newest_first[:3] and page.has_more
    nxt = store.list_conferences(AC, page=PageRequest(limit=3, after=page.last_key))
    assert [c.sid for c in nxt.items] == newest_first[3:6]
    off = store.list_conferences(AC, page=PageRequest(limit=3, offset=6))
    assert [c.sid for c in off.items] == newest_first[6:] and not off.has_more
    day2 = DateRange(T0 + timedelta(days=2) - timedelta(hours=3), T0 + timedelta(days=3) - timedelta(hours=3))
    assert [c.sid for c in store.list_conferences(AC, created=day2).items] == [sids[2]]
    assert store.list_conferences(AC, status="completed").items == []
    assert len(store.list_conferences(AC, friendly_name="room", status="in-progress").items) == 7


@st.composite
def event_histories(draw):
    """An in-order history for one conference (join, start, participant changes, maybe the end) and a
    delivery order of it: shuffled, with duplicates."""
    changes = draw(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=0, max_size=6))
    history = [e(ev.PARTICIPANT_JOIN, 1, participant=p(label="a")), e(ev.CONFERENCE_START, 2, at=1)]
    for i, (muted, hold) in enumerate(changes):
        history.append(e(ev.PARTICIPANT_MODIFY, 3 + i, at=2 + i, participant=p(label="a", muted=muted, hold=hold)))
    if draw(st.booleans()):
        history.append(e(ev.CONFERENCE_END, len(history) + 1, at=50, reason_conference_ended="last-participant-left"))
    delivery = draw(st.permutations(history))
    dupes = draw(st.lists(st.sampled_from(history), max_size=3))
    return history, list(delivery) + dupes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=event_histories())
def test_any_delivery_order_ends_in_the_in_order_state(tmp_path_factory, case):
    history, delivery = case
    s = Store(make_engine(f"sqlite:///{tmp_path_factory.mktemp('h') / 'h.sqlite'}"))
    s.create_all()
    results = [s.record(x) for x in delivery]
    assert sum(results) == len(history)          # each event recorded once; duplicates refused
    last_view = [x for x in history if x.participant][-1].participant
    ended = history[-1].name == ev.CONFERENCE_END
    row = s.participant(AC, CF, "a")
    assert (row.muted, row.hold) == (last_view.muted, last_view.hold)
    assert row.present is not ended
    conf = s.conference(AC, CF)
    assert conf.status == ("completed" if ended else "in-progress")
    assert conf.last_sequence == len(history) and s.last_sequence(CF) == len(history)


def test_sqlite_checkpoints_run_off_the_commit_path(tmp_path):
    from sqlalchemy import text
    ran = []

    def runner(fn):
        ran.append(fn)
        fn()  # the real PASSIVE checkpoint, inline

    s = Store(make_engine(f"sqlite:///{tmp_path / 'c.sqlite'}"), checkpoint_every=3, checkpoint_runner=runner)
    Store(s.engine)  # a second Store on the same engine registers the hook once
    s.create_all()
    with s.engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
    for i in range(7):
        s.record(e(ev.PARTICIPANT_JOIN, i + 1, participant=p("CA%032x" % i)))
    assert len(ran) == 2 and not s._checkpoints._running
    assert s.participant(AC, CF, "CA%032x" % 6) is not None


def test_sqlite_wal_size_is_capped(tmp_path):
    """The WAL is truncated to WAL_SIZE_LIMIT after checkpoints (SQLite journal_size_limit), so a long-running
    bridge's -wal file does not stay at its high-water mark."""
    from fsbridge.store.db import WAL_SIZE_LIMIT, make_engine
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == WAL_SIZE_LIMIT
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_quality_and_export_day_rows_are_replaced_not_added(store):
    """fsbridge.store.db.replace_row under quality.save and exports.put_day: a second write for the same key
    replaces the row (its values, not the first's), other keys are untouched."""
    from fsbridge.store import exports, quality
    for mos in (3.1, 4.4):
        quality.save(store.engine, AC, CF, CA1, quality.CallQuality(packets_received=10, mos=mos, source="t"))
    quality.save(store.engine, AC, CF, CA2, quality.CallQuality(mos=2.0, source="t"))
    got = quality.load(store.engine, CF, [CA1, CA2])
    assert (got[CA1].mos, got[CA1].packets_received, got[CA2].mos) == (4.4, 10, 2.0)
    when = datetime(2026, 1, 2, 3, 4, 5)
    for size, job in ((1, "JS1"), (2, "JS2")):
        exports.put_day(store.engine, exports.ExportDay(AC, "Calls", "2026-01-01", size, f"/x/{size}", "n", job, when))
    day = exports.get_day(store.engine, AC, "Calls", "2026-01-01")
    assert (day.size, day.job_sid, day.path) == (2, "JS2", "/x/2")
    assert exports.list_days(store.engine, AC, "Calls").items == [day]
