"""The standalone engine's jambonz ``listen``: one call's audio sent to a websocket as L16 frames.

Wire format (jambonz listen = FreeSWITCH mod_audio_fork): after the handshake one text frame with the
metadata JSON, then one binary frame per 20 ms of 16-bit little-endian PCM at the requested rate (``stereo``:
interleaved, left the caller, right what it hears). The handshake offers mod_audio_fork's subprotocol
``audio.drachtio.org`` (as a plain header: servers that ignore it are fine) and HTTP Basic auth when asked.

The websocket protocol is websocket-client's (a maintained library; pure Python sockets, so cooperative under
gevent's monkey-patching, as every entry point does). The TCP connection is made to an address the egress
policy accepted (:meth:`fsbridge.egress.EgressPolicy.resolve`: the name is resolved once, a refused address is
never connected), then handed to websocket-client; ``wss`` is wrapped with the default TLS context (the
certificate checked against the host name).

The mixer never waits for the network: the tick only puts a copy of the frames into a bounded queue
(:data:`QUEUE_FRAMES`); when it is full (a slow or dead receiver) the frame is dropped and counted
(``dropped``; logged on the first drop and every :data:`LOG_EVERY`). One greenlet per stream converts and
sends; a send blocked longer than ``timeout_s`` closes the stream.
"""
from __future__ import annotations

import base64
import logging
import socket
import ssl
from math import gcd
from typing import Optional
from urllib.parse import urlsplit

import gevent
import gevent.event
import gevent.queue
import numpy as np
import websocket
from scipy.signal import firwin, resample_poly

from fsbridge.engines.base import AudioFork
from fsbridge.wire import jambonz as jb

log = logging.getLogger("fsbridge.engines.standalone.fork")

#: frames (20 ms each) a stream may have waiting before new ones are dropped: 5 s
QUEUE_FRAMES = 250
#: log a dropped-frames warning on the first drop and then every this many
LOG_EVERY = 500
#: the kernel send buffer of a stream's socket (bytes): keeps what a stalled receiver holds back small
SEND_BUFFER = 64 * 1024
#: CA bundle (PEM path) that ``wss`` certificates are verified against besides the system's (None = the system's)
TLS_CA_FILE: Optional[str] = None
#: mod_audio_fork's websocket subprotocol (MOD_AUDIO_FORK_SUBPROTOCOL_NAME default)
SUBPROTOCOL = "audio.drachtio.org"
_STOP = object()


