"""A call adopted from a previous bridge (issue 15): it sits in a FreeSWITCH conference with no outbound
socket to this bridge (the socket died with the bridge that ran it — docs/freeswitch.md observed-live §1a).

:class:`AdoptedLeg` is the part of a :class:`~fsbridge.engines.base.CallLeg` a Dial needs while the call is
in its room, over the inbound ESL connection (§1e: the plain subscription carries its DTMF, its member events
and its CHANNEL_HANGUP_COMPLETE): ``leave`` (``conference <room> hup <id>``), ``hangup`` (``uuid_kill``),
``on_dtmf`` (hangupOnStar), ``wait_left``. When the call leaves its room alive, the conference application
returns and the dialplan's next ``socket`` action hands it to the listening bridge (§1b, "re-entry"):
:meth:`wait_reentry` gives that new :class:`~.leg.FreeSwitchCallLeg`, on which the runtime continues the
call's application (the Dial action, or the verbs after the Dial).
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

import gevent
import gevent.event

from fsbridge.conference import native as n
from fsbridge.engines.base import EngineError
from fsbridge.engines.freeswitch import render
from fsbridge.engines.freeswitch.leg import run_dtmf
from fsbridge.engines.freeswitch.mapping import api_ok

log = logging.getLogger("fsbridge.engines.freeswitch.outbound")

LEFT, HANGUP = "left", "hangup"


class AdoptedLeg:
    """``AdoptedLeg(engine, unique_id, call_sid, room, member_id)`` — made by
    :meth:`FreeSwitchEngine.adopt_call`; the engine feeds it the call's NativeEvents (:meth:`native`) and its
    re-entry leg (:meth:`reentered`). ``hung_up`` turns True at the call's CHANNEL_HANGUP_COMPLETE (or a
    del-member carrying a Hangup-Cause: FreeSWITCH adds that header only once the channel is down)."""

    def __init__(self, engine, unique_id: str, call_sid: str, room: str, member_id: Optional[int]):
        self.engine = engine
        self.unique_id = unique_id
        self.call_sid = call_sid
        self.room = room
        self.member_id = member_id
        self.hung_up = False
        self.reentry = True
        self.ended = gevent.event.Event()
        self._left = gevent.event.AsyncResult()
        self._live = gevent.event.AsyncResult()
        self._dtmf: Optional[Callable[[str], None]] = None

    # -- what the engine tells it ------------------------------------------------------------------
    def native(self, ev: n.NativeEvent) -> None:
        """One NativeEvent of this call (engine's ESL greenlet: never blocks)."""
        if ev.action == n.DEL_MEMBER:
            self.member_id = None
            if ev.hangup_cause:
                self.hung_up = True
            if not self._left.ready():
                self._left.set(HANGUP if ev.hangup_cause else LEFT)
        elif ev.action == n.CHANNEL_HANGUP_COMPLETE:
            self.hung_up = True
            self.ended.set()
            if not self._left.ready():
                self._left.set(HANGUP)
            if not self._live.ready():
                self._live.set(None)
        elif ev.action == n.DTMF and self._dtmf is not None:
            gevent.spawn(run_dtmf, self._dtmf, ev.digits or "")

    def reentered(self, leg) -> None:
        """The call came back on the outbound socket (its conference application returned, the dialplan ran
        the next ``socket``): it left its room alive."""
        if not self._left.ready():
            self._left.set(LEFT)
        self.member_id = None
        if not self._live.ready():
            self._live.set(leg)

    # -- CallLeg (the part a call in a room uses) -----------------------------------------------------
    def wait_left(self) -> str:
        """Block until the call left its room: "left" (kicked, hup, room ended, hangupOnStar, timeLimit) or
        "hangup"."""
        return self._left.get()

    def wait_reentry(self, timeout: float) -> Optional[object]:
        """After "left": the call's new outbound-socket leg, or None (hung up, or not back within
        ``timeout`` s — a dialplan without a further ``socket`` action)."""
        try:
            return self._live.get(timeout=timeout)
        except gevent.Timeout:
            return None

    def leave(self) -> None:
        """Take the call out of its room (``conference <room> hup <id>`` over inbound ESL)."""
        if self.member_id is None:
            return
        body = self.engine.esl.api(render.api("hup", room=self.room, member=self.member_id),
                                   timeout=self.engine.command_timeout)
        if not api_ok(body):
            raise EngineError(body.strip())

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """``uuid_kill <uuid> <cause>`` over inbound ESL (the re-entry leg, once there, hangs up itself)."""
        if self.hung_up:
            return
        body = self.engine.esl.api(render.api("kill", uuid=self.unique_id, cause=cause),
                                   timeout=self.engine.command_timeout)
        if not api_ok(body):
            log.warning("hangup of adopted call %s: %s", self.unique_id, body.strip())

    def on_dtmf(self, callback: Optional[Callable[[str], None]]) -> None:
        """``callback(digit)`` for each DTMF of this call (from the inbound stream), in a greenlet of its own."""
        self._dtmf = callback

    def detach(self) -> None:
        """Bridge shutdown: forget the call (it stays in its room for the next bridge)."""
        self.engine.forget_adopted(self)

    def answer(self) -> None:
        """Nothing: the call was answered by the bridge that took it first."""

    def play(self, media) -> bool:
        """Not possible without an outbound socket (the runtime waits for the re-entry leg first)."""
        return False


__all__ = ["AdoptedLeg", "LEFT", "HANGUP"]


class AdoptionMixin:
    """Adopted calls of :class:`~.engine.FreeSwitchEngine` (``self._adopted``: Unique-ID → AdoptedLeg)."""

    def adopt_call(self, unique_id: str, call_sid: str, room: str, member_id: Optional[int]) -> AdoptedLeg:
        """Take over a call another bridge left in ``room`` (member ``member_id``): its events go to the
        returned :class:`AdoptedLeg`, and its re-entry on the outbound socket is handed to it instead of
        being hung up (:meth:`_reentry`)."""
        leg = AdoptedLeg(self, unique_id, call_sid, room, member_id)
        self._adopted[unique_id] = leg
        return leg

    def forget_adopted(self, leg: AdoptedLeg) -> None:
        """Stop feeding ``leg`` (its call ended, or the bridge is shutting down)."""
        if self._adopted.get(leg.unique_id) is leg:
            del self._adopted[leg.unique_id]

    def _feed_adopted(self, ev: n.NativeEvent) -> None:
        leg = self._adopted.get(ev.unique_id or "")
        if leg is not None:
            leg.native(ev)
            if ev.action == n.CHANNEL_HANGUP_COMPLETE:
                self.forget_adopted(leg)

    def _reentry(self, leg) -> bool:
        """A call re-entered the outbound socket: True when an adopted call was waiting for it."""
        adopted = self._adopted.pop(leg.unique_id, None)
        if adopted is None:
            return False
        log.info("adopted call %s (%s) is back on the outbound socket", leg.unique_id, adopted.call_sid)
        adopted.reentered(leg)
        return True
