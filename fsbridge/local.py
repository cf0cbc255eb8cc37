"""Running a whole bridge inside the current process (tests, ``fsbridge demo``, scripts) — above the
composition root (:mod:`fsbridge.app`), which it builds on; nothing below imports it.

Example (the process must already be gevent monkey-patched)::

    server = start_bridge("work", accounts={"AC…": "token"},
                          numbers=[Number("+15550001000", "AC…", app.url + "/voice")], clock="10")
    rec = server.bridge.place_call("AC…", "Mary", "+15550001000", "file:/abs/mary.wav")
    server.bridge.wait_call(rec.call_sid, timeout=60)
    audio = heard_audio(server, rec.call_sid)             # int16 numpy array, engine rate
    server.stop()

``clock``: ``"fast"`` (as fast as possible), ``"realtime"`` or a speed factor such as ``"10"`` (10× real
time: wall-clock latencies of HTTP round trips then cost 10× less engine time than with ``fast``, which keeps
event order reproducible when an app reacts to callbacks).
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional

from fsbridge.app import BridgeServer
from fsbridge.engines.standalone.leg import VirtualCallLeg
from fsbridge.config import Account, Number, Settings, validate


class HttpApp:
    """A WSGI ``app`` (e.g. Flask) served by gevent on ``host``:0; ``url`` = ``http://host:port`` once
    started."""

    def __init__(self, app, host: str = "127.0.0.1"):
        self.app = app
        self.host = host
        self.server = None
        self.url: Optional[str] = None

    def start(self) -> "HttpApp":
        """Bind a free port and serve in the background."""
        from gevent.pywsgi import WSGIServer
        self.server = WSGIServer((self.host, 0), self.app, log=None)
        self.server.start()
        self.url = f"http://{self.host}:{self.server.server_port}"
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.stop(timeout=2)


def local_settings(workdir: str, *, accounts: Mapping[str, str], numbers: Iterable[Number] = (),
                   clock: str = "fast", **kw) -> Settings:
    """Settings for an in-process bridge on 127.0.0.1:0 with its SQLite file, audio cache and recordings
    under ``workdir``. ``accounts``: {AccountSid: AuthToken}; ``kw``: other :class:`Settings` fields.
    In-process apps sit on loopback: egress to 127.0.0.0/8 and ::1 is allowed (fsbridge.egress)."""
    os.makedirs(workdir, exist_ok=True)
    base = dict(host="127.0.0.1", port=0, database_url=f"sqlite:///{os.path.join(workdir, 'fsbridge.sqlite')}",
                audio_dir=os.path.join(workdir, "audio"), recordings_dir=os.path.join(workdir, "recordings"),
                clock=clock, capture_heard=True,   # heard_audio() below reads it
                accounts={sid: Account(sid, token) for sid, token in accounts.items()},
                numbers={n.number: n for n in numbers}, egress_allow=("127.0.0.0/8", "::1/128"))
    base.update(kw)
    return validate(Settings(**base))


def start_bridge(workdir: str, *, accounts: Mapping[str, str], numbers: Iterable[Number] = (),
                 clock: str = "fast", engine=None, dispatcher_kw: Optional[dict] = None,
                 **kw) -> BridgeServer:
    """Build and start a :class:`BridgeServer` (standalone engine unless ``engine`` is given); see module
    docstring. Returns the started server (``.base_url``, ``.port``, ``.bridge``, ``.store``)."""
    settings = local_settings(workdir, accounts=accounts, numbers=numbers, clock=clock, **kw)
    return BridgeServer(settings, engine=engine, dispatcher_kw=dispatcher_kw).start()


def heard_audio(server: BridgeServer, call_sid: str):
    """What the virtual call ``call_sid`` heard since it was answered: int16 numpy array at the engine rate
    (standalone engine only)."""
    rec = server.bridge.registry.get(call_sid)
    leg = rec.leg if rec is not None else None
    if not isinstance(leg, VirtualCallLeg):
        raise KeyError(f"no virtual call {call_sid}")
    return leg.heard_audio()


def save_heard(server: BridgeServer, call_sid: str, path: str) -> str:
    """Write :func:`heard_audio` of ``call_sid`` to the WAV file ``path``; returns ``path``."""
    import soundfile as sf
    sf.write(path, heard_audio(server, call_sid), server.bridge.settings.rate, subtype="PCM_16")
    return path


class CallbackLog:
    """What a callback receiver got, with a wait that needs no sleeps: ``add(item)`` from the receiver,
    ``wait_for(predicate, timeout)`` from the test/demo (``predicate(items) -> bool``)."""

    def __init__(self):
        import gevent.event
        self.items: list = []
        self._pulse = gevent.event.Event()

    def add(self, item) -> None:
        """Record one callback (any object, e.g. ``{"url":…, "form":…, "headers":…}``) and wake waiters."""
        import gevent.event
        self.items.append(item)
        pulse, self._pulse = self._pulse, gevent.event.Event()
        pulse.set()

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        """Block until ``predicate(items)`` is true (True) or ``timeout`` seconds passed (False)."""
        import time
        deadline = time.monotonic() + timeout
        while not predicate(self.items):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._pulse.wait(left)
        return True
