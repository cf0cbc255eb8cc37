"""Bulk Export v1 through the official twilio SDK (``client.bulkexports.v1.exports('Conferences')``), only its
base URL changed (issue 22): a custom job for a day range runs in the background, its completion webhook comes
through the durable outbox signed with the account's AuthToken (checked with twilio's RequestValidator), the
Days list / fetch follow, and a day's file holds exactly that day's records of that account. SQLite file and
PostgreSQL."""
import gzip
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.bulkexports.v1.export.day import DayInstance
from twilio.rest.bulkexports.v1.export.export_custom_job import ExportCustomJobInstance

from fixtures.callbacks import Receiver
from fsbridge.api import create_app, serve
from fsbridge.api.bulkexport_jobs import ExportRunner
from fsbridge.callbacks.dispatcher import Dispatcher
from fsbridge.conference import events as ev
from pg_support import store  # noqa: F401  (pytest fixture: SQLite + PostgreSQL)
from fsbridge.wire import bulkexports as bx

AC_A, TOKEN_A = "AC" + "a" * 32, "token-a"
AC_B, TOKEN_B = "AC" + "b" * 32, "token-b"
D1 = datetime(2026, 5, 4, tzinfo=timezone.utc)


def _sid(prefix, n):
    return prefix + f"{n:032d}"


