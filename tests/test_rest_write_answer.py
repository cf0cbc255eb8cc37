"""A REST participant write answers from the domain (issue 21, #16 goal 3) — and the answer is what the store
holds: after each update of a table (Muted, Hold, EndConferenceOnExit, Coaching/CallSidToCoach, BeepOnExit,
repeats that change nothing, a *Method alone, a label), the write's JSON equals, field by field, a GET of the
same participant right after (the GET reads the store), on the standalone engine and on the fake FreeSWITCH
(real TCP). A write to a connected participant named by CallSid reads no store row; unknown participant /
conference → 404 (20404), bad input → 400, one who left → 409 as before.
"""
from __future__ import annotations

import pytest

from e2e_support import place
from fakes import FakeFreeSwitch
from test_recovery_freeswitch import App, bridge, rest, two_callers


def _updates(a: str, b: str):
    """(who, form) pairs: ``a`` is updated, ``b`` is the participant ``a`` coaches."""
    return [
        (a, {"Muted": "true"}), (a, {"Muted": "true"}), (a, {"Muted": "false"}),
        (a, {"Hold": "true"}), (a, {"Hold": "false"}), (a, {"Hold": "false"}),
        (a, {"EndConferenceOnExit": "true"}), (a, {"EndConferenceOnExit": "false"}),
        (a, {"Coaching": "true", "CallSidToCoach": b}), (a, {"Muted": "true"}), (a, {"Coaching": "false"}),
        (a, {"BeepOnExit": "false"}), (a, {"HoldMethod": "GET"}), (a, {"Muted": "false", "Hold": "true"}),
        (a, {"Hold": "false", "EndConferenceOnExit": "true"}), (b, {"Muted": "true"}),
    ]


class _CountReads:
    """Counts ``store.participant`` calls (the store read a domain answer avoids)."""

    def __init__(self, store, monkeypatch):
        self.n, real = 0, store.participant

        def counted(*args, **kw):
            self.n += 1
            return real(*args, **kw)
        monkeypatch.setattr(store, "participant", counted)


def _check_answers(post, get, conf: str, a: str, b: str, reads: _CountReads) -> None:
    path = "Conferences/%s/Participants/%s.json"
    for who, form in _updates(a, b):
        before = reads.n
        wrote = post(path % (conf, who), form)
        assert wrote.status_code == 200, (form, wrote.text)
        assert reads.n == before, form     # answered from the domain: no store read
        read = get(path % (conf, who))
        assert read.status_code == 200, read.text
        assert wrote.json() == read.json(), form
    for who, form, status, code in (("CA" + "0" * 32, {"Muted": "true"}, 404, 20404),
                                    (a, {"Muted": "maybe"}, 400, None), (a, {"Hold": ""}, None, None)):
        reply = post(path % (conf, who), form)
        assert reply.status_code < 500 and (status is None or reply.status_code == status), reply.text
        if code is not None:
            assert reply.json()["code"] == code
    reply = post(path % ("CF" + "0" * 32, a), {"Muted": "true"})
    assert reply.status_code == 404 and reply.json()["code"] == 20404


def test_standalone_write_answers_equal_the_store(app_server, bridge_server, rest_api, monkeypatch):
    app_server.twiml = lambda form: (
        '<Response><Dial><Conference beep="false" statusCallback="/cb" statusCallbackEvent="start end join '
        'leave mute hold modify">Answers</Conference></Dial></Response>')
    a = place(bridge_server, "A", "silence:")
    b = place(bridge_server, "B", "silence:")
    app_server.wait_event("participant-join", count=2)
    conf = app_server.callbacks.items[-1]["form"]["ConferenceSid"]
    reply = rest_api(f"Conferences/{conf}/Participants.json", {"From": "bridge", "To": "silence:", "Beep": "false"})
    assert reply.status_code == 201, reply.text    # a REST dial-out: its row's date_created is from when queued
    dialed = reply.json()["call_sid"]
    app_server.wait_event("participant-join", count=3)
    reads = _CountReads(bridge_server.store, monkeypatch)
    _check_answers(lambda p, f: rest_api(p, f), lambda p: rest_api(p, method="GET"), conf, a, b, reads)
    _check_answers(lambda p, f: rest_api(p, f), lambda p: rest_api(p, method="GET"), conf, dialed, a, reads)


def test_fake_freeswitch_write_answers_equal_the_store(tmp_path, monkeypatch):
    fake, app = FakeFreeSwitch().start(), App()
    engine, server = bridge(tmp_path, fake, app)
    try:
        (first, second), conf = two_callers(fake, engine, app)
        a, b = first.variables["fsbridge_call_sid"], second.variables["fsbridge_call_sid"]
        reads = _CountReads(server.store, monkeypatch)
        _check_answers(lambda p, f: rest(server, p, **f), lambda p: rest(server, p), conf, a, b, reads)
        first.hangup("NORMAL_CLEARING")
        app.wait(lambda n: n[-1:] == ["participant-leave"])
        reply = rest(server, "Conferences/%s/Participants/%s.json" % (conf, a), Muted="true")
        assert reply.status_code == 409 and reply.json()["code"] == 21220      # left: read from the store
    finally:
        server.stop()
        app.http.stop()
        fake.stop()


@pytest.mark.parametrize("form", [{"Muted": "true"}, {"Hold": "true"}])
def test_a_write_by_label_still_answers_as_the_store(app_server, bridge_server, rest_api, form):
    app_server.twiml = lambda f: (
        '<Response><Dial><Conference beep="false" participantLabel="%s" statusCallback="/cb" '
        'statusCallbackEvent="join">Labels</Conference></Dial></Response>' % f["From"])
    place(bridge_server, "alice", "silence:")
    place(bridge_server, "bob", "silence:")
    app_server.wait_event("participant-join", count=2)
    conf = app_server.callbacks.items[-1]["form"]["ConferenceSid"]
    path = "Conferences/%s/Participants/alice.json" % conf
    wrote = rest_api(path, form)
    assert wrote.status_code == 200, wrote.text
    assert wrote.json() == rest_api(path, method="GET").json()
    assert wrote.json()["label"] == "alice"


def test_another_accounts_participant_is_a_404_and_the_domain_record_is_scoped(tmp_path, app_server):
    import requests
    from e2e_support import AC, NUMBER, SPEED, TOKEN
    from fsbridge.config import Number
    from fsbridge.local import start_bridge
    other, other_token = "AC" + "e" * 32, "f" * 32
    srv = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN, other: other_token},
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")], clock=SPEED, rate=16000,
                       fetch_timeout=2.0)
    try:
        app_server.twiml = lambda form: (
            '<Response><Dial><Conference beep="false" statusCallback="/cb" statusCallbackEvent="join">Scoped'
            '</Conference></Dial></Response>')
        a = place(srv, "A", "silence:")
        place(srv, "B", "silence:")
        app_server.wait_event("participant-join", count=2)
        conf = app_server.callbacks.items[-1]["form"]["ConferenceSid"]
        assert srv.bridge.stored_participant(AC, conf, a).call_sid == a
        assert srv.bridge.stored_participant(other, conf, a) is None
        assert srv.bridge.stored_participant(AC, conf, "A") is None          # a label: the store decides
        url = f"{srv.base_url}/2010-04-01/Accounts/{other}/Conferences/{conf}/Participants/{a}.json"
        reply = requests.post(url, data={"Muted": "true"}, auth=(other, other_token), timeout=10)
        assert reply.status_code == 404 and reply.json()["code"] == 20404, reply.text
        assert not srv.bridge.state.participant(conf, a).muted
    finally:
        srv.stop()
