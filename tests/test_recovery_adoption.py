"""Adopted calls continue their application (issue 15), on the fake FreeSWITCH (real TCP): three callers join
a room under ``<Dial>``s the app varies — A: ``action`` + ``hangupOnStar``; B: no action, a ``timeLimit`` and a
verb after the Dial; C: ``action``. The bridge drains (calls stay in the room); a new bridge on the same
database adopts them, and then, as the first bridge would have:

* A presses ``*`` (DTMF on the inbound stream): the new bridge takes A out of the room, requests the Dial
  action with DialCallStatus=completed and — once A is back on the outbound socket (the dialplan's next
  ``socket``) — runs the action's answer there;
* B's timeLimit ran out while no bridge was up (measured from B's original join): B is taken out at once and
  continues with the verb after its Dial;
* C hangs up: the action is requested with CallStatus=completed (its answer ignored).
"""
from __future__ import annotations

from flask import Flask, Response, request

from fsbridge.local import CallbackLog, HttpApp
from fakes import FakeCall, FakeFreeSwitch
from test_recovery_freeswitch import AC, UID, bridge

DOCS = [
    '<Response><Dial action="/after" hangupOnStar="true"><Conference statusCallback="/cb" '
    'statusCallbackEvent="join leave">Desk</Conference></Dial></Response>',
    '<Response><Dial timeLimit="60"><Conference>Desk</Conference></Dial><Pause length="2"/></Response>',
    '<Response><Dial action="/after"><Conference>Desk</Conference></Dial></Response>',
]


class App:
    """/voice answers DOCS in turn; /after (the Dial action) answers a Pause then Hangup."""

    def __init__(self):
        self.status, self.after, self.voice = CallbackLog(), CallbackLog(), CallbackLog()
        app = Flask("adoption-app")

        @app.route("/<path:name>", methods=["POST"])
        def route(name):
            form = request.form.to_dict()
            if name == "cb":
                self.status.add(form)
                return Response("", status=204)
            if name == "after":
                self.after.add(form)
                return Response('<Response><Pause length="1"/><Hangup/></Response>', mimetype="text/xml")
            self.voice.add(form)
            return Response(DOCS[len(self.voice.items) - 1], mimetype="text/xml")

        self.http = HttpApp(app).start()


def reenter(fake, engine, call, member_id):
    """The dialplan's next ``socket`` action: the same channel (its variables) arrives on ``engine``'s listener."""
    variables = [("variable_" + k, v) for k, v in call.variables.items()]
    return FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=call.uid,
                    variables=variables + [("variable_conference_member_id", str(member_id))]).start()


