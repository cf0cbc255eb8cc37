"""fsbridge.api: the REST API (Flask) — Twilio 2010-04-01 Conferences / Participants / Recordings and the
Telnyx TeXML conference routes, served from the :class:`fsbridge.store.Store` and acting through a
:class:`fsbridge.runtime.control.ConferenceControl`.

``create_app(store, control, accounts, base_url=None, telnyx_keys=None)`` builds the app;
``serve(app, host="127.0.0.1", port=0)`` starts gevent's WSGI server on it (returns the started
``gevent.pywsgi.WSGIServer``; ``server.server_port`` is the bound port). See docs/rest.md.
"""
from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any):
    """See :func:`fsbridge.api.app.create_app`."""
    from fsbridge.api.app import create_app as _create_app
    return _create_app(*args, **kwargs)


def serve(app, host: str = "127.0.0.1", port: int = 0, log: Any = None):
    """Start ``app`` on gevent's WSGI server bound to ``host:port`` (0 = any free port) and return the
    started server (``.server_port``, ``.stop()``). ``log``: gevent access log target (None = silent).
    The caller is responsible for gevent monkey-patching (entry points only)."""
    from gevent.pywsgi import WSGIServer
    server = WSGIServer((host, port), app, log=log)
    server.start()
    return server


__all__ = ["create_app", "serve"]
