"""Pick the renderer for a conference's dialect: ``render(event, settings) -> CallbackRequest | None``."""
from __future__ import annotations

from typing import Optional

from fsbridge.conference.events import DomainEvent

from . import jambonz, telnyx, twilio
from .request import CallbackRequest, RenderSettings

RENDERERS = {twilio.DIALECT: twilio.render, telnyx.DIALECT: telnyx.render, jambonz.DIALECT: jambonz.render}


def render(event: DomainEvent, settings: RenderSettings = RenderSettings()) -> Optional[CallbackRequest]:
    """Render ``event`` in ``event.callbacks.dialect`` (twiml|texml|jambonz); None when nothing is sent
    (unsubscribed event, no URL configured, or an event the dialect does not report).
    Raises ValueError for an unknown dialect."""
    try:
        renderer = RENDERERS[event.callbacks.dialect]
    except KeyError:
        raise ValueError(f"unknown callback dialect {event.callbacks.dialect!r}") from None
    return renderer(event, settings)
