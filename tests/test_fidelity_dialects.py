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


def test_speech_under_way_at_the_start_is_reported_right_after_conference_start(app_server, tmp_path):
    """A waiting member who talks through the conference start gets its speech-start right after
    conference-start (and its speech-stop later), in all three dialects; a silent member gets none."""
    import json

    from e2e_support import NUMBER, tone_track
    jnum = "+15550003000"
    srv = start_bridge(str(tmp_path / "sp"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice"),
                                Number(TNUM, AC, app_server.url + "/tvoice", dialect="texml"),
                                Number(jnum, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        def twiml(room, hook):
            return lambda form: Response(
                f'<Response><Dial><Conference statusCallback="{hook}" beep="false" statusCallbackEvent='
                f'"start end join leave speaker">{room}</Conference></Dial></Response>', mimetype="text/xml")
        app_server.twiml = lambda form: twiml("tw-room", "/cb-tw")(form).get_data(as_text=True)
        app_server.routes["/tvoice"] = twiml("tx-room", "/cb-tx")
        app_server.routes["/jvoice"] = lambda body: Response(json.dumps([{
            "verb": "conference", "name": "jb-room", "beep": False, "statusHook": "/cb-jb",
            "statusEvents": ["start", "end", "join", "leave", "start-talking", "end-talking"]}]),
            mimetype="application/json")
        talkers = {}
        for to in (NUMBER, TNUM, jnum):
            talkers[to] = talker = place(srv, "talker", tone_track(tmp_path / f"t{to}.wav", 6, [(0, 4)], 1300), to=to,
                           TimeLimit="6")
            assert srv.bridge.wait_until(lambda: any(e.name == "participant-join" and e.participant.call_sid
                                                     == talker for e in srv.bridge.events), 20)
            place(srv, "quiet", "silence:", to=to, TimeLimit="6")
        assert app_server.callbacks.wait_for(lambda items: sum(
            (c["form"].get("StatusCallbackEvent") or (c["json"] or {}).get("event")) in ("conference-end", "end")
            for c in items) == 3, 40)
        srv.dispatcher.wait_idle(10)
    finally:
        srv.stop()

    def names(path):
        out = []
        for c in app_server.callbacks.items:
            if c["path"] == path:
                body = c["json"] or c["form"]
                sid = body.get("CallSid") or body.get("call_sid")
                who = "talker" if sid in talkers.values() else ("quiet" if sid else None)
                out.append((body.get("StatusCallbackEvent") or body.get("event"), who))
        return out
    for path, start, speech, stop in (("/cb-tw", "conference-start", "participant-speech-start",
                                       "participant-speech-stop"),
                                      ("/cb-tx", "conference-start", "participant-speech-start",
                                       "participant-speech-stop"),
                                      ("/cb-jb", "start", "start-talking", "stop-talking")):
        got = names(path)
        i = [n for n, _ in got].index(start)
        assert got[i + 1] == (speech, "talker"), (path, got)
        assert (stop, "talker") in got[i + 2:] and all(who != "quiet" for n, who in got if n == speech)
