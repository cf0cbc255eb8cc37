"""A fake FreeSWITCH for tests: a real TCP ESL server on port 0 (gevent), modelled on Otoru/Genesis
``tests/doubles.py``.

* :func:`read_transcript` — the strict reader of the fixture format (tests/fixtures/freeswitch/README.md).
* :class:`FakeFreeSwitch` — inbound ESL: ``auth``, ``event plain …`` (with FreeSWITCH's "every word after
  CUSTOM is a subclass" rule, finding 1), ``api``/``bgapi`` (canned replies; BACKGROUND_JOB results),
  ``exit``; a small mod_conference model answering ``conference <room> mute|unmute|deaf|undeaf|hold|unhold|
  kick|hup|play|relate|recording|json_list`` with the replies and events FreeSWITCH 1.10.12 produced in the
  fixtures (events are rendered from recorded templates); records every command; can replay recorded
  events and drop every connection.
* :class:`FakeCall` — FreeSWITCH connecting to an outbound-socket server: replays the recorded ``connect``
  reply of ``outbound/<s>.outbound_session.esl.txt`` and answers sendmsg executes with events rendered from
  that transcript's CHANNEL_EXECUTE(_COMPLETE) records; the ``conference`` app joins the model room.
"""
from __future__ import annotations

import re
import uuid as uuidlib
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from fsbridge.conference.native import EngineSnapshot
from fsbridge.engines.freeswitch import esl_parse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "freeswitch"

REC = re.compile(rb"(<<< freeswitch|>>> client) t=\+(\d+\.\d{3})s len=(\d+)\n")
CLOSE = re.compile(rb"=== close (freeswitch|client) t=\+(\d+\.\d{3})s\n")


def read_command(file) -> Optional[str]:
    """The next client command from a binary file-like: its lines up to a blank line (without it), or
    None at EOF. Leading blank lines are skipped (ESL commands end with an empty line)."""
    lines = []
    while True:
        line = file.readline()
        if not line:
            return None
        if line in (b"\n", b"\r\n"):
            if lines:
                return b"".join(lines).decode().rstrip("\n")
            continue
        lines.append(line)


def read_transcript(path) -> List[Tuple[str, float, bytes]]:
    """Records of a ``*.esl.txt`` file: ``("fs"|"client"|"close-freeswitch"|"close-client", t, bytes)``.
    Strict: asserts the framing of the fixture README ("Strict reader")."""
    data, pos, out = Path(path).read_bytes(), 0, []
    while data.startswith(b"#", pos):
        pos = data.index(b"\n", pos) + 1
    while pos < len(data):
        m = REC.match(data, pos)
        if m:
            n, s = int(m.group(3)), m.end()
            assert data[s + n:s + n + 1] == b"\n", "bad separator at %d" % (s + n)
            out.append(("fs" if m.group(1)[0] == ord("<") else "client", float(m.group(2)), data[s:s + n]))
            pos = s + n + 1
            continue
        m = CLOSE.match(data, pos)
        assert m, "garbage at %d" % pos
        out.append(("close-" + m.group(1).decode(), float(m.group(2)), b""))
        pos = m.end()
    return out


def fixture(rel: str) -> Path:
    """Path of a copied fixture (tests/fixtures/freeswitch/<rel>)."""
    return FIXTURES / rel


def recorded_events(rel: str) -> List[bytes]:
    """Raw ``text/event-plain`` messages FreeSWITCH sent in a transcript, in order."""
    return [b for d, _, b in read_transcript(fixture(rel)) if d == "fs" and b"Content-Type: text/event-plain" in b]


# ------------------------------------------------------------------------------------ encoding
def _enc(value: str) -> str:
    return quote(str(value), safe="/,()*!-_.~+")


def plain_event(pairs, body: Optional[str] = None) -> bytes:
    """Render a ``text/event-plain`` message (values URL-encoded like FreeSWITCH; inner Content-Length
    when ``body`` is given — BACKGROUND_JOB)."""
    inner = "".join("%s: %s\n" % (k, _enc(v)) for k, v in pairs)
    if body is not None:
        inner += "Content-Length: %d\n\n%s" % (len(body.encode()), body)
    else:
        inner += "\n"
    raw = inner.encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(raw) + raw


