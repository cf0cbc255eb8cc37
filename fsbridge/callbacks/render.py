"""Decide and render: ``render(event, settings, sequence) -> CallbackRequest | None``.

The one place the delivery decision is made: an event is sent when :func:`.subscriptions.is_subscribed`
says so; its statusCallback SequenceNumber comes from a :class:`.subscriptions.StatusSequence` (counted
only for the status events actually subscribed). Then the conference's dialect renders it."""
from __future__ import annotations

from typing import Optional

from fsbridge.conference.events import DomainEvent
from fsbridge.wire import JAMBONZ, TEXML, TWIML

from . import jambonz, telnyx, twilio
from .subscriptions import StatusSequence, is_subscribed
from .request import CallbackRequest, RenderSettings

RENDERERS = {TWIML: twilio.render, TEXML: telnyx.render, JAMBONZ: jambonz.render}


def render(event: DomainEvent, settings: RenderSettings = RenderSettings(),
           sequence: Optional[StatusSequence] = None) -> Optional[CallbackRequest]:
    """Render ``event`` in ``event.callbacks.dialect`` (twiml|texml|jambonz); None when nothing is sent
    (unsubscribed event, no URL configured, or an event the dialect does not report). ``sequence``: the
    statusCallback SequenceNumber counter (None: the SequenceNumber is the event's own ordinal).
    Raises ValueError for an unknown dialect."""
    try:
        renderer = RENDERERS[event.callbacks.dialect]
    except KeyError:
        raise ValueError(f"unknown callback dialect {event.callbacks.dialect!r}") from None
    if not is_subscribed(event):
        return None
    return renderer(event, settings, sequence.take(event) if sequence is not None else None)
