"""Keeps what an engine measured on a call (issue 22): the quality ``extra`` pairs of a CHANNEL_HANGUP_COMPLETE
(:data:`fsbridge.wire.insights.QUALITY_EXTRAS`: FreeSWITCH's ``rtp_audio_in_*`` variables, the standalone
engine's jitter buffer + emulated network) become the call's row in :mod:`fsbridge.store.quality`, under the
conference the call was last in (the registry keeps it after the call left), and every function in
``bridge.quality_listeners`` is told ``(account_sid, conference_sid, call_sid, CallQuality)`` (the Insights
event stream waits for it before sending ``participant-summary.complete``).
"""
from __future__ import annotations

import logging
from typing import Optional

from fsbridge.conference import native as N
from fsbridge.store.quality import CallQuality, parse_extra, save
from fsbridge.wire import insights as wi

log = logging.getLogger("fsbridge.runtime.quality")


def on_native(bridge, event) -> Optional[CallQuality]:
    """Called for every applied engine event; acts on a CHANNEL_HANGUP_COMPLETE carrying quality pairs of a
    call that was in a conference. Returns the quality kept (None otherwise). Never raises."""
    if event.action != N.CHANNEL_HANGUP_COMPLETE or not event.extra or bridge.store is None:
        return None
    try:
        source = dict(event.extra).get(wi.Q_SOURCE, "")
        q = parse_extra(event.extra, wi.QUALITY_EXTRAS, source)
        rec = bridge.registry.by_unique_id(event.unique_id)
        if q is None or rec is None or not rec.conference_sid:
            return None
        save(bridge.store.engine, rec.account_sid, rec.conference_sid, rec.call_sid, q)
    except Exception:   # noqa: BLE001 - quality is a report; it never breaks event handling
        log.exception("could not keep the call quality of %s", event.unique_id)
        return None
    for listener in list(bridge.quality_listeners):
        try:
            listener(rec.account_sid, rec.conference_sid, rec.call_sid, q)
        except Exception:   # noqa: BLE001
            log.exception("quality listener failed")
    return q


__all__ = ["on_native"]
