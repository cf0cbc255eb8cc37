"""Bridge: the conference domain joined to an engine, a store and a callback dispatcher, in one process.

Composed by responsibility (../shared/DESIGN.md "Layers"): :mod:`.core` (pump, lock, publish, waiters,
confirmations), :mod:`.calls` (sessions, placement, joins), :mod:`.controller` (the
:class:`~fsbridge.runtime.control.ConferenceControl` the REST API uses), :mod:`.dialout` (create
Participant) and :mod:`.adoption` (calls that outlive the bridge: continuations, adoption). The engine is
reached only through :class:`fsbridge.engines.base.Engine`.
"""
from __future__ import annotations

from fsbridge.runtime.adoption import AdoptionMixin
from fsbridge.runtime.calls import MEDIA_SCHEMES, CallsMixin, is_media_url, source_ref
from fsbridge.runtime.controller import ControlMixin
from fsbridge.runtime.core import BridgeCore
from fsbridge.runtime.dialout import DialOutMixin

__all__ = ["Bridge", "MEDIA_SCHEMES", "source_ref", "is_media_url"]


class Bridge(CallsMixin, ControlMixin, DialOutMixin, AdoptionMixin, BridgeCore):
    """ConferenceState (+ one lock) ⇄ engine, store, dispatcher; implements ConferenceControl.

    ``Bridge(engine, settings=None, *, store=None, dispatcher=None)``: the arguments and what is built from
    them are described on :class:`~fsbridge.runtime.core.BridgeCore`; the methods come from the mixins.
    """
