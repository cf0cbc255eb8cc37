"""A small blocking inbound-ESL client for ``fsbridge doctor``: connect, ``auth``, ``api``, ``event plain``.

Built on the engine's strict parser (:func:`fsbridge.engines.freeswitch.esl_parse.read_message`), not on the
engine's reconnecting transport: doctor wants one short-lived connection, each step's outcome as evidence,
and no greenlets. Read-only: it sends no command that changes FreeSWITCH's state.
"""
from __future__ import annotations

import socket
from typing import Optional

from fsbridge.engines.freeswitch import esl_parse


class ESLCheckError(Exception):
    """A step failed; ``step`` is ``"connect"``, ``"auth"`` or ``"command"``, ``str()`` the evidence."""

    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


class ESLClient:
    """One inbound ESL connection to ``host:port`` (``timeout`` seconds per read/connect)."""

    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: Optional[socket.socket] = None
        self.file = None

    def connect(self, password: str) -> None:
        """Connect and authenticate. Raises :class:`ESLCheckError` (``connect``: refused/timeout/no auth
        request; ``auth``: the reply text, e.g. ``-ERR invalid``)."""
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self.file = self.sock.makefile("rb")
            first = self._read()
        except OSError as exc:
            raise ESLCheckError("connect", f"{self.host}:{self.port}: {exc}") from None
        if first is None or first.content_type != esl_parse.AUTH_REQUEST:
            ctype = first.content_type if first else "connection closed"
            raise ESLCheckError("connect", f"{self.host}:{self.port} did not ask for auth ({ctype}); "
                                "an ACL rejection looks like this (text/rude-rejection)")
        reply = self._command(f"auth {password}")
        if not reply.startswith("+OK"):
            raise ESLCheckError("auth", reply or "connection closed")

    def api(self, command: str) -> str:
        """``api COMMAND``'s body text (FreeSWITCH answers ``-ERR …`` in the body for failures)."""
        self._send(f"api {command}")
        msg = self._read_reply()
        return msg.body

    def subscribe(self, events: str) -> str:
        """``event plain EVENTS`` (as the engine subscribes); returns the Reply-Text (``+OK …`` on success)."""
        return self._command(f"event plain {events}")

    def close(self) -> None:
        """Close the connection (no ``exit`` round trip needed)."""
        for obj in (self.file, self.sock):
            try:
                if obj is not None:
                    obj.close()
            except OSError:
                pass

    def __enter__(self) -> "ESLClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- wire
    def _send(self, line: str) -> None:
        if "\n" in line:
            raise ValueError("one-line commands only")
        try:
            self.sock.sendall(line.encode("utf-8") + b"\n\n")
        except OSError as exc:
            raise ESLCheckError("command", f"send failed: {exc}") from None

    def _read(self) -> Optional[esl_parse.ESLMessage]:
        return esl_parse.read_message(self.file)

    def _read_reply(self) -> esl_parse.ESLMessage:
        while True:
            try:
                msg = self._read()
            except (OSError, esl_parse.ESLParseError) as exc:
                raise ESLCheckError("command", f"read failed: {exc}") from None
            if msg is None:
                raise ESLCheckError("command", "connection closed")
            if msg.content_type in (esl_parse.COMMAND_REPLY, esl_parse.API_RESPONSE):
                return msg
            if msg.content_type == esl_parse.DISCONNECT_NOTICE:
                raise ESLCheckError("command", "FreeSWITCH closed the connection")

    def _command(self, line: str) -> str:
        self._send(line)
        try:
            return self._read_reply().get("Reply-Text", "")
        except ESLCheckError as exc:
            if line.startswith("auth "):
                raise ESLCheckError("auth", str(exc)) from None
            raise
