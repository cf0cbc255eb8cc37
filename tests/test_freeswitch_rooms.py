"""FreeSwitchEngine against the fake FreeSWITCH: room commands (hold, coach, announce, recording, end, wait gate, talk, exit beep)."""

import time

import gevent
import gevent.event
import gevent.queue
import pytest

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.engines.base import EngineError
from fs_support import SUB, engine, fake, members_of, run_call, sink, started_engine  # noqa: F401 - fixtures


def test_hold_is_hold_plus_deaf_and_reports_only_hold(engine, fake, sink):
    m, = members_of(fake, "CFH", 1)
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
    m, = members_of(fake, "CFL", 1)
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

def test_looped_media_that_ends_at_once_is_played_again_at_most_every_min_loop_s(engine, fake, sink):
    """A wait media FreeSWITCH ends at once (the fake's instant play-file-done, as for a file it cannot open)
    is looped at most every ``min_loop_s`` — not as fast as ESL round trips go (a core of CPU, both sides)."""
    engine.min_loop_s = 0.2
    fake.auto_play_done = True
    run_call(engine, fake, lambda leg: c.JoinMember(
        "CFZ", leg.unique_id, "CAZ", waiting=True, wait_media=("/tmp/empty.wav",)))
    add = sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == "CFZ")
    t0 = time.monotonic()   # before the first play: it is sent after the add-member
    play = "api conference CFZ play /tmp/empty.wav %d" % add.member_id
    assert fake.wait_for(lambda: fake.commands.count(play) >= 4)
    assert time.monotonic() - t0 >= 3 * 0.2 - 0.02   # three waits of min_loop_s between four plays
    assert n.PLAY_FILE_MEMBER_DONE not in sink.actions()


def test_coach_relations_kept_right_on_add(engine, fake, sink):
    a, b, cc = members_of(fake, "CFC", 3)
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
    m, = members_of(fake, "CFA", 1)
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
    members_of(fake, "CFR", 1)
    path = "/var/lib/freeswitch/recordings/CFR.wav"
    for cmd, action in ((c.StartRecording, n.START_RECORDING), (c.PauseRecording, n.PAUSE_RECORDING),
                        (c.ResumeRecording, n.RESUME_RECORDING), (c.StopRecording, n.STOP_RECORDING)):
        engine.execute(cmd("CFR", path))
        ev = sink.wait(lambda e, a=action: e.action == a)
        assert ev.path == path
    stop = sink.wait(lambda e: e.action == n.STOP_RECORDING)
    assert stop.duration_ms == 5000 and stop.file_size == 80044
    assert fake.commands[-1] == "api conference CFR recording stop %s" % path

def test_end_conference_is_hup_all(engine, fake, sink):
    members_of(fake, "CFX", 2)
    engine.execute(c.EndConference("CFX"))
    assert fake.commands[-1] == "api conference CFX hup all"
    sink.wait(lambda e: e.action == n.CONFERENCE_DESTROY and e.room == "CFX")

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
    assert fake.commands[-3:] == ["api conference CFW stop all %d" % m.id,   # unmute first: deaf marks the gate
                                  "api conference CFW unmute %d quiet" % m.id, "api conference CFW undeaf %d" % m.id]
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

def test_talk_events_are_debounced_with_a_timer(fake, sink):
    """stop-talking is held for the shared debouncer's hangover and then emitted by the engine's timer."""
    with started_engine(fake, sink, talk_stop_ms=150) as engine:
        m, = members_of(fake, "CFT", 1)
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

def test_set_exit_beep_targets_the_members_channel(engine, fake, sink):
    m, = members_of(fake, "CFB", 1)
    sink.wait(lambda e: e.action == n.ADD_MEMBER)
    engine.execute(c.SetExitBeep("CFB", m.id, False))
    assert fake.commands[-1] == "api uuid_setvar %s conference_exit_sound silence_stream://1" % m.uid
    engine.execute(c.SetExitBeep("CFB", m.id, True))
    assert fake.commands[-1] == "api uuid_setvar %s conference_exit_sound" % m.uid
    with pytest.raises(EngineError):
        engine.execute(c.SetExitBeep("CFB", 999, True))


def _poller_parked(engine) -> bool:
    """True once the engine's talk poller waits on ``_poll_wake`` (yields until then; False after 5 s)."""
    with gevent.Timeout(5, False):
        while engine._poll_wake.linkcount() == 0:
            gevent.sleep(0)   # let the poller run to its wait (a yield, not a timed sleep)
        return True
    return False


def test_the_talk_poller_sleeps_until_a_stop_is_pending(fake, sink):
    """An idle engine does not wake its talk poller (at 50 Hz it cost an idle bridge ≈ 8 ms of CPU a second
    here, issue 21): the poller waits on ``_poll_wake``; a stop-talking under its hangover wakes it, the stop
    is released after the hangover, and the poller parks again."""
    with started_engine(fake, sink, talk_stop_ms=100, sweep_interval=0) as engine:
        assert _poller_parked(engine)
        m, = members_of(fake, "CFP", 1)
        m.talking = True
        fake.broadcast(fake.member_event("start-talking", m))
        sink.wait(lambda e: e.action == n.START_TALKING)
        m.talking = False
        fake.broadcast(fake.member_event("stop-talking", m))
        stop = sink.wait(lambda e: e.action == n.STOP_TALKING, timeout=5)
        assert stop.member_id == m.id
        assert _poller_parked(engine)
