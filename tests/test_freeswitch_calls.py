"""FreeSwitchEngine against the fake FreeSWITCH: outbound-socket calls (join, refusal, hangup, play, DTMF, call handlers)."""

import gevent
import gevent.event
import gevent.queue
import gevent.socket
import pytest

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.engines.base import EngineError
from fakes import FakeCall
from fakes.esl import reply
from fs_support import SUB, engine, fake, members_of, run_call, sink, started_engine  # noqa: F401 - fixtures


def test_outbound_call_join_sends_the_exact_conference_execute(engine, fake, sink):
    call, result, legbox = run_call(
        engine, fake, lambda leg: c.JoinMember(room="CF1", unique_id=leg.unique_id, call_sid="CA1",
                                               jitter_buffer_ms=60, exit_beep=False))
    conf = call.wait_command("execute-app-name: conference")
    leg = legbox.get(timeout=5)
    assert leg.unique_id == call.uid and leg.from_ == "1000" and leg.to == "7200"
    head, uuid_line = conf.rsplit("\n", 1)
    assert head == ("sendmsg\ncall-command: execute\nexecute-app-name: conference\n"
                    "execute-app-arg: CF1@fsbridge+flags{nomoh}\nevent-lock: true")
    assert uuid_line.startswith("Event-UUID: ")
    sets = [r.split("execute-app-arg: ")[1].split("\n")[0] for r in call.received
            if "execute-app-name: set" in r or "execute-app-name: unset" in r or "execute-app-name: multiset" in r]
    assert sets == ["^^;jitterbuffer_msec=60;hangup_after_conference=false;conference_enter_sound=;"
                    "conference_exit_sound=silence_stream://1;conference_max_members=250;fsbridge_call_sid=CA1"]
    assert call.received[:4][0] == "connect" and "myevents" in call.received
    assert "event plain CUSTOM conference::maintenance" in call.received and "linger" in call.received
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CF1")
    # the variables were set before the conference app ran (the multiset executes first: pipelined in one write)
    assert call.variables["fsbridge_call_sid"] == "CA1" and "conference_enter_sound" not in call.variables
    assert add.unique_id == call.uid
    # REST-style mute → conference <room> mute <id> → mute-member → NativeEvent
    engine.execute(c.MuteMember("CF1", add.member_id))
    assert "api conference CF1 mute %d" % add.member_id in fake.commands
    mute = sink.wait(lambda e: e.action == n.MUTE_MEMBER)
    assert (mute.room, mute.member_id, mute.unique_id) == ("CF1", add.member_id, call.uid)
    # kick: the member leaves, the call continues; join() returns "left"
    engine.execute(c.KickMember("CF1", add.member_id))
    assert result.get(timeout=5) == "left"
    sink.wait(lambda e: e.action == n.DEL_MEMBER)
    assert sink.actions("CF1").index(n.KICK_MEMBER) < sink.actions("CF1").index(n.DEL_MEMBER)
    # the handler hung up: after CHANNEL_HANGUP_COMPLETE the leg sends exit (finding 30: plain linger)
    assert call.closed.wait(5)
    assert "api uuid_kill %s NORMAL_CLEARING" % call.uid in call.received
    assert call.received[-1] == "exit"

