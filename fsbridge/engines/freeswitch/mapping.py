"""ESL events → :class:`~fsbridge.conference.native.NativeEvent`.

Input: an event parsed by :mod:`esl_parse` (``CUSTOM conference::maintenance``, ``CHANNEL_HANGUP_COMPLETE``,
``DTMF``). Output: zero or more NativeEvents. Header names come from :mod:`wire`.

Behaviour from the FreeSWITCH 1.10.12 fixtures (tests/fixtures/freeswitch/README.md):

* room = ``Conference-Name`` (the engine room is the ConferenceSid); times = ``Event-Date-Timestamp`` (µs,
  finding 8); member events carry ``Member-ID``/``Unique-ID``/``Member-Type`` (finding 12).
* Repeated headers (finding 6) — the first value is used (``Conference-Size`` of floor-change and
  play-file-member-done; ``Hangup-Cause`` ×2 are equal).
* ``floor-change``, ``lock``, ``unlock``, ``energy-level-member``, ``gain-level``, ``mute-detect`` and
  ``play-file-member`` are not mapped (not in the native vocabulary).
* Correlation: Unique-ID ↔ (room, Member-ID) is learnt from add-member and forgotten at del-member, so
  a DTMF or CHANNEL_HANGUP_COMPLETE of a member carries its room and member id; the hangup event also
  carries ``variable_conference_name``/``variable_conference_member_id`` (conference_lifecycle).
* start-talking/stop-talking pass through :class:`TalkGate` (the shared
  :class:`fsbridge.engines.talk.TalkDebouncer`) so speaker events match the standalone engine.
  A mute resets the member's talk state without an event (finding 21: FreeSWITCH sends no stop-talking).
"""
from __future__ import annotations

import json

from typing import Callable, Dict, List, Optional, Tuple

from fsbridge.conference import native as n
from fsbridge.conference.native import MemberSnapshot
from fsbridge.engines.base import EngineError
from fsbridge.engines.freeswitch import wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage
from fsbridge.engines.freeswitch.quality import quality_extras

# wire names (wire.py), re-exported under the names the engine uses
CONFERENCE_SUBCLASS = wire.CONFERENCE_SUBCLASS
EV_HANGUP_COMPLETE = wire.EV_CHANNEL_HANGUP_COMPLETE
EV_DTMF = wire.EV_DTMF
EV_BACKGROUND_JOB = wire.EV_BACKGROUND_JOB

# conference::maintenance Actions mapped 1:1 (their names are the native action names; native.py)
MAPPED_ACTIONS = frozenset({
    n.CONFERENCE_CREATE, n.CONFERENCE_DESTROY, n.ADD_MEMBER, n.DEL_MEMBER, n.MUTE_MEMBER, n.UNMUTE_MEMBER,
    n.DEAF_MEMBER, n.UNDEAF_MEMBER, n.HOLD_MEMBER, n.UNHOLD_MEMBER, n.KICK_MEMBER, n.HUP_MEMBER,
    n.START_TALKING, n.STOP_TALKING, n.PLAY_FILE, n.PLAY_FILE_DONE, n.PLAY_FILE_MEMBER_DONE,
    n.START_RECORDING, n.STOP_RECORDING, n.PAUSE_RECORDING, n.RESUME_RECORDING, n.DTMF_MEMBER,
})
# headers copied into NativeEvent.extra when present (caller id, member flags as FreeSWITCH reports them)
EXTRA_HEADERS = (wire.H_CALLER_NUMBER, wire.H_CALLER_NAME, wire.H_HEAR, wire.H_SPEAK, wire.H_HOLD,
                 wire.H_TALKING, wire.H_DTMF_SOURCE)


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


