"""TeXML and jambonz app fidelity (issue 17), end to end: ``fsbridge serve`` in this process (standalone
engine, port 0) with a real app server. Sources: ../shared/seeds/telnyx-texml-conference.txt (the expected
callbacks: conference-end carries the participant's CallSid, CallSidLegacy, From, To)."""
from __future__ import annotations

from flask import Response

from e2e_support import AC, SPEED, TOKEN, place
from fsbridge.config import Number
from fsbridge.local import start_bridge

TNUM = "+15550004000"


def test_texml_conference_start_and_end_carry_the_participant_call(app_server, tmp_path):
    """conference-start carries the call whose join started the conference; conference-end the call that
    left last (the seed's ``end`` example: CallSid = CallSidLegacy, From, To of a participant)."""
    srv = start_bridge(str(tmp_path / "tx"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(TNUM, AC, app_server.url + "/tvoice", dialect="texml")])
    try:
        app_server.routes["/tvoice"] = lambda form: Response(
            '<Response><Dial><Conference statusCallback="/cb-t" statusCallbackEvent="start end join leave" '
            'beep="false">t-room</Conference></Dial></Response>', mimetype="text/xml")
        t1 = place(srv, "+15557770001", "silence:", to=TNUM, TimeLimit="6")
        app_server.wait_event("participant-join")
        t2 = place(srv, "+15557770002", "silence:", to=TNUM, TimeLimit="3")
        assert srv.bridge.wait_call(t1, 30) and srv.bridge.wait_call(t2, 30)
        assert app_server.callbacks.wait_for(
            lambda items: any(c["form"].get("StatusCallbackEvent") == "conference-end" for c in items), 20)
    finally:
        srv.stop()
    cbs = {c["form"]["StatusCallbackEvent"]: c["form"] for c in app_server.callbacks.items if c["path"] == "/cb-t"}
    start, end = cbs["conference-start"], cbs["conference-end"]
    assert (start["CallSid"], start["CallSidLegacy"], start["From"], start["To"]) == (t2, t2, "+15557770002", TNUM)
    assert (end["CallSid"], end["CallSidLegacy"], end["From"], end["To"]) == (t1, t1, "+15557770001", TNUM)
    assert list(end) == ["AccountSid", "CallSid", "CallSidLegacy", "ConferenceSid", "FriendlyName", "From",
                         "SequenceNumber", "StatusCallbackEvent", "Timestamp", "To"]
