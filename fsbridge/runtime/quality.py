"""Keeps what an engine measured on a call (issue 22): the quality ``extra`` pairs of a CHANNEL_HANGUP_COMPLETE
(:data:`fsbridge.wire.insights.QUALITY_EXTRAS`: FreeSWITCH's ``rtp_audio_in_*`` variables, the standalone
engine's jitter buffer + emulated network) become the call's row in :mod:`fsbridge.store.quality`, under the
conference the call was last in (the registry keeps it after the call left), and every function in
``bridge.quality_listeners`` is told ``(account_sid, conference_sid, call_sid, CallQuality or None)`` at the
hangup of a call that was in a conference (the Insights event stream waits for it before sending
``participant-summary.complete``).
"""
from __future__ import annotations

import logging
from typing import Optional

from fsbridge.conference import native as N
from fsbridge.store.quality import CallQuality, parse_extra, save
from fsbridge.wire import insights as wi

log = logging.getLogger("fsbridge.runtime.quality")


def on_native(bridge, event) -> Optional[CallQuality]:
    """Called for every applied engine event; acts on the CHANNEL_HANGUP_COMPLETE of a call that was in a
    conference: keeps its quality pairs (if any) and tells the quality listeners — with None when the engine
    measured nothing (the hangup itself is news to them). Returns the quality kept. Never raises."""
    if event.action != N.CHANNEL_HANGUP_COMPLETE or bridge.store is None:
        return None
    rec = bridge.registry.by_unique_id(event.unique_id)
    if rec is None or not rec.conference_sid:
        return None
    q = None
    try:
        q = parse_extra(event.extra, wi.QUALITY_EXTRAS, dict(event.extra).get(wi.Q_SOURCE, ""))
        if q is not None:
            save(bridge.store.engine, rec.account_sid, rec.conference_sid, rec.call_sid, q,
                 rows=getattr(bridge.store, "rows", None))
    except Exception:   # noqa: BLE001 - quality is a report; it never breaks event handling
        log.exception("could not keep the call quality of %s", event.unique_id)
        q = None
    for listener in list(bridge.quality_listeners):
        try:
            listener(rec.account_sid, rec.conference_sid, rec.call_sid, q)
        except Exception:   # noqa: BLE001
            log.exception("quality listener failed")
    return q


__all__ = ["on_native"]