class Rig:
    def __init__(self, store, tmp):
        self.store = store
        self.dispatcher = Dispatcher(self.store.engine, {AC_A: TOKEN_A, AC_B: TOKEN_B}).start()
        self.runner = ExportRunner(self.store.engine, str(tmp / "exports"), dispatcher=self.dispatcher)
        app = create_app(self.store, None, {AC_A: TOKEN_A, AC_B: TOKEN_B}, exports=self.runner)
        self.server = serve(app, "127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.hook = Receiver().start()

    def client(self, account=AC_A, token=TOKEN_A):
        client = Client(account, token)
        client.bulkexports.base_url = self.base   # the one change: where Bulk Export lives
        return client

    def close(self):
        self.hook.stop()
        self.server.stop()
        self.dispatcher.stop()


@pytest.fixture
def rig(store, tmp_path):
    """Bulk Export on a SQLite file and on PostgreSQL (tests/pg_support.py)."""
    r = Rig(store, tmp_path)
    try:
        yield r
    finally:
        r.close()


def _join(store, cf, seq, at, call, account=AC_A):
    store.record(ev.make(ev.PARTICIPANT_JOIN, account_sid=account, conference_sid=cf, friendly_name="room",
                         sequence_number=seq, timestamp=at, participant=ev.ParticipantView(call_sid=call)))


def _seed(store):
    """Day 1: CF1 (00:00:00) with CA1, CF2 created 23:59:59 with CA2; CA3 joins CF2 at day 2 00:00:01.
    Day 2: CF3 with CA4 at noon. Account B: CF4 on day 1 (never in A's files)."""
    _join(store, _sid("CF", 1), 1, D1, _sid("CA", 1))
    _join(store, _sid("CF", 2), 1, D1 + timedelta(seconds=86399), _sid("CA", 2))
    _join(store, _sid("CF", 2), 2, D1 + timedelta(seconds=86401), _sid("CA", 3))
    _join(store, _sid("CF", 3), 1, D1 + timedelta(days=1, hours=12), _sid("CA", 4))
    _join(store, _sid("CF", 4), 1, D1 + timedelta(hours=1), _sid("CA", 5), account=AC_B)


def _lines(data: bytes):
    return [json.loads(x) for x in gzip.decompress(data).splitlines()]


def test_custom_job_exports_each_day_and_sends_a_signed_webhook(rig):
    _seed(rig.store)
    exports = rig.client().bulkexports.v1.exports(bx.CONFERENCES)
    job = exports.export_custom_jobs.create(start_day="2026-05-04", end_day="2026-05-06", friendly_name="may",
                                            webhook_url=rig.hook.url("/done"), webhook_method="POST")
    assert job.job_sid.startswith("JS") and len(job.job_sid) == 34
    assert (job.start_day, job.end_day, job.friendly_name, job.resource_type) == (
        "2026-05-04", "2026-05-06", "may", "Conferences")
    model = [k for k in vars(ExportCustomJobInstance(rig.client().bulkexports.v1, {}, "Conferences"))
             if not k.startswith("_")]
    assert list(bx.JOB_FIELDS) == model
    assert rig.runner.wait(job.job_sid, 10) and rig.hook.wait_for(1, 10)

    # the webhook: signed with A's AuthToken, Twilio's scheme
    got = rig.hook.requests[0]
    form = rig.hook.form(0)
    assert RequestValidator(TOKEN_A).validate(got["url"], form, got["headers"]["x-twilio-signature"])
    assert not RequestValidator(TOKEN_B).validate(got["url"], form, got["headers"]["x-twilio-signature"])
    assert form[bx.JOB_SID] == job.job_sid and form[bx.JOB_STATUS] == bx.COMPLETED
    assert form[bx.DAYS] == "2026-05-04,2026-05-05,2026-05-06" and form[bx.ACCOUNT_SID] == AC_A
    assert rig.dispatcher.wait_idle(10)
    assert rig.dispatcher.status(conference_sid=job.job_sid)[0].state == "delivered"   # through the outbox

    listed = exports.export_custom_jobs.list()
    assert [j.job_sid for j in listed] == [job.job_sid]
    assert listed[0].details == [{"status": bx.COMPLETED, "count": 3,
                                  "days": ["2026-05-04", "2026-05-05", "2026-05-06"]}]

    days = exports.days.list()
    assert sorted(d.day for d in days) == ["2026-05-04", "2026-05-05", "2026-05-06"]
    assert all(d.friendly_name == "may" and d.resource_type == "Conferences" and d.size > 0 for d in days)
    assert list(bx.DAY_FIELDS) == [k for k in vars(DayInstance(rig.client().bulkexports.v1, {}, "Conferences"))
                                   if not k.startswith("_")]

    # a day's file: exactly that day's records of that account, conferences then participants
    day1 = exports.days("2026-05-04").fetch()
    assert day1.redirect_to.startswith(rig.base) and day1.day == "2026-05-04"
    file1 = requests.get(day1.redirect_to, timeout=10)           # no credentials: the link is signed
    assert file1.status_code == 200 and len(file1.content) == day1.size
    lines = _lines(file1.content)
    assert [x.get("sid") or x["call_sid"] for x in lines] == [_sid("CF", 1), _sid("CF", 2), _sid("CA", 1),
                                                              _sid("CA", 2)]
    assert {x["account_sid"] for x in lines} == {AC_A}
    day2 = _lines(requests.get(exports.days("2026-05-05").fetch().redirect_to, timeout=10).content)
    assert [x.get("sid") or x["call_sid"] for x in day2] == [_sid("CF", 3), _sid("CA", 3), _sid("CA", 4)]
    assert _lines(requests.get(exports.days("2026-05-06").fetch().redirect_to, timeout=10).content) == []


def test_scoped_to_the_account_and_links_are_unforgeable(rig):
    _seed(rig.store)
    a = rig.client().bulkexports.v1.exports(bx.CONFERENCES)
    job = a.export_custom_jobs.create(start_day="2026-05-04", end_day="2026-05-04", friendly_name="one")
    assert rig.runner.wait(job.job_sid, 10)
    b = rig.client(AC_B, TOKEN_B).bulkexports.v1.exports(bx.CONFERENCES)
    assert b.days.list() == [] and b.export_custom_jobs.list() == []
    with pytest.raises(TwilioRestException) as err:
        b.days("2026-05-04").fetch()
    assert err.value.status == 404
    link = a.days("2026-05-04").fetch().redirect_to
    assert requests.get(link.replace("Token=", "Token=x"), timeout=10).status_code == 404
    assert requests.get(link.replace("2026-05-04/File", "2026-05-05/File"), timeout=10).status_code == 404
    assert requests.get(f"{rig.base}/v1/Exports/Conferences/Days", timeout=10).status_code == 401
    fetched = rig.client().bulkexports.v1.exports.jobs(job.job_sid).fetch()
    assert fetched.job_sid == job.job_sid and fetched.url.endswith(job.job_sid)
    with pytest.raises(TwilioRestException) as err:
        rig.client(AC_B, TOKEN_B).bulkexports.v1.exports.jobs(job.job_sid).fetch()
    assert err.value.status == 404


@pytest.mark.parametrize("form, code", [
    ({"StartDay": "2026-05-04", "EndDay": "2026-05-03", "FriendlyName": "x"}, 21201),
    ({"StartDay": "2026-5-4", "EndDay": "2026-05-04", "FriendlyName": "x"}, 21201),
    ({"StartDay": "2026-05-04", "EndDay": "2999-01-01", "FriendlyName": "x"}, 21201),
    ({"StartDay": "2020-01-01", "EndDay": "2026-01-01", "FriendlyName": "x"}, 21201),
    ({"StartDay": "2026-05-04", "EndDay": "2026-05-04"}, 21201),
    ({"StartDay": "2026-05-04", "EndDay": "2026-05-04", "FriendlyName": "x", "WebhookUrl": "http://h/x"}, 21201),
    ({"StartDay": "2026-05-04", "EndDay": "2026-05-04", "FriendlyName": "x", "WebhookUrl": "ftp://h/x",
      "WebhookMethod": "POST"}, 21205),
])
def test_bad_requests_are_4xx(rig, form, code):
    r = requests.post(f"{rig.base}/v1/Exports/Conferences/Jobs", data=form, auth=(AC_A, TOKEN_A), timeout=10)
    assert r.status_code == 400 and r.json()["code"] == code
    r = requests.post(f"{rig.base}/v1/Exports/Messages/Jobs", data=form, auth=(AC_A, TOKEN_A), timeout=10)
    assert r.status_code == 404