def test_join_applies_the_jitter_buffer_to_an_answered_call(engine, fake, sink):
    """Live FreeSWITCH 1.10.12, a SIP desk phone through freeswitch-conf's dialplan (answer, then socket):
    `set jitterbuffer_msec=20` arrived after the answer and FreeSWITCH never logged "Setting Jitterbuffer"
    (switch_core_media.c reads the variable only when RTP starts); `uuid_jitterbuffer <uuid> 60` on the same
    call did ("Setting Jitterbuffer to 60ms (3 frames)"). So the join also runs the jitterbuffer
    application, after the variable and before the conference."""
    call, _, _ = run_call(engine, fake, lambda leg: c.JoinMember("CFJB", leg.unique_id, "CAJB",
                                                                jitter_buffer_ms=20))
    call.wait_command("execute-app-name: conference")
    apps = [(r.split("execute-app-name: ")[1].split("\n")[0], r.split("execute-app-arg: ")[1].split("\n")[0])
            for r in call.received if "execute-app-name: " in r and "execute-app-arg: " in r]
    jb = apps.index(("jitterbuffer", "20"))
    multiset = next(i for i, (app, arg) in enumerate(apps) if app == "multiset" and "jitterbuffer_msec=20;" in arg)
    assert multiset < jb < apps.index(("conference", "CFJB@fsbridge+flags{nomoh}"))
    off, _, _ = run_call(engine, fake, lambda leg: c.JoinMember("CFJB2", leg.unique_id, "CAJB2",
                                                               jitter_buffer_ms=None),
                         uid="33333333-0000-4000-8000-000000000001")
    off.wait_command("execute-app-name: conference")
    assert any("execute-app-name: jitterbuffer\nexecute-app-arg: stop" in r for r in off.received)

class _RefusesJitterbuffer(FakeCall):
    """A FakeCall whose FreeSWITCH answers the ``jitterbuffer`` sendmsg with -ERR (and the others +OK)."""

    def _dispatch(self, cmd: str) -> bool:
        if cmd.startswith("sendmsg") and "execute-app-name: jitterbuffer\n" in cmd:
            self.send(reply("-ERR memory error"))
            return False
        return super()._dispatch(cmd)


def test_a_setup_command_refused_in_the_pipelined_join_hangs_the_call_up(engine, fake, sink):
    """The join's executes go out in one write: when FreeSWITCH refuses an earlier one but accepted the
    ``conference`` execute, that conference would still run with nobody waiting for it — so the join raises
    EngineError and the call is hung up (uuid_kill), leaving no member behind in the room."""
    result = gevent.event.AsyncResult()

    def on_call(leg):
        try:
            leg.answer()
            result.set(leg.join(c.JoinMember("CFERR", leg.unique_id, "CAERR", jitter_buffer_ms=60)))
        except Exception as exc:
            result.set_exception(exc)
    engine.set_call_handler(on_call)
    call = _RefusesJitterbuffer(fake, "127.0.0.1", engine.outbound_port).start()
    with pytest.raises(EngineError, match="jitterbuffer refused"):
        result.get(timeout=5)
    call.wait_command("api uuid_kill %s NORMAL_TEMPORARY_FAILURE" % call.uid)
    assert call.closed.wait(5) and call.hung_up
    assert not fake.rooms.get("CFERR")


def test_join_refused_when_full(engine, fake, sink):
    call, result, _ = run_call(engine, fake, lambda leg: c.JoinMember("CF2", leg.unique_id, "CA2"),
                               session="full", refuse_join=True)
    assert result.get(timeout=5) == "refused"
    ev = sink.wait(lambda e: e.action == n.JOIN_REFUSED)
    assert ev.room == "CF2" and ev.unique_id == call.uid and ("call_sid", "CA2") in ev.extra

def test_max_participants_1_is_set_through_the_api_and_the_second_join_refused(engine, fake, sink):
    """Live FreeSWITCH 1.10.12: ``set conference_max_members=1`` before the join is rejected ("[ERR]
    mod_conference.c:2193 conference_max_members variable 1 is invalid, not setting a limit") and a second
    caller got in. The engine unsets the variable and sends ``conference <room> set max_members 1`` (reply:
    the previous limit) once the room exists."""
    join = lambda leg: c.JoinMember("CFMAX", leg.unique_id, "CA" + leg.unique_id[-4:], max_members=1)  # noqa: E731
    first, first_result, _ = run_call(engine, fake, join, uid="22222222-0000-4000-8000-00000000a001")
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFMAX")
    fake.wait_command("api conference CFMAX set max_members 1")
    assert ";conference_max_members=;" in "".join(r for r in first.received if "execute-app-name: multiset" in r)
    assert not [r for r in first.received if "conference_max_members=1" in r]
    assert "conference_max_members" not in first.variables
    assert fake.log == [] and fake.max_members["CFMAX"] == 1
    second, second_result, _ = run_call(engine, fake, join, uid="22222222-0000-4000-8000-00000000a002", session="full")
    assert second_result.get(timeout=5) == "refused"
    refused = sink.wait(lambda e: e.action == n.JOIN_REFUSED)
    assert refused.room == "CFMAX" and refused.unique_id == second.uid
    assert [e.unique_id for e in sink.events if e.action == n.ADD_MEMBER] == [first.uid]

