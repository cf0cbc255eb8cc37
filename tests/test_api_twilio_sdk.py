"""The official twilio Python SDK (unmodified, base URL changed) against fsbridge's REST API."""
from datetime import date, datetime, timezone

import pytest
from twilio.base.exceptions import TwilioRestException

from fixtures.api.harness import AC_A, AC_B, TOKEN_B, api  # noqa: F401 - fixture

from fsbridge.conference import events as ev


def test_list_and_fetch_conferences(api):
    s = api.seed()
    client = api.client()
    confs = client.conferences.list()
    assert [c.sid for c in confs] == [s["cf"]]
    c = client.conferences(s["cf"]).fetch()
    assert (c.friendly_name, c.status, c.account_sid, c.api_version) == ("room", "in-progress", AC_A, "2010-04-01")
    assert c.region == "us1" and c.reason_conference_ended is None
    assert c.subresource_uris["participants"].endswith(f"/Conferences/{s['cf']}/Participants.json")
    assert abs((c.date_created - datetime.now(timezone.utc)).total_seconds()) < 60
    assert client.conferences.list(status="completed") == []
    assert [x.sid for x in client.conferences.list(friendly_name="room", status="in-progress")] == [s["cf"]]
    assert client.conferences.list(friendly_name="other") == []
    today = datetime.now(timezone.utc).date()
    assert len(client.conferences.list(date_created=today)) == 1
    assert client.conferences.list(date_created_before=date(2000, 1, 1)) == []
    assert len(client.conferences.list(date_updated_after=today)) == 1


def test_sdk_follows_paging(api):
    sids = [api.seed(name=f"room-{i}", recording=False)["cf"] for i in range(5)]
    client = api.client()
    got = [c.sid for c in client.conferences.list(page_size=2)]
    assert sorted(got) == sorted(sids) and len(got) == 5
    page = client.conferences.page(page_size=2)
    first = [c.sid for c in page]
    assert len(first) == 2 and page.next_page_url is not None
    second = [c.sid for c in page.next_page()]
    assert len(second) == 2 and set(second).isdisjoint(first)
    assert first + second == got[:4]
    assert len(client.conferences.list(limit=3)) == 3


def test_update_conference_end_and_announce(api):
    s = api.seed()
    client = api.client()
    c = client.conferences(s["cf"]).update(announce_url="https://example.com/a.xml", announce_method="GET")
    assert c.status == "in-progress"
    assert api.control.calls[0] == ("announce", (AC_A, s["cf"], "https://example.com/a.xml", "GET"),
                                    {"call_sid": None})
    c = client.conferences(s["cf"]).update(status="completed")
    assert (c.status, c.reason_conference_ended) == ("completed", "conference-ended-via-api")
    with pytest.raises(TwilioRestException) as exc:
        client.conferences(s["cf"]).update(status="completed")
    assert (exc.value.status, exc.value.code) == (409, 21220)


def test_participants_list_fetch_update_delete(api):
    s = api.seed()
    parts = api.client().conferences(s["cf"]).participants
    listed = parts.list()
    assert [p.call_sid for p in listed] == [s["alice"], s["bob"]]
    alice = parts("alice").fetch()
    assert (alice.call_sid, alice.label, alice.status, alice.end_conference_on_exit) == (
        s["alice"], "alice", "connected", True)
    p = parts("alice").update(muted=True)
    assert p.muted is True and p.call_sid == s["alice"]
    assert [x.call_sid for x in parts.list(muted=True)] == [s["alice"]]
    assert [x.call_sid for x in parts.list(muted=False)] == [s["bob"]]
    p = parts(s["bob"]).update(hold=True, hold_url="https://example.com/moh.wav", hold_method="GET")
    assert p.hold is True
    name, args, kw = api.control.calls[-1]
    assert name == "update_participant" and args[2] == s["bob"]
    assert kw == {"hold": True, "hold_url": "https://example.com/moh.wav", "hold_method": "GET"}
    p = parts(s["bob"]).update(coaching=True, call_sid_to_coach=s["alice"])
    assert (p.coaching, p.call_sid_to_coach) == (True, s["alice"])
    assert [x.call_sid for x in parts.list(coaching=True)] == [s["bob"]]
    assert parts("alice").delete() is True
    assert [x.call_sid for x in parts.list()] == [s["bob"]]
    gone = parts(s["alice"]).fetch()  # history stays fetchable
    assert gone.status == "complete"
    with pytest.raises(TwilioRestException) as exc:
        parts(s["alice"]).update(hold=True)
    assert (exc.value.status, exc.value.code) == (409, 21220)
    with pytest.raises(TwilioRestException) as exc:
        parts("alice").delete()
    assert exc.value.status == 409


