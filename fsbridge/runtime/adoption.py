"""Calls that outlive the bridge (FreeSWITCH, issue 15): what a call's application does after its conference
is kept while the call is in the room (a *continuation*, in the store), and the next bridge continues it.

* At the join (:meth:`AdoptionMixin.keep_continuation`, from ConferenceTask): the Dial (or jambonz
  conference) verb with its ``action``/``timeLimit``/``hangupOnStar``, the verbs after it, the document URL
  they resolve against, the dialect, account, From/To/direction and when the stay began (wall-clock s) —
  deleted when the call left its room (:meth:`AdoptionMixin.drop_continuation`).
* At a (re)connect snapshot (:meth:`AdoptionMixin.adopt_calls`): each member FreeSWITCH lists with a CallSid
  this process runs no call for and a kept continuation gets an engine leg (``engine.adopt_call``: its DTMF,
  leave and hangup over inbound ESL) and a CallSession that resumes in the conference
  (:meth:`CallSession.resume`): timeLimit counted from the original join, hangupOnStar, then — when the call
  leaves alive and comes back on the outbound socket (the dialplan's next ``socket``) — the Dial action is
  requested and its answer run, or the verbs after the Dial; when it hangs up, the action is requested with
  the answer ignored (Twilio), exactly as the first bridge would have done.
"""
from __future__ import annotations

import logging
import typing
from dataclasses import fields, is_dataclass
from typing import Any, Dict, Iterable, Optional, Tuple, Union

import gevent

from fsbridge.markup import model
from fsbridge.wire import twilio as tw
from fsbridge.runtime.registry import CallRecord

log = logging.getLogger("fsbridge.runtime.bridge")

VERSION = 1
CONTINUATION_MAX_AGE_S = 2 * 86400   # longer than any stay: Twilio's Dial timeLimit is at most 4 h


def _classes() -> Dict[str, type]:
    return {name.lower(): cls for name, cls in vars(model).items() if isinstance(cls, type) and is_dataclass(cls)}


TAG = "__dataclass__"   # nested model values are tagged with their class (a field typed ``object`` says nothing)


def dump_verb(verb) -> Dict[str, Any]:
    """A verb as JSON: :func:`fsbridge.markup.serialize.verb_to_json`'s shape, every nested dataclass tagged
    with its class (``"__dataclass__": "fsbridge.markup.listen.Listen"``) so :func:`verb_from_json` can
    rebuild values whose field type does not name their class."""
    out = {"verb": type(verb).__name__.lower()}
    out.update({k: v for k, v in _dump(verb).items() if k != TAG})
    return out


def _dump(value: Any) -> Any:
    if is_dataclass(value):
        out = {f.name: _dump(getattr(value, f.name)) for f in fields(value)}
        out[TAG] = "%s.%s" % (type(value).__module__, type(value).__qualname__)
        return out
    if isinstance(value, (tuple, list)):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _dump(v) for k, v in value.items()}
    return value


def _tagged(name: str):
    """The model class a tag names: only dataclasses of ``fsbridge.markup`` (ValueError otherwise)."""
    import importlib
    module, _, cls = str(name).rpartition(".")
    if not (module == "fsbridge.markup" or module.startswith("fsbridge.markup.")):
        raise ValueError("not a markup class: %r" % name)
    found = getattr(importlib.import_module(module), cls, None)
    if not (isinstance(found, type) and is_dataclass(found)):
        raise ValueError("not a markup class: %r" % name)
    return found


def _build(tp, value: Any) -> Any:
    """``value`` (JSON) as type ``tp`` of the verb model: dataclasses from dicts (tagged ones by their tag),
    tuples from lists."""
    if value is None:
        return None
    if isinstance(value, dict) and TAG in value:
        return _dataclass(_tagged(value[TAG]), {k: v for k, v in value.items() if k != TAG})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union:
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _build(options[0], value)
        if isinstance(value, dict):   # untagged union of dataclasses: the one whose fields match
            for option in options:
                if is_dataclass(option) and {f.name for f in fields(option)} == set(value):
                    return _dataclass(option, value)
        return value
    if is_dataclass(tp) and isinstance(value, dict):
        return _dataclass(tp, value)
    if origin in (tuple, Tuple) and isinstance(value, list):
        item = args[0] if args and (len(args) == 2 and args[1] is Ellipsis) else Any
        return tuple(_build(item, v) for v in value)
    return value


def _dataclass(cls, value: dict):
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _build(hints[f.name], value[f.name]) for f in fields(cls) if f.name in value})


def verb_from_json(data: dict):
    """The inverse of :func:`dump_verb` (and of :func:`fsbridge.markup.serialize.verb_to_json` where every field
    type names its class); raises ValueError for an unknown verb."""
    cls = _classes().get(str(data.get("verb", "")))
    if cls is None:
        raise ValueError("unknown verb %r" % data.get("verb"))
    return _dataclass(cls, {k: v for k, v in data.items() if k != "verb"})


