"""Raw HTTP against the REST API: authentication, account isolation, parameter validation, unknown Sids and
labels, impossible transitions, engine outage — each answered as Twilio does ({code, message, more_info,
status})."""
import pytest
import requests

from fixtures.api.harness import AC_A, AC_B, TOKEN_A, TOKEN_B, api  # noqa: F401 - fixture
from fixtures.api.fake_control import dial

ROOT_A = f"/2010-04-01/Accounts/{AC_A}"


def err(r, status, code):
    """Assert a Twilio-shaped error."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    return body


def get(api, path, auth=(AC_A, TOKEN_A), **kw):
    return requests.get(api.base + path, auth=auth, **kw)


def post(api, path, data, auth=(AC_A, TOKEN_A)):
    return requests.post(api.base + path, data=data, auth=auth)


@pytest.mark.parametrize("auth", [None, (AC_A, "wrong"), (AC_B, TOKEN_A), ("ACnobody", "x"), (AC_A, "")])
def test_bad_credentials_are_401_20003(api, auth):
    r = get(api, f"{ROOT_A}/Conferences.json", auth=auth)
    err(r, 401, 20003)
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_bearer_is_not_accepted_on_twilio_routes(api):
    r = requests.get(api.base + f"{ROOT_A}/Conferences.json", headers={"Authorization": "Bearer " + TOKEN_A})
    err(r, 401, 20003)


def test_accounts_cannot_see_each_other(api):
    s = api.seed()
    cf = s["cf"]
    # B's valid credentials on A's paths: as if nothing existed
    for path in (f"{ROOT_A}/Conferences.json", f"{ROOT_A}/Conferences/{cf}.json",
                 f"{ROOT_A}/Conferences/{cf}/Participants/alice.json",
                 f"{ROOT_A}/Conferences/{cf}/Recordings/{s['re']}.wav"):
        err(get(api, path, auth=(AC_B, TOKEN_B)), 404, 20404)
    err(post(api, f"{ROOT_A}/Conferences/{cf}/Participants/alice.json", {"Muted": "true"},
             auth=(AC_B, TOKEN_B)), 404, 20404)
    # B's own namespace does not contain A's conference either
    root_b = f"/2010-04-01/Accounts/{AC_B}"
    assert get(api, f"{root_b}/Conferences.json", auth=(AC_B, TOKEN_B)).json()["conferences"] == []
    err(get(api, f"{root_b}/Conferences/{cf}.json", auth=(AC_B, TOKEN_B)), 404, 20404)
    err(post(api, f"{root_b}/Conferences/{cf}/Participants/alice.json", {"Muted": "true"},
             auth=(AC_B, TOKEN_B)), 404, 20404)
    assert api.control.calls == []


def test_unknown_sids_and_labels_are_20404(api):
    s = api.seed()
    cf = s["cf"]
    other_cf = api.seed(name="other", recording=False)["cf"]
    missing_cf = "CF" + "9" * 32
    for path in (f"{ROOT_A}/Conferences/{missing_cf}.json",
                 f"{ROOT_A}/Conferences/{missing_cf}/Participants.json",
                 f"{ROOT_A}/Conferences/{missing_cf}/Recordings.json",
                 f"{ROOT_A}/Conferences/{cf}/Participants/nobody.json",
                 f"{ROOT_A}/Conferences/{cf}/Participants/{'CA' + '9' * 32}.json",
                 f"{ROOT_A}/Conferences/{cf}/Recordings/{'RE' + '9' * 32}.json",
                 f"{ROOT_A}/Conferences/{cf}/Recordings/{'RE' + '9' * 32}.wav",
                 f"{ROOT_A}/Conferences/{other_cf}/Recordings/{s['re']}.json",  # another conference's
                 f"{ROOT_A}/Conferences/{other_cf}/Recordings/{s['re']}.wav",
                 f"{ROOT_A}/Conferences/{missing_cf}/Recordings/{s['re']}.json",
                 f"{ROOT_A}/NoSuchThing.json"):
        body = err(get(api, path), 404, 20404)
        assert path.split("?")[0] in body["message"]
    err(post(api, f"{ROOT_A}/Conferences/{cf}/Participants/nobody.json", {"Hold": "true"}), 404, 20404)
    err(requests.delete(api.base + f"{ROOT_A}/Conferences/{cf}/Participants/nobody.json",
                        auth=(AC_A, TOKEN_A)), 404, 20404)
    err(post(api, f"{ROOT_A}/Conferences/{missing_cf}.json", {"Status": "completed"}), 404, 20404)
    assert api.control.calls == []


@pytest.mark.parametrize("data,code", [
    ({"Muted": "maybe"}, 21201),
    ({"Hold": "1"}, 21201),
    ({"HoldUrl": "not a url"}, 21205),
    ({"AnnounceUrl": "ftp://x/y"}, 21205),
    ({"HoldUrl": "http:///hold.xml"}, 21205),  # no host
    ({"HoldMethod": "PUT", "Hold": "true"}, 21201),
    ({"CallSidToCoach": "CA123"}, 21201),
    ({"Coaching": "true"}, 21201),
    ({"BeepOnExit": "yes"}, 21201),
])
def test_bad_participant_update_parameters(api, data, code):
    s = api.seed(recording=False)
    err(post(api, f"{ROOT_A}/Conferences/{s['cf']}/Participants/alice.json", data), 400, code)
    assert api.control.calls == []


@pytest.mark.parametrize("data,code", [
    ({"From": "+1"}, 21201),
    ({"To": "+1"}, 21213),
    ({"From": "+1", "To": "+2", "Beep": "loud"}, 21201),
    ({"From": "+1", "To": "+2", "Timeout": "abc"}, 21201),
    ({"From": "+1", "To": "+2", "Timeout": "1"}, 21201),
    ({"From": "+1", "To": "+2", "StatusCallbackEvent": "initiated bogus"}, 21201),
    ({"From": "+1", "To": "+2", "ConferenceStatusCallback": "nope"}, 21205),
    ({"From": "+1", "To": "+2", "ConferenceStatusCallback": "https://h.example:notaport/cb"}, 21205),
    ({"From": "+1", "To": "+2", "JitterBufferSize": "huge"}, 21201),
    ({"From": "+1", "To": "+2", "Byoc": "BYxyz"}, 21201),
])
def test_bad_create_participant_parameters(api, data, code):
    s = api.seed(recording=False)
    err(post(api, f"{ROOT_A}/Conferences/{s['cf']}/Participants.json", data), 400, code)
    assert api.control.calls == []


@pytest.mark.parametrize("query", ["PageSize=0", "PageSize=1001", "Page=-1", "PageSize=x", "PageToken=garbage",
                                   "Status=running", "DateCreated=yesterday", "DateUpdated<=2020-13-01"])
def test_bad_list_parameters(api, query):
    err(get(api, f"{ROOT_A}/Conferences.json?{query}"), 400, 21201)


def test_bad_conference_and_recording_updates(api):
    s = api.seed()
    cf, re_sid = s["cf"], s["re"]
    err(post(api, f"{ROOT_A}/Conferences/{cf}.json", {"Status": "in-progress"}), 400, 21201)
    err(post(api, f"{ROOT_A}/Conferences/{cf}.json", {"AnnounceUrl": "x"}), 400, 21205)
    err(post(api, f"{ROOT_A}/Conferences/{cf}.json", {"AnnounceUrl": "https://e.x/a", "AnnounceMethod": "PUT"}),
        400, 21201)
    err(post(api, f"{ROOT_A}/Conferences/{cf}/Recordings/{re_sid}.json", {}), 400, 21201)
    err(post(api, f"{ROOT_A}/Conferences/{cf}/Recordings/{re_sid}.json", {"Status": "completed"}), 400, 21201)
    err(post(api, f"{ROOT_A}/Conferences/{cf}/Recordings/{re_sid}.json",
             {"Status": "paused", "PauseBehavior": "shrug"}), 400, 21201)
    err(requests.delete(api.base + f"{ROOT_A}/Conferences/{cf}/Recordings/{re_sid}.json", auth=(AC_A, TOKEN_A)),
        409, 21220)
    assert api.control.calls == []


def test_impossible_transitions_are_409_never_silent(api):
    s = api.seed(recording=False)
    cf = s["cf"]
    assert requests.delete(api.base + f"{ROOT_A}/Conferences/{cf}/Participants/alice.json",
                           auth=(AC_A, TOKEN_A)).status_code == 204
    for data in ({"Hold": "true"}, {"Muted": "true"}, {"AnnounceUrl": "https://e.x/a.mp3"}):
        err(post(api, f"{ROOT_A}/Conferences/{cf}/Participants/alice.json", data), 409, 21220)
    assert post(api, f"{ROOT_A}/Conferences/{cf}.json", {"Status": "completed"}).json()["status"] == "completed"
    err(post(api, f"{ROOT_A}/Conferences/{cf}.json", {"Status": "completed"}), 409, 21220)
    err(post(api, f"{ROOT_A}/Conferences/{cf}.json", {"AnnounceUrl": "https://e.x/a.mp3"}), 409, 21220)
    err(post(api, f"{ROOT_A}/Conferences/{cf}/Participants.json", {"From": "+1", "To": "+2"}), 409, 21220)


def test_empty_update_returns_the_resource_without_acting(api):
    s = api.seed(recording=False)
    r = post(api, f"{ROOT_A}/Conferences/{s['cf']}/Participants/alice.json", {"HoldMethod": "GET"})
    assert r.status_code == 200 and r.json()["call_sid"] == s["alice"]
    assert api.control.calls == []


def test_engine_unavailable_is_503(api):
    s = api.seed(recording=False)
    api.control.available = False
    err(post(api, f"{ROOT_A}/Conferences/{s['cf']}/Participants/alice.json", {"Muted": "true"}), 503, 20503)
    err(post(api, f"{ROOT_A}/Conferences/{s['cf']}.json", {"Status": "completed"}), 503, 20503)
    # reads still work
    assert get(api, f"{ROOT_A}/Conferences/{s['cf']}.json").json()["status"] == "in-progress"


def test_errors_the_control_raises_while_running(api):
    """An engine lost mid-call → 503, an engine failure → 500 / 20500, a bug → 500 / 20500 Twilio JSON with a
    fixed text (fsbridge.api.limits)."""
    from fsbridge.engines.base import EngineError, EngineUnavailable
    s = api.seed(recording=False)
    path = f"{ROOT_A}/Conferences/{s['cf']}/Participants/alice.json"
    for raised, status, code in ((EngineUnavailable("ESL lost"), 503, 20503), (EngineError("-ERR"), 500, 20500)):
        def fail(*_a, exc=raised, **_k):
            raise exc
        api.control.update_participant = fail
        # the engine's own text (addresses, ESL replies) stays in the log, not in the API error (#14)
        assert str(raised) not in err(post(api, path, {"Muted": "true"}), status, code)["message"]

    def bug(*_a, **_k):
        raise KeyError("oops")
    api.control.update_participant = bug
    r = post(api, path, {"Muted": "true"})
    assert err(r, 500, 20500)["message"] == "Internal error" and "oops" not in r.text   # JSON, never HTML


def test_method_not_allowed(api):
    r = requests.put(api.base + f"{ROOT_A}/Conferences.json", auth=(AC_A, TOKEN_A))
    err(r, 405, 20004)


def test_label_with_spaces_and_recording_audio(api):
    s = api.seed()
    api.control.add_participant(AC_A, s["cf"], "+1", "+2", dial(s["cf"], participant_label="front desk"))
    r = get(api, f"{ROOT_A}/Conferences/{s['cf']}/Participants/front%20desk.json")
    assert r.status_code == 200 and r.json()["label"] == "front desk"
    wav = get(api, f"{ROOT_A}/Conferences/{s['cf']}/Recordings/{s['re']}.wav")
    assert wav.status_code == 200 and wav.headers["Content-Type"] == "audio/x-wav"
    assert wav.content == s["wav"].read_bytes()


def test_paging_envelope(api):
    for i in range(3):
        api.seed(name=f"r{i}", recording=False)
    r = get(api, f"{ROOT_A}/Conferences.json?PageSize=2&Status=in-progress").json()
    assert (r["page"], r["page_size"], r["start"], r["end"], len(r["conferences"])) == (0, 2, 0, 1, 2)
    assert r["previous_page_uri"] is None
    assert r["first_page_uri"] == f"{ROOT_A}/Conferences.json?Status=in-progress&PageSize=2&Page=0"
    assert "PageToken=PA" in r["next_page_uri"] and "Status=in-progress" in r["next_page_uri"]
    r2 = get(api, r["next_page_uri"]).json()
    assert (r2["page"], r2["start"], r2["end"], len(r2["conferences"])) == (1, 2, 2, 1)
    assert r2["next_page_uri"] is None and r2["previous_page_uri"].endswith("PageSize=2&Page=0")
    seen = [c["sid"] for c in r["conferences"] + r2["conferences"]]
    assert len(set(seen)) == 3
    r3 = get(api, f"{ROOT_A}/Conferences.json?PageSize=2&Page=1").json()  # offset form
    assert [c["sid"] for c in r3["conferences"]] == seen[2:]


def test_base_url_path_prefixes_routes_and_sdk_paging_still_works(tmp_path):
    from fsbridge.api import create_app, serve
    from fsbridge.store import Store
    from fsbridge.store.db import make_engine
    from fixtures.api.fake_control import FakeControl
    from fixtures.api.harness import Api
    store = Store(make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}"))
    store.create_all()
    control = FakeControl(store)
    app = create_app(store, control, {AC_A: TOKEN_A}, base_url="https://bridge.example/fsb/")
    server = serve(app, "127.0.0.1", 0)
    try:
        host = f"http://127.0.0.1:{server.server_port}"
        api = Api(base=host + "/fsb", store=store, control=control, tmp=tmp_path)
        sids = {api.seed(name=f"p{i}", recording=False)["cf"] for i in range(3)}
        assert requests.get(host + f"{ROOT_A}/Conferences.json", auth=(AC_A, TOKEN_A)).status_code == 404
        page = requests.get(host + f"/fsb{ROOT_A}/Conferences.json?PageSize=1", auth=(AC_A, TOKEN_A)).json()
        assert page["uri"].startswith(ROOT_A) and page["conferences"][0]["uri"].startswith(ROOT_A)
        assert {c.sid for c in api.client().conferences.list(page_size=1)} == sids
    finally:
        server.stop()


def test_create_participant_unknown_conference_and_queued_placeholder(api):
    s = api.seed(recording=False)
    err(post(api, f"{ROOT_A}/Conferences/{'CF' + '9' * 32}/Participants.json", {"From": "+1", "To": "+2"}),
        404, 20404)
    # a dial-out that has not joined yet: Twilio answers 201 with a queued participant
    api.control.add_participant = lambda *a, **k: "CA" + "7" * 32
    r = post(api, f"{ROOT_A}/Conferences/{s['cf']}/Participants.json",
             {"From": "+1555", "To": "+1666", "Label": "later", "Muted": "true"})
    assert r.status_code == 201
    body = r.json()
    assert (body["call_sid"], body["status"], body["label"], body["muted"], body["conference_sid"]) == (
        "CA" + "7" * 32, "queued", "later", True, s["cf"])
    assert body["queue_time"] == "0" and body["uri"].endswith(f"/Participants/{'CA' + '7' * 32}.json")
