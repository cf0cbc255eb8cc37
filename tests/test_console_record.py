"""The console's Start recording button (issue 19: start/pause/stop recording): POST
/console/conferences/<CF>/record goes through ConferenceControl.start_recording — the same domain intent as
record-from-start — answers the new RecordingSid, and the recording then shows in the REST API and the page."""
from __future__ import annotations

import pytest
import requests

from console_rig import AC, OTHER, OTHER_TOKEN, TOKEN, App, get, meeting, start


@pytest.fixture
def server(tmp_path):
    app = App()
    srv = start(tmp_path, app, clock="10")
    yield srv
    srv.stop()
    app.http.stop()


def record(server, sid, auth=(AC, TOKEN)):
    return requests.post(f"{server.base_url}/console/conferences/{sid}/record", auth=auth,
                         headers={"X-FSBridge-Console": "1"}, timeout=10)


def test_start_recording_from_the_console(server, tmp_path):
    _, _, sid = meeting(server, tmp_path)
    assert record(server, sid, auth=(OTHER, OTHER_TOKEN)).status_code == 404     # another account's room
    assert server.bridge.state.conference(sid).recording_sids == ()
    r = record(server, sid)
    assert r.status_code == 200, r.text
    rec = r.json()["recording_sid"]
    assert rec.startswith("RE") and server.bridge.state.conference(sid).recording_sids == (rec,)
    rest = get(server, f"/2010-04-01/Accounts/{AC}/Conferences/{sid}/Recordings/{rec}.json")
    assert rest.status_code == 200 and rest.json()["status"] == "in-progress"
    again = record(server, sid)                                  # one recording at a time: 21220 as the domain says
    assert again.status_code == 409 and again.json()["code"] == 21220
    assert rec in get(server, f"/console/conferences/{sid}").text
