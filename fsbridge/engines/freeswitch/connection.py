"""The FreeSWITCH engine's side of the ESL connection: what happens after each (re)connect (the members
snapshot, the resync), when ESL drops (pending dial-outs fail), BACKGROUND_JOB results, and the engine's
two background greenlets (queued API commands, talk-stop polling)."""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import List, Optional

import gevent

from fsbridge.conference import ids
from fsbridge.conference.native import CAUSE_CRASH, EngineSnapshot, MemberSnapshot
from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch import render, rescue, wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage
from fsbridge.engines.freeswitch.mapping import parse_json_list
from fsbridge.engines.freeswitch.originate import originate_status

log = logging.getLogger("fsbridge.engines.freeswitch.engine")

#: how often the talk gate's pending stops are released (s). At 0.1 s the stops due in those 100 ms came out as
#: one burst (≈ 40 events at 400 talk events/s, ≈ 6 ms of synchronous domain + store + outbox work) that every
#: event arriving meanwhile queued behind — most of the p99 of the speech-start callbacks (issue 21, bench
#: README "Callbacks"); a stop is also released at most this late after its hangover.
TALK_POLL_S = 0.02


class ConnectionMixin:
    """Connection lifecycle of :class:`~.engine.FreeSwitchEngine` (its state is set up by the engine)."""

    def _work_loop(self) -> None:
        while True:
            job = self._work.get()
            try:
                job()
            except EngineError as exc:
                log.warning("engine background command failed: %s", exc)
            except Exception:
                log.exception("engine background command failed")

    def _on_esl_event(self, ev: ESLMessage) -> None:
        """One inbound ESL event (conference, hangup, DTMF): mapped, through the engine's bookkeeping
        (gate.py), to the sink; wakes the talk poller when a talk decision is now pending."""
        ts = ev.get(wire.H_TIMESTAMP)
        if ts and ts.isdigit():  # FreeSWITCH's clock may differ from ours: talk hangovers use its clock
            self._clock_offset_us = int(ts) - int(time.time() * 1_000_000)
        for native in self.mapper.map(ev):
            if self._adopted:
                self._feed_adopted(native)
            native = self._engine_side(native)
            if native is not None:
                self._emit_one(native)
        if self.mapper.talk is not None and self.mapper.talk.pending():
            self._poll_wake.set()

    def _talk_poll_loop(self) -> None:
        """Release the talk gate's due stops (and delayed starts) every TALK_POLL_S while any is pending;
        run the stuck-call sweep every ``sweep_interval``. Idle otherwise: it sleeps until a talk event leaves
        a decision pending (``_poll_wake``) or the next sweep is due — no wake-ups of an idle bridge."""
        gate = self.mapper.talk
        while True:
            if gate is not None and gate.pending():
                gevent.sleep(TALK_POLL_S)
            else:
                self._poll_wake.clear()
                wait = max(0.0, self._sweep_due - time.monotonic()) if self.sweep_interval > 0 else None
                self._poll_wake.wait(wait)
            if gate is not None and gate.pending():
                for ev in gate.poll(int(time.time() * 1_000_000) + self._clock_offset_us):
                    self._emit_one(ev)
            if self.sweep_interval > 0 and time.monotonic() >= self._sweep_due:
                self._sweep_due = time.monotonic() + self.sweep_interval
                if self.esl.is_up and self.outbound.running:
                    self._work.put(lambda: rescue.sweep_stuck_calls(self))

    def _on_job(self, ev: ESLMessage) -> None:
        job = self._jobs.pop(ev.get(wire.H_JOB_UUID, ""), None)
        if job is None:
            return
        body = ev.body.strip()
        if body.startswith(wire.REPLY_OK):
            job._result.set(("answered", body[len(wire.REPLY_OK):].strip()))
        else:
            cause = body[len(wire.REPLY_ERR):].strip() if body.startswith(wire.REPLY_ERR) else body
            job._result.set((originate_status(cause), cause))

    def _on_progress(self, ev: ESLMessage) -> None:
        """CHANNEL_PROGRESS(_MEDIA) of a dial-out's channel: its :class:`OriginateJob` is ringing."""
        uid = ev.get(wire.H_UNIQUE_ID)
        for job in list(self._jobs.values()):
            if job.unique_id == uid:
                job.ringing.set()

    def _on_up(self, conn) -> None:
        """After every (re)connect: rebuild Unique-ID ↔ member from ``conference json_list`` (the engine's own
        bookkeeping), then send one :class:`~fsbridge.conference.native.EngineSnapshot` through the event
        sink — the domain's one resync path (``ConferenceState.resync`` in the runtime's pump) turns what
        changed while ESL was down into the same events a live stream gives: no phantom, no lost participant.
        Members whose add/del-member was mapped after the reconnect (the journal) are listed as the mapper
        has them, so the snapshot is never older than events already sent."""
        self.resynced.clear()
        lost_cause = self._restarted(conn)
        self.mapper.start_journal()
        try:
            body = conn.api(render.api("json_list_all"), timeout=self.command_timeout)
            snap = parse_json_list(body)
        except EngineError as exc:
            log.warning("resync after ESL connect failed: %s", exc)
            self.mapper.journal = None
            self.resynced.set()
            return
        snap = self._with_call_sids(conn, snap, known=set(self.mapper.members))
        touched = self.mapper.replace_members({s.unique_id: (s.room, s.member_id) for s in snap})
        for s in snap:  # adopt FreeSWITCH's flags (a held member's mute state is not listed: keep ours)
            if s.unique_id not in touched:
                known_muted = self.mapper.flags.get(s.unique_id, (False, False))[0]
                self.mapper.flags[s.unique_id] = (known_muted if s.hold else s.muted, s.hold)
        present = set(self.mapper.members.values())
        for d in (self._waiting, self._hold_media, self._loop_started):
            for k in [k for k in d if k not in present]:
                del d[k]
        self._held = {k for k in self._held if k in present}
        for k in [k for k in self._suppress if k[:2] not in present]:
            del self._suppress[k]
        for room in [r for r, (coach, _) in self._coach.items() if (r, coach) not in present]:
            del self._coach[room]
        listed = {s.unique_id: s for s in snap}
        members = []
        for uid, (room, member_id) in self.mapper.members.items():
            s = listed.get(uid)
            if s is None or uid in touched or (s.room, s.member_id) != (room, member_id):
                muted, hold = self.mapper.flags.get(uid, (False, False))
                s = MemberSnapshot(room=room, member_id=member_id, unique_id=uid, muted=muted, deaf=hold,
                                   hold=hold, talking=bool(s is not None and s.talking),
                                   call_sid=s.call_sid if s is not None else None)
            members.append(s)
        members = self._gate_snapshot(members)   # gate.py: members at a wait gate (issue 15)
        self.last_snapshot = snap
        self.resynced.set()
        self._emit_one(EngineSnapshot(timestamp_us=int(time.time() * 1_000_000), members=tuple(members),
                                      rooms=tuple(sorted({s.room for s in snap})), lost_cause=lost_cause))
        if self.esl.connections == 1 and self.outbound.running:   # after start: calls a dead bridge left
            self._work.put(lambda: rescue.rescue_stuck_calls(self))
        elif self.outbound.running:   # a reconnect: sweep soon (calls may have been stranded meanwhile)
            self._sweep_due = 0.0
            self._poll_wake.set()

    def _restarted(self, conn) -> Optional[str]:
        """``CRASH`` when FreeSWITCH restarted since the previous connection (its ``${core_uuid}``, the
        ``Core-UUID`` of every event, changed — docs/freeswitch.md observed-live §2): the calls of rooms it no longer has
        ended with it. None when unknown (first connection, or ``eval`` not answered): a vanished room's
        calls may go on."""
        try:
            core = conn.api(render.api("core_uuid"), timeout=self.command_timeout).strip()
        except EngineError:
            return None
        if not core or core.startswith(wire.REPLY_ERR) or any(ch.isspace() for ch in core):
            return None
        previous, self._core_uuid = self._core_uuid, core
        if previous is None and self._state is not None:   # the first connection: the previous run's
            previous = self._kept("core_uuid")
        if previous != core:
            self._keep("core_uuid", core)
        return CAUSE_CRASH if previous is not None and previous != core else None

    # -- facts kept across bridge restarts (set_state_store) ----------------------------------------------
    def set_state_store(self, store) -> None:
        """Keep facts across bridge restarts in ``store`` (``engine_value(key)``/``set_engine_value(key,
        value)``, fsbridge.store): FreeSWITCH's ``${core_uuid}``, so that a FreeSWITCH restarted while the
        bridge was down is recognised at its first connection (issue 15)."""
        self._state = store

    def _state_key(self, name: str) -> str:
        return "%s@%s:%s" % (name, self.esl.host, self.esl.port)

    def _kept(self, name: str) -> Optional[str]:
        try:
            return self._state.engine_value(self._state_key(name))
        except Exception:
            log.exception("reading the kept %s failed", name)
            return None

    def _keep(self, name: str, value: str) -> None:
        if self._state is None:
            return
        try:
            self._state.set_engine_value(self._state_key(name), value)
        except Exception:
            log.exception("keeping %s failed", name)

    def _with_call_sids(self, conn, snap: List[MemberSnapshot], known) -> List[MemberSnapshot]:
        """``snap`` with the CallSid each channel not in ``known`` (Unique-IDs) carries (``uuid_getvar <uuid>
        fsbridge_call_sid``, set at every join): how members of rooms that outlived a bridge restart are
        re-attached to their participants (docs/freeswitch.md observed-live §1d: json_list has no channel
        variables). The getvars go out pipelined in one write (one round trip, not one per member); members
        without a CallSid, or all of them when FreeSWITCH does not answer in time, keep None."""
        todo = [i for i, s in enumerate(snap) if s.unique_id not in known]
        if not todo:
            return snap
        lines = ["%s %s" % (wire.CMD_API, render.api("getvar", uuid=snap[i].unique_id, name=render.CALL_SID_VAR))
                 for i in todo]
        try:
            replies = conn.send_many(lines, timeout=self.command_timeout)
        except EngineError as exc:
            log.warning("reading the CallSids of %d members failed: %s", len(todo), exc)
            return snap
        out = list(snap)
        for i, reply in zip(todo, replies):
            body = (reply.body or "").strip()
            if body.startswith(ids.CALL) and not any(ch.isspace() for ch in body):
                out[i] = dataclasses.replace(snap[i], call_sid=body)
        return out

    last_snapshot: List[MemberSnapshot] = []
    """``json_list`` as read after the last (re)connect."""

    def _on_down(self) -> None:
        for job in list(self._jobs.values()):
            job._result.set_exception(EngineUnavailable("ESL dropped before the originate result"))
        self._jobs.clear()
