"""TranscriptReplayer: replays a recorded ESL transcript as the FreeSWITCH side."""
from __future__ import annotations

from typing import List, Tuple

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from fsbridge.engines.freeswitch import esl_parse
from fakes.esl import fixture, read_transcript


class TranscriptReplayer:
    """Replays one recorded transcript byte for byte (fixture README "A fake FreeSWITCH for a file"):
    sends each ``<<< freeswitch`` message, reads the client's next command for each ``>>> client`` record
    and compares it with the recording (``mismatches`` collects differences), closes at
    ``=== close freeswitch``. Inbound files: :meth:`serve` (listens on port 0, one connection);
    outbound files: :meth:`connect_to` (FreeSWITCH connects to the application).
    """

    def __init__(self, rel: str):
        self.records = read_transcript(fixture(rel))
        self.mismatches: List[Tuple[bytes, bytes]] = []
        self.done = gevent.event.Event()
        self.server = None
        self.port = None

    def serve(self) -> "TranscriptReplayer":
        """Listen on 127.0.0.1:0 for one client."""
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._once)
        self.server.start()
        self.port = self.server.server_port
        return self

    def connect_to(self, host: str, port: int) -> "TranscriptReplayer":
        """Connect to an outbound-socket application."""
        sock = gevent.socket.create_connection((host, port), timeout=5)
        sock.settimeout(None)
        gevent.spawn(self._play, sock)
        return self

    def _once(self, sock, addr):
        self._play(sock)

    def _play(self, sock) -> None:
        f = sock.makefile("rb")
        try:
            for direction, _, raw in self.records:
                if direction == "fs":
                    sock.sendall(raw)
                elif direction == "client":
                    got = b""
                    while not got.endswith(b"\n\n"):
                        line = f.readline()
                        if not line:
                            self.mismatches.append((raw, got + b"<EOF>"))
                            return
                        if line == b"\n" and not got:
                            continue
                        got += line
                    if got != raw:
                        self.mismatches.append((raw, got))
                elif direction == "close-freeswitch":
                    try:
                        sock.shutdown(gevent.socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
        finally:
            sock.close()
            self.done.set()

    def client_commands(self) -> List[str]:
        """The recorded client commands (text without the final blank line)."""
        return [raw.decode()[:-2] for d, _, raw in self.records if d == "client"]

    def fs_events(self) -> List[esl_parse.ESLMessage]:
        """The recorded events (inner), in order."""
        return [esl_parse.parse_message(raw).event for d, _, raw in self.records
                if d == "fs" and (b"text/event-plain" in raw or b"text/event-json" in raw)]

    def stop(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.stop(timeout=1)
