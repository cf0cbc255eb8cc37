"""TeXML and jambonz app fidelity (issue 17), end to end: ``fsbridge serve`` in this process (standalone
engine, port 0) with a real app server. Sources: ../shared/seeds/telnyx-texml-conference.txt (the expected
callbacks: conference-end carries the participant's CallSid, CallSidLegacy, From, To)."""
from __future__ import annotations

from flask import Response

from e2e_support import AC, SPEED, TOKEN, place, texml_bridge
from fsbridge.config import Number
from fsbridge.local import start_bridge

TNUM = "+15550004000"


def test_texml_conference_start_and_end_carry_the_participant_call(app_server, tmp_path):
    """conference-start carries the call whose join started the conference; conference-end the call that
    left last (the seed's ``end`` example: CallSid = CallSidLegacy, From, To of a participant)."""
    srv = texml_bridge(tmp_path, app_server, TNUM, ' beep="false"')
    try:
        # TimeLimits in engine seconds (SPEED 10: 4 s / 1 s of wall time): t2 joins and leaves while t1 stays,
        # with seconds of slack for a loaded machine (6 / 3 failed 1 of 5 under 4 busy loops)
        t1 = place(srv, "+15557770001", "silence:", to=TNUM, TimeLimit="40")
        app_server.wait_event("participant-join")
        t2 = place(srv, "+15557770002", "silence:", to=TNUM, TimeLimit="10")
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
    srv = start_bridge(str(tmp_path / "sp"), accounts={AC: TOKEN}, clock=SPEED, media_dirs=(str(tmp_path),),
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
            # talks for 20 s of engine time (2 s of wall time at SPEED 10): the quiet caller's join — which
            # starts the conference — must land while the talker still talks, even on a loaded machine
            talkers[to] = talker = place(srv, "talker", tone_track(tmp_path / f"t{to}.wav", 24, [(0, 20)], 1300),
                                         to=to, TimeLimit="24")
            assert srv.bridge.wait_until(lambda: any(e.name == "participant-join" and e.participant.call_sid
                                                     == talker for e in srv.bridge.events), 20)
            place(srv, "quiet", "silence:", to=to, TimeLimit="24")
        assert app_server.callbacks.wait_for(lambda items: sum(
            (c["form"].get("StatusCallbackEvent") or (c["json"] or {}).get("event")) in ("conference-end", "end")
            for c in items) == 3, 40)
        assert srv.dispatcher.wait_idle(10)
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


def test_jambonz_payloads_as_jambonz_feature_server_sends_them(app_server, tmp_path):
    """statusHook: ``start`` (before the starter's ``join``) and ``end`` carry the starter's / the ending
    caller's CallInfo (call_sid, from, to, call_id, sip_status, sip_reason, call_status); the actionHook body is
    the CallInfo alone; an answered call that completed still reports sip_status 200 (jambonz-feature-server
    lib/tasks/conference.js ``_notifyConferenceEvent`` / ``performAction``, lib/session/call-info.js)."""
    import json
    jnum = "+15550003000"
    srv = start_bridge(str(tmp_path / "jb"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(jnum, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        js = lambda doc: Response(json.dumps(doc), mimetype="application/json")   # noqa: E731
        app_server.routes["/jvoice"] = lambda body: js([{
            "verb": "conference", "name": "jroom", "beep": False, "statusHook": "/cb-j", "actionHook": "/jaction",
            "statusEvents": ["start", "end", "join", "leave"],
            "endConferenceOnExit": body["from"] == "boss"}])
        app_server.routes["/jaction"] = lambda body: js([{"verb": "hangup"}])
        guest = place(srv, "guest", "silence:", to=jnum, TimeLimit="30")
        assert srv.bridge.wait_until(lambda: any(e.name == "participant-join" for e in srv.bridge.events), 20)
        boss = place(srv, "boss", "silence:", to=jnum, TimeLimit="2")
        assert srv.bridge.wait_call(boss, 20) and srv.bridge.wait_call(guest, 20)
        assert app_server.callbacks.wait_for(lambda items: any((c["json"] or {}).get("event") == "end"
                                                               for c in items), 20)
        assert srv.dispatcher.wait_idle(10)
    finally:
        srv.stop()
    hooks = [c["json"] for c in app_server.callbacks.items if c["path"] == "/cb-j"]
    assert [(h["event"], h["call_sid"]) for h in hooks] == [
        ("join", guest), ("start", boss), ("join", boss), ("leave", boss), ("leave", guest), ("end", boss)]
    start, end = hooks[1], hooks[-1]
    assert list(start)[4:] == ["conference_sid", "friendly_name", "call_sid", "from", "to", "call_id",
                               "sip_status", "sip_reason", "call_status", "account_sid"]
    assert (start["from"], start["to"], start["sip_status"], start["sip_reason"]) == ("boss", jnum, 200, "OK")
    assert (end["from"], end["to"], end["call_id"]) == ("boss", jnum, boss)
    assert end["call_status"] in ("in-progress", "completed") and end["sip_status"] == 200
    actions = [r["json"] for r in app_server.requests.items if r["path"] == "/jaction"]
    assert {a["call_sid"] for a in actions} == {boss, guest}
    for a in actions:
        assert set(a) == {"call_sid", "account_sid", "direction", "from", "to", "caller_name", "call_status",
                          "sip_status", "sip_reason", "call_id"}
        assert a["sip_status"] == 200 and a["sip_reason"] == "OK"


def test_jambonz_end_conference_duration_ends_the_conference_that_long_after_the_leave(app_server, tmp_path):
    """endConferenceDuration: the conference ends that many seconds (engine time) after its
    endConferenceOnExit member left, the others staying until then (jambonz sets FreeSWITCH's
    endconference_grace_time); the end's reason is still the endConferenceOnExit member's."""
    import json
    jnum = "+15550003000"
    srv = start_bridge(str(tmp_path / "jb"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(jnum, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        app_server.routes["/jvoice"] = lambda body: Response(json.dumps([{
            "verb": "conference", "name": "graceful", "beep": False, "statusHook": "/cb-j",
            "statusEvents": ["start", "end", "join", "leave"], "endConferenceOnExit": body["from"] == "boss",
            "endConferenceDuration": 3}]), mimetype="application/json")
        guest = place(srv, "guest", "silence:", to=jnum, TimeLimit="30")
        assert srv.bridge.wait_until(lambda: any(e.name == "participant-join" for e in srv.bridge.events), 20)
        boss = place(srv, "boss", "silence:", to=jnum, TimeLimit="2")
        assert srv.bridge.wait_until(lambda: any(e.name == "conference-end" for e in srv.bridge.events), 30)
        events = list(srv.bridge.events)
    finally:
        srv.stop()
    left = {e.participant.call_sid: e.timestamp for e in events if e.name == "participant-leave"}
    end = next(e for e in events if e.name == "conference-end")
    grace = (end.timestamp - left[boss]).total_seconds()
    assert 2.9 <= grace <= 3.3, grace
    assert left[guest] >= left[boss] + (end.timestamp - left[boss]) * 0.9   # the guest stayed for the grace
    assert end.reason_conference_ended == "participant-with-end-conference-on-exit-left"
    assert end.call_sid_ending_conference == boss


def test_fsbridge_call_app_url_keeps_the_numbers_dialect(app_server, tmp_path, capsys):
    """``fsbridge call --to <jambonz number> --app-url URL`` runs URL as jambonz (JSON call payload, JSON
    verbs), not as TwiML (issue 17 item 13). Through the CLI's ``run`` against a served bridge."""
    import argparse
    import json

    from fsbridge.runtime import callcli
    jnum = "+15550003000"
    srv = start_bridge(str(tmp_path / "cli"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(jnum, AC, app_server.url + "/not-this", dialect="jambonz")])
    try:
        app_server.routes["/other-app"] = lambda body: Response(json.dumps([{"verb": "say", "text": "json ok"}]),
                                                                mimetype="application/json")
        parser = argparse.ArgumentParser()
        callcli.add_arguments(parser)
        args = parser.parse_args(["--to", jnum, "--from", "cli", "--url", srv.base_url, "--account", AC,
                                  "--token", TOKEN, "--app-url", app_server.url + "/other-app", "--wait",
                                  "--timeout", "30"])
        assert callcli.run(args) == 0
        sid = capsys.readouterr().out.split()[0]
        steps = " | ".join(srv.bridge.registry.get(sid).steps)
    finally:
        srv.stop()
    (req,) = [r for r in app_server.requests.items if r["path"] == "/other-app"]
    assert req["json"]["call_sid"] == sid and req["json"]["to"] == jnum       # jambonz's JSON call payload
    assert "say 'json ok'" in steps
    assert not [r for r in app_server.requests.items if r["path"] == "/not-this"]


def test_jambonz_distribute_dtmf_sends_a_members_digits_to_the_others(app_server, tmp_path):
    """distributeDtmf: the digits a member presses reach every other member (the standalone engine's
    conference dtmf: the other callers receive them), not the presser; without it nobody gets them."""
    import json
    jnum = "+15550003000"
    srv = start_bridge(str(tmp_path / "dtmf"), accounts={AC: TOKEN}, clock=SPEED,
                       numbers=[Number(jnum, AC, app_server.url + "/jvoice", dialect="jambonz")])
    try:
        app_server.routes["/jvoice"] = lambda body: Response(json.dumps([{
            "verb": "conference", "name": "keys", "beep": False,
            "distributeDtmf": body["from"] != "plain"}]), mimetype="application/json")
        # engine seconds (SPEED 10): the digits 2 s of wall time after the answers, the calls 3 s — all three
        # must be in the room by then (0.2 s / 0.4 s, i.e. Dtmf 5@2 with TimeLimit 4, left no slack under load)
        presser = place(srv, "presser", "silence:", to=jnum, Dtmf="5@20,9#@25", TimeLimit="30")
        other = place(srv, "other", "silence:", to=jnum, TimeLimit="30")
        plain = place(srv, "plain", "silence:", to=jnum, Dtmf="7@20", TimeLimit="30")
        legs = {sid: srv.bridge.registry.get(sid).leg for sid in (presser, other, plain)}
        assert srv.bridge.wait_until(lambda: len("".join(legs[other].received_dtmf)) >= 3, 20)
        assert all(srv.bridge.wait_call(sid, 20) for sid in legs)
    finally:
        srv.stop()
    assert "".join(legs[other].received_dtmf) == "59#"
    assert "".join(legs[plain].received_dtmf) == "59#" and legs[presser].received_dtmf == []
