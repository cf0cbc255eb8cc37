"""Calls stuck in the ``socket`` application (issue 15, docs/freeswitch.md observed-live §4): a call that reached a bridge's
listener but never got ``connect`` — in the accept backlog when that bridge died, or closed before
``connect`` — waits in ``socket`` for ever (FreeSWITCH sets no timeout). At the first ESL connection after
start the engine lists them (``show channels as json``: ``application`` ``socket`` with our outbound address
as ``application_data``, not a call this bridge accepted, older than ``MIN_AGE_S``) and re-runs their
dialplan with ``uuid_transfer <uuid> <dest> XML <context>`` — they arrive on the new listener like new calls
(65 ms on FreeSWITCH 1.10.12).

After that a periodic sweep (:func:`sweep_stuck_calls`, every ``FreeSwitchEngine.sweep_interval`` s and soon
after each ESL reconnect) does the same for calls that got stranded while the bridge runs (a listener
briefly closed, another bridge's backlog on the same address): a channel is re-dialled when two consecutive
sweeps saw it stuck (never a call this bridge is still setting up: the sweep waits while any accepted socket
has no leg yet), and hung up with a log when it is still stuck at the sweep after that.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Iterable, List, Optional, Tuple

from fsbridge.engines.base import EngineError
from fsbridge.engines.freeswitch import render

log = logging.getLogger(__name__)

MIN_AGE_S = 2.0   # a call accepted right now is in ``socket`` for milliseconds, not seconds
SOCKET_APP = "socket"


def stuck_calls(body: str, address: str, known: Iterable[str], now_s: float,
                min_age_s: float = MIN_AGE_S) -> List[Tuple[str, str, str]]:
    """``show channels as json`` body → ``[(uuid, dest, context)]`` of channels in ``socket`` toward
    ``address`` (``host:port``), not in ``known`` (Unique-IDs this bridge holds), created ≥ ``min_age_s``
    before ``now_s`` (Unix seconds). An unreadable body → []."""
    try:
        rows = json.loads(body).get("rows") or []
    except (ValueError, AttributeError):
        return []
    known = set(known)
    out = []
    for r in rows:
        try:
            created = float(r.get("created_epoch") or 0)
        except (TypeError, ValueError):
            continue
        data = str(r.get("application_data") or "")
        if (r.get("application") == SOCKET_APP and data.split(" ")[0] == address and r.get("uuid")
                and r["uuid"] not in known and created and created <= now_s - min_age_s
                and r.get("dest") and r.get("context")):
            out.append((r["uuid"], r["dest"], r["context"]))
    return out


def _list_channels(engine) -> Optional[Tuple[str, str]]:
    """``(our outbound address as FreeSWITCH's socket application sees it, show channels as json body)``,
    or None (logged) when the listing failed."""
    address = engine.outbound_advertise or "%s:%d" % (engine.outbound.bind_address, engine.outbound_port)
    try:
        body = engine.esl.api(render.api("channels_json"), timeout=engine.command_timeout)
    except EngineError as exc:
        log.warning("listing channels for stuck calls failed: %s", exc)
        return None
    return address, body


def rescue_stuck_calls(engine) -> int:
    """Find and re-dial the stuck calls of ``engine`` (a FreeSwitchEngine); returns how many were
    transferred. Errors are logged, never raised (runs in the engine's worker greenlet)."""
    listed = _list_channels(engine)
    if listed is None:
        return 0
    address, body = listed
    done = 0
    for uuid, dest, context in stuck_calls(body, address, engine.outbound.legs, time.time()):
        try:
            engine.esl.api(render.api("transfer", uuid=uuid, dest=dest, context=context),
                           timeout=engine.command_timeout)
            done += 1
            log.warning("call %s was stuck in socket %s (no bridge took it): dialplan %s@%s re-run",
                        uuid, address, dest, context)
        except EngineError as exc:
            log.warning("re-running the dialplan of stuck call %s failed: %s", uuid, exc)
    return done


def sweep_stuck_calls(engine) -> Tuple[int, int]:
    """One periodic sweep of ``engine`` (module docstring); returns ``(re-dialled, hung up)``. Errors are
    logged, never raised (runs in the engine's worker greenlet)."""
    if engine.outbound.setups_pending():
        return 0, 0
    listed = _list_channels(engine)
    if listed is None:
        return 0, 0
    address, body = listed
    seen, engine._stuck_seen = engine._stuck_seen, {}
    moved = killed = 0
    for uuid, dest, context in stuck_calls(body, address, engine.outbound.legs, time.time()):
        count = engine._stuck_seen[uuid] = seen.get(uuid, 0) + 1
        try:
            if count == 2:
                engine.esl.api(render.api("transfer", uuid=uuid, dest=dest, context=context),
                               timeout=engine.command_timeout)
                moved += 1
                log.warning("call %s was stuck in socket %s with no bridge driving it: dialplan %s@%s re-run",
                            uuid, address, dest, context)
            elif count > 2:
                engine.esl.api(render.api("kill", uuid=uuid, cause="NORMAL_TEMPORARY_FAILURE"),
                               timeout=engine.command_timeout)
                killed += 1
                log.warning("call %s still stuck in socket %s after its dialplan was re-run: hung up "
                            "(NORMAL_TEMPORARY_FAILURE)", uuid, address)
        except EngineError as exc:
            log.warning("rescuing stuck call %s failed: %s", uuid, exc)
    return moved, killed


__all__ = ["stuck_calls", "rescue_stuck_calls", "sweep_stuck_calls", "MIN_AGE_S"]
