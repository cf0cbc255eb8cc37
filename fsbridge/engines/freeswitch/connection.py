"""The FreeSWITCH engine's side of the ESL connection: what happens after each (re)connect (the members
snapshot, the resync), when ESL drops (pending dial-outs fail), BACKGROUND_JOB results, and the engine's
two background greenlets (queued API commands, talk-stop polling)."""
from __future__ import annotations

import logging
import time
from typing import Callable, List, Optional

import gevent

from fsbridge.conference.native import MemberSnapshot
from fsbridge.engines.base import EngineError, EngineUnavailable
from fsbridge.engines.freeswitch import mapping, render, wire
from fsbridge.engines.freeswitch.esl_parse import ESLMessage
from fsbridge.engines.freeswitch.mapping import parse_json_list
from fsbridge.engines.freeswitch.originate import originate_status

log = logging.getLogger("fsbridge.engines.freeswitch.engine")


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

    def _talk_poll_loop(self) -> None:
        gate = self.mapper.talk
        while gate is not None:
            gevent.sleep(0.1)
            if gate.pending():
                for ev in gate.poll(int(time.time() * 1_000_000) + self._clock_offset_us):
                    self._emit_one(ev)

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

    def _on_up(self, conn) -> None:
        """After every (re)connect: rebuild Unique-ID ↔ member from ``conference json_list``; after a
        *re*connect also report what changed while ESL was down as NativeEvents (mapping.resync_events:
        del-member for members gone, add-member for new ones, hold/mute changes — no phantom, no lost
        participant, through the normal event path); then call :attr:`on_resync` with the snapshot (for
        ``ConferenceState.resync``, which finds nothing left to change after those events)."""
        self.resynced.clear()
        self.mapper.start_journal()
        try:
            body = conn.api(render.api("json_list_all"), timeout=self.command_timeout)
            snap = parse_json_list(body)
        except EngineError as exc:
            log.warning("resync after ESL connect failed: %s", exc)
            self.mapper.journal = None
            self.resynced.set()
            return
        touched = self.mapper.replace_members({s.unique_id: (s.room, s.member_id) for s in snap})
        if self._before_drop is not None:
            before, before_flags = self._before_drop
            self._before_drop = None
            for ev in mapping.resync_events(before, before_flags, snap, touched, int(time.time() * 1_000_000)):
                ev = self._engine_side(ev)
                if ev is not None:
                    self._emit_one(ev)
        for s in snap:  # adopt FreeSWITCH's flags (a held member's mute state is not listed: keep ours)
            if s.unique_id not in touched:
                known_muted = self.mapper.flags.get(s.unique_id, (False, False))[0]
                self.mapper.flags[s.unique_id] = (known_muted if s.hold else s.muted, s.hold)
        present = set(self.mapper.members.values())
        for d in (self._waiting, self._hold_media):
            for k in [k for k in d if k not in present]:
                del d[k]
        self._held = {k for k in self._held if k in present}
        self.last_snapshot = snap
        self.resynced.set()
        if self.on_resync is not None:
            try:
                self.on_resync(snap)
            except Exception:
                log.exception("on_resync failed")

    on_resync: Optional[Callable[[List[MemberSnapshot]], None]] = None
    """Called (ESL handler side) with the snapshot after every (re)connect; the runtime points it at
    ``ConferenceState.resync``. Also available afterwards as :attr:`last_snapshot`."""
    last_snapshot: List[MemberSnapshot] = []

    def _on_down(self) -> None:
        self._before_drop = (dict(self.mapper.members), dict(self.mapper.flags))
        for job in list(self._jobs.values()):
            job._result.set_exception(EngineUnavailable("ESL dropped before the originate result"))
        self._jobs.clear()
