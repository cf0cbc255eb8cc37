"""FakeFreeSwitch: inbound ESL on a real TCP port 0 with a small mod_conference model (see tests/fakes/__init__.py)."""
from __future__ import annotations

import re
import socket
import uuid as uuidlib
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from fsbridge.engines.freeswitch import esl_parse
from fakes.esl import _now_us, _set, _template, fixture, plain_event, recorded_events
from fakes.inbound import _Conn

if TYPE_CHECKING:  # pragma: no cover
    from fakes.call import FakeCall


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


#: member flag commands → (Member attribute, value); each is confirmed by ``<command>-member``
_FLAG_COMMANDS = {"mute": ("speak", False), "unmute": ("speak", True), "deaf": ("hear", False),
                  "undeaf": ("hear", True), "hold": ("hold", True), "unhold": ("hold", False)}


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
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as mod_event_socket's listener_run
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
            if sub in _FLAG_COMMANDS:
                attr, value = _FLAG_COMMANDS[sub]
                setattr(m, attr, value)
                self.broadcast(self.member_event(sub + "-member", m))
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
