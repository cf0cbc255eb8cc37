"""The demo's customer app: an ordinary Twilio-style web app, as its developer would write it for Twilio.

Routes (Flask):

* ``POST /voice/team`` — the 2016 Conference Events post's "Team Meeting": every caller joins
  ``TeamMeeting`` with ``statusCallbackEvent="start end join leave mute speaker"`` and is labelled by name;
  Mary, the presenter, has ``endConferenceOnExit="true"``. The room is recorded from the start.
* ``POST /voice/moderated`` — the TwiML noun's moderated conference: callers wait
  (``startConferenceOnEnter="false"``); the moderator (From = the configured moderator) starts and ends it.
* ``POST /voice/waiting`` — the customer waiting room: ``beep="false"``; the agent ends it on exit.
* ``POST /callback`` — conference status callbacks. Each is checked against ``X-Twilio-Signature``,
  handed to ``on_callback(params: dict)``, and, once every expected Team Meeting participant has joined,
  the app mutes everyone but Mary through the REST API (``Muted=true``), as the post describes.

Source: ../shared/seeds/twilio-conference-events-announcement.txt, twilio-twiml-conference-noun.txt.
"""
from __future__ import annotations

import hmac
import logging
import threading
from typing import Callable, Dict, Iterable, Optional, Union
from xml.sax.saxutils import escape, quoteattr

import requests
from flask import Flask, Response, abort, request

from fsbridge.callbacks.signing import twilio_signature
from fsbridge.wire import twilio as tw

log = logging.getLogger("fsbridge.demo.app")

PRESENTER = "Mary"


def _conference_twiml(room: str, callback_url: str, **attrs: str) -> str:
    """A ``<Response><Dial><Conference …>room</Conference></Dial></Response>`` document (TwiML)."""
    rendered = "".join(f" {name}={quoteattr(value)}" for name, value in attrs.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Dial>'
        f"<Conference statusCallback={quoteattr(callback_url)}{rendered}>{escape(room)}</Conference>"
        "</Dial></Response>"
    )


def create_demo_app(*, rest_base: Union[str, Callable[[], str]], account_sid: str, auth_token: str,
                    expected_team: Iterable[str] = ("Mary", "Alice", "Bob", "Charles"),
                    on_callback: Optional[Callable[[Dict[str, str]], None]] = None,
                    on_mute_done: Optional[Callable[[], None]] = None) -> Flask:
    """Build the demo app.

    ``rest_base``: the bridge's REST root (``http://127.0.0.1:PORT``), or a callable returning it (the app may
    start before the bridge); ``account_sid``/``auth_token``: the
    account the app uses for REST calls and to validate callback signatures. ``expected_team``: caller names
    (the ``From`` of each call) that must have joined before the app mutes all but Mary.
    ``on_callback`` receives every validated callback's form fields; ``on_mute_done`` is called once the mutes
    were accepted. A callback with a bad signature is answered 403.
    """
    app = Flask("fsbridge-demo-app")
    expected = set(expected_team)
    joined: Dict[str, str] = {}  # label -> CallSid
    lock = threading.Lock()
    muted_once = threading.Event()

    def callback_url() -> str:
        return request.url_root.rstrip("/") + "/callback"

    @app.post("/voice/team")
    def team() -> Response:
        caller = request.form.get(tw.FROM, "")
        attrs = {
            "statusCallbackEvent": "start end join leave mute speaker",
            "participantLabel": caller,
            "record": tw.RECORD_FROM_START,
            "beep": tw.BEEP_ON_ENTER,
        }
        if caller == PRESENTER:
            attrs["endConferenceOnExit"] = "true"
        return Response(_conference_twiml("TeamMeeting", callback_url(), **attrs), mimetype="text/xml")

    @app.post("/voice/moderated")
    def moderated() -> Response:
        moderator = request.form.get(tw.FROM, "") == PRESENTER
        attrs = {"startConferenceOnEnter": "true" if moderator else "false",
                 "endConferenceOnExit": "true" if moderator else "false",
                 "statusCallbackEvent": "start end join leave"}
        return Response(_conference_twiml("moderated-conference-room", callback_url(), **attrs),
                        mimetype="text/xml")

    @app.post("/voice/waiting")
    def waiting() -> Response:
        agent = request.form.get(tw.FROM, "") == PRESENTER
        attrs = {"beep": "false", "statusCallbackEvent": "start end join leave"}
        if agent:
            attrs["endConferenceOnExit"] = "true"
        return Response(_conference_twiml("Customer Waiting Room", callback_url(), **attrs),
                        mimetype="text/xml")

    @app.post("/callback")
    def callback() -> Response:
        params = request.form.to_dict()
        expected_sig = twilio_signature(auth_token, request.url, params)
        given = request.headers.get("X-Twilio-Signature", "").encode("utf-8")
        if not hmac.compare_digest(given, expected_sig.encode("utf-8")):   # constant time
            abort(403)
        if on_callback:
            on_callback(params)
        if params.get(tw.STATUS_CALLBACK_EVENT) == tw.PARTICIPANT_JOIN:
            with lock:
                joined[params.get(tw.PARTICIPANT_LABEL, "")] = params[tw.CALL_SID]
                ready = expected <= set(joined) and not muted_once.is_set()
                if ready:
                    muted_once.set()
                    targets = [(label, sid) for label, sid in joined.items() if label != PRESENTER]
            if ready:
                # Not inside the request: Twilio expects a quick answer to its webhook.
                threading.Thread(target=_mute_all, args=(params[tw.CONFERENCE_SID], targets),
                                 daemon=True).start()
        return Response("", status=204)

    def _mute_all(conference_sid: str, targets) -> None:
        for label, call_sid in targets:
            base = rest_base() if callable(rest_base) else rest_base
            url = (f"{base}/{tw.API_VERSION}/Accounts/{account_sid}/Conferences/{conference_sid}"
                   f"/Participants/{call_sid}.json")
            reply = requests.post(url, data={tw.MUTED: "true"}, auth=(account_sid, auth_token), timeout=10)
            log.info("REST mute %s → %s", label, reply.status_code)
            reply.raise_for_status()
        if on_mute_done:
            on_mute_done()

    return app
