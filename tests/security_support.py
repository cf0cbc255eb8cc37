"""Shared pieces of the #14 security tests: a tenant app on 127.0.0.1 (allowed), a "victim" internal service on
127.0.0.2 (loopback, but outside the allowed 127.0.0.1/32, so the default policy must refuse it), a bridge
served over real HTTP (BridgeServer, standalone engine, port 0) with two accounts, and REST helpers."""
from __future__ import annotations

import requests
from flask import Flask, Response, request

from fsbridge.config import Number
from fsbridge.local import CallbackLog, HttpApp, start_bridge

AC = "AC" + "a" * 32
TOKEN = "token-a"
AC_B = "AC" + "b" * 32
TOKEN_B = "token-b"
NUMBER = "+15550001000"          # account A's number
NUMBER_B = "+15550002000"        # account B's number (its voice URL must never run for A)
ALLOW = ("127.0.0.1/32",)        # the tenant app's address; 127.0.0.2 stays denied (loopback by default)


class Site:
    """A Flask app on ``host``:0 answering ``routes[path](request) -> Response`` (default: an empty TwiML
    document); every request is recorded in ``hits`` (path, method, form, json)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.hits = CallbackLog()
        self.routes = {}
        app = Flask(f"site-{host}")

        @app.route("/", defaults={"name": ""}, methods=["GET", "POST"])
        @app.route("/<path:name>", methods=["GET", "POST"])
        def any_route(name):
            path = "/" + name
            self.hits.add({"path": path, "method": request.method, "form": request.form.to_dict(),
                           "json": request.get_json(silent=True), "headers": dict(request.headers)})
            handler = self.routes.get(path)
            if handler is not None:
                return handler(request)
            return Response("<Response/>", mimetype="text/xml")

        self.http = HttpApp(app, host=host).start()
        self.url = self.http.url

    def paths(self):
        """Paths requested so far, in order."""
        return [h["path"] for h in self.hits.items]

    def wait_path(self, path: str, timeout: float = 20.0) -> dict:
        """The first request for ``path`` (waits for it)."""
        assert self.hits.wait_for(lambda items: any(h["path"] == path for h in items), timeout), self.paths()
        return next(h for h in self.hits.items if h["path"] == path)

    def stop(self):
        """Stop the site's HTTP server (``HttpApp.stop``); the recorded ``hits`` stay readable."""
        self.http.stop()


def xml(text: str) -> Response:
    """A TwiML answer."""
    return Response(text, mimetype="text/xml")


def bridge(tmp_path, app: Site, *, allow=ALLOW, dialect: str = "twiml", **kw):
    """A served bridge (two accounts, A's number → ``app``/voice, B's number → ``app``/voice-b)."""
    numbers = [Number(NUMBER, AC, app.url + "/voice", dialect=dialect),
               Number(NUMBER_B, AC_B, app.url + "/voice-b", dialect=dialect)]
    return start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN, AC_B: TOKEN_B}, numbers=numbers,
                        clock="20", rate=8000, fetch_timeout=3.0, egress_allow=tuple(allow), **kw)


def rest(server, path: str, data=None, method: str = "POST", account: str = AC, token: str = TOKEN, **kw):
    """An authenticated REST request (``path`` below ``/2010-04-01/Accounts/{account}/``)."""
    url = f"{server.base_url}/2010-04-01/Accounts/{account}/{path}"
    return requests.request(method, url, data=data, auth=(account, token), timeout=20, **kw)


def call(server, url: str, **extra) -> str:
    """``POST Calls.json`` for a virtual call (To=tone:) running ``url`` → its CallSid."""
    r = rest(server, "Calls.json", {"To": "tone:440", "From": "+15557770000", "Url": url, "TimeLimit": "20",
                                    **extra})
    assert r.status_code == 201, r.text
    return r.json()["sid"]


def call_number(server, number: str = NUMBER, **extra) -> str:
    """``POST Calls.json`` for a virtual caller (Media=tone:) dialling the configured ``number`` (its voice
    URL runs in the number's dialect) → its CallSid."""
    r = rest(server, "Calls.json", {"To": number, "From": "+15557770000", "Media": "tone:440", "TimeLimit": "200",
                                    **extra})
    assert r.status_code == 201, r.text
    return r.json()["sid"]


def errors_of(server, call_sid: str, timeout: float = 20.0):
    """Wait for the call to end; its notifications ``[(code, message)]``."""
    assert server.bridge.wait_call(call_sid, timeout), f"call {call_sid} did not end"
    return list(server.bridge.registry.get(call_sid).errors)


def twilio_error(r, status: int, code=None) -> dict:
    """Assert a Twilio-shaped JSON error with ``status`` (and ``code``); returns the body."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) >= {"code", "message", "more_info", "status"} and body["status"] == status, body
    if code is not None:
        assert body["code"] == code, body
    return body
