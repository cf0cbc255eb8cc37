"""FreeSwitchEngine against the fake FreeSWITCH (real TCP on port 0): commands → API strings → events →
NativeEvents; outbound calls; dial-out; ESL drop → reconnect → resync."""
import time

import gevent
import gevent.event
import gevent.queue
import gevent.socket
import pytest

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch.engine import FreeSwitchEngine, parse_json_list
from fsbridge.engines.freeswitch.transport import FsInboundESL, SUBSCRIPTION
from fakes import FakeCall, FakeFreeSwitch, Sink, fixture

SUB = "event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE DTMF BACKGROUND_JOB CUSTOM conference::maintenance"


@pytest.fixture
def fake():
    f = FakeFreeSwitch().start()
    yield f
    f.stop()


@pytest.fixture
def sink():
    return Sink()


@pytest.fixture
def engine(fake, sink):
    e = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=2,
                         reconnect_backoff=0.01, max_backoff=0.05, talk_stop_ms=0)
    e.set_event_sink(sink)
    e.start()
    assert e.wait_connected(5)
    yield e
    e.stop()


def test_connects_authenticates_and_subscribes_custom_last(engine, fake):
    assert SUBSCRIPTION == SUB
    assert fake.commands[:3] == ["auth ClueCon", SUB, "api conference json_list"]
    assert engine.available


def test_wrong_password_is_engine_unavailable(fake):
    conn = FsInboundESL("127.0.0.1", fake.port, "wrong", timeout=2)
    with pytest.raises(EngineUnavailable):
        conn.connect()


def test_replayed_recorded_events_reach_the_sink(engine, fake, sink):
    count = fake.replay("conference_lifecycle/events_plain.esl.txt")
    assert count > 50
    sink.wait(lambda e: e.action == n.CONFERENCE_DESTROY)
    adds = [(e.member_id, e.room) for e in sink.events if e.action == n.ADD_MEMBER]
    assert adds == [(8, "life"), (9, "life"), (10, "life")]
    assert n.CHANNEL_HANGUP_COMPLETE in sink.actions()


def test_forged_header_event_is_rejected_on_the_wire(engine, fake, sink):
    inner = ("Event-Name: CUSTOM\nEvent-Subclass: conference%3A%3Amaintenance\nConference-Name: CF1\n"
             "Member-ID: 7\nUnique-ID: real-uuid\nCaller-Caller-ID-Name: Bob%0AUnique-ID%3A%20x\n"
             "Event-Date-Timestamp: 1795312372174627\nAction: add-member\n\n").encode()
    fake.broadcast(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner)
    ev = sink.wait(lambda e: e.action == n.ADD_MEMBER)
    assert ev.unique_id == "real-uuid"
    assert dict(ev.extra)["Caller-Caller-ID-Name"] == "Bob\nUnique-ID: x"
    assert engine.unique_id("CF1", 7) == "real-uuid"


def test_unreadable_event_is_dropped_and_the_connection_survives(engine, fake, sink):
    bad = b'{"Event-Name": "CUSTOM", '
    fake.conns[0].send(b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(bad) + bad)
    m, = _members(fake, "CFU", 1)
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.member_id == m.id)
    assert engine.esl.conn.parse_errors == 1 and engine.esl.connections == 1


