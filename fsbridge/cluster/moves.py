"""Moving a call to the node that owns its room (issue #18, "Placement").

When a call reaches ``<Dial><Conference>`` (or jambonz ``conference``), :meth:`Mover.move_call` claims the
room (:meth:`~fsbridge.cluster.placement.Placement.claim`). Owned here → the call joins here as on a single
node. Owned by another node → the call is handed to that node's internal API (``POST /cluster/v1/calls``)
with everything it needs to go on there: its CallSid, account, From/To, direction, dialect, the document URL
(relative URLs resolve as before), the Dial/Conference verb as written (participantLabel, muted, coach, beep,
endConferenceOnExit, waitUrl, the Dial ``action`` …) and, for a standalone virtual call, its audio source,
DTMF and hang-up timer. The owner runs the call from that verb (:meth:`Mover.accept`): it joins the room
there, and the Dial action is requested by the owner. Here the call's session ends quietly.

A FreeSWITCH leg is moved over SIP instead (:mod:`.sipmove`: a bridge to the owner's FreeSWITCH with a
signed one-time header); if the owner's FreeSWITCH does not answer, the call joins here. A room whose owner is dead is taken over (the survivor's failover ends the old
conference); an owner alive but unreachable fails the call's join (Dial completes ``failed``) rather than
splitting the room.
"""
from __future__ import annotations

import logging
from typing import Optional

from fsbridge.markup.model import Response

from . import verbs
from .peers import PeerError
from .sipmove import SipMoves

log = logging.getLogger("fsbridge.cluster")

MOVE_PATH = "/cluster/v1/calls"
MOVE_FAILED = 11200   # Twilio "HTTP retrieval failure": the call's next step could not be reached


class Mover:
    """Call moves of one node. ``node``: the :class:`~fsbridge.cluster.node.ClusterNode` (its ``placement``,
    ``registry``, ``peers``, ``bridge`` and ``me``)."""

    def __init__(self, node):
        self.node = node
        self._moved_in: set = set()    # CallSids handed to this node: they join here, never move again
        self.sip = SipMoves(node)

    def move_call(self, session, conference, verb) -> bool:
        """Called by the conference task before joining: True when the call is no longer this node's (moved
        to the owner, or refused with an error notification), False to join here. ``conference``: the
        resolved Conference (its ``name``/``region`` place the room); ``verb``: the Dial (or jambonz
        Conference) to run on the owner."""
        node = self.node
        rec = session.record
        owner = node.placement.claim(rec.account_sid, conference.name, conference.region)
        if rec.call_sid in self._moved_in:
            self._moved_in.discard(rec.call_sid)
            if owner != node.me:
                log.warning("call %s moved here for %r, now owned by %s: joining here", rec.call_sid,
                            conference.name, owner)
            return False
        if owner == node.me:
            return False
        origin = rec.origin
        peer = node.peer(owner)
        if peer is None:   # the owner is dead: take the room over (its old conference is ended by failover)
            owner = node.placement.take_over(rec.account_sid, conference.name, owner)
            if owner == node.me:
                session.step(f"room {conference.name!r} taken over from a dead node")
                return False
            peer = node.peer(owner) or node.registry.get(owner)
        payload = {"call_sid": rec.call_sid, "account_sid": rec.account_sid, "from": rec.from_, "to": rec.to,
                   "direction": rec.direction, "dialect": session.dialect, "doc_url": session.doc_url,
                   "verb": verbs.to_json(verb), "origin": origin, "from_node": node.me}
        if origin is None or not node.bridge.engine.can_create_calls:   # an engine leg: over SIP
            return self.sip.move(session, owner, peer, payload)
        try:
            node.peers.post_json(peer.api_url, MOVE_PATH, payload)
        except PeerError as exc:
            if exc.status is None and not node.registry.is_alive(owner):   # died since the last heartbeat
                if node.placement.take_over(rec.account_sid, conference.name, owner) == node.me:
                    session.step(f"room {conference.name!r} taken over from dead node {owner}")
                    return False
            session.notify(MOVE_FAILED, f"room {conference.name!r} is on node {owner}, unreachable: {exc}",
                           end=False)
            return True
        session.step(f"moved to node {owner} (room {conference.name!r})")
        return True

    def accept_leg(self, leg) -> Optional[dict]:
        """The runtime's ``on_call`` hook: for an engine leg moved here over SIP (:mod:`.sipmove`), what its
        session runs — ``{"call_sid", "account_sid", "from", "to", "direction", "dialect", "doc_url",
        "first"}`` (``first``: a Response of the moved verb) — else None (an ordinary call)."""
        payload = self.sip.accept_leg(leg)
        if payload is None:
            return None
        try:
            verb = verbs.from_json(payload["verb"])
            dialect = str(payload["dialect"])
            out = {k: str(payload[k]) for k in ("call_sid", "account_sid", "from", "to", "direction")}
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("a SIP move with a bad payload: %s", exc)
            return None
        self._moved_in.add(out["call_sid"])
        log.info("call %s moved here over SIP from node %s", out["call_sid"], payload.get("from_node"))
        return dict(out, dialect=dialect, doc_url=payload.get("doc_url") or None,
                    first=Response(verbs=(verb,), dialect=dialect))

    def accept(self, payload: dict) -> str:
        """The internal API's ``POST /cluster/v1/calls``: run the moved call here from its verb (a new
        virtual call with the same CallSid and audio). Returns the CallSid; raises ValueError (bad payload)."""
        bridge = self.node.bridge
        try:
            verb = verbs.from_json(payload["verb"])
            origin = payload["origin"]
            call_sid = str(payload["call_sid"])
            dialect = str(payload["dialect"])
            dtmf = tuple((str(d), float(at)) for d, at in origin.get("dtmf") or ())
            hangup: Optional[float] = origin.get("hangup_after_s")
            source = str(origin["source"])
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad move: {exc}") from None
        running = bridge.registry.get(call_sid)
        if running is not None and not running.done.is_set():
            raise ValueError(f"call {call_sid} already runs here")
        self._moved_in.add(call_sid)
        try:
            bridge.place_call(str(payload["account_sid"]), str(payload["from"]), str(payload["to"]),
                              source, url=payload.get("doc_url") or None,
                              first=Response(verbs=(verb,), dialect=dialect), dialect=dialect,
                              direction=str(payload["direction"]), dtmf=dtmf,
                              hangup_after_s=float(hangup) if hangup is not None else None, call_sid=call_sid)
        except Exception:
            self._moved_in.discard(call_sid)
            raise
        log.info("call %s moved here from node %s", call_sid, payload.get("from_node"))
        return call_sid


__all__ = ["Mover", "MOVE_PATH"]
