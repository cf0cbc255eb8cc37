"""The outbound socket's event subscription (issue 21): after ``myevents`` the leg drops, with ``nixevent``,
the channel events it never reads (each ~190 URL-encoded headers), and a call still answers, plays, gets
DTMF, joins and hangs up on the events left. The fake FreeSWITCH keeps subscriptions as mod_event_socket.c
1.10.12 does (FakeCall docstring)."""

import gevent
import gevent.event

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fakes import FakeCall
from fs_support import engine, fake, sink  # noqa: F401 - fixtures

#: the events FreeSwitchCallLeg reads: execute completions, hangup (first and complete), DTMF
READ = {"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF"}


def test_a_call_runs_on_the_channel_events_the_leg_reads_only(engine, fake, sink):
    played, result, digits = gevent.event.AsyncResult(), gevent.event.AsyncResult(), []
    pressed = gevent.event.Event()

    def on_call(leg):
        leg.on_dtmf(lambda d: (digits.append(d), pressed.set()))
        leg.answer()
        played.set(leg.play(["silence_stream://500"]))
        pressed.wait(5)
        result.set(leg.join(c.JoinMember("CFEV", leg.unique_id, "CAEV")))
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    assert played.get(timeout=5) is True
    setup = [r for r in call.received if r.split(" ")[0] in ("myevents", "nixevent", "event", "linger")]
    assert [r.split(" ")[0] for r in setup] == ["myevents", "nixevent", "event", "linger"]
    assert call.subscribed == READ
    call.dtmf("5")
    assert pressed.wait(5) and digits == ["5"]
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFEV")
    assert add.unique_id == call.uid
    call.hangup()
    assert result.get(timeout=5) == "hangup"
    assert sink.wait(lambda e: e.action == n.CHANNEL_HANGUP_COMPLETE).unique_id == call.uid
    assert call.closed.wait(5) and call.received[-1] == "exit"
    # what FreeSWITCH would have sent besides (CHANNEL_EXECUTE per execute, ANSWER, STATE …) never left it
    assert set(call.delivered) == READ


def test_the_fake_keeps_subscriptions_like_mod_event_socket(fake):
    """nixevent after myevents removes only the named types; event plain adds; nixevent without names fails."""
    call = FakeCall(fake, "127.0.0.1", 1)
    assert call._subscribe("myevents") == "+OK Events Enabled" and "CHANNEL_STATE" in call.subscribed
    assert call._subscribe("nixevent CHANNEL_STATE CHANNEL_EXECUTE") == "+OK events nixed"
    assert "CHANNEL_STATE" not in call.subscribed and "CHANNEL_EXECUTE_COMPLETE" in call.subscribed
    assert call._subscribe("nixevent") == "-ERR no keywords supplied"
    call._subscribe("event plain CHANNEL_STATE CUSTOM conference::maintenance")
    assert "CHANNEL_STATE" in call.subscribed and "CUSTOM" not in call.subscribed
    call.send = lambda raw: None
    call.emit("CHANNEL_EXECUTE")
    call.emit("CHANNEL_STATE")
    assert call.delivered == {"CHANNEL_STATE": 1}