def run_call(engine, fake, join_cmd_for, **call_kw):
    """Hand a FakeCall to the engine's outbound socket; the handler answers and joins. Returns
    (call, result AsyncResult, leg AsyncResult)."""
    result, legbox = gevent.event.AsyncResult(), gevent.event.AsyncResult()

    def on_call(leg):
        legbox.set(leg)
        try:
            leg.answer()
            result.set(leg.join(join_cmd_for(leg)))
            leg.hangup()  # the runtime hangs up when its markup ends
        except Exception as exc:  # pragma: no cover - surfaced by result.get
            result.set_exception(exc)
    engine.set_call_handler(on_call)
    call = FakeCall(fake, "127.0.0.1", engine.outbound_port, **call_kw).start()
    return call, result, legbox


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
            if "execute-app-name: set" in r or "execute-app-name: unset" in r]
    assert sets == ["jitterbuffer_msec=60", "hangup_after_conference=false", "conference_enter_sound",
                    "conference_exit_sound=silence_stream://1", "conference_max_members=250",
                    "fsbridge_call_sid=CA1"]
    assert call.received[:4][0] == "connect" and "myevents" in call.received
    assert "event plain CUSTOM conference::maintenance" in call.received and "linger" in call.received
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CF1")
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
    assert apps.index(("set", "jitterbuffer_msec=20")) < jb < apps.index(("conference", "CFJB@fsbridge+flags{nomoh}"))
    off, _, _ = run_call(engine, fake, lambda leg: c.JoinMember("CFJB2", leg.unique_id, "CAJB2",
                                                               jitter_buffer_ms=None),
                         uid="33333333-0000-4000-8000-000000000001")
    off.wait_command("execute-app-name: conference")
    assert any("execute-app-name: jitterbuffer\nexecute-app-arg: stop" in r for r in off.received)


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
    assert "execute-app-arg: conference_max_members" in "".join(
        r for r in first.received if "execute-app-name: unset" in r)
    assert not [r for r in first.received if "conference_max_members=1" in r]
    assert fake.log == [] and fake.max_members["CFMAX"] == 1
    second, second_result, _ = run_call(engine, fake, join, uid="22222222-0000-4000-8000-00000000a002", session="full")
    assert second_result.get(timeout=5) == "refused"
    refused = sink.wait(lambda e: e.action == n.JOIN_REFUSED)
    assert refused.room == "CFMAX" and refused.unique_id == second.uid
    assert [e.unique_id for e in sink.events if e.action == n.ADD_MEMBER] == [first.uid]


def test_max_participants_2_and_more_use_the_channel_variable(engine, fake, sink):
    call, _, _ = run_call(engine, fake, lambda leg: c.JoinMember("CFMAX2", leg.unique_id, "CA9", max_members=2))
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFMAX2")
    assert any("execute-app-arg: conference_max_members=2" in r for r in call.received)
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


def _members(fake, room, count):
    return [fake.add_member(room, "uid-%s-%d" % (room, i)) for i in range(count)]


def test_hold_is_hold_plus_deaf_and_reports_only_hold(engine, fake, sink):
    m, = _members(fake, "CFH", 1)
    sink.wait(lambda e: e.action == n.ADD_MEMBER)
    engine.execute(c.HoldMember("CFH", m.id))
    assert fake.commands[-2:] == ["api conference CFH hold %d local_stream://moh" % m.id,
                                  "api conference CFH deaf %d" % m.id]
    sink.wait(lambda e: e.action == n.HOLD_MEMBER)
    engine.execute(c.UnholdMember("CFH", m.id))
    sink.wait(lambda e: e.action == n.UNHOLD_MEMBER)
    engine.execute(c.MuteMember("CFH", m.id))  # a later event proves the deaf/undeaf ones were consumed
    sink.wait(lambda e: e.action == n.MUTE_MEMBER)
    assert n.DEAF_MEMBER not in sink.actions() and n.UNDEAF_MEMBER not in sink.actions()
    assert not fake.rooms["CFH"][m.id].hold and fake.rooms["CFH"][m.id].hear


def test_hold_media_loops_while_held_and_its_end_is_not_reported(engine, fake, sink):
    fake.auto_play_done = False
    m, = _members(fake, "CFL", 1)
    sink.wait(lambda e: e.action == n.ADD_MEMBER)
    engine.execute(c.HoldMember("CFL", m.id, media=("/tmp/hold.wav",)))
    assert "api conference CFL hold %d /tmp/hold.wav" % m.id in fake.commands
    fake.broadcast(fake.member_event("play-file-member-done", m, (("File", "/tmp/hold.wav"),)))
    fake.wait_command("api conference CFL play /tmp/hold.wav %d" % m.id)  # looped
    engine.execute(c.UnholdMember("CFL", m.id))
    fake.broadcast(fake.member_event("play-file-member-done", m, (("File", "/tmp/hold.wav"),)))  # unhold stops it
    engine.execute(c.MuteMember("CFL", m.id))
    sink.wait(lambda e: e.action == n.MUTE_MEMBER)
    assert n.PLAY_FILE_MEMBER_DONE not in sink.actions()
    assert fake.commands.count("api conference CFL play /tmp/hold.wav %d" % m.id) == 1