def test_max_participants_2_and_more_use_the_channel_variable(engine, fake, sink):
    call, _, _ = run_call(engine, fake, lambda leg: c.JoinMember("CFMAX2", leg.unique_id, "CA9", max_members=2))
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFMAX2")
    assert call.variables["conference_max_members"] == "2"
    assert fake.max_members["CFMAX2"] == 2
    assert not [x for x in fake.commands if "set max_members" in x]

def test_caller_hangs_up_in_the_conference(engine, fake, sink):
    call, result, _ = run_call(engine, fake, lambda leg: c.JoinMember("CF3", leg.unique_id, "CA3"))
    sink.wait(lambda e: e.action == n.ADD_MEMBER)
    call.hangup()
    assert result.get(timeout=5) == "hangup"
    hup = sink.wait(lambda e: e.action == n.CHANNEL_HANGUP_COMPLETE)
    assert hup.unique_id == call.uid and hup.hangup_cause == "NORMAL_CLEARING"
    assert call.closed.wait(5) and call.received[-1] == "exit"  # lingering socket closed by us

def test_leg_play_and_dtmf(engine, fake):
    digits, played = [], gevent.event.AsyncResult()
    got = gevent.event.Event()

    def on_call(leg):
        leg.on_dtmf(lambda d: (digits.append(d), got.set()))
        leg.answer()
        played.set(leg.play(["/usr/share/freeswitch/sounds/a.wav", "silence_stream://500"]))
        got.wait(5)
        leg.hangup()
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    assert played.get(timeout=5) is True
    plays = [r for r in call.received if "execute-app-name: playback" in r]
    assert len(plays) == 2 and "execute-app-arg: silence_stream://500" in plays[1]
    call.dtmf("*")
    assert got.wait(5) and digits == ["*"]

def test_a_call_arriving_without_a_call_handler_is_hung_up(engine, fake):
    """A dial-out answered while no call handler is set (the socket is bound by ``outbound_port``) must
    not sit in the outbound socket until the far end gives up: the engine hangs it up."""
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    assert call.wait_command("api uuid_kill %s" % call.uid)
    assert call.closed.wait(5) and call.received[-1] == "exit"

def test_a_blocking_dtmf_callback_does_not_hold_up_the_calls_events(engine, fake):
    """DTMF callbacks run outside the session's serial handler greenlet (DESIGN.md "Known traps"): a
    callback still blocked when the caller hangs up must not delay CHANNEL_HANGUP_COMPLETE."""
    legs, pressed = gevent.queue.Queue(), gevent.event.Event()
    release = gevent.event.Event()

    def on_call(leg):
        leg.on_dtmf(lambda d: (pressed.set(), release.wait(10)))
        legs.put(leg)
        leg.wait_ended(10)
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    leg = legs.get(timeout=5)
    call.dtmf("1")
    assert pressed.wait(5)
    call.hangup()
    try:
        assert leg.wait_ended(3)
    finally:
        release.set()