def reply(text: str, extra=()) -> bytes:
    """A ``command/reply`` message."""
    head = "Content-Type: command/reply\nReply-Text: %s\n" % text
    for k, v in extra:
        head += "%s: %s\n" % (k, v)
    return (head + "\n").encode()


def api_response(body: str) -> bytes:
    """An ``api/response`` message."""
    raw = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(raw) + raw


DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def disconnect_notice(disposition: Optional[str] = None, body: str = DISCONNECT_BODY) -> bytes:
    """``text/disconnect-notice`` (finding 5/30)."""
    head = "Content-Type: text/disconnect-notice\n"
    if disposition:
        head += "Content-Disposition: %s\n" % disposition
    raw = body.encode()
    return (head + "Content-Length: %d\n\n" % len(raw)).encode() + raw


def _template(rel: str, action: str) -> List[Tuple[str, str]]:
    for raw in recorded_events(rel):
        msg = esl_parse.parse_message(raw)
        if msg.event.get("Action") == action:
            return list(msg.event.header_list)
    raise LookupError(action)


def _set(pairs, name, value):
    out, done = [], False
    for k, v in pairs:
        if k == name and not done:
            out.append((k, str(value)))
            done = True
        elif k == name:
            continue
        else:
            out.append((k, v))
    if not done:
        out.append((name, str(value)))
    return out


_TS = [1795312400000000]


def _now_us() -> int:
    _TS[0] += 20000
    return _TS[0]


# ------------------------------------------------------------------------------------ model
class Member:
    """A member of the model room."""

    def __init__(self, room, member_id, uid, flags, call=None, cid=("1000", "Caller")):
        self.room, self.id, self.uid, self.call, self.cid = room, member_id, uid, call, cid
        self.speak = "mute" not in flags
        self.hear = "deaf" not in flags
        self.hold = False
        self.moderator = "moderator" in flags
        self.talking = False


