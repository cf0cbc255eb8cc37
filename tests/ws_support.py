"""A real websocket server for the listen tests: gevent's StreamServer on 127.0.0.1 port 0, the protocol from
wsproto (a maintained sans-IO library). ``WsReceiver(mode)``: ``"read"`` keeps every message, ``"stall"``
accepts the handshake and then never reads again (a stuck receiver), ``"mute"`` never answers the handshake,
``"drain"`` reads and discards everything after the handshake (bench/listen.py: the sender's cost alone)."""
from __future__ import annotations

from typing import List, Optional, Tuple

import gevent
import gevent.event
import gevent.server
import numpy as np
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message, Ping, Request, TextMessage


class WsReceiver:
    """Messages of every connection in ``messages`` as ``(kind, data)`` (kind ``"text"`` | ``"bytes"``);
    ``requests``: the handshake Requests (headers, subprotocols); ``closed`` is set when a connection ends (the
    tests wait on it, or run the engine until ``messages`` holds enough: no sleeps)."""

    def __init__(self, mode: str = "read", host: str = "127.0.0.1", ssl_context=None):
        self.mode = mode
        self.messages: List[Tuple[str, object]] = []
        self.requests: List[Request] = []
        self.closed = gevent.event.Event()
        self.release = gevent.event.Event()
        self.server = gevent.server.StreamServer((host, 0), self._handle,
                                                 **({"ssl_context": ssl_context} if ssl_context else {}))
        self.server.init_socket()
        if mode == "stall":   # a small receive window: a stalled reader blocks the sender soon
            import socket
            self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.server.start()

    @property
    def url(self) -> str:
        """``ws://<host>:<port>/listen`` (``wss://`` with an ssl_context)."""
        scheme = "wss" if self.server.ssl_enabled else "ws"
        return "%s://%s:%d/listen" % (scheme, self.server.server_host, self.server.server_port)

    def stop(self) -> None:
        """Release stalled handlers and stop serving."""
        self.release.set()
        self.server.stop(timeout=1)

    def audio(self, channels: int = 1) -> np.ndarray:
        """Every binary frame so far as int16 samples, ``(n,)`` or ``(n, channels)``."""
        data = b"".join(d for k, d in self.messages if k == "bytes")
        samples = np.frombuffer(data, "<i2")
        return samples if channels == 1 else samples.reshape(-1, channels)

    def _handle(self, sock, addr) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        parts: List = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                ws.receive_data(data)
                for event in ws.events():
                    out: Optional[bytes] = None
                    if isinstance(event, Request):
                        self.requests.append(event)
                        if self.mode == "mute":
                            self.release.wait()
                            return
                        out = ws.send(AcceptConnection(subprotocol=(event.subprotocols or [None])[0]))
                    elif isinstance(event, Message):
                        parts.append(event.data)
                        if event.message_finished:
                            kind = "text" if isinstance(event, TextMessage) else "bytes"
                            self.messages.append((kind, "".join(parts) if kind == "text" else b"".join(parts)))
                            parts = []
                    elif isinstance(event, Ping):
                        out = ws.send(event.response())
                    elif isinstance(event, CloseConnection):
                        sock.sendall(ws.send(event.response()))
                        return
                    if out:
                        sock.sendall(out)
                if self.mode == "stall" and self.requests:
                    self.release.wait()
                    return
                if self.mode == "drain" and self.requests:
                    while sock.recv(262144):
                        pass
                    return
        except OSError:
            pass
        finally:
            self.closed.set()
            sock.close()

