"""The FreeSWITCH wait gate after an ESL outage (ResumeGate, issue 15), against the fake FreeSWITCH: the four
cases a review found (each failed before the fix): a stopped media's end arriving before the ``stop all``
reply; a gate whose opening failed while ESL dropped; a silent wait (no wait media) of this bridge's own gate;
an enter media whose end was lost in the outage."""
from __future__ import annotations

import pytest

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.engines.base import EngineError
from fs_support import fake, sink, started_engine  # noqa: F401 - fixtures


def waiting_member(engine, fake, sink, room, **join):
    """A member joined through this engine's wait gate (JoinMember waiting=True, then its add-member)."""
    engine._pending_wait["u-" + room] = c.JoinMember(room=room, unique_id="u-" + room, call_sid="CA" + room,
                                                     waiting=True, muted=False, **join)
    m = fake.add_member(room, "u-" + room, flags=("mute", "deaf"))
    sink.wait(lambda e: e.action == n.ADD_MEMBER and e.room == room)   # reported after the gate's bookkeeping
    assert (room, m.id) in engine._waiting
    return m


def reconnect(engine, fake, while_down=lambda: None):
    """Drop the inbound ESL, run ``while_down`` while the fake refuses connections, let the engine resync."""
    fake.accepting = False
    fake.drop()
    assert engine.esl.down_event.wait(2)
    while_down()
    fake.accepting = True
    assert engine.esl.wait_ready(2, 5)


def test_a_stopped_media_ending_before_the_stop_reply_is_neither_reported_nor_left_suppressed(fake, sink):
    closed = fake.add_member("CFG", "u-closed", flags=("mute", "deaf"))   # a killed bridge's closed gate

    def stop(_cmd):   # the reader gets the stopped file's end before the reply (one socket read)
        fake.broadcast(fake.member_event("play-file-member-done", closed, (("File", "/old/wait.wav"),)))
        return "+OK Stopped 1 files.\n"
    fake.api_replies["conference CFG stop all %d" % closed.id] = stop
    with started_engine(fake, sink) as engine:
        assert fake.wait_for(lambda: sink.snapshots)
        engine.execute(c.ResumeGate("CFG", closed.id, started=True, muted=False, wait_media=()))
        assert closed.hear and closed.speak
        engine.execute(c.PlayMedia("CFG", ("/app/announce.wav",), member_id=closed.id))
        done = sink.wait(lambda e: e.action == n.PLAY_FILE_MEMBER_DONE)   # the announcement's end is reported
        assert done.file == "/app/announce.wav" and not engine._suppress


def test_a_gate_whose_opening_failed_in_an_outage_leaves_no_suppressed_unmute(fake, sink):
    with started_engine(fake, sink) as engine:
        m = waiting_member(engine, fake, sink, "CFS", wait_media=())

        def start_while_down():
            with pytest.raises(EngineError):
                engine.execute(c.StartConference("CFS"))   # the domain's start, applied as ESL dropped
        reconnect(engine, fake, start_while_down)
        engine.execute(c.ResumeGate("CFS", m.id, started=True, muted=False, wait_media=()))
        assert m.hear and m.speak
        engine.execute(c.MuteMember("CFS", m.id))
        engine.execute(c.UnmuteMember("CFS", m.id))
        sink.wait(lambda e: e.action == n.UNMUTE_MEMBER and e.room == "CFS")   # not swallowed


def test_this_bridges_silent_wait_stays_silent_after_a_reconnect(fake, sink):
    with started_engine(fake, sink) as engine:
        m = waiting_member(engine, fake, sink, "CFQ", wait_media=())   # a waitUrl document without media
        before = len(fake.commands)
        reconnect(engine, fake)
        assert [s.waiting for s in sink.snapshots[-1].members] == [True]
        # the domain knows no waitUrl "" here, so it offers the default hold music: the gate keeps its own
        engine.execute(c.ResumeGate("CFQ", m.id, started=False, muted=False, wait_media=(c.DEFAULT_HOLD_MUSIC,)))
        assert [x for x in fake.commands[before:] if " play " in x] == []
        assert ("CFQ", m.id) in engine._waiting and not m.hear


def test_an_enter_media_whose_end_was_lost_in_an_outage_does_not_keep_the_gate_closed(fake, sink):
    fake.auto_play_done = False
    with started_engine(fake, sink) as engine:
        m = waiting_member(engine, fake, sink, "CFE", wait_media=(), enter_media=("/app/enter.wav",))
        engine.execute(c.StartConference("CFE"))
        fake.wait_command("api conference CFE play /app/enter.wav %d" % m.id)
        reconnect(engine, fake)   # its play-file-member-done would have come meanwhile: lost
        engine.execute(c.ResumeGate("CFE", m.id, started=True, muted=False, wait_media=()))
        assert m.hear and m.speak and ("CFE", m.id) not in engine._waiting
        assert fake.commands.count("api conference CFE play /app/enter.wav %d" % m.id) == 1   # not played twice