def test_create_participant(api):
    s = api.seed(recording=False)
    parts = api.client().conferences(s["cf"]).participants
    p = parts.create(from_="+15550009", to="sip:carol@example.com", label="carol", muted=True,
                     beep="onEnter", start_conference_on_enter=False, end_conference_on_exit=False,
                     status_callback="https://example.com/cb",
                     status_callback_event=["ringing", "answered"],
                     conference_status_callback="https://example.com/conf",
                     conference_status_callback_event=["start", "join", "leave"],
                     conference_record="record-from-start", jitter_buffer_size="small", timeout=20,
                     wait_url="https://example.com/wait.xml", wait_method="GET",
                     machine_detection="Enable")
    assert p.label == "carol" and p.muted is True and p.conference_sid == s["cf"] and p.queue_time == "0"
    name, args, kw = api.control.calls[-1]
    assert args == (AC_A, s["cf"], "+15550009", "sip:carol@example.com")
    conf = kw["dial"].conference
    assert conf.status_callback_event == ("start", "join", "leave")
    assert kw["timeout_s"] == 20 and conf.beep == "onEnter" and conf.muted is True
    assert (kw["progress"].url, kw["progress"].method, kw["progress"].events) == (
        "https://example.com/cb", "POST", ("ringing", "answered"))
    assert conf.record == "record-from-start" and conf.wait_method == "GET" and conf.participant_label == "carol"
    assert parts("carol").fetch().call_sid == p.call_sid
    # by friendly name, as Twilio allows: creates the conference
    p2 = api.client().conferences("brand-new").participants.create(from_="+1", to="+2")
    assert api.store.conference(AC_A, p2.conference_sid).friendly_name == "brand-new"


def test_recordings_list_fetch_update(api):
    s = api.seed()
    recs = api.client().conferences(s["cf"]).recordings
    listed = recs.list()
    assert [r.sid for r in listed] == [s["re"]]
    r = recs(s["re"]).fetch()
    assert (r.status, r.conference_sid, r.duration, r.source, r.channels) == (
        "in-progress", s["cf"], "-1", "Conference", 1)
    r = recs(s["re"]).update(status="paused", pause_behavior="skip")
    assert r.status == "paused"
    assert api.control.calls[-1] == ("update_recording", (AC_A, s["cf"], s["re"], "paused"),
                                     {"pause_behavior": "skip"})
    assert recs(s["re"]).update(status="in-progress").status == "in-progress"
    stopped = recs(s["re"]).update(status="stopped")
    assert (stopped.status, stopped.duration) == ("completed", "3")
    with pytest.raises(TwilioRestException) as exc:
        recs(s["re"]).update(status="paused")
    assert exc.value.status == 409
    assert len(recs.list(date_created_after=date(2000, 1, 1))) == 1
    assert recs.list(date_created_before=date(2000, 1, 1)) == []
    assert recs(s["re"]).delete() is True
    assert recs.list() == [] and not s["wav"].exists()


def test_errors_surface_in_the_sdk(api):
    s = api.seed(recording=False)
    with pytest.raises(TwilioRestException) as exc:
        api.client().conferences("CF" + "0" * 32).fetch()
    assert (exc.value.status, exc.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as exc:  # account B cannot see account A's conference
        api.client(AC_B, TOKEN_B).conferences(s["cf"]).fetch()
    assert (exc.value.status, exc.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as exc:
        api.client(AC_A, "wrong").conferences(s["cf"]).fetch()
    assert (exc.value.status, exc.value.code) == (401, 20003)
    api.control.available = False
    with pytest.raises(TwilioRestException) as exc:
        api.client().conferences(s["cf"]).participants("alice").update(muted=True)
    assert exc.value.status == 503
    assert api.client().conferences(s["cf"]).participants("alice").fetch().muted is False


def test_domain_errors_keep_code_and_status(api):
    s = api.seed(recording=False)

    def refuse(*a, **k):
        from fixtures.api.fake_control import FakeDomainError
        raise FakeDomainError(21999, 400, "refused by the domain")

    api.control.update_participant = refuse
    with pytest.raises(TwilioRestException) as exc:
        api.client().conferences(s["cf"]).participants("alice").update(muted=True)
    assert (exc.value.status, exc.value.code) == (400, 21999)
    assert exc.value.msg.endswith("refused by the domain")


def test_events_from_the_bridge_show_up(api):
    s = api.seed(recording=False)
    alice = api.store.participant(AC_A, s["cf"], "alice")
    from fixtures.api.fake_control import view
    api.control.emit(ev.PARTICIPANT_LEAVE, AC_A, s["cf"], participant=view(alice))
    api.control.emit(ev.PARTICIPANT_LEAVE, AC_A, s["cf"],
                     participant=view(api.store.participant(AC_A, s["cf"], s["bob"])))
    api.control.emit(ev.CONFERENCE_END, AC_A, s["cf"], reason_conference_ended="participant-with-end-conference-on-exit-left",
                     call_sid_ending_conference=alice.call_sid)
    c = api.client().conferences(s["cf"]).fetch()
    assert (c.status, c.reason_conference_ended, c.call_sid_ending_conference) == (
        "completed", "participant-with-end-conference-on-exit-left", alice.call_sid)
    assert api.client().conferences(s["cf"]).participants.list() == []
