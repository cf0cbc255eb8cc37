"""The wait gate across a SIGKILLed bridge on a live FreeSWITCH (marker ``freeswitch``; skipped unless
FSBRIDGE_TEST_ESL is set), issue 15. The gate's state lives in the bridge process:

* killed after conference-start but before the gate's ``undeaf``/``unmute`` ran (the window the lead's runs
  hit: callbacks leave ~1 ms after the event) — made certain here by closing the gate again over ESL after
  the kill (``deaf`` + ``mute``: exactly what FreeSWITCH keeps, json_list ``can_hear``/``can_speak`` false,
  ``hold`` false): the next bridge opens it — both callers mixed, no participant-mute callback;
* killed while the conference waits (Alice joined with startConferenceOnEnter="false"): the next bridge
  keeps her waiting (mute+deaf) and mixes her when Bob starts the conference — no participant-mute.

Environment as tests/test_freeswitch_recovery_live.py."""
from __future__ import annotations

import uuid

import pytest

from test_freeswitch_recovery_live import (App, Killed, Serve, caller, esl, members, rest, serve_config, wait_fs,
                                           wait_ready)
from test_freeswitch_live_e2e import kill_legs

pytestmark = pytest.mark.freeswitch


def mixed(m, *names):
    return set(m) == set(names) and all(v["flags"]["can_hear"] and v["flags"]["can_speak"] for v in m.values())


def test_live_bridge_killed_before_the_gate_opened_the_next_bridge_opens_it(tmp_path):
    with Killed(tmp_path, App("live-gate-" + uuid.uuid4().hex[:10])) as k:
        app, conn, cf, sids = k.app, k.conn, k.cf, k.sids
        for v in members(conn, cf).values():      # the gate as the killed bridge left it in the window
            assert conn.api("conference %s mute %d quiet" % (cf, v["id"])).startswith("+OK")
            assert conn.api("conference %s deaf %d" % (cf, v["id"])).startswith("+OK")
        assert wait_fs(conn, cf, lambda m: all(not v["flags"]["can_hear"] and not v["flags"]["can_speak"]
                                               and not v["flags"]["hold"] for v in m.values()))
        before = len(app.callbacks.items)
        second = k.second = Serve(k.cfg)
        assert wait_ready(second.url), "the restarted bridge never got ready"
        assert wait_fs(conn, cf, lambda m: mixed(m, "Alice", "Bob")), members(conn, cf)
        r = rest(second.url, "Conferences/%s/Participants/%s.json" % (cf, sids["Bob"]), Muted="true")
        assert r.status_code == 200, r.text
        app.wait(lambda n: n[before:] == [("participant-mute", "Bob")])   # the REST one only
        assert wait_fs(conn, cf, lambda m: not m["Bob"]["flags"]["can_speak"] and m["Bob"]["flags"]["can_hear"])


def test_live_bridge_killed_while_the_conference_waits_the_next_bridge_starts_it(tmp_path):
    app = App("live-gate-" + uuid.uuid4().hex[:10], waiters=("Alice",))
    conn, cfg, legs, second = esl(), serve_config(tmp_path, app.http.url), [], None
    first = Serve(cfg)
    try:
        legs.append(caller(conn, "Alice"))
        app.wait(lambda n: n == [("participant-join", "Alice")])
        cf = app.callbacks.items[0]["ConferenceSid"]
        assert wait_fs(conn, cf, lambda m: set(m) == {"Alice"} and not m["Alice"]["flags"]["can_hear"])
        first.proc.kill()                          # SIGKILL while Alice waits
        first.proc.communicate(timeout=30)
        second = Serve(cfg)
        assert wait_ready(second.url), "the restarted bridge never got ready"
        flags = members(conn, cf)["Alice"]["flags"]
        assert not flags["can_hear"] and not flags["can_speak"], flags       # still waiting
        legs.append(caller(conn, "Bob"))
        app.wait(lambda n: ("conference-start", None) in n)
        assert wait_fs(conn, cf, lambda m: mixed(m, "Alice", "Bob")), members(conn, cf)
        app.wait(lambda n: n.count(("participant-join", "Bob")) == 1)
        assert [n for n in app.names() if n[0] in ("participant-mute", "participant-unmute")] == []
    finally:
        kill_legs(conn, legs)
        if first.proc.poll() is None:
            first.proc.kill()
        if second is not None:
            second.stop()
        conn.stop()
        app.http.stop()
