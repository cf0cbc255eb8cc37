"""Call progress (issue 17 item 9) on the standalone engine, driven by the official twilio SDK: Calls.json and
Participants create with StatusCallback / StatusCallbackEvent / StatusCallbackMethod deliver Twilio's call
status callbacks (CallStatus, CallDuration, SequenceNumber from 0, Timestamp, CallbackSource
call-progress-events), signed, through the durable outbox. Source: Twilio Call resource "StatusCallbackEvent"."""
from __future__ import annotations

from twilio.rest import Client

from e2e_support import AC, NUMBER, SPEED, TOKEN, place
from fsbridge.config import Number
from fsbridge.local import start_bridge

ALL = ["initiated", "ringing", "answered", "completed"]


def _client(srv):
    client = Client(AC, TOKEN)
    client.api.base_url = srv.base_url
    return client


def _progress(app_server, path):
    return [c for c in app_server.callbacks.items if c["path"] == path]


def test_calls_create_reports_initiated_ringing_answered_completed(app_server, tmp_path):
    """Calls.json (SDK ``calls.create``): the four events in order, numbered 0..3, signed; ``completed``
    carries CallDuration (the 2 s Pause, engine time); a call subscribing to nothing gets ``completed``
    only (Twilio's default), by GET when StatusCallbackMethod=GET."""
    srv = start_bridge(str(tmp_path / "p"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")])
    try:
        client = _client(srv)
        call = client.calls.create(to="silence:", from_=NUMBER, twiml='<Response><Pause length="2"/></Response>',
                                   status_callback=app_server.url + "/cb-call", status_callback_event=ALL,
                                   status_callback_method="POST")
        quiet = client.calls.create(to="silence:", from_=NUMBER, twiml="<Response><Pause/></Response>",
                                    status_callback=app_server.url + "/cb-quiet", status_callback_method="GET")
        assert srv.bridge.wait_call(call.sid, 30) and srv.bridge.wait_call(quiet.sid, 30)
        assert app_server.callbacks.wait_for(lambda items: sum(c["path"] in ("/cb-call", "/cb-quiet")
                                                               for c in items) == 5, 20)
    finally:
        srv.stop()
    got = _progress(app_server, "/cb-call")
    forms = [c["form"] for c in got]
    assert [f["CallStatus"] for f in forms] == ["initiated", "ringing", "in-progress", "completed"]
    assert [f["SequenceNumber"] for f in forms] == ["0", "1", "2", "3"]
    assert all(c["valid"] for c in got)
    for f in forms:
        assert (f["CallSid"], f["AccountSid"], f["CallbackSource"]) == (call.sid, AC, "call-progress-events")
        assert f["Direction"] == "outbound-api" and f["To"] == "silence:" and f["From"] == NUMBER
        assert f["Timestamp"].endswith("+0000") and f["ApiVersion"] == "2010-04-01"
    assert "CallDuration" not in forms[2] and forms[3]["CallDuration"] == "2"
    (only,) = _progress(app_server, "/cb-quiet")
    assert only["form"] == {} and only["args"]["CallStatus"] == "completed" and only["args"]["CallSid"] == quiet.sid


def test_participants_create_reports_progress_and_a_failed_dial_out(app_server, tmp_path):
    """Participants create (SDK) with StatusCallbackEvent: the dialled callee's initiated → ringing →
    answered → completed; a callee whose audio cannot be opened: initiated, then completed with
    CallStatus failed (never answered)."""
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    srv = start_bridge(str(tmp_path / "pp"), accounts={AC: TOKEN}, clock=SPEED, media_dirs=(str(tmp_path),),
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")])
    app_server.twiml = lambda form: ('<Response><Dial><Conference statusCallback="/cb" statusCallbackEvent='
                                     '"join leave">room</Conference></Dial></Response>')
    try:
        host = place(srv, "host", "silence:", TimeLimit="30")
        app_server.wait_event("participant-join")
        client = _client(srv)
        cf = srv.bridge.events[-1].conference_sid
        p = client.conferences(cf).participants.create(
            from_=NUMBER, to="silence:", status_callback=app_server.url + "/cb-dial",
            status_callback_event=ALL, label="dialled")
        app_server.wait_event("participant-join", label="dialled")
        failed = client.conferences(cf).participants.create(
            from_=NUMBER, to="file:" + str(bad), status_callback=app_server.url + "/cb-bad",
            status_callback_event=ALL)
        assert app_server.callbacks.wait_for(lambda items: any(c["path"] == "/cb-bad" and
                                                               c["form"]["CallStatus"] == "failed"
                                                               for c in items), 20)
        client.conferences(cf).participants(p.call_sid).delete()
        assert srv.bridge.wait_call(p.call_sid, 30)
        assert app_server.callbacks.wait_for(lambda items: sum(c["path"] == "/cb-dial" for c in items) == 4, 20)
        client.calls(host).update(status="completed")
    finally:
        srv.stop()
    dial = [c["form"] for c in _progress(app_server, "/cb-dial")]
    assert [f["CallStatus"] for f in dial] == ["initiated", "ringing", "in-progress", "completed"]
    assert {f["CallSid"] for f in dial} == {p.call_sid} and dial[0]["Direction"] == "outbound-api"
    bad_cbs = [c["form"] for c in _progress(app_server, "/cb-bad")]
    assert [f["CallStatus"] for f in bad_cbs] == ["initiated", "failed"]
    assert bad_cbs[1]["CallSid"] == failed.call_sid and bad_cbs[1]["CallDuration"] == "0"
    assert all(c["valid"] for c in _progress(app_server, "/cb-dial") + _progress(app_server, "/cb-bad"))


def test_calls_create_refuses_bad_progress_parameters(app_server, tmp_path):
    """Hostile call-progress input is a Twilio 400, never a 5xx: a StatusCallback that is no http(s) URL is
    21205, an unknown StatusCallbackEvent word or StatusCallbackMethod 21201; no call is placed."""
    from e2e_support import rest
    srv = start_bridge(str(tmp_path / "bad"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")])
    try:
        base = {"To": "silence:", "From": NUMBER, "Twiml": "<Response/>"}
        cases = [({"StatusCallback": "file:///etc/passwd"}, 21205),
                 ({"StatusCallback": app_server.url + "/cb", "StatusCallbackEvent": "initiated bogus"}, 21201),
                 ({"StatusCallback": app_server.url + "/cb", "StatusCallbackMethod": "PUT"}, 21201)]
        for extra, code in cases:
            r = rest(srv, "Calls.json", {**base, **extra})
            assert r.status_code == 400 and r.json()["code"] == code, (extra, r.text)
        assert srv.bridge.registry.calls() == []
    finally:
        srv.stop()
