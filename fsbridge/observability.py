"""Composition of the console, the live hub and the metrics onto a running :class:`fsbridge.app.BridgeServer`
(the composition root calls :func:`attach` once everything is built, before the bridge starts).

What is hooked where (no module below is edited for it):

* ``bridge.listeners`` += the metrics' event counter and the console's :class:`LiveHub`;
* ``dispatcher.on_update`` is chained (the original hook still runs first) with the metrics' outcome hook;
  ``dispatcher.enqueue`` is wrapped to time enqueue → delivery; ``dispatcher.transport`` is wrapped to record
  each attempt's response code and duration;
* the standalone engine's ``_tick`` is timed (instance attribute, before ``engine.start()``);
* the Flask app gets ``/healthz``, ``/readyz``, ``/metrics`` (unauthenticated) and ``/console`` (Basic auth).
"""
from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlparse

from fsbridge.api import console, ops
from fsbridge.api.console.live import LiveHub
from fsbridge.metrics import Metrics


class Observability:
    """``metrics``: the app's :class:`Metrics`; ``hub``: the console's :class:`LiveHub`."""

    def __init__(self, metrics: Metrics, hub: LiveHub) -> None:
        self.metrics = metrics
        self.hub = hub

    def close(self) -> None:
        """End the console's open event streams (call before stopping the HTTP server)."""
        self.hub.close()


def attach(server: Any, base_url: Optional[str] = None) -> Observability:
    """Hook metrics and console into ``server`` (``.app``, ``.bridge``, ``.dispatcher``, ``.base_url``)."""
    metrics = Metrics()
    hub = LiveHub()
    bridge, dispatcher = server.bridge, server.dispatcher
    bridge.listeners.append(metrics.on_event)
    bridge.listeners.append(hub.on_event)
    if dispatcher is not None:
        previous = dispatcher.on_update

        def on_update(outbox_id, state, attempts, error):
            if previous is not None:
                previous(outbox_id, state, attempts, error)
            metrics.callback_update(outbox_id, state, attempts, error)
        dispatcher.on_update = on_update
        dispatcher.enqueue = metrics.timed_enqueue(dispatcher.enqueue)
        dispatcher.transport = metrics.wrap_transport(dispatcher.transport)
    engine, esl = bridge.engine, None
    from fsbridge.engines.standalone.engine import StandaloneEngine
    if isinstance(engine, StandaloneEngine):
        engine._tick = metrics.timed_tick(engine._tick)
    else:
        from fsbridge.engines.freeswitch import FreeSwitchEngine
        esl = engine.esl if isinstance(engine, FreeSwitchEngine) else None
    metrics.watch(bridge=bridge, dispatcher=dispatcher, esl=esl)
    prefix = urlparse(base_url or server.base_url or "").path.rstrip("/")
    console.register(server.app, hub, dispatcher=dispatcher, metrics=metrics, prefix=prefix)
    ops.register(server.app, metrics, prefix)   # last: its timer runs first, so refusals are timed too
    return Observability(metrics, hub)
