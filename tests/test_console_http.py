"""The console over plain HTTP (requests): Basic auth like the REST API (none → 401 with a browser prompt,
another account's conference → 404), pages read through the store, actions through ConferenceControl (the
app gets the same participant-mute callback), CSRF header required, the SSE stream, finished conference."""
from __future__ import annotations

import json
import re

import pytest
import requests

from console_rig import AC, OTHER, OTHER_TOKEN, TOKEN, get, meeting, scrape, value
from console_rig import app, server  # noqa: F401  (pytest fixtures)


def post(server, path, auth=(AC, TOKEN), header=True, headers=None, **kw):
    """A console action as the page's script sends it (``header``: with X-FSBridge-Console)."""
    sent = dict(headers or {}, **({"X-FSBridge-Console": "1"} if header else {}))
    return requests.post(server.base_url + path, auth=auth, headers=sent, timeout=10, **kw)


def test_console_needs_credentials_and_scopes_to_the_account(server, app, tmp_path):
    none = get(server, "/console/", auth=None)
    assert none.status_code == 401 and none.headers["WWW-Authenticate"].startswith("Basic ")
    assert get(server, "/console/", auth=(AC, "wrong")).status_code == 401
    assert get(server, "/console/events", auth=None).status_code == 401
    assert get(server, "/console/static/console.js", auth=None).status_code == 200   # no secrets in it
    rec, _, sid = meeting(server, tmp_path)
    page = get(server, "/console/")
    assert page.status_code == 200 and sid in page.text and "OpsRoom" in page.text
    other = get(server, "/console/", auth=(OTHER, OTHER_TOKEN))
    assert other.status_code == 200 and sid not in other.text and "OpsRoom" not in other.text
    for path in (f"/console/conferences/{sid}", f"/console/conferences/{sid}/participants",
                 f"/console/conferences/{sid}/callbacks",
                 f"/console/conferences/{sid}/timeline.json", f"/console/conferences/{sid}/events"):
        assert get(server, path, auth=(OTHER, OTHER_TOKEN)).status_code == 404, path
        assert get(server, path, auth=None).status_code == 401, path
    r = post(server, f"/console/conferences/{sid}/participants/{rec.call_sid}/mute", auth=(OTHER, OTHER_TOKEN))
    assert r.status_code == 404
    assert server.bridge.state.participant(sid, rec.call_sid).muted is False
    assert get(server, "/console/conferences/CF" + "0" * 32).status_code == 404


def test_actions_go_through_conference_control(server, app, tmp_path):
    app.fail = {"participant-mute": [503], "participant-hold": [404]}
    rec, _, sid = meeting(server, tmp_path)
    base = f"/console/conferences/{sid}/participants/{rec.call_sid}"
    assert post(server, base + "/mute", header=False).status_code == 403       # a cross-site form cannot
    assert server.bridge.state.participant(sid, rec.call_sid).muted is False
    r = post(server, base + "/mute")
    assert r.status_code == 200, r.text
    assert app.wait_event("participant-mute", "Ann")
    table = get(server, f"/console/conferences/{sid}/participants").text
    assert 'class="badge muted"' in table and 'data-action="unmute"' in table
    assert post(server, base + "/hold").status_code == 200
    assert server.dispatcher.wait_idle(10)
    log = get(server, f"/console/conferences/{sid}/callbacks").text
    rows = {m[1]: m for m in re.findall(r'<tr class="cb-(\w+)"><td>\d+</td><td>([\w-]+)</td>\s*<td class="url">'
                                        r'[^<]*</td><td>.*?</td>\s*<td>(\d+)</td><td>(\d*)</td>'
                                        r'<td class="error">([^<]*)</td>', log)}
    assert rows["participant-mute"] == ("delivered", "participant-mute", "2", "204", "")   # 503, then 204
    assert rows["participant-hold"] == ("failed", "participant-hold", "1", "404", "HTTP 404")   # not retried
    m = scrape(server)
    assert value(m, "fsbridge_callbacks_total", outcome="failed") == 1
    assert value(m, "fsbridge_callback_retries_total") == 1
    assert value(m, "fsbridge_callback_responses_total", code="503") == 1
    assert value(m, "fsbridge_callback_responses_total", code="404") == 1
    assert post(server, base + "/dance").status_code == 404
    bad = post(server, f"/console/conferences/{sid}/announce", data={"url": "file:/etc/passwd"})
    assert bad.status_code == 400 and bad.json()["code"] == 21205
    assert post(server, f"/console/conferences/{sid}/end").status_code == 200
    assert app.wait_event("conference-end")
    assert post(server, base + "/unmute").status_code == 409   # the REST API's answer for a participant gone