def test_handler_that_returns_at_once_keeps_the_call_until_it_ends(engine, fake, sink):
    """The runtime's Bridge.on_call spawns the call's session and returns at once."""
    result = gevent.event.AsyncResult()

    def session(leg):
        leg.answer()
        result.set(leg.join(c.JoinMember("CFQ", leg.unique_id, "CAQ")))

    engine.set_call_handler(lambda leg: gevent.spawn(session, leg))
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFQ")
    assert not call.closed.is_set() and "exit" not in call.received
    engine.execute(c.KickMember("CFQ", add.member_id))
    assert result.get(timeout=5) == "left"
    assert not any("uuid_kill" in r for r in call.received)  # the call continues
    call.hangup()  # the caller hangs up later
    assert call.closed.wait(5) and call.received[-1] == "exit"

def test_handler_that_raises_hangs_the_call_up(engine, fake):
    def boom(leg):
        raise RuntimeError("runtime bug")
    engine.set_call_handler(boom)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    call.wait_command("api uuid_kill %s" % call.uid)
    assert call.closed.wait(5) and call.received[-1] == "exit"

def test_composition_root_outbound_server_attaches_to_the_engine(fake, sink):
    """fsbridge/app.py builds ``OutboundServer(host, port, on_call=bridge.on_call, engine=engine)``."""
    from fsbridge.engines.freeswitch import OutboundServer
    with started_engine(fake, sink) as engine:
        assert not engine.outbound.running  # no call handler on the engine: nothing bound yet
        result = gevent.event.AsyncResult()
        server = OutboundServer("127.0.0.1", 0, on_call=lambda leg: result.set(
            leg.join(c.JoinMember("CFF", leg.unique_id, "CAF"))), engine=engine)
        port = server.start()
        assert engine.outbound is server and engine.outbound_port == port
        FakeCall(fake, "127.0.0.1", port, session="full", refuse_join=True).start()
        assert result.get(timeout=5) == "refused"
        sink.wait(lambda e: e.action == n.JOIN_REFUSED and e.room == "CFF")
        server.stop()

def test_socket_gone_mid_join_is_a_hangup(engine, fake):
    result = gevent.event.AsyncResult()
    played = gevent.event.AsyncResult()

    def on_call(leg):
        leg.answer()
        result.set(leg.join(c.JoinMember("CFG", leg.unique_id, "CAG")))
        played.set(leg.play(["/tmp/after.wav"]))
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    call.wait_command("execute-app-name: conference")
    call.sock.shutdown(gevent.socket.SHUT_RDWR)  # FreeSWITCH went away
    assert result.get(timeout=5) == "hangup"
    assert played.get(timeout=5) is False

def test_hangup_while_in_the_conference_is_immediate(engine, fake, sink):
    """The conference execute is event-locked, so hangup must not be a queued sendmsg: uuid_kill."""
    box, result = gevent.event.AsyncResult(), gevent.event.AsyncResult()

    def on_call(leg):
        box.set(leg)
        leg.answer()
        result.set(leg.join(c.JoinMember("CFK", leg.unique_id, "CAK")))
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFK")
    box.get(timeout=5).hangup("CALL_REJECTED")
    assert result.get(timeout=5) == "hangup"
    assert "api uuid_kill %s CALL_REJECTED" % call.uid in call.received
    hup = sink.wait(lambda e: e.action == n.CHANNEL_HANGUP_COMPLETE)
    assert hup.hangup_cause == "CALL_REJECTED"
    assert call.closed.wait(5) and call.received[-1] == "exit"

def test_execute_join_member_runs_on_the_calls_leg(engine, fake, sink):
    box = gevent.event.AsyncResult()

    def on_call(leg):
        leg.answer()
        box.set(leg)
        leg.wait_ended(10)
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port).start()
    leg = box.get(timeout=5)
    engine.execute(c.JoinMember("CFJ", leg.unique_id, "CAJ", muted=True))
    assert "execute-app-arg: CFJ@fsbridge+flags{nomoh|mute}" in call.wait_command("execute-app-name: conference")
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFJ")
    with pytest.raises(EngineError):
        engine.execute(c.JoinMember("CFJ", "no-such-channel", "CAX"))
    call.hangup()
