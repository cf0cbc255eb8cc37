"""Byte-exact replay of the recorded transcripts through fsbridge's greenswitch-based sessions: the
recorded client commands, sent through ``send``, reach the wire byte-identical (framing only — which
commands the engine chooses is tested in test_freeswitch_engine.py), and every recorded event arrives,
in order, through greenswitch's handler dispatch with the strict parser."""
import gevent
import gevent.event
import gevent.socket
import pytest

from fsbridge.engines.base import EngineUnavailable
from fsbridge.engines.freeswitch.outbound import FsOutboundSession
from fsbridge.engines.freeswitch.transport import FsInboundESL
from fakes import FIXTURES, TranscriptReplayer

INBOUND = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.esl.txt")
                 if "outbound_session" not in p.name and p.name not in ("auth_fail.esl.txt",
                                                                       "unauthenticated_api.esl.txt"))
OUTBOUND = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.outbound_session.esl.txt"))


def key(ev):
    return (ev.get("Event-Name"), ev.get("Action"), ev.get("Unique-ID"), ev.get("Member-ID"), ev.get("Job-UUID"))


def collect(session):
    got, closed = [], gevent.event.Event()
    session.register_handle("*", got.append)
    session.register_handle("DISCONNECT", lambda ev: got.append(ev))
    session.register_handle("CLOSED", lambda ev: closed.set())
    return got, closed


@pytest.mark.parametrize("rel", INBOUND)
def test_inbound_transcript_replays_through_FsInboundESL(rel):
    rp = TranscriptReplayer(rel).serve()
    cmds = rp.client_commands()
    assert cmds[0].startswith("auth ")
    conn = FsInboundESL("127.0.0.1", rp.port, cmds[0][5:], timeout=5)
    got, closed = collect(conn)
    conn.connect()
    for cmd in cmds[1:]:
        conn.send(cmd)
    assert rp.done.wait(10) and closed.wait(5)
    assert rp.mismatches == []
    events = [e for e in got if e.get("Event-Name")]
    assert [key(e) for e in events] == [key(e) for e in rp.fs_events()]
    notices = [e for e in got if e.get("Content-Type") == "text/disconnect-notice"]
    assert len(notices) == sum(1 for d, _, b in rp.records if d == "fs" and b"disconnect-notice" in b)
    assert not conn.connected
    rp.stop()


def test_auth_fail_transcript():
    rp = TranscriptReplayer("inbound/auth_fail.esl.txt").serve()
    conn = FsInboundESL("127.0.0.1", rp.port, "wrongpass", timeout=5)
    with pytest.raises(EngineUnavailable):
        conn.connect()
    assert rp.done.wait(5) and rp.mismatches == []
    rp.stop()


@pytest.mark.parametrize("rel", OUTBOUND)
def test_outbound_transcript_replays_through_FsOutboundSession(rel):
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    rp = TranscriptReplayer(rel).connect_to("127.0.0.1", listener.getsockname()[1])
    sock, addr = listener.accept()
    listener.close()
    session = FsOutboundSession(addr, sock, timeout=5)
    got, closed = collect(session)
    session.start_event_handlers()
    cmds = rp.client_commands()
    assert cmds[0] == "connect"
    data = session.connect()
    assert data.get("Event-Name") == "CHANNEL_DATA" and data.get("Reply-Text") == "+OK\n"
    for cmd in cmds[1:]:
        session.send(cmd)
    assert rp.done.wait(10) and closed.wait(5)
    assert rp.mismatches == []
    assert [key(e) for e in got if e.get("Event-Name")] == [key(e) for e in rp.fs_events()]
    lingering = any(d == "fs" and b"Content-Disposition: linger" in b for d, _, b in rp.records)
    assert session._lingering == lingering
