"""fsbridge.api: the REST API (Flask) — Twilio 2010-04-01 Conferences / Participants / Recordings and the
Telnyx TeXML conference routes, served from the :class:`fsbridge.store.Store` and acting through a
:class:`fsbridge.runtime.control.ConferenceControl`.

``create_app(store, control, accounts, base_url=None, telnyx_keys=None)`` builds the app;
``serve(app, host="127.0.0.1", port=0)`` starts gevent's WSGI server on it (returns the started
``gevent.pywsgi.WSGIServer`` subclass with TCP_NODELAY, see :func:`server_class`; ``server.server_port`` is
the bound port). See docs/rest.md.
"""
from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any):
    """See :func:`fsbridge.api.app.create_app`."""
    from fsbridge.api.app import create_app as _create_app
    return _create_app(*args, **kwargs)


_SERVER_CLASS = None


def server_class():
    """gevent's ``pywsgi.WSGIServer`` with ``TCP_NODELAY`` on every accepted connection.

    pywsgi writes a response's headers and body in separate sends; with Nagle's algorithm on, the body then
    waits for the client's delayed ACK — ~40 ms added to every keep-alive request (measured: p50 44 ms →
    4 ms for a participant update). Use it wherever the API is served."""
    global _SERVER_CLASS
    if _SERVER_CLASS is not None:   # one class (built on first use: gevent is imported only then)
        return _SERVER_CLASS
    import socket

    from gevent.pywsgi import WSGIHandler, WSGIServer

    class OneSendHandler(WSGIHandler):
        """pywsgi's handler, but a response whose body comes in one piece (every JSON resource: Flask sets
        Content-Length) leaves in ONE send — status line, headers and body — instead of two: one syscall less
        per request on the bridge, one segment and one read less for the client (issue 16 goal 3)."""

        def _write_with_headers(self, data):
            self.headers_sent = True
            self.finalize_headers()
            towrite = bytearray(b"HTTP/1.1 ")
            towrite += self.status
            towrite += b"\r\n"
            for header, value in self.response_headers:
                towrite += header
                towrite += b": "
                towrite += value
                towrite += b"\r\n"
            towrite += b"\r\n"
            if self.response_use_chunked or len(data) > 65536:
                self._sendall(towrite)   # as pywsgi: chunk framing, or a large body sent without a copy
                self._write(data)
                return
            towrite += data
            self._sendall(towrite)

    class NoDelayWSGIServer(WSGIServer):
        """WSGIServer that disables Nagle's algorithm on each client socket (and sends each small response
        in one piece, :class:`OneSendHandler`)."""

        handler_class = OneSendHandler

        def handle(self, sock, address):
            """Set TCP_NODELAY on the accepted socket, then serve it as pywsgi does."""
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not TCP (e.g. a UNIX socket)
                pass
            return super().handle(sock, address)

    _SERVER_CLASS = NoDelayWSGIServer
    return NoDelayWSGIServer


def serve(app, host: str = "127.0.0.1", port: int = 0, log: Any = None):
    """Start ``app`` on gevent's WSGI server (:func:`server_class`, TCP_NODELAY) bound to ``host:port``
    (0 = any free port) and return the started server (``.server_port``, ``.stop()``). ``log``: gevent
    access log target (None = silent). The caller is responsible for gevent monkey-patching (entry points
    only)."""
    server = server_class()((host, port), app, log=log)
    server.start()
    return server


__all__ = ["create_app", "serve", "server_class"]