class FakeFreeSwitch:
    """Inbound-ESL fake. ``port`` after :meth:`start`. ``commands``: every command (first line + headers
    as sent, without the final blank line) from every connection, in order. ``api_replies``: exact api
    command → body or callable(cmd) → body (checked before the model). ``bgapi_results``: prefix of the
    bgapi command → BACKGROUND_JOB body (default ``+OK <origination_uuid or uuid>\\n``).
    """

    CONF_TEMPLATE_FILE = "conference_lifecycle/events_plain.esl.txt"

    def __init__(self, password: str = "ClueCon"):
        self.password = password
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)
        self.commands: List[str] = []
        self.api_replies: Dict[str, object] = {}
        self.bgapi_results: Dict[str, str] = {}
        self.conns: List["_Conn"] = []
        self.rooms: Dict[str, Dict[int, Member]] = {}
        self.next_member_id = 100
        self.relations: Dict[Tuple[str, int, int], str] = {}
        self.auto_play_done = True
        self._changed = gevent.event.Event()
        self._member_tpl = _template(self.CONF_TEMPLATE_FILE, "add-member")
        self._conf_tpl = _template(self.CONF_TEMPLATE_FILE, "conference-create")
        self.auth_count = 0
        self.accepting = True
        self.refused = 0
        self.calls: Dict[str, "FakeCall"] = {}   # Unique-ID → outbound call (uuid_kill)
        self.max_members: Dict[str, int] = {}     # room → limit (0 = none), as mod_conference keeps it
        self.log: List[str] = []                  # what FreeSWITCH would log at ERR level

    # -- lifecycle
    def start(self) -> "FakeFreeSwitch":
        """Listen on 127.0.0.1:0."""
        self.server.start()
        self.port = self.server.server_port
        return self

    def stop(self) -> None:
        """Close everything."""
        self.drop()
        self.server.stop(timeout=1)

    def drop(self) -> None:
        """Close every inbound connection (FreeSWITCH restarted / network cut)."""
        for c in list(self.conns):
            c.close()

    def _handle(self, sock, addr):
        if not self.accepting:
            sock.close()
            self.refused += 1
            self._notify()
            return
        conn = _Conn(self, sock)
        self.conns.append(conn)
        try:
            conn.run()
        finally:
            if conn in self.conns:
                self.conns.remove(conn)
            self._notify()

    def _notify(self):
        self._changed.set()
        self._changed = gevent.event.Event()

    def wait_for(self, pred: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait (on events, no polling sleeps) until ``pred()`` holds; False on timeout."""
        with gevent.Timeout(timeout, False):
            while not pred():
                self._changed.wait()
            return True
        return pred()

    def wait_command(self, prefix: str, timeout: float = 5.0) -> str:
        """Wait for a received command starting with ``prefix``; returns it (AssertionError on timeout)."""
        found = []

        def pred():
            found[:] = [c for c in self.commands if c.startswith(prefix)]
            return bool(found)
        assert self.wait_for(pred, timeout), "no command %r; got %r" % (prefix, self.commands[-10:])
        return found[0]

    @property
    def authed(self) -> List["_Conn"]:
        """Authenticated connections."""
        return [c for c in self.conns if c.authed]

    # -- events
    def broadcast(self, raw: bytes) -> None:
        """Send an event message to every connection subscribed to it."""
        msg = esl_parse.parse_message(raw)
        for c in list(self.conns):
            if c.wants(msg.event):
                c.send(raw)

    def replay(self, rel: str, pred: Optional[Callable[[esl_parse.ESLMessage], bool]] = None) -> int:
        """Broadcast the recorded events of fixture ``rel`` (optionally filtered); returns how many."""
        count = 0
        for raw in recorded_events(rel):
            if pred is None or pred(esl_parse.parse_message(raw).event):
                self.broadcast(raw)
                count += 1
        return count

    def member_event(self, action: str, m: Member, extra=()) -> bytes:
        """A conference::maintenance member event built from the recorded add-member template."""
        p = list(self._member_tpl)
        for k, v in (("Conference-Name", m.room), ("Unique-ID", m.uid), ("Caller-Unique-ID", m.uid),
                     ("Channel-Call-UUID", m.uid), ("Member-ID", m.id), ("Action", action),
                     ("Event-Date-Timestamp", _now_us()), ("Hear", str(m.hear).lower()),
                     ("Speak", str(m.speak).lower()), ("Hold", str(m.hold).lower()),
                     ("Talking", str(m.talking).lower()),
                     ("Member-Type", "moderator" if m.moderator else "member"),
                     ("Conference-Size", len(self.rooms.get(m.room, {}))),
                     ("Caller-Caller-ID-Number", m.cid[0]), ("Caller-Caller-ID-Name", m.cid[1])):
            p = _set(p, k, v)
        p = [kv for kv in p if kv[0] != "Action"] + list(extra) + [("Action", action)]
        return plain_event(p)

    def conf_event(self, action: str, room: str, extra=()) -> bytes:
        """A room-level conference::maintenance event (recorded conference-create template)."""
        p = list(self._conf_tpl)
        for k, v in (("Conference-Name", room), ("Event-Date-Timestamp", _now_us()),
                     ("Conference-Size", len(self.rooms.get(room, {})))):
            p = _set(p, k, v)
        p = [kv for kv in p if kv[0] != "Action"] + list(extra) + [("Action", action)]
        return plain_event(p)

    def add_member(self, room: str, uid: str, flags=(), call=None, cid=("1000", "Caller")) -> Member:
        """Put a member in the model room (conference-create first if new) and emit add-member."""
        if room not in self.rooms:
            self.rooms[room] = {}
            self.broadcast(self.conf_event("conference-create", room))
        self.next_member_id += 1
        m = Member(room, self.next_member_id, uid, flags, call, cid)
        self.rooms[room][m.id] = m
        self.broadcast(self.member_event("add-member", m))
        self._notify()
        return m

    def remove_member(self, m: Member, reason: str, cause: Optional[str] = None) -> None:
        """del-member (+ conference-destroy when empty); ``reason`` "kick"|"hup"|"hangup"|"end"."""
        room = self.rooms.get(m.room, {})
        room.pop(m.id, None)
        extra = (("Hangup-Cause", cause),) if cause else ()
        self.broadcast(self.member_event("del-member", m, extra))
        if m.call is not None:
            m.call.conference_ended(reason, m)
        if not room and m.room in self.rooms:
            del self.rooms[m.room]
            self.max_members.pop(m.room, None)
            self.broadcast(self.conf_event("conference-destroy", m.room))
        self._notify()

    def find(self, uid: str) -> Optional[Member]:
        """The member with channel ``uid``."""
        for room in self.rooms.values():
            for m in room.values():
                if m.uid == uid:
                    return m
        return None

    # -- api
    def api(self, cmd: str) -> str:
        """Answer one ``api`` command (canned first, then the conference model)."""
        canned = self.api_replies.get(cmd)
        if canned is not None:
            return canned(cmd) if callable(canned) else canned
        words = cmd.split()
        if words[:1] == ["conference"]:
            return self._conference(words[1:])
        if words[:1] == ["uuid_setvar"]:
            return "+OK"
        if words[:1] == ["uuid_kill"] and len(words) >= 2:
            call = self.calls.get(words[1])
            if call is None:
                return "-ERR No such channel!\n"
            gevent.spawn(call.hangup, words[2] if len(words) > 2 else "NORMAL_CLEARING")
            return "+OK\n"
        if words[:1] == ["version"]:
            return fixture("lists/version.txt").read_text()
        return "-ERR %s Command not found!\n" % words[0] if words else "-ERR no reply"

    def _conference(self, a: List[str]) -> str:
        if a == ["json_list"]:
            return self.json_list()
        if a == ["list"]:
            return "+OK No active conferences.\n" if not self.rooms else "".join(
                "+OK Conference %s\n" % r for r in self.rooms)
        if len(a) < 2:
            return "-ERR usage"
        room_name, sub, rest = a[0], a[1], a[2:]
        room = self.rooms.get(room_name)
        if room is None:
            return "-ERR Conference %s not found\n" % room_name
        if sub == "json_list":
            return self.json_list(room_name)
        if sub in ("set", "get") and rest[:1] == ["max_members"]:
            # moderated/maxmembers: "set max_members 2" answers the previous value ("0"), "get" the value;
            # conference_api.c accepts any value >= 0 here (1 included, unlike the channel variable)
            prev = self.max_members.get(room_name, 0)
            if sub == "set":
                if len(rest) < 2 or not rest[1].isdigit():
                    return "-ERR usage"
                self.max_members[room_name] = int(rest[1])
            return "%d" % prev
        if sub == "hup" and rest == ["all"]:
            for m in list(room.values()):
                self.broadcast(self.member_event("hup-member", m))
                self.remove_member(m, "end")
            return "+OK hup all\n"
        if sub in ("play",):
            if len(rest) == 1:
                self.broadcast(self.conf_event("play-file", room_name, (("File", rest[0]),)))
                if self.auto_play_done:
                    self.broadcast(self.conf_event("play-file-done", room_name, (("File", rest[0]),)))
                return "+OK (play) Playing file %s\n" % rest[0]
            m = room.get(int(rest[1])) if rest[1].isdigit() else None
            if m is None:
                return "-ERR Member: %s not found.\n" % rest[1]
            if self.auto_play_done:
                self.broadcast(self.member_event("play-file-member-done", m, (("File", rest[0]),)))
            return "+OK (play) Playing file %s to member %s\n" % (rest[0], m.id)
        if sub == "recording":
            action, path = rest[0], rest[1]
            names = {"start": "start-recording", "pause": "pause-recording", "resume": "resume-recording",
                     "stop": "stop-recording"}
            extra = (("Path", path),)
            if action == "stop":
                extra += (("Milliseconds-Elapsed", "5000"), ("Record-File-Size", "80044"))
            self.broadcast(self.conf_event(names[action], room_name, extra))
            if action == "stop":
                return "Stopped recording file %s\n+OK Stopped recording 0 files\n" % path
            return "+OK %s recording file %s\n" % (action, path)
        if sub == "relate":
            m1, m2, kind = int(rest[0]), int(rest[1]), rest[2]
            if kind == "clear":
                self.relations.pop((room_name, m1, m2), None)
                return "+OK relationship %d->%d cleared.\n" % (m1, m2)
            self.relations[(room_name, m1, m2)] = kind
            return "+OK %d->%d %s set\n" % (m1, m2, kind)
        if not rest:
            return "usage text"
        if rest[0] == "all":
            targets = list(room.values())
        else:
            m = room.get(int(rest[0])) if rest[0].isdigit() else None
            if m is None:
                return "-ERR Non-Existant ID %s\n" % rest[0]
            targets = [m]
        for m in targets:
            if sub == "mute":
                m.speak = False
                self.broadcast(self.member_event("mute-member", m))
            elif sub == "unmute":
                m.speak = True
                self.broadcast(self.member_event("unmute-member", m))
            elif sub == "deaf":
                m.hear = False
                self.broadcast(self.member_event("deaf-member", m))
            elif sub == "undeaf":
                m.hear = True
                self.broadcast(self.member_event("undeaf-member", m))
            elif sub == "hold":
                m.hold = True
                self.broadcast(self.member_event("hold-member", m))
            elif sub == "unhold":
                m.hold = False
                self.broadcast(self.member_event("unhold-member", m))
                if len(rest) > 1 or getattr(m, "hold_file", None):
                    pass
            elif sub == "kick":
                self.broadcast(self.member_event("kick-member", m))
                self.remove_member(m, "kick")
            elif sub == "hup":
                self.broadcast(self.member_event("hup-member", m))
                self.remove_member(m, "hup")
            elif sub == "stop":
                pass
            else:
                return "-ERR Conference command '%s' not found.\n" % sub
        if sub == "stop":
            return "+OK Stopped 1 files\n"
        self._notify()
        return "+OK %s %s\n" % (sub, " ".join(rest[:1]))

    def json_list(self, only: Optional[str] = None) -> str:
        """``json_list`` of the model (shape of lists/conference_json_list_all.json)."""
        import json
        out = []
        for name, room in self.rooms.items():
            if only and name != only:
                continue
            members = [{
                "type": "caller", "id": m.id, "uuid": m.uid,
                "flags": {"can_hear": m.hear and not m.hold, "can_speak": m.speak and not m.hold,
                          "hold": m.hold, "talking": m.talking, "is_moderator": m.moderator},
                "caller_id_name": m.cid[1], "caller_id_number": m.cid[0],
            } for m in sorted(room.values(), key=lambda m: -m.id)]
            out.append({"conference_name": name, "member_count": len(room), "members": members})
        if only and not out:
            return "-ERR Conference %s not found\n" % only
        return json.dumps(out, indent="\t")

    def bgapi_result(self, cmd: str) -> Optional[str]:
        """BACKGROUND_JOB body for a bgapi command (None: no BACKGROUND_JOB is sent)."""
        for prefix, body in self.bgapi_results.items():
            if cmd.startswith(prefix):
                return body
        m = re.search(r"origination_uuid=([0-9a-f-]+)", cmd)
        return "+OK %s\n" % (m.group(1) if m else uuidlib.uuid4())


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
class FakeCall:
    """FreeSWITCH handing a call to an outbound-socket server (``socket host:port async full``).

    Replays the recorded ``connect`` reply of ``outbound/<session>.outbound_session.esl.txt`` (Unique-ID
    replaced by ``uid`` when given); answers every app command like FreeSWITCH did in that transcript.
    ``fake``: the :class:`FakeFreeSwitch` whose model rooms the ``conference`` app joins (add-member goes to
    the inbound connections and to this socket, finding 28). ``refuse_join``: behave as a full room
    (finding 26). ``received``: every command the app sent.
    """

    def __init__(self, fake: Optional[FakeFreeSwitch], host: str, port: int,
                 session: str = "basic", uid: Optional[str] = None, refuse_join: bool = False,
                 variables=()):
        self.fake, self.host, self.port = fake, host, port
        self.records = read_transcript(fixture("outbound/%s.outbound_session.esl.txt" % session))
        self.refuse_join = refuse_join
        self.variables: Dict[str, str] = {}   # channel variables the app set (set/unset executes)
        self.received: List[str] = []
        self.lingering = False
        self.hung_up = False
        self.member: Optional[Member] = None
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

    def start(self) -> "FakeCall":
        """Connect to the server and serve in a greenlet."""
        if self.fake is not None:
            self.fake.calls[self.uid] = self
        self.sock = gevent.socket.create_connection((self.host, self.port), timeout=5)
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
            self.send(self.connect_reply)
        elif first == "myevents":
            self.send(reply("+OK Events Enabled"))
        elif first.startswith("event "):
            self.send(reply("+OK event listener enabled plain"))
        elif first.startswith("linger"):
            self.lingering = True
            self.send(reply("+OK will linger"))
        elif first.startswith("api "):
            if first.startswith("api uuid_kill %s" % self.uid):
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
        app, arg, ev_uuid = h.get("execute-app-name"), h.get("execute-app-arg", ""), h.get("Event-UUID", "")
        ext = (("Application", app), ("Application-Data", arg), ("Application-UUID", ev_uuid))
        self.send(self.event("CHANNEL_EXECUTE", app, ext))
        if app == "set" and "=" in arg:
            name, _, value = arg.partition("=")
            self.variables[name] = value
        elif app == "unset":
            self.variables.pop(arg, None)
        if app == "conference" and not self.refuse_join and self.fake is not None and not self.hung_up \
                and not self._room_full(arg.partition("@")[0]):
            room, _, flags = arg.partition("@")
            fl = re.search(r"\+flags\{([^}]*)\}", flags)
            done = gevent.event.AsyncResult()
            self._conf_done = (ev_uuid, done)
            m = self.fake.add_member(room, self.uid, fl.group(1).split("|") if fl else (), call=self)
            self.member = m
            self.send(self.fake.member_event("add-member", m))
            reason = done.get()
            extra = ext + (("Application-Response", "_none_"), ("variable_conference_member_id", m.id))
            if reason == "hangup":
                extra += (("Answer-State", "hangup"),)
            else:
                extra += (("Answer-State", "answered"),)
            self.send(self.event("CHANNEL_EXECUTE_COMPLETE", app, extra))
            return
        resp = "FILE PLAYED" if app == "playback" else "_none_"
        self.send(self.event("CHANNEL_EXECUTE_COMPLETE", app, ext + (("Application-Response", resp),)))

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
        self.send(self.event("DTMF", "", (("DTMF-Digit", digit), ("DTMF-Duration", "1600"),
                                          ("DTMF-Source", "RTP"))))

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up: CHANNEL_HANGUP, linger notice, member removed, conference app completes
        with Answer-State hangup, CHANNEL_HANGUP_COMPLETE (outbound/basic order, finding 29)."""
        if self.hung_up:
            return
        self.hung_up = True
        self.send(self.event("CHANNEL_HANGUP", "", (("Hangup-Cause", cause), ("Answer-State", "hangup"))))
        if self.lingering:
            self.send(disconnect_notice("linger", ""))
        if self.member is not None and self.fake is not None:
            self.fake.remove_member(self.member, "hangup", cause)
        hc = self.event("CHANNEL_HANGUP_COMPLETE", "", (("Hangup-Cause", cause), ("Answer-State", "hangup")))
        self.send(hc)
        if self.fake is not None:
            self.fake.broadcast(hc)
        if not self.lingering:
            self.send(disconnect_notice("disconnect"))
            try:
                self.sock.shutdown(gevent.socket.SHUT_RDWR)
            except OSError:
                pass


# ------------------------------------------------------------------------------------ strict replay
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


class Sink:
    """Collects NativeEvents (``events``) and EngineSnapshots (``snapshots``) from an engine's event sink; ``wait(pred)`` blocks on a gevent Event (no sleeps)
    until an event matching ``pred`` arrived, else AssertionError after ``timeout`` seconds."""

    def __init__(self, timeout: float = 5.0):
        self.events = []
        self.snapshots = []     # EngineSnapshots (sent after each ESL (re)connect)
        self.timeout = timeout
        self._changed = gevent.event.Event()

    def __call__(self, ev):
        (self.snapshots if isinstance(ev, EngineSnapshot) else self.events).append(ev)
        self._changed.set()
        self._changed = gevent.event.Event()

    def wait(self, pred, timeout: Optional[float] = None):
        """The first event so far or to come for which ``pred(event)`` is true."""
        with gevent.Timeout(self.timeout if timeout is None else timeout, False):
            while True:
                hits = [e for e in self.events if pred(e)]
                if hits:
                    return hits[0]
                self._changed.wait()
        raise AssertionError("no such event; got %r" % [(e.action, e.room, e.member_id) for e in self.events])

    def actions(self, room=None):
        """The actions received so far (of one room when ``room`` is given)."""
        return [e.action for e in self.events if room is None or e.room == room]