def test_adopted_calls_run_their_dial_action_time_limit_and_next_verbs(tmp_path):
    fake, app = FakeFreeSwitch().start(), App()
    engine, server = bridge(tmp_path, fake, app)
    calls = []
    for i in (1, 2, 3):
        calls.append(FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=UID % i).start())
        assert fake.wait_for(lambda: fake.find(UID % i) is not None, 10)
    a, b, c = calls
    sids = [x.variables["fsbridge_call_sid"] for x in calls]
    conf = fake.find(a.uid).room
    store = server.bridge.store
    assert all(store.continuation(sid) is not None for sid in sids)
    server.stop()                                        # drain: calls stay in the room
    assert all(x.closed.wait(5) for x in calls) and not any(x.hung_up for x in calls)
    late = store.continuation(sids[1])
    late["started"] -= 100                               # B joined 100 s ago: its 60 s timeLimit ran out
    store.keep_continuation(sids[1], AC, late)
    for x, sid in zip(calls, sids):
        fake.api_replies["uuid_getvar %s fsbridge_call_sid" % x.uid] = sid
    ids = {x.uid: fake.find(x.uid).id for x in calls}
    engine2, server2 = bridge(tmp_path, fake, app)
    try:
        # B: the timeLimit counted from the original join is over: out at once, then its next verb
        fake.wait_command("api conference %s hup %d" % (conf, ids[b.uid]), timeout=5)
        rb = reenter(fake, engine2, b, ids[b.uid])
        rb.wait_command("silence_stream://2000")
        assert rb.closed.wait(5) and rb.hung_up        # the document ended: hung up
        assert not app.after.items
        # A presses * (seen on the inbound stream only): hangupOnStar → out, the action, its answer on the socket
        fake.broadcast(a.event("DTMF", "", (("DTMF-Digit", "*"), ("DTMF-Duration", "1600"))))
        fake.wait_command("api conference %s hup %d" % (conf, ids[a.uid]), timeout=5)
        assert app.after.wait_for(lambda items: len(items) == 1, 10)
        first = app.after.items[0]
        assert (first["CallSid"], first["DialCallStatus"], first["CallStatus"]) == (sids[0], "completed",
                                                                                    "in-progress")
        ra = reenter(fake, engine2, a, ids[a.uid])
        ra.wait_command("silence_stream://1000")
        assert ra.closed.wait(5) and ra.hung_up
        # C hangs up while adopted: the action is requested, the call is not run again
        c.hangup("NORMAL_CLEARING")
        assert app.after.wait_for(lambda items: len(items) == 2, 10)
        assert (app.after.items[1]["CallSid"], app.after.items[1]["CallStatus"]) == (sids[2], "completed")
        assert server2.bridge.wait_calls(10)
        assert all(store.continuation(sid) is None for sid in sids)
        assert app.status.wait_for(lambda items: len(items) >= 6, 10)   # the last leave's POST may still be on its way
        names = [x["StatusCallbackEvent"] for x in app.status.items]   # the room's callbacks: A's config
        assert names == ["participant-join"] * 3 + ["participant-leave"] * 3
        assert [x["CallSid"] for x in app.status.items[3:]] == [sids[1], sids[0], sids[2]]
    finally:
        server2.stop()
        app.http.stop()
        fake.stop()


def test_a_reentry_without_a_kept_continuation_is_hung_up(tmp_path):
    """No continuation (the call was adopted from a bridge that kept none): when it comes back it is hung up
    rather than having its application run a second time from the start."""
    fake, app = FakeFreeSwitch().start(), App()
    engine, server = bridge(tmp_path, fake, app)
    try:
        call = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid=UID % 7,
                        variables=[("variable_fsbridge_call_sid", "CA" + "7" * 32),
                                   ("variable_conference_member_id", "12")]).start()
        assert call.closed.wait(5) and call.hung_up
        assert not app.voice.items
    finally:
        server.stop()
        app.http.stop()
        fake.stop()


def test_every_verb_of_the_markup_fixtures_survives_the_continuation_round_trip():
    """A continuation keeps verbs as ``dump_verb`` (JSON); ``verb_from_json`` gives back the same frozen verb,
    for every verb the good markup fixtures of the three dialects parse to (hooks, tuples, nested nouns,
    jambonz listen); a tag naming anything but a markup class is refused."""
    import json
    from pathlib import Path
    import pytest
    from fsbridge.markup import parse
    from fsbridge.runtime.adoption import dump_verb, verb_from_json
    root = Path(__file__).parent / "fixtures" / "markup" / "good"
    seen = set()
    for path in sorted(root.glob("*/*")):
        if path.name.endswith(".expected.json"):
            continue
        for verb in parse(path.read_bytes(), path.parent.name).verbs:
            assert verb_from_json(json.loads(json.dumps(dump_verb(verb)))) == verb, (path.name, verb)
            seen.add(type(verb).__name__)
    assert {"Dial", "Conference", "Play", "Say", "Pause", "Redirect", "Hangup"} <= seen
    with pytest.raises(ValueError):
        verb_from_json({"verb": "conference", "name": "x", "listen": {"__dataclass__": "os.system"}})
