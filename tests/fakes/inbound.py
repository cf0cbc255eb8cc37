"""One inbound ESL connection of :class:`~fakes.freeswitch.FakeFreeSwitch`."""
from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from fakes.esl import _now_us, api_response, disconnect_notice, plain_event, read_command, reply
if TYPE_CHECKING:  # pragma: no cover
    from fakes.freeswitch import FakeFreeSwitch


class _Conn:
    """One inbound connection of :class:`FakeFreeSwitch`."""

    def __init__(self, fake: FakeFreeSwitch, sock):
        self.fake, self.sock = fake, sock
        self.file = sock.makefile("rb")
        self.authed = False
        self.events: set = set()
        self.subclasses: set = set()
        self.lock = gevent.lock.Semaphore()
        self.closed = False

    def send(self, raw: bytes) -> None:
        """Write one message (ignored once closed)."""
        with self.lock:
            if self.closed:
                return
            try:
                self.sock.sendall(raw)
            except OSError:
                self.closed = True

    def close(self) -> None:
        """Close the socket (both directions)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(gevent.socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def wants(self, ev) -> bool:
        """Whether this connection subscribed to event ``ev`` (finding 1 subclass rule applied)."""
        if not self.authed or ev is None:
            return False
        name = ev.get("Event-Name")
        if "ALL" in self.events:
            return True
        if name == "CUSTOM":
            return ev.get("Event-Subclass") in self.subclasses
        return name in self.events

    def run(self) -> None:
        """Serve the connection: auth request, then commands until EOF/exit."""
        self.send(b"Content-Type: auth/request\n\n")
        while not self.closed:
            try:
                cmd = read_command(self.file)
            except OSError:
                cmd = None
            if cmd is None:
                break
            self.fake.commands.append(cmd)
            self.fake._notify()
            self.dispatch(cmd)
        self.closed = True

    def dispatch(self, cmd: str) -> None:
        """Answer one command as FreeSWITCH 1.10.12 did in the fixtures (inbound/session)."""
        first, *headers = cmd.split("\n")
        if not self.authed:
            if first.startswith("auth "):
                if first[5:] == self.fake.password:
                    self.authed = True
                    self.fake.auth_count += 1
                    self.send(reply("+OK accepted"))
                else:
                    self.send(reply("-ERR invalid"))
                    self.send(disconnect_notice())
                    self.close()
            else:
                self.send(reply("-ERR command not found"))
            return
        if first.startswith("event "):
            words = first.split()[2:]
            if "CUSTOM" in words:
                i = words.index("CUSTOM")
                self.events |= set(words[:i])
                self.subclasses |= set(words[i + 1:])  # finding 1: every word after CUSTOM is a subclass
            else:
                self.events |= set(words)
            self.send(reply("+OK event listener enabled plain"))
        elif first.startswith("api "):
            self.send(api_response(self.fake.api(first[4:])))
        elif first.startswith("bgapi "):
            job = dict(h.split(": ", 1) for h in headers if ": " in h).get("Job-UUID") or str(uuidlib.uuid4())
            self.send(reply("+OK Job-UUID: %s" % job, (("Job-UUID", job),)))
            body = self.fake.bgapi_result(first[6:])
            if body is None:
                return
            ev = plain_event([("Event-Name", "BACKGROUND_JOB"), ("Event-Date-Timestamp", _now_us()),
                              ("Job-UUID", job), ("Job-Command", first[6:].split()[0]),
                              ("Job-Command-Arg", first[6:].split(" ", 1)[-1])], body)
            gevent.spawn(self.fake.broadcast, ev)
        elif first == "exit":
            self.send(reply("+OK bye"))
            self.send(disconnect_notice())
            self.close()
        else:
            self.send(reply("-ERR command not found"))


# ------------------------------------------------------------------------------------ outbound
