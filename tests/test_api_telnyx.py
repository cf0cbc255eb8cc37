"""Telnyx TeXML REST routes (/v2/texml/Accounts/{account_sid}/Conferences…): Bearer auth, Telnyx field names,
list / fetch / update conferences, list / fetch / update / delete / create participants, Telnyx errors."""
import requests

from fixtures.api.harness import AC_A, AC_B, TELNYX_KEY_A, TOKEN_A, api  # noqa: F401 - fixture

H = {"Authorization": f"Bearer {TELNYX_KEY_A}"}
CONFERENCE_FIELDS = {"account_sid", "api_version", "call_sid_ending_conference", "date_created", "date_updated",
                     "friendly_name", "reason_conference_ended", "region", "sid", "status", "subresource_uris",
                     "uri"}
PARTICIPANT_FIELDS = {"account_sid", "api_version", "call_sid", "call_sid_legacy", "coaching", "coaching_call_sid",
                      "coaching_call_sid_legacy", "conference_sid", "date_created", "date_updated",
                      "end_conference_on_exit", "hold", "muted", "status", "uri"}


def url(api, tail=""):
    return f"{api.base}/v2/texml/Accounts/{AC_A}/Conferences{tail}"


def telnyx_err(r, status, code):
    assert r.status_code == status, r.text
    (e,) = r.json()["errors"]
    assert e["code"] == code and e["title"] and e["detail"]


def test_conferences(api):
    s = api.seed(recording=False)
    for suffix in ("", ".json"):
        body = requests.get(url(api, suffix), headers=H).json()
        assert [c["sid"] for c in body["conferences"]] == [s["cf"]]
        assert {"page", "page_size", "start", "end", "first_page_uri", "next_page_uri", "uri"} <= set(body)
    c = requests.get(url(api, f"/{s['cf']}"), headers=H).json()
    assert set(c) == CONFERENCE_FIELDS and c["status"] == "in-progress" and c["friendly_name"] == "room"
    assert c["subresource_uris"]["participants"].startswith(f"/v2/texml/Accounts/{AC_A}/Conferences/")
    r = requests.post(url(api, f"/{s['cf']}"), headers=H, data={"AnnounceUrl": "https://e.x/hello.mp3"})
    assert r.status_code == 200 and api.control.calls[-1][0] == "announce"
    r = requests.post(url(api, f"/{s['cf']}"), headers=H, data={"Status": "completed"})
    assert (r.json()["status"], r.json()["reason_conference_ended"]) == ("completed", "conference-ended-via-api")


def test_participants(api):
    s = api.seed(recording=False)
    base = url(api, f"/{s['cf']}/Participants")
    listed = requests.get(base, headers=H).json()["participants"]
    assert [p["call_sid"] for p in listed] == [s["alice"], s["bob"]]
    assert all(set(p) == PARTICIPANT_FIELDS for p in listed)
    p = requests.get(base + "/alice", headers=H).json()
    assert (p["call_sid"], p["call_sid_legacy"], p["status"]) == (s["alice"], s["alice"], "connected")
    p = requests.post(base + "/alice", headers=H, data={"Muted": "true", "Hold": "true"}).json()
    assert p["muted"] is True and p["hold"] is True
    p = requests.post(base + f"/{s['bob']}.json", headers=H,
                      data={"Coaching": "true", "CallSidToCoach": s["alice"]}).json()
    assert p["coaching"] is True and p["coaching_call_sid"] == s["alice"]
    assert requests.get(base + "?Muted=true", headers=H).json()["participants"][0]["call_sid"] == s["alice"]
    assert requests.delete(base + "/alice", headers=H).status_code == 204
    assert requests.get(base + "/alice", headers=H).json()["status"] == "completed"
    telnyx_err(requests.post(base + "/alice", headers=H, data={"Muted": "false"}), 409, "90018")
    r = requests.post(base, headers=H, data={"From": "+1555", "To": "+1666", "Label": "eve"})
    assert r.status_code == 201 and set(r.json()) == PARTICIPANT_FIELDS
    assert requests.get(base + "/eve", headers=H).json()["call_sid"] == r.json()["call_sid"]


def test_telnyx_auth_and_errors(api):
    s = api.seed(recording=False)
    telnyx_err(requests.get(url(api)), 401, "10009")
    telnyx_err(requests.get(url(api), headers={"Authorization": "Bearer nope"}), 401, "10009")
    telnyx_err(requests.get(url(api), auth=(AC_A, TOKEN_A)), 401, "10009")  # Basic is Twilio's, not Telnyx's
    other = f"{api.base}/v2/texml/Accounts/{AC_B}/Conferences"
    telnyx_err(requests.get(other, headers=H), 404, "10005")
    telnyx_err(requests.get(url(api, "/CF" + "0" * 32), headers=H), 404, "10005")
    telnyx_err(requests.get(url(api, f"/{s['cf']}/Participants/nobody"), headers=H), 404, "10005")
    telnyx_err(requests.post(url(api, f"/{s['cf']}/Participants/alice"), headers=H, data={"Muted": "perhaps"}),
               400, "10015")


def test_recordings(api):
    s = api.seed()
    body = requests.get(url(api, f"/{s['cf']}/Recordings.json"), headers=H).json()
    (rec,) = body["recordings"]
    assert (rec["sid"], rec["status"], rec["conference_sid"], rec["source"]) == (s["re"], "processing", s["cf"],
                                                                             "Conference")
    wav = requests.get(api.base + rec["media_url"], headers=H)
    assert wav.status_code == 200 and wav.content == s["wav"].read_bytes()
    telnyx_err(requests.get(api.base + rec["media_url"]), 401, "10009")