def continuation(session, verb, room: str, started_s: float) -> dict:
    """What :meth:`CallSession.resume` needs to continue ``session``'s call after ``verb`` (its Dial or jambonz
    conference) in ``room``, joined at ``started_s`` (wall-clock seconds)."""
    r = session.record
    return {"v": VERSION, "call_sid": r.call_sid, "account_sid": r.account_sid, "from": r.from_, "to": r.to,
            "direction": r.direction, "dialect": session.dialect, "unique_id": r.unique_id,
            "doc_url": session.doc_url, "room": room, "started": started_s, "verb": dump_verb(verb),
            "rest": [dump_verb(v) for v in session.remaining]}


def rest_verbs(data: dict) -> Tuple[Any, ...]:
    """The verbs after the Dial of a continuation; those that cannot be rebuilt end the list (logged)."""
    out = []
    for item in data.get("rest") or ():
        try:
            out.append(verb_from_json(item))
        except (TypeError, ValueError) as exc:
            log.warning("call %s: verb %r after the Dial cannot be continued (%s); the call ends there",
                        data.get("call_sid"), item.get("verb"), exc)
            break
    return tuple(out)


class AdoptionMixin:
    """Continuations and adoption of :class:`~fsbridge.runtime.bridge.Bridge`."""

    def _keeps_continuations(self) -> bool:
        return bool(self.engine.calls_outlive_bridge) and \
            getattr(self.store, "keep_continuation", None) is not None

    def keep_continuation(self, session, verb, room: str, started_s: float) -> None:
        """Store what ``session``'s call does after ``verb`` (only where calls outlive the bridge). Never raises."""
        if not self._keeps_continuations():
            return
        try:
            self.store.keep_continuation(session.record.call_sid, session.record.account_sid,
                                         continuation(session, verb, room, started_s))
        except Exception:
            log.exception("call %s: keeping its continuation failed", session.record.call_sid)

    def drop_continuation(self, call_sid: str) -> None:
        """The call left its room: its continuation is not needed any more. Never raises."""
        if not self._keeps_continuations():
            return
        try:
            self.store.drop_continuation(call_sid)
        except Exception:
            log.exception("call %s: dropping its continuation failed", call_sid)

    def adopt_calls(self, members: Iterable) -> None:
        """For members of an engine snapshot (MemberSnapshot: unique_id, call_sid, room, member_id) that this
        process runs no call for: spawn their adoption (store reads off the pump greenlet). The first time,
        continuations older than :data:`CONTINUATION_MAX_AGE_S` are pruned (calls that ended unseen)."""
        if not self._keeps_continuations():
            return
        if not getattr(self, "_continuations_pruned", False):
            self._continuations_pruned = True
            gevent.spawn(self._prune_continuations)
        todo = [m for m in members if m.call_sid and (self.registry.get(m.call_sid) is None
                                                      or self.registry.get(m.call_sid).done.is_set())]
        if todo:
            gevent.spawn(self._adopt, todo)

    def _prune_continuations(self) -> None:
        try:
            gone = self.store.prune_continuations(CONTINUATION_MAX_AGE_S)
        except Exception:
            log.exception("pruning old continuations failed")
            return
        if gone:
            log.info("recovery: %d continuation(s) of calls that ended while no bridge ran forgotten", gone)

    def _adopt(self, members) -> None:
        for m in members:
            try:
                self._adopt_one(m)
            except Exception:
                log.exception("adopting call %s failed", m.call_sid)

    def _adopt_one(self, m) -> Optional[CallRecord]:
        if self.state.participant_of_call(m.call_sid) is None or (
                self.registry.get(m.call_sid) is not None and not self.registry.get(m.call_sid).done.is_set()):
            return None
        data = self.store.continuation(m.call_sid)
        if data is None or data.get("v") != VERSION or data.get("unique_id") != m.unique_id:
            log.warning("call %s adopted in conference %s without a kept continuation: when it leaves, it is "
                        "hung up", m.call_sid, m.room)
            return None
        leg = self.engine.adopt_call(m.unique_id, m.call_sid, m.room, m.member_id)
        record = CallRecord(call_sid=m.call_sid, account_sid=data["account_sid"], from_=data["from"],
                            to=data["to"], direction=data["direction"], unique_id=m.unique_id,
                            dialect=data["dialect"], status=tw.CALL_IN_PROGRESS, conference_sid=m.room,
                            member_id=m.member_id, joined_us=int(float(data["started"]) * 1_000_000))
        log.warning("call %s adopted in conference %s: its application continues after the conference",
                    m.call_sid, m.room)
        return self._start_session(record, leg, url=None, method="POST", dialect=data["dialect"], resume=data)


__all__ = ["AdoptionMixin", "continuation", "dump_verb", "verb_from_json", "rest_verbs", "VERSION"]