class FrameConverter:
    """Engine frames → the bytes of one L16 binary frame at ``rate_out`` Hz.

    ``convert(own, heard)``: ``own`` = what the caller said, ``heard`` = what it heard, int16 ``(F,)`` at
    ``rate_in``. A rate change is a polyphase resampling (scipy ``resample_poly`` with its default Kaiser
    filter, designed once) of the previous frame with enough samples of context on both sides for the filter,
    so frame edges join without clicks; that costs one frame of delay (the first frame out is silence)."""

    def __init__(self, mix_type: str, rate_in: int, rate_out: int):
        self.mix_type = mix_type
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        wide = max(self.up, self.down)
        self._filter = (firwin(2 * 10 * wide + 1, 1.0 / wide, window=("kaiser", 5.0))   # resample_poly's own
                        if wide > 1 else None)
        ctx = 10 * wide // self.up + 2                    # input samples the filter reaches past an edge
        self._ctx = -(-ctx // self.down) * self.down       # a multiple of down: output samples stay aligned
        self._buf: Optional[np.ndarray] = None           # [context before the previous frame | previous frame]

    def convert(self, own: np.ndarray, heard: np.ndarray) -> bytes:
        """One 20 ms frame → little-endian int16 bytes (``stereo``: interleaved L/R)."""
        if self.mix_type == jb.MIX_STEREO:
            x = np.stack([own, heard]).astype(np.float64)
        elif self.mix_type == jb.MIX_MIXED:
            x = (own.astype(np.float64) + heard)[None, :]
        else:
            x = own.astype(np.float64)[None, :]
        if self.up != self.down:
            n, c = x.shape[1], min(self._ctx, x.shape[1])
            if self._buf is None:
                self._buf = np.zeros((x.shape[0], c + n))
            window = np.concatenate([self._buf, x[:, :c]], axis=1)
            self._buf = np.concatenate([self._buf[:, -c:], x], axis=1)   # [end of this frame's context | it]
            y = resample_poly(window, self.up, self.down, axis=1, window=self._filter)
            a = c * self.up // self.down
            x = y[:, a:a + n * self.up // self.down]
        out = np.clip(np.rint(x), -32768, 32767).astype("<i2")
        return out.T.tobytes()


class WebSocketFork:
    """One running stream (:class:`~fsbridge.engines.base.AudioFork`) of a call whose frames come from the
    engine tick (:meth:`push`). ``rate``: the engine rate. ``dropped``/``sent``: frames dropped (queue full)
    and sent; ``connected``/``closed``: events; ``error``: why the stream ended early (None)."""

    def __init__(self, fork: AudioFork, rate: int, *, queue_frames: int = QUEUE_FRAMES, timeout_s: float = 10.0):
        self.fork = fork
        self.rate = rate
        self.timeout_s = timeout_s
        self.queue: gevent.queue.Queue = gevent.queue.Queue(maxsize=queue_frames)
        self.dropped = 0
        self.sent = 0
        self.error: Optional[str] = None
        self.connected = gevent.event.Event()
        self.closed = gevent.event.Event()
        self._stopping = False
        self._abort = False
        self._ws: Optional[websocket.WebSocket] = None
        self._greenlet = gevent.spawn(self._run)

    # -- from the tick / the runtime ------------------------------------------------------------------
    def push(self, own: np.ndarray, heard: np.ndarray) -> None:
        """Queue one frame pair (copied); never blocks: a full queue drops the frame and counts it."""
        if self._stopping:
            return
        try:
            self.queue.put_nowait((own.copy(), heard.copy()))
        except gevent.queue.Full:
            self.dropped += 1
            if self.dropped % LOG_EVERY == 1:
                log.warning("listen %s: receiver too slow, %d frame(s) dropped", self._where(), self.dropped)

    def send_text(self, text: str) -> None:
        """Queue a text frame (jambonz passDtmf); dropped like audio when the queue is full."""
        if not self._stopping:
            try:
                self.queue.put_nowait(text)
            except gevent.queue.Full:
                self.dropped += 1

    def stop(self) -> None:
        """Send what is queued, then close the websocket; a stream whose queue is full (the receiver stalls)
        is closed at once. Idempotent, never blocks."""
        if self._stopping:
            return
        self._stopping = True
        try:
            self.queue.put_nowait(_STOP)
        except gevent.queue.Full:
            self._abort = True
            self._greenlet.kill(block=False)
            self._close()

    # -- the sender greenlet --------------------------------------------------------------------------
    def _where(self) -> str:
        parts = urlsplit(self.fork.url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"

    def _run(self) -> None:
        try:
            self._ws = self._connect()
            self.connected.set()
            self._ws.send(self.fork.metadata)
            conv = FrameConverter(self.fork.mix_type, self.rate, self.fork.sample_rate)
            while True:
                item = self.queue.get()
                if item is _STOP:
                    break
                if isinstance(item, str):
                    self._ws.send(item)
                else:
                    self._ws.send_binary(conv.convert(*item))
                    self.sent += 1
        except gevent.GreenletExit:
            self._abort = True
            raise
        except Exception as exc:   # connection refused, egress denied, TLS, handshake, timeout, reset
            self.error = f"{type(exc).__name__}: {exc}"
            self._abort = True
            log.warning("listen %s: stream ended: %s", self._where(), self.error)
        finally:
            self._stopping = True
            self._close()

    def _close(self) -> None:
        """A clean close (close frame, ≤ 1 s for the answer) after a normal stop; after an error or a stalled
        receiver the socket is shut at once (a close frame could wait behind a full send buffer)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                if self._abort:
                    ws.shutdown()
                else:
                    ws.close(timeout=1)
            except Exception:   # the peer is gone: nothing to close cleanly
                ws.shutdown()
        self.closed.set()

    def _connect(self) -> websocket.WebSocket:
        """TCP to an address the egress policy accepted, TLS for wss, then websocket-client's handshake."""
        parts = urlsplit(self.fork.url)
        secure = parts.scheme.lower() == "wss"
        host, port = parts.hostname, parts.port or (443 if secure else 80)
        if self.fork.egress is not None:
            sock = self.fork.egress.connect(host, port, self.timeout_s)   # EgressDenied, gaierror, OSError
        else:
            sock = socket.create_connection((host, port), timeout=self.timeout_s)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        if secure:
            ctx = ssl.create_default_context()
            if TLS_CA_FILE:
                ctx.load_verify_locations(TLS_CA_FILE)
            sock = ctx.wrap_socket(sock, server_hostname=host)
        header = [f"Sec-WebSocket-Protocol: {SUBPROTOCOL}"]
        if self.fork.username is not None:
            token = base64.b64encode(f"{self.fork.username}:{self.fork.password or ''}".encode()).decode()
            header.append(f"Authorization: Basic {token}")
        ws = websocket.WebSocket(skip_utf8_validation=True)
        try:
            ws.connect(self.fork.url, socket=sock, timeout=self.timeout_s, header=header,
                       suppress_origin=True)
        except Exception:
            sock.close()
            raise
        return ws
