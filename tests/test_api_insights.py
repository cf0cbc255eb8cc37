"""Voice Insights v1 Conference Summary through the official twilio SDK (``client.insights.v1.conferences``),
only its Insights base URL changed; the fields are exactly the SDK model's (issue 22). Real server, real
SQLite file (PostgreSQL with FSBRIDGE_TEST_PG)."""
from datetime import datetime, timedelta, timezone

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.insights.v1.conference import ConferenceInstance

from fixtures.api.harness import AC_A, AC_B, TOKEN_A, TOKEN_B, api  # noqa: F401 - fixture
from fsbridge.conference import events as ev
from fsbridge.store.retention import purge
from fsbridge.wire import insights as wi

T0 = datetime(2026, 5, 4, 10, 0, 0, tzinfo=timezone.utc)
CF1, CF2, CF3 = ("CF" + c * 32 for c in "123")


def _sid(prefix, n):
    return prefix + f"{n:032d}"


def _record(store, cf, seq, name, at, account=AC_A, **kw):
    store.record(ev.make(name, account_sid=account, conference_sid=cf, friendly_name="room" + cf[-1],
                         sequence_number=seq, timestamp=T0 + timedelta(seconds=at), **kw))


def _seed(store, tmp):
    """CF1: alice + bob (bob joins twice under one caller ID), carol; recorded; ended by alice at +100 s.
    CF2: one participant, still running. CF3: another account's."""
    part = lambda ca, frm, **kw: ev.ParticipantView(call_sid=ca, from_=frm, **kw)   # noqa: E731
    a, b, b2, c = _sid("CA", 1), _sid("CA", 2), _sid("CA", 3), _sid("CA", 4)
    _record(store, CF1, 1, ev.PARTICIPANT_JOIN, 0, participant=part(a, "+1555001"))
    _record(store, CF1, 2, ev.PARTICIPANT_JOIN, 5, participant=part(b, "+1555002"))
    _record(store, CF1, 3, ev.CONFERENCE_START, 5)
    _record(store, CF1, 4, ev.PARTICIPANT_JOIN, 10, participant=part(c, "+1555003"))
    _record(store, CF1, 5, ev.PARTICIPANT_LEAVE, 20, participant=part(b, "+1555002"))
    _record(store, CF1, 6, ev.PARTICIPANT_JOIN, 30, participant=part(b2, "+1555002"))
    wav = tmp / "rec.wav"
    wav.write_bytes(b"RIFF")
    _record(store, CF1, 7, ev.RECORDING_COMPLETED, 40, recording=ev.RecordingView(
        sid=_sid("RE", 1), status="completed", path=str(wav), duration_s=30))
    _record(store, CF1, 8, ev.CONFERENCE_END, 100, reason_conference_ended="participant-with-end-conference-on-exit-left",
            call_sid_ending_conference=a)
    _record(store, CF2, 1, ev.PARTICIPANT_JOIN, 200, participant=part(_sid("CA", 5), "+1555005"))
    _record(store, CF3, 1, ev.PARTICIPANT_JOIN, 300, account=AC_B, participant=part(_sid("CA", 6), "+1555006"))


def _client(api, account=AC_A, token=TOKEN_A):
    client = Client(account, token)
    client.insights.base_url = api.base     # the one change: where Insights lives
    return client


