"""The REST write path (issue 21, #16 goal 3) on the fake FreeSWITCH (real TCP) and in the domain:

* a REST mute whose FreeSWITCH reply is slow no longer holds the domain lock: an engine event that arrives
  meanwhile is applied and its callback delivered at once;
* an unmute of the same member sent while that mute is unconfirmed is sent after it (order per member) and is
  not taken for a no-op: both participant-mute and participant-unmute callbacks come (before, the unmute was
  decided against the unconfirmed state — "already unmuted" — and got no callback at 200 req/s);
* the domain: Muted/Hold asked before the previous change was confirmed give commands, repeats do not.
"""
from __future__ import annotations

import gevent
import gevent.event

from fsbridge.conference import commands as C
from fsbridge.conference.testing import Harness
from fsbridge.runtime.writes import CommandOrder
from fakes import FakeFreeSwitch
from test_recovery_freeswitch import App, bridge, rest, two_callers


def test_a_slow_engine_reply_holds_up_neither_events_nor_the_order_of_one_members_writes(tmp_path):
    fake, app = FakeFreeSwitch().start(), App()
    engine, server = bridge(tmp_path, fake, app)
    try:
        (first, second), conf = two_callers(fake, engine, app)
        sids = [first.variables["fsbridge_call_sid"], second.variables["fsbridge_call_sid"]]
        m1, m2 = fake.find(first.uid), fake.find(second.uid)
        release = gevent.event.Event()

        def slow_mute(cmd):   # FreeSWITCH busy: the reply to this mute comes late
            release.wait(10)
            return fake._conference([conf, "mute", str(m1.id)])
        fake.api_replies["conference %s mute %d" % (conf, m1.id)] = slow_mute
        path = "Conferences/%s/Participants/%s.json"
        mute = gevent.spawn(rest, server, path % (conf, sids[0]), Muted="true")
        fake.wait_command("api conference %s mute %d" % (conf, m1.id))
        unmute = gevent.spawn(rest, server, path % (conf, sids[0]), Muted="false")
        fake._conference([conf, "mute", str(m2.id)])          # muted on FreeSWITCH meanwhile
        app.wait(lambda n: n[-1:] == ["participant-mute"], timeout=3)
        assert app.status.items[-1]["CallSid"] == sids[1] and not release.is_set()
        unmute_cmd = "api conference %s unmute %d" % (conf, m1.id)
        assert unmute_cmd not in fake.commands                  # behind the mute of the same member
        release.set()
        assert mute.get(timeout=10).status_code == 200 and unmute.get(timeout=10).status_code == 200
        app.wait(lambda n: n[-2:] == ["participant-mute", "participant-unmute"])
        assert [c["CallSid"] for c in app.status.items[-2:]] == [sids[0], sids[0]]
        sent = [c for c in fake.commands if c.endswith(" %d" % m1.id) and c.startswith("api conference %s " % conf)]
        assert sent[-2:] == ["api conference %s mute %d" % (conf, m1.id), unmute_cmd]
        assert m1.speak
    finally:
        server.stop()
        app.http.stop()
        fake.stop()


def test_an_update_asked_before_the_previous_one_was_confirmed_is_not_a_no_op():
    h = Harness()
    h.join("CAone", "Room")
    h.join("CAtwo", "Room")
    sid = h.sid_of("Room")
    for change, on, off in ((h.state.set_muted, C.MuteMember, C.UnmuteMember),
                            (h.state.set_hold, C.HoldMember, C.UnholdMember)):
        first = change(h.account_sid, sid, "CAone", True)
        second = change(h.account_sid, sid, "CAone", False)      # the first not confirmed yet
        assert [type(c) for c in first.commands + second.commands] == [on, off]
        names = [e.name for e in h.run(first) + h.run(second)]
        assert len(names) == 2 and names[0] != names[1]           # e.g. participant-mute, participant-unmute
        assert not change(h.account_sid, sid, "CAone", False).commands   # a repeat of what is so: nothing


def test_command_order_is_per_target():
    order = CommandOrder()
    a1 = order.enter([C.MuteMember(room="r", member_id=1)])
    b = order.enter([C.MuteMember(room="r", member_id=2)])
    a2 = order.enter([C.UnmuteMember(room="r", member_id=1)])
    done = []
    g = gevent.spawn(lambda: (a2.wait(5), done.append("a2")))
    b.wait(0)                 # another member: not behind a1
    gevent.sleep(0)
    assert done == []         # the same member: behind a1
    a1.done()
    g.join(5)
    assert done == ["a2"]
    a2.done()
    b.done()
    assert len(order) == 0
