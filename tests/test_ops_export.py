"""``fsbridge export --day``: one UTC day of Conferences + Participants, gzip'd JSON lines, each line exactly the
REST API's rendering (issue 22). Real SQLite file; the command runs as a subprocess once."""
import base64
import gzip
import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from fsbridge.api.app import create_app
from fsbridge.cli import main
from fsbridge.conference import events as ev
from fsbridge.ops import export
from fsbridge.store import Store
from fsbridge.store.db import make_engine

AC = "AC" + "1" * 32
AC2 = "AC" + "2" * 32
TOKEN = "tok"
DAY = date(2026, 3, 9)
MIDNIGHT = datetime(2026, 3, 9, tzinfo=timezone.utc)


def _conference(store, cf, at, calls, account=AC):
    for seq, ca in enumerate(calls, 1):
        store.record(ev.make(ev.PARTICIPANT_JOIN, account_sid=account, conference_sid=cf, friendly_name="r" + cf[-3:],
                             sequence_number=seq, timestamp=at + timedelta(minutes=seq - 1),
                             participant=ev.ParticipantView(call_sid=ca, label="l" + ca[-2:])))


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'fsb.sqlite'}"
    store = Store(make_engine(url))
    store.create_all()
    sid = lambda p, n: p + f"{n:032d}"   # noqa: E731
    # the day before (its second participant joins after midnight: a record of DAY)
    _conference(store, sid("CF", 1), MIDNIGHT - timedelta(seconds=30), [sid("CA", 10), sid("CA", 11)])
    _conference(store, sid("CF", 2), MIDNIGHT, [sid("CA", 20)])                              # first instant
    _conference(store, sid("CF", 3), MIDNIGHT + timedelta(hours=12), [sid("CA", 30), sid("CA", 31)])
    _conference(store, sid("CF", 4), MIDNIGHT + timedelta(hours=12), [sid("CA", 40)], account=AC2)
    _conference(store, sid("CF", 5), MIDNIGHT + timedelta(days=1) - timedelta(seconds=1), [sid("CA", 50)])
    _conference(store, sid("CF", 6), MIDNIGHT + timedelta(days=1), [sid("CA", 60)])           # the next day
    return url, store


def _lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_a_days_file_holds_exactly_that_days_records_as_rest_renders_them(db, tmp_path, monkeypatch):
    url, store = db
    monkeypatch.setattr(export, "BATCH", 2)   # several keyset batches
    out = tmp_path / "out"
    assert main(["export", "--day", DAY.isoformat(), "--database-url", url, "--out", str(out)]) == 0
    lines = _lines(out / "conferences-2026-03-09.jsonl.gz")
    confs = [x for x in lines if "call_sid" not in x]
    parts = [x for x in lines if "call_sid" in x]
    assert lines == confs + parts   # conferences first
    assert [c["sid"][-1] for c in confs] == ["2", "3", "4", "5"]
    assert [p["call_sid"][-2:] for p in parts] == ["20", "11", "30", "40", "31", "50"]
    client = create_app(store, None, {AC: TOKEN, AC2: TOKEN}).test_client()

    def get(account, path):
        auth = base64.b64encode(f"{account}:{TOKEN}".encode()).decode()
        r = client.get(f"/2010-04-01/Accounts/{account}/{path}", headers={"Authorization": f"Basic {auth}"})
        assert r.status_code == 200
        return r.get_json()
    for c in confs:
        assert c == get(c["account_sid"], f"Conferences/{c['sid']}.json")
    for p in parts:
        assert p == get(p["account_sid"], f"Conferences/{p['conference_sid']}/Participants/{p['call_sid']}.json")


def test_account_filter_empty_day_and_bad_day(db, tmp_path, capsys):
    url, _ = db
    export_path = export.export_day(make_engine(url), DAY, str(tmp_path), account=AC2)
    assert [x.get("sid", x.get("call_sid"))[-2:] for x in _lines(export_path)] == ["04", "40"]
    assert _lines(export.export_day(make_engine(url), date(2020, 1, 1), str(tmp_path))) == []
    assert main(["export", "--day", "2026-13-01", "--database-url", url]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_command_with_config_file(db, tmp_path):
    url, _ = db
    cfg = tmp_path / "fsbridge.toml"
    cfg.write_text(f'[storage]\ndatabase_url = "{url}"\n')
    out = tmp_path / "exports"
    proc = subprocess.run([sys.executable, "-m", "fsbridge", "export", "--day", "2026-03-10", "--config", str(cfg),
                           "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    path = proc.stdout.strip()
    assert path == str(out / "conferences-2026-03-10.jsonl.gz")
    assert [x.get("sid", x.get("call_sid"))[-2:] for x in _lines(path)] == ["06", "60"]
