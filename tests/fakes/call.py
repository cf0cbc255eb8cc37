"""FakeCall: FreeSWITCH connecting to an outbound-socket server, replaying a recorded session."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from fsbridge.engines.freeswitch import esl_parse
from fakes.esl import (_enc, _now_us, _set, api_response, disconnect_notice, fixture, plain_event, read_command,
                       read_transcript, reply)
from fakes.freeswitch import FakeFreeSwitch, Member


#: the channel events ``myevents`` subscribes to (mod_event_socket.c 1.10.12, parse_command "myevents")
MYEVENTS = frozenset((
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF",
    "NOTALK", "TALK"))


class FakeCall:
    """FreeSWITCH handing a call to an outbound-socket server (``socket host:port async full``).

    Replays the recorded ``connect`` reply of ``outbound/<session>.outbound_session.esl.txt`` (Unique-ID
    replaced by ``uid`` when given); answers every app command like FreeSWITCH did in that transcript.
    ``fake``: the :class:`FakeFreeSwitch` whose model rooms the ``conference`` app joins (add-member goes to
    the inbound connections and to this socket, finding 28). ``refuse_join``: behave as a full room
    (finding 26). ``received``: every command the app sent. ``connect_delay``: seconds FreeSWITCH takes to
    answer ``connect`` (a CPU-bound FreeSWITCH, issue 21); with ``connect_lock`` (a semaphore shared by
    many calls) the delays are served one after another, as a saturated FreeSWITCH does.

    Subscriptions as mod_event_socket.c 1.10.12 keeps them: channel events reach the app only once it
    subscribed (``myevents`` = :data:`MYEVENTS`, ``event plain <names>`` adds, ``nixevent <names>`` removes;
    before any of them every event is sent, as this fake always did). ``delivered`` counts the channel
    events written, by Event-Name. Besides the events an app reads, the fake emits the ones FreeSWITCH sends
    around them in outbound/basic (CHANNEL_EXECUTE, PROGRESS_MEDIA + ANSWER on answer, UNPARK + two
    CHANNEL_STATE before CHANNEL_HANGUP_COMPLETE).
    """

    def __init__(self, fake: Optional[FakeFreeSwitch], host: str, port: int,
                 session: str = "basic", uid: Optional[str] = None, refuse_join: bool = False,
                 variables=(), connect_delay: float = 0.0, connect_lock=None):
        self.fake, self.host, self.port = fake, host, port
        self.connect_delay, self.connect_lock = connect_delay, connect_lock
        self.records = read_transcript(fixture("outbound/%s.outbound_session.esl.txt" % session))
        self.refuse_join = refuse_join
        self.variables: Dict[str, str] = {}   # channel variables the app set (set/unset executes)
        self.received: List[str] = []
        self.lingering = False
        self.hung_up = False
        self.member: Optional[Member] = None
        self.subscribed: Optional[set] = None    # channel event names the app gets (None: all, never subscribed)
        self.delivered: Dict[str, int] = {}
        self._conf_done: Optional[Tuple[str, gevent.event.AsyncResult]] = None
        self.closed = gevent.event.Event()
        self._changed = gevent.event.Event()
        connect = next(b for d, _, b in self.records if d == "fs" and b"Reply-Text: %2BOK%0A" in b)
        msg = esl_parse.parse_message(connect)
        self.orig_uid = msg.get("Unique-ID")
        self.uid = uid or self.orig_uid
        pairs = [(k, v.replace(self.orig_uid, self.uid)) for k, v in msg.header_list] + list(variables)
        ctype = [kv for kv in pairs if kv[0] in ("Content-Type", "Reply-Text", "Socket-Mode", "Control")]
        rest = [kv for kv in pairs if kv not in ctype]
        self.connect_reply = "".join("%s: %s\n" % (k, _enc(v)) for k, v in rest + ctype).encode() + b"\n"
        self.templates: Dict[Tuple[str, str], List[Tuple[str, str]]] = {}
        for d, _, b in self.records:
            if d == "fs" and b"text/event-plain" in b:
                ev = esl_parse.parse_message(b).event
                key = (ev.get("Event-Name"), ev.get("Application", ""))
                self.templates.setdefault(key, list(ev.header_list))
        self.lock = gevent.lock.Semaphore()
        self._break = gevent.event.Event()   # uuid_break: ends a silence_stream playback early
        self._exec_order = gevent.lock.Semaphore()   # executes start in the order sent (FreeSWITCH: one queue)

    def start(self) -> "FakeCall":
        """Connect to the server and serve in a greenlet."""
        if self.fake is not None:
            self.fake.calls[self.uid] = self
        self.sock = gevent.socket.create_connection((self.host, self.port), timeout=5)
        # mod_event_socket.c socket app: TCP_NODELAY on the outbound connection, as FreeSWITCH sets it
        self.sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)
        self.file = self.sock.makefile("rb")
        self.greenlet = gevent.spawn(self._run)
        return self

    def wait_command(self, prefix: str, timeout: float = 5.0) -> str:
        """Wait for an app command whose text contains ``prefix``; returns it."""
        with gevent.Timeout(timeout, False):
            while True:
                for c in self.received:
                    if prefix in c:
                        return c
                self._changed.wait()
        raise AssertionError("app sent no %r; got %r" % (prefix, self.received))

    def _notify(self):
        self._changed.set()
        self._changed = gevent.event.Event()

    def send(self, raw: bytes) -> None:
        """Write one message to the application (errors ignored: the app may have closed)."""
        with self.lock:
            try:
                self.sock.sendall(raw)
            except OSError:
                pass

    def event(self, name: str, app: str = "", extra=()) -> bytes:
        """A channel event rendered from the transcript's template for (name, app)."""
        tpl = self.templates.get((name, app)) or self.templates.get((name, "")) or \
            self.templates[("CHANNEL_EXECUTE_COMPLETE", "answer")]
        p = [(k, v.replace(self.orig_uid, self.uid)) for k, v in tpl]
        p = _set(p, "Event-Name", name)
        p = _set(p, "Event-Date-Timestamp", _now_us())
        for k, v in extra:
            p = _set(p, k, v)
        return plain_event(p)

    def emit(self, name: str, app: str = "", extra=()) -> None:
        """Send the channel event ``name`` (see :meth:`event`) if the app is subscribed to it."""
        if self.subscribed is not None and name not in self.subscribed:
            return
        self.delivered[name] = self.delivered.get(name, 0) + 1
        self.send(self.event(name, app, extra))

    def _subscribe(self, first: str) -> str:
        """``myevents`` / ``event plain <names> [CUSTOM <subclasses>]`` / ``nixevent <names>`` → the reply."""
        words = first.split()
        if words[0] == "myevents":
            self.subscribed = set(self.subscribed or ()) | MYEVENTS
            return "+OK Events Enabled"
        names = words[2:] if words[0] == "event" else words[1:]
        names = names[:names.index("CUSTOM")] if "CUSTOM" in names else names
        if words[0] == "event":
            self.subscribed = set(self.subscribed or ()) | set(names)
            return "+OK event listener enabled plain"
        if not words[1:]:
            return "-ERR no keywords supplied"
        self.subscribed = set(self.subscribed if self.subscribed is not None else MYEVENTS) - set(names)
        return "+OK events nixed"

    def _run(self):
        try:
            while True:
                cmd = read_command(self.file)
                if cmd is None:
                    return
                self.received.append(cmd)
                self._notify()
                if self._dispatch(cmd):
                    return
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.closed.set()
            self._notify()

    def _dispatch(self, cmd: str) -> bool:
        first, *hdr = cmd.split("\n")
        headers = dict(h.split(": ", 1) for h in hdr if ": " in h)
        if first == "connect":
            if self.connect_delay:
                with (self.connect_lock or gevent.lock.DummySemaphore()):
                    gevent.sleep(self.connect_delay)  # the delay is data: how slow FreeSWITCH is
            self.send(self.connect_reply)
        elif first == "myevents" or first.startswith("event ") or first.split(" ")[0] == "nixevent":
            self.send(reply(self._subscribe(first)))
        elif first.startswith("linger"):
            self.lingering = True
            self.send(reply("+OK will linger"))
        elif first.startswith("api "):
            if first.startswith("api uuid_break %s" % self.uid):
                self._break.set()
                body = "+OK\n"
            elif first.startswith("api uuid_kill %s" % self.uid):
                gevent.spawn(self.hangup, (first.split() + ["NORMAL_CLEARING"])[3])
                body = "+OK\n"
            else:
                body = self.fake.api(first[4:]) if self.fake else "+OK"
            self.send(api_response(body))
        elif first == "exit":
            self.send(reply("+OK bye"))
            self.send(disconnect_notice("disconnect"))
            return True
        elif first == "sendmsg" and headers.get("call-command") == "execute":
            self.send(reply("+OK"))
            gevent.spawn(self._execute, headers)
        elif first == "sendmsg" and headers.get("call-command") == "hangup":
            self.send(reply("+OK"))
            gevent.spawn(self.hangup, headers.get("hangup-cause", "NORMAL_CLEARING"))
        else:
            self.send(reply("-ERR command not found"))
        return False

    def _execute(self, h: Dict[str, str]) -> None:
        # FreeSWITCH runs a channel's executes one after another in the order they were sent (the session
        # thread dequeues its messages): pipelined sendmsgs must not start out of order here either
        with self._exec_order:
            self._start_execute(h)

    def _start_execute(self, h: Dict[str, str]) -> None:
        app, arg, ev_uuid = h.get("execute-app-name"), h.get("execute-app-arg", ""), h.get("Event-UUID", "")
        ext = (("Application", app), ("Application-Data", arg), ("Application-UUID", ev_uuid))
        self.emit("CHANNEL_EXECUTE", app, ext)
        if app == "answer":
            self.emit("CHANNEL_PROGRESS_MEDIA")
            self.emit("CHANNEL_ANSWER")
        if app == "set" and "=" in arg:
            name, _, value = arg.partition("=")
            self.variables[name] = value
        elif app == "unset":
            self.variables.pop(arg, None)
        elif app == "multiset":   # mod_dptools: "^^<delim>" then name=value pairs; an empty value unsets
            delim, body = (arg[2], arg[3:]) if arg.startswith("^^") else (" ", arg)
            for pair in body.split(delim):
                name, _, value = pair.partition("=")
                if value:
                    self.variables[name] = value
                else:
                    self.variables.pop(name, None)
        if app == "conference" and not self.refuse_join and self.fake is not None and not self.hung_up \
                and not self._room_full(arg.partition("@")[0]):
            room, _, flags = arg.partition("@")
            fl = re.search(r"\+flags\{([^}]*)\}", flags)
            done = gevent.event.AsyncResult()
            self._conf_done = (ev_uuid, done)
            m = self.fake.add_member(room, self.uid, fl.group(1).split("|") if fl else (), call=self)
            self.member = m
            self.send(self.fake.member_event("add-member", m))
            gevent.spawn(self._finish_conference, m, done, app, ext)
            return
        gevent.spawn(self._finish_execute, app, arg, ext)

    def _finish_conference(self, m, done, app, ext) -> None:
        reason = done.get()
        extra = ext + (("Application-Response", "_none_"), ("variable_conference_member_id", m.id))
        if reason == "hangup":
            extra += (("Answer-State", "hangup"),)
        else:
            extra += (("Answer-State", "answered"),)
        self.emit("CHANNEL_EXECUTE_COMPLETE", app, extra)

    def _finish_execute(self, app, arg, ext) -> None:
        if app == "playback" and arg.startswith("silence_stream://") and arg[17:].isdigit():
            self._break.clear()   # silence plays for its length (engine time = wall time) or until uuid_break
            self._break.wait(int(arg[17:]) / 1000.0)
        resp = "FILE PLAYED" if app == "playback" else "_none_"
        self.emit("CHANNEL_EXECUTE_COMPLETE", app, ext + (("Application-Response", resp),))

    def _room_full(self, room: str) -> bool:
        """mod_conference's max-members check for a join into ``room``. A new room takes its limit from the
        joiner's ``conference_max_members``, which must be 0 or >= 2: FreeSWITCH 1.10.12 logs
        "conference_max_members variable 1 is invalid, not setting a limit" (mod_conference.c) and the room
        keeps the profile's limit (the fsbridge profile: 250)."""
        members = self.fake.rooms.get(room)
        if not members:
            value = self.variables.get("conference_max_members", "")
            limit = int(value) if value.isdigit() else 250
            if limit == 1:
                self.fake.log.append("conference_max_members variable %s is invalid, not setting a limit" % value)
                limit = 250
            self.fake.max_members[room] = limit
            return False
        limit = self.fake.max_members.get(room, 0)
        return bool(limit) and len(members) >= limit

    def conference_ended(self, reason: str, m: Member) -> None:
        """Called by the model when this call's member left (kick/hup/end/hangup)."""
        if self._conf_done is not None:
            self._conf_done[1].set(reason)
            self._conf_done = None
        self.member = None

    def dtmf(self, digit: str) -> None:
        """The caller pressed ``digit`` (DTMF event on this socket)."""
        self.emit("DTMF", "", (("DTMF-Digit", digit), ("DTMF-Duration", "1600"), ("DTMF-Source", "RTP")))

    def hangup(self, cause: str = "NORMAL_CLEARING", extra=()) -> None:
        """The caller hangs up (a silence playback under way ends): CHANNEL_HANGUP, linger notice, member
        removed, conference app completes with Answer-State hangup, CHANNEL_HANGUP_COMPLETE (outbound/basic
        order, finding 29) — with the ``extra`` (header, value) pairs, e.g. recorded ``variable_rtp_audio_in_*``
        statistics."""
        if self.hung_up:
            return
        self.hung_up = True
        self._break.set()
        self.emit("CHANNEL_HANGUP", "", (("Hangup-Cause", cause), ("Answer-State", "hangup")))
        if self.lingering:
            self.send(disconnect_notice("linger", ""))
        if self.member is not None and self.fake is not None:
            self.fake.remove_member(self.member, "hangup", cause)
        for name in ("CHANNEL_UNPARK", "CHANNEL_STATE", "CHANNEL_STATE"):
            self.emit(name, "", (("Answer-State", "hangup"),))
        pairs = (("Hangup-Cause", cause), ("Answer-State", "hangup")) + tuple(extra)
        self.emit("CHANNEL_HANGUP_COMPLETE", "", pairs)
        hc = self.event("CHANNEL_HANGUP_COMPLETE", "", pairs)
        if self.fake is not None:
            self.fake.broadcast(hc)
        if not self.lingering:
            self.send(disconnect_notice("disconnect"))
            try:
                self.sock.shutdown(gevent.socket.SHUT_RDWR)
            except OSError:
                pass


# ------------------------------------------------------------------------------------ strict replay