def test_fields_are_the_sdk_models_and_values_come_from_the_history(api):
    _seed(api.store, api.tmp)
    client = _client(api)
    got = client.insights.v1.conferences(CF1).fetch()
    model_fields = [k for k in vars(ConferenceInstance(client.insights.v1, {})) if not k.startswith("_")]
    assert list(wi.CONFERENCE_SUMMARY_FIELDS) == model_fields
    raw = requests.get(f"{api.base}/v1/Conferences/{CF1}", auth=(AC_A, TOKEN_A), timeout=10).json()
    assert list(raw) == model_fields
    assert (got.conference_sid, got.account_sid, got.friendly_name) == (CF1, AC_A, "room1")
    assert (got.create_time, got.start_time, got.end_time) == (T0, T0 + timedelta(seconds=5),
                                                               T0 + timedelta(seconds=100))
    assert (got.duration_seconds, got.connect_duration_seconds) == (100, 95)
    assert got.status == ConferenceInstance.ConferenceStatus.COMPLETED
    assert got.processing_state == ConferenceInstance.ProcessingState.COMPLETE
    assert (got.max_concurrent_participants, got.unique_participants) == (3, 3)
    assert got.end_reason == ConferenceInstance.ConferenceEndReason.PARTICIPANT_WITH_END_CONFERENCE_ON_EXIT_LEFT
    assert got.ended_by == _sid("CA", 1)
    assert got.recording_enabled is True
    assert got.mixer_region == "us1" and got.mixer_region_requested is None
    for name in wi.NO_SOURCE:
        assert getattr(got, name) is None
    assert got.url == f"{api.base}/v1/Conferences/{CF1}"
    assert got.links == {"conference_participants": f"{api.base}/v1/Conferences/{CF1}/Participants"}
    live = client.insights.v1.conferences(CF2).fetch()
    assert (live.status, live.processing_state, live.end_time, live.duration_seconds) == (
        "not_started", "in_progress", None, None)
    assert (live.max_concurrent_participants, live.recording_enabled, live.end_reason) == (1, False, None)


def test_list_paging_and_filters_through_the_sdk(api):
    _seed(api.store, api.tmp)
    client = _client(api)
    assert [c.conference_sid for c in client.insights.v1.conferences.list(page_size=1)] == [CF2, CF1]
    assert [c.conference_sid for c in client.insights.v1.conferences.list(status="completed")] == [CF1]
    assert [c.conference_sid for c in client.insights.v1.conferences.list(status="in_progress")] == []
    assert [c.conference_sid for c in client.insights.v1.conferences.list(
        end_reason="participant_with_end_conference_on_exit_left")] == [CF1]
    assert [c.conference_sid for c in client.insights.v1.conferences.list(
        created_after=(T0 + timedelta(seconds=150)).isoformat())] == [CF2]
    assert [c.conference_sid for c in client.insights.v1.conferences.list(conference_sid=CF1)] == [CF1]
    assert client.insights.v1.conferences.list(tags="high_jitter") == []
    assert [c.conference_sid for c in _client(api, AC_B, TOKEN_B).insights.v1.conferences.list()] == [CF3]


