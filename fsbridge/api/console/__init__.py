"""The operators' console (``/console``): see :mod:`fsbridge.api.console.views`.

``register(app, hub, dispatcher=None, metrics=None, prefix="")`` mounts it on a Flask app built by
:func:`fsbridge.api.app.create_app` (it reads the same ``app.extensions["fsbridge"]`` context).
"""
from __future__ import annotations

from typing import Any

from fsbridge.api.console import guard
from fsbridge.api.console.live import LiveHub
from fsbridge.api.console.views import ConsoleContext, bp
from fsbridge.api.console import summary as _summary  # noqa: F401,E402 - Insights summary page (#22)


def register(app: Any, hub: LiveHub, dispatcher: Any = None, metrics: Any = None, prefix: str = "") -> None:
    """Mount the console blueprint at ``prefix + "/console"``. ``hub``: the :class:`LiveHub` fed by the
    bridge's listeners; ``dispatcher``: for the status-callback log; ``metrics``: response codes. Also
    installs :mod:`fsbridge.api.console.guard` (cross-site writes refused) on the whole app."""
    app.extensions["fsbridge_console"] = ConsoleContext(hub, dispatcher, metrics)
    guard.install(app)   # a logged-in browser must not be usable by other sites (REST writes included)
    app.register_blueprint(bp, url_prefix=(prefix.rstrip("/") + "/console"))


__all__ = ["LiveHub", "register"]
