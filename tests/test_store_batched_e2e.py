"""Invariant (a) of the shared group commit (fsbridge/store/batch.py) end to end, on the in-process bridge: when a
statusCallback arrives at the app, the store rows it describes are already committed — another process reading
the database file sees them — and the REST GET the app makes right away answers them (Twilio apps do exactly
this). And (b): a REST write's answer, and a GET right after it, show the write."""
import sqlite3
import time

import gevent.event
from flask import Response

from e2e_support import place, rest

CALLERS = ("A", "B", "C")


def test_callback_arrives_after_its_rows_are_committed_and_a_rest_get_sees_them(app_server, bridge_server):
    db_file = bridge_server.settings.database_url[len("sqlite:///"):]
    seen = []
    arrived = gevent.event.Event()

    def count(name):
        return sum(1 for s in seen if s["name"] == name)

    def wait_for(name, n, timeout=30.0):
        """Until ``n`` probes of callback ``name`` ran (event-driven, bounded)."""
        deadline = time.monotonic() + timeout
        while count(name) < n and time.monotonic() < deadline:
            arrived.clear()
            arrived.wait(max(0.0, deadline - time.monotonic()))
        return count(name) >= n

    def probe(form):   # runs while the bridge's POST waits for the answer
        call, conf, name = form["CallSid"], form["ConferenceSid"], form["StatusCallbackEvent"]
        raw = sqlite3.connect(db_file, timeout=10)   # not the bridge's engine (no read hook): what is committed
        try:
            row = raw.execute("SELECT status, muted FROM fsb_participants WHERE conference_sid = ? AND call_sid = ?",
                              (conf, call)).fetchone()
        finally:
            raw.close()
        got = rest(bridge_server, f"Conferences/{conf}/Participants/{call}.json", method="GET")
        seen.append(dict(name=name, call=call, conf=conf, row=row, code=got.status_code,
                         muted=got.json().get("muted") if got.status_code == 200 else None))
        arrived.set()
        return Response("", status=204)

    app_server.routes["/probe"] = probe
    app_server.twiml = lambda form: ('<Response><Dial><Conference beep="false" statusCallback="/probe" '
                                     'statusCallbackEvent="join mute">Batch</Conference></Dial></Response>')
    calls = [place(bridge_server, who, "silence:") for who in CALLERS]
    assert wait_for("participant-join", len(CALLERS))
    joins = [s for s in seen if s["name"] == "participant-join"]
    assert {s["call"] for s in joins} == set(calls)
    for s in joins:
        assert s["row"] == ("connected", 0), s     # committed before the POST left
        assert s["code"] == 200 and s["muted"] is False, s
    conf = joins[0]["conf"]
    for call in calls:
        path = f"Conferences/{conf}/Participants/{call}.json"
        reply = rest(bridge_server, path, {"Muted": "true"})
        assert reply.status_code == 200 and reply.json()["muted"] is True, reply.text
        again = rest(bridge_server, path, method="GET")
        assert again.status_code == 200 and again.json()["muted"] is True, again.text
    assert wait_for("participant-mute", len(CALLERS))
    for s in (s for s in seen if s["name"] == "participant-mute"):
        assert s["row"] == ("connected", 1), s
        assert s["code"] == 200 and s["muted"] is True, s
