"""Conference log retention (issue 22): a purge removes conferences, participants, recordings (rows and files)
and finished callbacks older than the retention; GET of a purged record is 404 like an unknown Sid; newer
records stay. Real SQLite file and real audio files (and a throw-away PostgreSQL, tests/pg_support.py)."""
import base64
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

import fsbridge.callbacks.outbox as outbox
from fsbridge.api.app import create_app
from fsbridge.conference import events as ev
from fsbridge.store import quality
from fsbridge.store.db import metadata
from fsbridge.store.retention import RetentionPurger, months_before, purge
from pg_support import store  # noqa: F401  (store: pytest fixture, SQLite + PostgreSQL)

AC = "AC" + "1" * 32
TOKEN = "secret-token"
NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=400)      # 13 months + : past the retention
NEW = NOW - timedelta(days=30)


def _conference(store, tmp_path, cf, at, ended=True):
    """A conference with two participants and one recording file, created at ``at``."""
    ca1, ca2, re = "CA" + cf[2:], "CA" + cf[2:-1] + "z", "RE" + cf[2:]
    audio = tmp_path / f"{re}.wav"
    audio.write_bytes(b"RIFF....WAVE")
    names = [(ev.PARTICIPANT_JOIN, dict(participant=ev.ParticipantView(call_sid=ca1))),
             (ev.CONFERENCE_START, {}),
             (ev.PARTICIPANT_JOIN, dict(participant=ev.ParticipantView(call_sid=ca2))),
             (ev.RECORDING_COMPLETED, dict(recording=ev.RecordingView(sid=re, status="completed",
                                                                      path=str(audio), duration_s=3)))]
    if ended:
        names.append((ev.CONFERENCE_END, dict(reason_conference_ended="last-participant-left")))
    for seq, (name, kw) in enumerate(names, 1):
        store.record(ev.make(name, account_sid=AC, conference_sid=cf, friendly_name=cf[-4:], sequence_number=seq,
                             timestamp=at + timedelta(seconds=seq), **kw))
    return ca1, re, audio


def _callback(store, state, at):
    with store.engine.begin() as conn:
        conn.execute(insert(outbox.outbox).values(
            queue_key="CF", dialect="twiml", kind="status", event_name="conference-end", account_sid=AC,
            conference_sid="CF", sequence_number=1, method="POST", url="http://127.0.0.1:9/cb", state=state,
            created_at=at.timestamp()))


def _get(client, path):
    auth = base64.b64encode(f"{AC}:{TOKEN}".encode()).decode()
    return client.get(f"/2010-04-01/Accounts/{AC}/{path}", headers={"Authorization": f"Basic {auth}"})


def test_months_before_clamps_the_day():
    assert months_before(datetime(2027, 3, 31), 13) == datetime(2026, 2, 28)
    assert months_before(datetime(2026, 12, 6, 12), 13) == datetime(2025, 11, 6, 12)
    assert months_before(datetime(2026, 1, 15), 1) == datetime(2025, 12, 15)


def test_purge_removes_old_records_from_rest_and_disk_and_keeps_new(store, tmp_path):
    cf_old, cf_new, cf_live = "CF" + "0" * 32, "CF" + "9" * 32, "CF" + "5" * 32
    ca_old, re_old, audio_old = _conference(store, tmp_path, cf_old, OLD)
    ca_new, re_new, audio_new = _conference(store, tmp_path, cf_new, NEW)
    _conference(store, tmp_path, cf_live, OLD, ended=False)   # never purged: still running (or to reconcile)
    _callback(store, outbox.DELIVERED, OLD)
    _callback(store, outbox.DELIVERED, NEW)
    _callback(store, outbox.PENDING, OLD)
    for cf, ca in ((cf_old, ca_old), (cf_new, ca_new)):   # measured call quality (Insights metrics)
        quality.save(store.engine, AC, cf, ca, quality.CallQuality(packets_received=10, mos=4.4, source="test"))
    client = create_app(store, None, {AC: TOKEN}).test_client()
    for path in (f"Conferences/{cf_old}.json", f"Conferences/{cf_old}/Participants/{ca_old}.json",
                 f"Conferences/{cf_old}/Recordings/{re_old}.json"):
        assert _get(client, path).status_code == 200

    result = RetentionPurger(store.engine, 13, batch=1, clock=lambda: NOW).run_once()

    assert (result.conferences, result.participants, result.recordings, result.files, result.callbacks) == (
        1, 2, 1, 1, 1)
    assert not audio_old.exists() and audio_new.exists()
    unknown = _get(client, f"Conferences/CF{'7' * 32}.json")
    assert unknown.status_code == 404
    for path in (f"Conferences/{cf_old}.json", f"Conferences/{cf_old}/Participants/{ca_old}.json",
                 f"Conferences/{cf_old}/Recordings/{re_old}.json"):
        r = _get(client, path)
        assert r.status_code == 404 and r.get_json()["code"] == unknown.get_json()["code"]
    for path in (f"Conferences/{cf_new}.json", f"Conferences/{cf_new}/Participants/{ca_new}.json",
                 f"Conferences/{cf_new}/Recordings/{re_new}.json", f"Conferences/{cf_live}.json"):
        assert _get(client, path).status_code == 200
    listed = [c["sid"] for c in _get(client, "Conferences.json").get_json()["conferences"]]
    assert sorted(listed) == sorted([cf_new, cf_live])
    with store.engine.connect() as conn:
        states = sorted(conn.execute(select(outbox.outbox.c.state, outbox.outbox.c.created_at)).all())
        assert states == sorted([(outbox.DELIVERED, NEW.timestamp()), (outbox.PENDING, OLD.timestamp())])
        from fsbridge.store import tables as t
        assert conn.execute(select(func.count()).select_from(t.applied_events)
                            .where(t.applied_events.c.conference_sid == cf_old)).scalar() == 0
    assert list(quality.load(store.engine, cf_old, [ca_old])) == []
    assert list(quality.load(store.engine, cf_new, [ca_new])) == [ca_new]
    # a second purge finds nothing more
    again = purge(store.engine, months_before(NOW, 13))
    assert (again.conferences, again.callbacks) == (0, 0)


def test_zero_months_keeps_everything(store, tmp_path):
    cf = "CF" + "0" * 32
    _, _, audio = _conference(store, tmp_path, cf, OLD)
    assert RetentionPurger(store.engine, 0, clock=lambda: NOW).run_once() is None
    assert store.conference(AC, cf) is not None and audio.exists()


def test_a_file_that_cannot_be_removed_does_not_keep_the_row(store, tmp_path):
    cf = "CF" + "0" * 32
    _conference(store, tmp_path, cf, OLD)

    def refuse(path):
        raise PermissionError(path)
    result = purge(store.engine, months_before(NOW, 13), remove_file=refuse)
    assert result.conferences == 1 and result.files == 0
    assert store.conference(AC, cf) is None