def test_unknown_foreign_purged_and_unauthenticated(api):
    _seed(api.store, api.tmp)
    client = _client(api)
    with pytest.raises(TwilioRestException) as exc:
        client.insights.v1.conferences(CF3).fetch()          # another account's
    assert (exc.value.status, exc.value.code) == (404, 20404)
    purge(api.store.engine, T0 + timedelta(seconds=150))     # CF1 past the retention
    with pytest.raises(TwilioRestException) as exc:
        client.insights.v1.conferences(CF1).fetch()
    assert (exc.value.status, exc.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as exc:
        _client(api, AC_A, "wrong").insights.v1.conferences(_sid("CF", 2)).fetch()
    assert (exc.value.status, exc.value.code) == (401, 20003)
    r = requests.get(f"{api.base}/v1/Conferences", params={"CreatedAfter": "yesterday"}, auth=(AC_A, TOKEN_A),
                     timeout=10)
    assert r.status_code == 400 and r.json()["code"] == 21201


def test_participant_summaries_through_the_sdk(api):
    from twilio.rest.insights.v1.conference.conference_participant import ConferenceParticipantInstance
    _seed(api.store, api.tmp)
    client = _client(api)
    conf = client.insights.v1.conferences(CF1)
    model = [k.lstrip("_") for k in vars(ConferenceParticipantInstance(client.insights.v1, {}, CF1))
             if k not in ("_version", "_solution", "_context")]
    assert list(wi.PARTICIPANT_SUMMARY_FIELDS) == model
    raw = requests.get(f"{api.base}/v1/Conferences/{CF1}/Participants/{_sid('CA', 1)}", auth=(AC_A, TOKEN_A),
                       timeout=10).json()
    assert list(raw) == model
    listed = conf.conference_participants.list(page_size=2)
    assert [p.call_sid for p in listed] == [_sid("CA", n) for n in (1, 2, 4, 3)]
    alice = conf.conference_participants(_sid("CA", 1)).fetch()
    assert (alice.participant_sid, alice.conference_sid, alice.account_sid) == (_sid("CA", 1), CF1, AC_A)
    assert (alice._from, alice.call_status, alice.is_moderator, alice.is_coach) == (
        "+1555001", "completed", True, False)
    assert (alice.join_time, alice.leave_time, alice.duration_seconds) == (T0, T0 + timedelta(seconds=100), 100)
    assert (alice.processing_state, alice.conference_region) == ("complete", "us1")
    for name in wi.PARTICIPANT_NO_SOURCE:
        assert getattr(alice, name) is None
    bob = conf.conference_participants(_sid("CA", 2)).fetch()
    assert (bob.join_time, bob.leave_time, bob.duration_seconds) == (
        T0 + timedelta(seconds=5), T0 + timedelta(seconds=20), 15)
    live = client.insights.v1.conferences(CF2).conference_participants(_sid("CA", 5)).fetch()
    assert (live.call_status, live.leave_time, live.processing_state) == ("answered", None, "in_progress")
    assert [p.call_sid for p in conf.conference_participants.list(participant_sid=_sid("CA", 4))] == [_sid("CA", 4)]
    assert conf.conference_participants.list(events="mute") == []
    for cf, ca in ((CF1, _sid("CA", 9)), (CF3, _sid("CA", 6))):   # unknown participant; another account's room
        with pytest.raises(TwilioRestException) as exc:
            client.insights.v1.conferences(cf).conference_participants(ca).fetch()
        assert (exc.value.status, exc.value.code) == (404, 20404)


def test_participant_properties_and_events(api):
    """``properties`` from the participant row; ``events`` (Unix ms) from the mute / hold events the bridge
    kept (fsbridge.store.participant_events, written by Store.record with its event); the Events list filter."""
    _seed(api.store, api.tmp)
    alice, bob = _sid("CA", 1), _sid("CA", 2)
    for seq, name, at, who in ((20, ev.PARTICIPANT_MUTE, 30, alice), (21, ev.PARTICIPANT_UNMUTE, 40, alice),
                               (22, ev.PARTICIPANT_MUTE, 50, alice), (23, ev.PARTICIPANT_HOLD, 12, bob),
                               (24, ev.CONFERENCE_START, 13, None)):
        assert api.store.record(ev.make(
            name, account_sid=AC_A, conference_sid=CF1, friendly_name="room1", sequence_number=seq,
            timestamp=T0 + timedelta(seconds=at),
            participant=ev.ParticipantView(call_sid=who) if who else None))
    assert api.store.record(ev.make(   # the same event again: kept once
        ev.PARTICIPANT_MUTE, account_sid=AC_A, conference_sid=CF1, friendly_name="room1", sequence_number=20,
        timestamp=T0 + timedelta(seconds=30), participant=ev.ParticipantView(call_sid=alice))) is False
    conf = _client(api).insights.v1.conferences(CF1)
    got = conf.conference_participants(alice).fetch()
    ms = int(T0.timestamp() * 1000)
    assert got.events == {"mute": [ms + 30000, ms + 50000], "unmute": [ms + 40000]}
    assert got.properties == {"start_conference_on_enter": True, "end_conference_on_exit": False,
                              "beep_on_enter": True, "beep_on_exit": True}
    assert conf.conference_participants(bob).fetch().events == {"hold": [ms + 12000]}
    assert conf.conference_participants(_sid("CA", 4)).fetch().events is None
    assert [p.call_sid for p in conf.conference_participants.list(events="hold")] == [bob]
    assert sorted(p.call_sid for p in conf.conference_participants.list(events="mute hold")) == [alice, bob]
    assert sorted(p.call_sid for p in conf.conference_participants.list(events="mute,hold", page_size=1)) == [
        alice, bob]   # the SDK follows next_page_url
    assert conf.conference_participants.list(events="unhold") == []