def test_event_stream_and_finished_conference(server, app, tmp_path):
    rec, ben, sid = meeting(server, tmp_path, total_s=60, on_s=1.0, off_s=1.0)
    seen = []
    with requests.get(f"{server.base_url}/console/conferences/{sid}/events", auth=(AC, TOKEN), stream=True,
                      timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                seen.append(json.loads(line[6:])["event"])
            if "participant-speech-start" in seen and seen[-1] == "participant-speech-stop":
                break
    assert seen[0] == "snapshot" and "participant-speech-start" in seen
    server.bridge.end_conference(AC, sid)
    assert app.wait_event("conference-end")
    assert server.dispatcher.wait_idle(10)
    index = get(server, "/console/").text
    assert "Finished conferences" in index and sid in index.split("Finished conferences")[1]
    page = get(server, f"/console/conferences/{sid}")
    assert page.status_code == 200
    assert "participant-join" in page.text and "204" in page.text and "delivered" in page.text
    assert page.text.count('class="participant"') == 2 and "Unmute" not in page.text   # history, no buttons
    tl = get(server, f"/console/conferences/{sid}/timeline.json").json()
    assert sorted(p["label"] for p in tl["participants"]) == ["Ann", "Ben"] and tl["end"] is not None
    names = [e["event"] for e in tl["events"]]
    assert names[0] == "participant-join" and "participant-speech-start" in names and names[-1] == "conference-end"


def test_cross_site_browser_writes_are_refused_everywhere(server, app, tmp_path):
    """A form another site makes a logged-in browser submit (Origin / Sec-Fetch-Site say so) is refused —
    on the REST API as on the console; API clients (no such headers) and the console itself are not."""
    rec, _, sid = meeting(server, tmp_path)
    rest = f"{server.base_url}/2010-04-01/Accounts/{AC}/Conferences/{sid}/Participants/{rec.call_sid}.json"
    console = f"/console/conferences/{sid}/participants/{rec.call_sid}/mute"
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        r = requests.post(rest, data={"Muted": "true"}, auth=(AC, TOKEN), headers=headers, timeout=10)
        assert r.status_code == 403 and r.json()["code"] == 20403, headers
        assert post(server, console, headers=headers).status_code == 403
    assert server.bridge.state.participant(sid, rec.call_sid).muted is False
    host = server.base_url.split("//", 1)[1]
    same = {"Origin": server.base_url, "Sec-Fetch-Site": "same-origin", "Host": host}
    assert post(server, console, headers=same).status_code == 200
    r = requests.post(rest, data={"Muted": "false"}, auth=(AC, TOKEN), timeout=10)     # an SDK / curl
    assert r.status_code == 200 and r.json()["muted"] is False


def test_recording_pause_resume_stop_and_player(server, app, tmp_path):
    app.record = True
    _, _, sid = meeting(server, tmp_path)
    store = server.store
    assert server.bridge.wait_until(lambda: store.list_recordings(AC, sid).items, 10)
    rec = store.list_recordings(AC, sid).items[0].sid
    page = get(server, f"/console/conferences/{sid}").text
    assert f'data-rec="{rec}" data-action="pause"' in page
    path = f"/console/conferences/{sid}/recordings/{rec}"
    assert post(server, path, data={"Status": "paused"}).json()["status"] == "paused"
    assert f'data-rec="{rec}" data-action="resume"' in get(server, f"/console/conferences/{sid}").text
    assert post(server, path, data={"Status": "bogus"}).status_code == 400     # the REST validation
    assert post(server, path, data={"Status": "in-progress"}).json()["status"] == "in-progress"
    assert post(server, path, data={"Status": "stopped"}).status_code == 200
    assert server.bridge.wait_until(lambda: store.recording(AC, sid, rec).status == "completed", 10)
    page = get(server, f"/console/conferences/{sid}").text
    src = re.search(r'<audio controls preload="none" src="([^"]+)"', page).group(1)
    audio = get(server, src)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert post(server, path, data={"Status": "paused"}).status_code == 409    # finished: as the REST API
    assert get(server, src, auth=(OTHER, OTHER_TOKEN)).status_code == 404