def test_coach_relations_kept_right_on_add(engine, fake, sink):
    a, b, cc = _members(fake, "CFC", 3)
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.member_id == cc.id)
    engine.execute(c.SetCoach("CFC", a.id, b.id))
    assert fake.relations == {("CFC", a.id, cc.id): "nospeak"}
    assert "api conference CFC relate %d %d clear" % (a.id, b.id) in fake.commands
    d = fake.add_member("CFC", "uid-late")
    fake.wait_command("api conference CFC relate %d %d nospeak" % (a.id, d.id))
    assert fake.wait_for(lambda: ("CFC", a.id, d.id) in fake.relations)
    engine.execute(c.SetCoach("CFC", a.id, None))
    assert fake.relations == {}


def test_announce_to_room_and_member(engine, fake, sink):
    m, = _members(fake, "CFA", 1)
    sink.wait(lambda e: e.action == n.ADD_MEMBER)
    engine.execute(c.PlayMedia("CFA", ("/tmp/hello.wav",)))
    assert "api conference CFA play /tmp/hello.wav" in fake.commands
    done = sink.wait(lambda e: e.action == n.PLAY_FILE_DONE)
    assert done.file == "/tmp/hello.wav"
    engine.execute(c.PlayMedia("CFA", ("/tmp/a.wav", "/tmp/b.wav"), member_id=m.id))
    assert "api conference CFA play file_string:///tmp/a.wav!/tmp/b.wav %d" % m.id in fake.commands
    mdone = sink.wait(lambda e: e.action == n.PLAY_FILE_MEMBER_DONE)
    assert mdone.file == "/tmp/b.wav" and mdone.member_id == m.id  # "file is the last item"


def test_recording_lifecycle(engine, fake, sink):
    _members(fake, "CFR", 1)
    path = "/var/lib/freeswitch/recordings/CFR.wav"
    for cmd, action in ((c.StartRecording, n.START_RECORDING), (c.PauseRecording, n.PAUSE_RECORDING),
                        (c.ResumeRecording, n.RESUME_RECORDING), (c.StopRecording, n.STOP_RECORDING)):
        engine.execute(cmd("CFR", path))
        ev = sink.wait(lambda e, a=action: e.action == a)
        assert ev.path == path
    stop = sink.wait(lambda e: e.action == n.STOP_RECORDING)
    assert stop.duration_ms == 5000 and stop.file_size == 80044
    assert fake.commands[-1] == "api conference CFR recording stop %s" % path


def test_error_replies_raise_engine_error(engine, fake):
    with pytest.raises(EngineError) as exc:
        engine.execute(c.MuteMember("nosuch", 1))
    assert "not found" in str(exc.value)
    _members(fake, "CFE", 1)
    with pytest.raises(EngineError):
        engine.execute(c.KickMember("CFE", 999))  # -ERR Non-Existant ID 999


def test_end_conference_is_hup_all(engine, fake, sink):
    _members(fake, "CFX", 2)
    engine.execute(c.EndConference("CFX"))
    assert fake.commands[-1] == "api conference CFX hup all"
    sink.wait(lambda e: e.action == n.CONFERENCE_DESTROY and e.room == "CFX")


def test_dial_out_originate_and_background_job(engine, fake):
    job = engine.originate("1001", "+15550001111", "CA9", timeout_s=20)
    cmd = fake.wait_command("bgapi originate")
    first, job_header = cmd.split("\n")
    port = engine.outbound_port
    assert first == ("bgapi originate {origination_uuid=%s,origination_caller_id_number=+15550001111,"
                     "origination_caller_id_name=+15550001111,origination_callee_id_number=1001,"
                     "origination_callee_id_name=1001,originate_timeout=20,fsbridge_call_sid=CA9,"
                     "hangup_after_conference=false}user/1001 '&socket(127.0.0.1:%d async full)'"
                     % (job.unique_id, port))
    assert job_header == "Job-UUID: %s" % job.job_uuid
    assert job.wait(5) == ("answered", job.unique_id)
    fake.bgapi_results["originate"] = "-ERR USER_BUSY\n"
    busy = engine.originate("sip:bob@example.com", "+1555", "CA10", timeout_s=5)
    assert "}sofia/internal/bob@example.com " in fake.wait_command("bgapi originate {origination_uuid=%s" % busy.unique_id)
    assert busy.wait(5) == ("busy", "USER_BUSY")


def test_dialled_call_arrives_with_its_call_sid(engine, fake):
    box = gevent.event.AsyncResult()
    engine.set_call_handler(box.set)
    FakeCall(fake, "127.0.0.1", engine.outbound_port, variables=(("variable_fsbridge_call_sid", "CA77"),)).start()
    assert box.get(timeout=5).call_sid == "CA77"


