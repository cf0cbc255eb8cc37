"""Telnyx TeXML: the TwiML walker with Telnyx's Conference attribute set and defaults.

Source: ../shared/seeds/telnyx-texml-conference.txt — the Conference attributes are a subset of Twilio's
(no participantLabel, jitterBufferSize, region, coach, eventCallbackUrl) plus recordBeep (default true)
and recordingTimeout (0–14400 s, default 0); maxParticipants is 2–250; trim defaults to do-not-trim;
statusCallbackEvent takes start end join leave speaker. Shared attributes are taken from the TwiML table
by model field, so their names are spelled only in ``twiml.py``; Dial, Play, Say, Pause and Redirect keep
TwiML's attributes.
"""
from __future__ import annotations

from dataclasses import replace

from fsbridge.wire.texml import CONFERENCE_EVENTS, RECORDING_TIMEOUT_MAX  # noqa: F401  (re-exported)
from fsbridge.wire.twilio import DO_NOT_TRIM

from .model import TEXML, Conference
from .schema import Attr, XmlDialect
from .twiml import TWIML
from .values import Bool, Events, Int

_SHARED = (
    "muted", "start_conference_on_enter", "end_conference_on_exit", "max_participants", "beep", "record",
    "recording_status_callback", "recording_status_callback_event", "recording_status_callback_method",
    "trim", "status_callback", "status_callback_method", "status_callback_event", "wait_url", "wait_method",
)
_KIND_OVERRIDES = {
    "max_participants": Int(2, 250),
    "status_callback_event": Events(CONFERENCE_EVENTS),
}


def _conference_attrs():
    twiml = TWIML.by_field(Conference)
    shared = tuple(replace(twiml[f], kind=_KIND_OVERRIDES.get(f, twiml[f].kind)) for f in _SHARED)
    return shared + (
        Attr("recordBeep", Bool()),
        Attr("recordingTimeout", Int(0, RECORDING_TIMEOUT_MAX)),
    )


#: The TeXML dialect.
TEXML_DIALECT = XmlDialect(
    name=TEXML,
    attrs={**TWIML.attrs, Conference: _conference_attrs()},
    defaults={Conference: {"trim": DO_NOT_TRIM}},
)