class TalkGate:
    """Per-member talk debouncing with the shared ``TalkDebouncer`` (engines/talk.py).

    ``feed(ev)``: a raw start-talking/stop-talking NativeEvent → the debounced ones (0..2).
    ``poll(now_us)``: stops whose hangover elapsed. ``reset(room, member)``: forget without an event.
    ``stop_ms``: extra hangover (FreeSWITCH already waits 40 frames); 0 = stop at once. Only members whose
    debounced state may still change (last raw observation ≠ debounced state) are polled and keep
    :meth:`pending` true, so a frequent poll costs nothing while nobody waits for a decision (issue 21).
    """

    def __init__(self, start_ms: int = 0, stop_ms: int = 300, factory: Optional[Callable] = None):
        if factory is None:
            from fsbridge.engines.talk import TalkDebouncer

            def factory():
                """A fresh debouncer for one member."""
                return TalkDebouncer(start_ms=start_ms, stop_ms=stop_ms)
        self._factory = factory
        self._d: Dict[Tuple[str, int], object] = {}
        self._meta: Dict[Tuple[str, int], Tuple[str, Optional[str], int]] = {}  # key → (room, uid, member)
        self._waiting: Dict[Tuple[str, int], bool] = {}   # key → last raw observation, while undecided

    def feed(self, ev: n.NativeEvent) -> List[n.NativeEvent]:
        """Debounce one raw talk event (member events only; others are returned unchanged)."""
        if ev.member_id is None:
            return [ev]
        key = (ev.room, ev.member_id)
        d = self._d.get(key)
        if d is None:
            d = self._d[key] = self._factory()
        self._meta[key] = (ev.room, ev.unique_id, ev.member_id)
        on = ev.action == n.START_TALKING
        out = self._emit(key, d.observe(on, ev.timestamp_us // 1000))
        self._track(key, d, on)
        return out

    def poll(self, now_us: int) -> List[n.NativeEvent]:
        """Pending stops (and delayed starts) decided by ``now_us`` (µs, FreeSWITCH clock)."""
        out: List[n.NativeEvent] = []
        for key, on in list(self._waiting.items()):
            d = self._d.get(key)
            if d is None:
                self._waiting.pop(key, None)
                continue
            out += self._emit(key, d.poll(now_us // 1000))
            self._track(key, d, on)
        return out

    def pending(self) -> bool:
        """True while some member's debounced state may still change (a stop or start is pending: the
        engine keeps polling)."""
        return bool(self._waiting)

    def _track(self, key, d, on: bool) -> None:
        """Keep ``key`` polled while its debouncer's state differs from its last raw observation ``on``
        (a debouncer without a ``talking`` flag is always polled)."""
        talking = getattr(d, "talking", None)
        if talking is None or talking != on:
            self._waiting[key] = on
        else:
            self._waiting.pop(key, None)

    def reset(self, room: str, member_id: int, forget: bool = False) -> None:
        """Drop a member's talk state without an event (mute, hold, leave)."""
        d = self._d.get((room, member_id))
        if d is not None:
            d.reset()
        self._waiting.pop((room, member_id), None)
        if forget:
            self._d.pop((room, member_id), None)
            self._meta.pop((room, member_id), None)

    def _emit(self, key, talk_events) -> List[n.NativeEvent]:
        room, uid, member_id = self._meta[key]
        out = []
        for te in talk_events:
            if te.kind == "start":
                out.append(n.NativeEvent(n.START_TALKING, room, te.t_ms * 1000, uid, member_id))
            else:
                out.append(n.NativeEvent(n.STOP_TALKING, room, te.t_ms * 1000, uid, member_id,
                                         duration_ms=te.duration_ms))
        return out


_FLAG_CHANGES = {
    n.ADD_MEMBER: lambda m, h, ev: (ev.get(wire.H_SPEAK) == "false", ev.get(wire.H_HOLD) == "true"),
    n.MUTE_MEMBER: lambda m, h, ev: (True, h),
    n.UNMUTE_MEMBER: lambda m, h, ev: (False, h),
    n.HOLD_MEMBER: lambda m, h, ev: (m, True),
    n.UNHOLD_MEMBER: lambda m, h, ev: (m, False),
}


class EventMapper:
    """Stateful ESL event → NativeEvent mapper (one per engine; used from the handler greenlet only).

    ``talk``: a :class:`TalkGate` or None (raw talk events pass through). ``members``: Unique-ID →
    (room, member id) of members now in rooms (read by the engine for commands and snapshots).
    """

    def __init__(self, talk: Optional[TalkGate] = None):
        self.talk = talk
        self.members: Dict[str, Tuple[str, int]] = {}
        self.flags: Dict[str, Tuple[bool, bool]] = {}   # Unique-ID → (muted, held) as FreeSWITCH reported
        self.journal: Optional[List[Tuple[str, str, Tuple[str, int]]]] = None

    def replace_members(self, members: Dict[str, Tuple[str, int]]) -> set:
        """Adopt a resync snapshot (Unique-ID → (room, member id)), re-applying the add/del-member events
        mapped since :meth:`start_journal` — they may postdate the snapshot (same socket, but handled in
        another greenlet). Ends the journal; returns the Unique-IDs those events touched."""
        merged = dict(members)
        touched = set()
        for action, uid, value in self.journal or ():
            touched.add(uid)
            if action == n.ADD_MEMBER:
                merged[uid] = value
            else:
                merged.pop(uid, None)
        self.journal = None
        self.members = merged
        self.flags = {uid: f for uid, f in self.flags.items() if uid in merged}
        return touched

    def start_journal(self) -> None:
        """Record add/del-member from now on (call before requesting a snapshot)."""
        self.journal = []

    def map(self, ev: ESLMessage) -> List[n.NativeEvent]:
        """Map one parsed ESL event; unknown/unmapped events → []."""
        name = ev.get(wire.H_EVENT_NAME)
        if name == wire.EV_CUSTOM and ev.get(wire.H_SUBCLASS) == wire.CONFERENCE_SUBCLASS:
            return self._conference(ev)
        if name == EV_HANGUP_COMPLETE:
            return [self._channel(ev, n.CHANNEL_HANGUP_COMPLETE)]
        if name == EV_DTMF:
            return [self._channel(ev, n.DTMF)]
        return []

    def _conference(self, ev: ESLMessage) -> List[n.NativeEvent]:
        action = ev.get(wire.H_ACTION)
        if action not in MAPPED_ACTIONS:
            return []
        member_id = _int(ev.get(wire.H_MEMBER_ID))
        uid = ev.get(wire.H_UNIQUE_ID) if member_id is not None else None
        room = ev.get(wire.H_CONF_NAME, "")
        duration = _int(ev.get(wire.H_TALK_MS)) if action == n.STOP_TALKING else _int(ev.get(wire.H_REC_MS))
        native = n.NativeEvent(
            action=action,
            room=room,
            timestamp_us=_int(ev.get(wire.H_TIMESTAMP)) or 0,
            unique_id=uid,
            member_id=member_id,
            file=ev.get(wire.H_FILE),
            path=ev.get(wire.H_PATH),
            error=ev.get(wire.H_ERROR),
            hangup_cause=ev.get(wire.H_HANGUP_CAUSE),
            duration_ms=duration,
            file_size=_int(ev.get(wire.H_REC_SIZE)),
            digits=ev.get(wire.H_DIGITS),
            member_type=ev.get(wire.H_MEMBER_TYPE),
            conference_size=_int(ev.get(wire.H_CONF_SIZE)),
            extra=tuple((h, ev.get(h)) for h in EXTRA_HEADERS if ev.get(h) is not None and member_id is not None),
        )
        if uid and action in _FLAG_CHANGES:
            muted, held = self.flags.get(uid, (False, False))
            self.flags[uid] = _FLAG_CHANGES[action](muted, held, ev)
        if action == n.ADD_MEMBER and uid and member_id is not None:
            self.members[uid] = (room, member_id)
            if self.journal is not None:
                self.journal.append((action, uid, (room, member_id)))
        elif action == n.DEL_MEMBER and uid:
            self.members.pop(uid, None)
            self.flags.pop(uid, None)
            if self.journal is not None:
                self.journal.append((action, uid, (room, member_id)))
            if self.talk is not None and member_id is not None:
                self.talk.reset(room, member_id, forget=True)
        elif action in (n.MUTE_MEMBER, n.HOLD_MEMBER) and self.talk is not None and member_id is not None:
            self.talk.reset(room, member_id)
        if action in (n.START_TALKING, n.STOP_TALKING) and self.talk is not None:
            return self.talk.feed(native)
        return [native]

    def _channel(self, ev: ESLMessage, action: str) -> n.NativeEvent:
        uid = ev.get(wire.H_UNIQUE_ID)
        room, member_id = self.members.get(uid, (None, None)) if uid else (None, None)
        room = ev.get(wire.H_VAR_CONF_NAME) or room or ""
        if member_id is None:
            member_id = _int(ev.get(wire.H_VAR_MEMBER_ID))
        return n.NativeEvent(
            action=action,
            room=room,
            timestamp_us=_int(ev.get(wire.H_TIMESTAMP)) or 0,
            unique_id=uid,
            member_id=member_id,
            hangup_cause=ev.get(wire.H_HANGUP_CAUSE) if action == n.CHANNEL_HANGUP_COMPLETE else None,
            digits=ev.get(wire.H_DTMF_DIGIT) if action == n.DTMF else None,
            extra=tuple((h, ev.get(h)) for h in (wire.H_DTMF_SOURCE,) if ev.get(h) is not None)
            + (quality_extras(ev) if action == n.CHANNEL_HANGUP_COMPLETE else ()),   # RTP stats (#22)
        )


def api_ok(body: str) -> bool:
    """True when an ``api`` body reports success: some line starts with ``+OK`` and none with ``-ERR``/
    ``-USAGE`` (``recording stop`` answers "Stopped recording file …\\n+OK …", finding 15; a bare usage
    text is a failure, finding 3)."""
    lines = [ln.strip() for ln in body.splitlines()]
    if any(ln.startswith(wire.REPLY_ERR) or ln.startswith(wire.REPLY_USAGE) for ln in lines):
        return False
    return any(ln.startswith(wire.REPLY_OK) for ln in lines)


def parse_json_list(body: str) -> List[MemberSnapshot]:
    """``conference [<room>] json_list`` body → MemberSnapshots (FreeSWITCH 1.10.12 lists/
    conference_json_list_all.json: ``[{conference_name, members: [{id, uuid, flags: {can_hear, can_speak,
    hold, talking}}]}]``). No rooms (``-ERR No active conferences.`` or empty) → []. Other ``-ERR`` →
    :class:`EngineError`."""
    text = body.strip()
    if not text or (wire.NO_CONFERENCES in text and not text.startswith("[")):
        return []
    if text.startswith(wire.REPLY_ERR):
        raise EngineError("FreeSWITCH: %s" % text)
    try:
        rooms = json.loads(text)
    except ValueError as exc:
        raise EngineError("unreadable json_list: %s" % exc)
    out = []
    for room in rooms if isinstance(rooms, list) else [rooms]:
        name = room.get("conference_name", "")
        for m in room.get("members", []):
            if m.get("type") not in (None, "caller"):
                continue
            f = m.get("flags", {})
            hold = bool(f.get("hold"))
            out.append(MemberSnapshot(room=name, member_id=int(m["id"]), unique_id=m.get("uuid", ""),
                                      muted=(not f.get("can_speak", True)) and not hold,
                                      deaf=(not f.get("can_hear", True)) and not hold,
                                      hold=hold, talking=bool(f.get("talking"))))
    return out