def test_wait_gate_loops_wait_media_and_start_unmutes_quietly(engine, fake, sink):
    fake.auto_play_done = False
    call, result, _ = run_call(engine, fake, lambda leg: c.JoinMember(
        "CFW", leg.unique_id, "CAW", waiting=True, wait_media=("/tmp/wait.wav",)))
    conf = call.wait_command("execute-app-name: conference")
    assert "execute-app-arg: CFW@fsbridge+flags{nomoh|mute|deaf}" in conf
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFW")
    play = "api conference CFW play /tmp/wait.wav %d" % add.member_id
    fake.wait_command(play)
    m = fake.rooms["CFW"][add.member_id]
    assert not m.speak and not m.hear
    fake.broadcast(fake.member_event("play-file-member-done", m, (("File", "/tmp/wait.wav"),)))
    assert fake.wait_for(lambda: fake.commands.count(play) == 2)  # looped
    engine.execute(c.StartConference("CFW"))
    assert fake.commands[-3:] == ["api conference CFW stop all %d" % m.id, "api conference CFW undeaf %d" % m.id,
                                  "api conference CFW unmute %d quiet" % m.id]
    assert m.speak and m.hear
    engine.execute(c.MuteMember("CFW", m.id))
    sink.wait(lambda e: e.action == n.MUTE_MEMBER)
    assert n.UNMUTE_MEMBER not in sink.actions() and n.UNDEAF_MEMBER not in sink.actions()
    assert n.PLAY_FILE_MEMBER_DONE not in sink.actions()
    call.hangup()
    assert result.get(timeout=5) == "hangup"


def test_waiting_member_joined_muted_stays_muted_at_start(engine, fake, sink):
    call, result, _ = run_call(engine, fake, lambda leg: c.JoinMember(
        "CFM", leg.unique_id, "CAM", waiting=True, muted=True, wait_media=()))
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFM")
    engine.execute(c.StartConference("CFM"))
    assert fake.commands[-1] == "api conference CFM undeaf %d" % add.member_id
    assert not fake.rooms["CFM"][add.member_id].speak
    call.hangup()
    assert result.get(timeout=5) == "hangup"


def test_snapshot_from_json_list(engine, fake):
    a, b = _members(fake, "CFS", 2)
    fake.rooms["CFS"][b.id].speak = False
    fake.rooms["CFS"][a.id].hold = True
    snap = {s.member_id: s for s in engine.snapshot()}
    assert set(snap) == {a.id, b.id}
    assert snap[b.id].muted and not snap[b.id].hold and snap[b.id].unique_id == b.uid
    assert snap[a.id].hold and not snap[a.id].muted  # json_list reports hold as can_speak false


def test_parse_recorded_json_list():
    snap = parse_json_list(fixture("lists/lists_json_list.json").read_text())
    by_id = {s.member_id: s for s in snap}
    assert set(by_id) == {42, 43, 44, 46}
    assert by_id[42].muted and not by_id[42].hold
    assert by_id[43].hold and not by_id[43].muted
    assert by_id[46].unique_id == "1ee0a824-18a2-4a81-ac94-6be14678505c"
    assert parse_json_list("") == [] and parse_json_list("-ERR No active conferences.") == []


def test_esl_drop_mid_conference_reconnects_and_resyncs(engine, fake, sink):
    a, b = _members(fake, "CFD", 2)
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.member_id == b.id)
    assert sorted(engine.members("CFD")) == [a.id, b.id]
    fake.accepting = False
    fake.drop()
    assert engine.esl.down_event.wait(5)
    # while down: commands fail at once, never hang
    t0 = time.monotonic()
    with pytest.raises(EngineUnavailable):
        engine.execute(c.MuteMember("CFD", a.id))
    with pytest.raises(EngineUnavailable):
        engine.snapshot()
    with pytest.raises(EngineUnavailable):
        engine.originate("1001", "1000", "CA1")
    assert time.monotonic() - t0 < 0.5
    assert not engine.available
    # meanwhile in FreeSWITCH: b left, c joined, a was put on hold (no connection heard it)
    fake.remove_member(b, "hangup", "NORMAL_CLEARING")
    c3 = fake.add_member("CFD", "uid-new")
    fake.rooms["CFD"][a.id].hold = True
    assert fake.wait_for(lambda: fake.refused > 0)
    fake.accepting = True
    assert engine.esl.wait_ready(2, 5)
    assert engine.esl.connections == 2
    assert sorted(engine.members("CFD")) == [a.id, c3.id]  # no phantom b, no lost c
    # what FreeSWITCH has now reaches the sink as one EngineSnapshot per connection (the domain's resync
    # path turns it into participant events: tests/test_conference_engine_events.py, test_freeswitch_e2e.py)
    assert len(sink.snapshots) == 2
    snap = {m.member_id: m for m in sink.snapshots[-1].members}
    assert sorted(snap) == [a.id, c3.id] and snap[c3.id].unique_id == c3.uid
    assert snap[a.id].hold and not snap[c3.id].hold and sink.snapshots[-1].rooms == ("CFD",)
    assert not [e for e in sink.events if e.action in (n.DEL_MEMBER, n.HOLD_MEMBER)]   # no engine-made events
    engine.execute(c.MuteMember("CFD", c3.id))
    sink.wait(lambda e: e.action == n.MUTE_MEMBER and e.member_id == c3.id)


