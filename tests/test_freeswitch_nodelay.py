"""The inbound ESL connection runs with TCP_NODELAY on both ends, as FreeSWITCH's own side does
(mod_event_socket sets SWITCH_SO_TCP_NODELAY on every event-socket connection): an ``api`` command or its
reply written while an earlier segment is unacknowledged must not wait for the peer's delayed ACK (issue 21:
REST writes are one small command each)."""
import socket

from fsbridge.engines.freeswitch.transport import FsInboundESL
from fs_support import fake  # noqa: F401 - fixture


def test_inbound_esl_socket_has_nodelay(fake):
    conn = FsInboundESL("127.0.0.1", fake.port, "ClueCon", timeout=5)
    conn.connect()
    try:
        assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert conn.api("status") is not None   # still a working connection
    finally:
        conn.stop()
