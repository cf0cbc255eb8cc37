"""transport.send_many: a batch goes out in one write and each command gets *its* reply (FIFO, as
FreeSWITCH answers in order); a late reply in a batch is an EngineError and is discarded in order when it
comes, so the next command still gets its own reply; a drop while waiting fails every command."""
import gevent
import gevent.event
import gevent.server
import pytest

from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch.transport import FsInboundESL
from fakes import read_command, reply


class EchoESL:
    """ESL server: auth, then ``+OK <command>`` per command; commands named in ``hold`` get their reply
    only once ``release`` is set; ``drop`` closes the socket instead of answering."""

    def __init__(self):
        self.release = gevent.event.Event()
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._serve)
        self.server.start()

    def _serve(self, sock, _addr):
        sock.sendall(b"Content-Type: auth/request\n\n")
        f = sock.makefile("rb")
        while True:
            cmd = read_command(f)
            if cmd is None:
                return
            if cmd == "drop":
                sock.close()
                return
            if cmd.startswith("hold"):
                self.release.wait()
            sock.sendall(reply("+OK accepted" if cmd.startswith("auth") else "+OK " + cmd))


@pytest.fixture
def conn():
    srv = EchoESL()
    c = FsInboundESL("127.0.0.1", srv.server.server_port, "pw", timeout=2)
    c.connect()
    yield c, srv
    c.stop()
    srv.server.stop()


def test_replies_come_back_in_command_order(conn):
    c, _ = conn
    replies = c.send_many(["api one", "api two", "api three"])
    assert [r.get("Reply-Text") for r in replies] == ["+OK api one", "+OK api two", "+OK api three"]
    assert c.send("api four").get("Reply-Text") == "+OK api four"


def test_a_late_reply_in_a_batch_is_an_error_and_is_discarded_in_order(conn):
    c, srv = conn
    with pytest.raises(EngineError):
        c.send_many(["api a", "hold b", "api c"], timeout=0.3)
    srv.release.set()
    assert c.send("api d").get("Reply-Text") == "+OK api d"   # not "hold b"'s or "api c"'s reply


def test_a_drop_while_waiting_fails_the_batch(conn):
    c, _ = conn
    with pytest.raises(EngineUnavailable):
        c.send_many(["api a", "drop", "api c"])


def test_an_empty_line_in_a_command_sends_nothing(conn):
    c, _ = conn
    with pytest.raises(EngineError):
        c.send_many(["api a", "api b\n\nforged"])
    assert c.send("api e").get("Reply-Text") == "+OK api e"