def test_esl_loss_and_reconnect_are_logged(engine, fake, caplog):
    """Live: FreeSWITCH restarted under a running bridge and the log said only "connect failed" — neither
    that the connection was lost nor that it came back."""
    caplog.set_level("INFO", logger="fsbridge.engines.freeswitch.transport")
    fake.drop()
    assert engine.esl.wait_ready(2, 5)
    text = [r.getMessage() for r in caplog.records]
    port = fake.port
    assert "FreeSWITCH ESL 127.0.0.1:%d connection lost; reconnecting" % port in text
    assert "FreeSWITCH ESL 127.0.0.1:%d connected and resynced (connection 2)" % port in text
    lost = next(r for r in caplog.records if "connection lost" in r.getMessage())
    assert lost.levelname == "WARNING"


def test_originate_pending_when_esl_drops_fails(engine, fake):
    fake.bgapi_results["originate"] = None  # FreeSWITCH accepts the bgapi but the result never comes
    job = engine.originate("1001", "1000", "CA5")
    fake.accepting = False
    fake.drop()
    with pytest.raises(EngineUnavailable):
        job.wait(5)
    assert not job.done


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
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, reconnect_backoff=0.01)
    engine.set_event_sink(sink)
    engine.start()
    try:
        assert engine.wait_connected(5)
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
    finally:
        engine.stop()


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


def test_talk_events_are_debounced_with_a_timer(fake, sink):
    """stop-talking is held for the shared debouncer's hangover and then emitted by the engine's timer."""
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, talk_stop_ms=150)
    engine.set_event_sink(sink)
    engine.start()
    try:
        assert engine.wait_connected(5)
        m, = _members(fake, "CFT", 1)
        m.talking = True
        fake.broadcast(fake.member_event("start-talking", m))
        start = sink.wait(lambda e: e.action == n.START_TALKING)
        m.talking = False
        fake.broadcast(fake.member_event("stop-talking", m, (("talking-duration-ms", "900"),)))
        fake.broadcast(fake.member_event("mute-member", m))  # a later event: the stop is still pending
        sink.wait(lambda e: e.action == n.MUTE_MEMBER)
        assert n.STOP_TALKING not in sink.actions()
        engine.execute(c.UnmuteMember("CFT", m.id))
        m.talking = True
        fake.broadcast(fake.member_event("start-talking", m))
        fake.broadcast(fake.member_event("stop-talking", m))
        stop = sink.wait(lambda e: e.action == n.STOP_TALKING, timeout=5)
        assert stop.member_id == m.id and stop.unique_id == m.uid and stop.timestamp_us > start.timestamp_us
        assert sink.actions().count(n.START_TALKING) == 2  # the mute ended the first spurt silently
    finally:
        engine.stop()


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


def test_set_exit_beep_targets_the_members_channel(engine, fake, sink):
    m, = _members(fake, "CFB", 1)
    sink.wait(lambda e: e.action == n.ADD_MEMBER)
    engine.execute(c.SetExitBeep("CFB", m.id, False))
    assert fake.commands[-1] == "api uuid_setvar %s conference_exit_sound silence_stream://1" % m.uid
    engine.execute(c.SetExitBeep("CFB", m.id, True))
    assert fake.commands[-1] == "api uuid_setvar %s conference_exit_sound" % m.uid
    with pytest.raises(EngineError):
        engine.execute(c.SetExitBeep("CFB", 999, True))


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
