"""Calls stuck in the ``socket`` application (issue 15, docs/freeswitch.md observed-live §4): a call that reached a bridge's
listener but never got ``connect`` — in the accept backlog when that bridge died, or closed before
``connect`` — waits in ``socket`` for ever (FreeSWITCH sets no timeout). At the first ESL connection after
start the engine lists them (``show channels as json``: ``application`` ``socket`` with our outbound address
as ``application_data``, not a call this bridge accepted, older than ``MIN_AGE_S``) and re-runs their
dialplan with ``uuid_transfer <uuid> <dest> XML <context>`` — they arrive on the new listener like new calls
(65 ms on FreeSWITCH 1.10.12).
"""
from __future__ import annotations

import json
import logging
import time
from typing import Iterable, List, Tuple

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


def rescue_stuck_calls(engine) -> int:
    """Find and re-dial the stuck calls of ``engine`` (a FreeSwitchEngine); returns how many were
    transferred. Errors are logged, never raised (runs in the engine's worker greenlet)."""
    from fsbridge.engines.base import EngineError
    from fsbridge.engines.freeswitch import render
    address = engine.outbound_advertise or "%s:%d" % (engine.outbound.bind_address, engine.outbound_port)
    try:
        body = engine.esl.api(render.api("channels_json"), timeout=engine.command_timeout)
    except EngineError as exc:
        log.warning("listing channels for stuck calls failed: %s", exc)
        return 0
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


__all__ = ["stuck_calls", "rescue_stuck_calls", "MIN_AGE_S"]
