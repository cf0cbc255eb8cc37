"""Bridge: the conference domain joined to an engine, a store and a callback dispatcher, in one process.

Composed by responsibility (../shared/DESIGN.md "Layers"): :mod:`.core` (pump, lock, publish, waiters,
confirmations), :mod:`.calls` (sessions, placement, joins), :mod:`.controller` (the
:class:`~fsbridge.runtime.control.ConferenceControl` the REST API uses) and :mod:`.dialout` (create
Participant). The engine is reached only through :class:`fsbridge.engines.base.Engine`.
"""
from __future__ import annotations

from fsbridge.runtime.calls import MEDIA_SCHEMES, CallsMixin, is_media_url, source_ref
from fsbridge.runtime.controller import ControlMixin
from fsbridge.runtime.core import BridgeCore
from fsbridge.runtime.dialout import DialOutMixin, conference_from_options

__all__ = ["Bridge", "MEDIA_SCHEMES", "source_ref", "is_media_url", "conference_from_options"]


class Bridge(CallsMixin, ControlMixin, DialOutMixin, BridgeCore):
    """ConferenceState (+ one lock) ⇄ engine, store, dispatcher; implements ConferenceControl.

    ``engine``: an :class:`~fsbridge.engines.base.Engine` (standalone or FreeSWITCH). ``settings``: a
    :class:`~fsbridge.config.Settings` (accounts, numbers, dirs, timeouts). ``store``: an object with
    ``record(DomainEvent)`` (fsbridge.store.Store) or None. ``dispatcher``: an object with
    ``enqueue(DomainEvent)`` (fsbridge.callbacks.Dispatcher) or None; the bridge starts and stops it.
    Built from the settings: ``state`` (a ConferenceState writing recordings to ``settings.recordings_dir``,
    timed by the engine clock), ``fetcher`` / ``media`` (the runtime's HTTP client / media resolver) and
    ``confirm_timeout_s`` (s a REST write waits for the engine's confirming event).
    """
