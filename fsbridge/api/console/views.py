"""The operators' console: server-rendered pages under ``/console`` (Flask blueprint + Jinja templates + one
small script, no build step).

Every page is scoped to the account authenticated by HTTP Basic (the REST API's credentials and check,
:func:`fsbridge.api.auth.basic_account`): no credentials → 401 with ``WWW-Authenticate`` (the browser
prompts); a conference of another account → 404, exactly as the REST API answers. Reads go through the same
store queries as the REST API (``Store.list_conferences`` / ``list_participants`` / ``list_recordings``);
actions through the REST handlers' own functions (validation, 409s, then ``ConferenceControl``), so an app
receives the same callbacks. Actions are POSTs that must carry the header
``X-FSBridge-Console: 1`` (set by the page's script): a cross-site form cannot set it, so a browser's cached
Basic credentials cannot be abused by another site (CSRF) — a POST without it is refused 403.

Routes (relative to ``/console``): ``/`` live + finished conferences; ``/conferences/<CF>`` one conference
(participants with a talking indicator, badges, buttons; timeline; status-callback log; recordings);
``/conferences/<CF>/participants`` the participants table body (HTML fragment the script re-reads);
``/conferences/<CF>/callbacks`` the status-callback log (fragment); ``/conferences/<CF>/timeline.json``;
``/conferences/<CF>/events`` the SSE stream (``/events``: all the account's conferences); POST
``/conferences/<CF>/participants/<who>/<mute|unmute|hold|unhold|kick>``, ``/conferences/<CF>/<end|announce>``
(announce: form field ``url``), ``/conferences/<CF>/recordings/<RE>`` (form field ``Status``).
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, stream_with_context

from werkzeug.datastructures import MultiDict

from fsbridge.api.auth import basic_account
from fsbridge.api.context import conference_or_404, ctx, live_control
from fsbridge.api.errors import ApiError
from fsbridge.store.rows import PageRequest
from fsbridge.wire import twilio as tw

CSRF_HEADER = "X-FSBridge-Console"
KEEPALIVE_S = 15.0

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static", url_prefix="/console")


class ConsoleContext:
    """What the console needs besides the REST context: the live hub (talking, timelines, SSE), the
    dispatcher (status-callback log) and the metrics (response codes), any of them None."""

    def __init__(self, hub: Any, dispatcher: Any = None, metrics: Any = None) -> None:
        self.hub = hub
        self.dispatcher = dispatcher
        self.metrics = metrics


def cctx() -> ConsoleContext:
    """The current app's ConsoleContext (``app.extensions["fsbridge_console"]``)."""
    return current_app.extensions["fsbridge_console"]


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "console.static":
        return
    g.account_sid = basic_account(ctx().accounts, ctx().api_keys)
    if request.method == "POST" and request.headers.get(CSRF_HEADER) != "1":
        raise ApiError(403, 20403, "Console actions need the console's own requests")


@bp.errorhandler(ApiError)
def _error(exc: ApiError):
    if request.accept_mimetypes.best == "application/json" or request.method == "POST":
        resp = jsonify(exc.body())
    else:
        resp = Response(render_template("console/error.html", error=exc), mimetype="text/html")
    resp.status_code = exc.status
    for k, v in exc.headers.items():
        resp.headers[k] = v
    return resp


# ---------------------------------------------------------------------------------------------- pages
@bp.get("/")
def index():
    """Live conferences (init + in-progress) and the 50 most recent finished ones."""
    store = ctx().store
    account = g.account_sid
    live = [c for status in (tw.CONF_IN_PROGRESS, tw.CONF_INIT)
            for c in store.list_conferences(account, status=status, page=PageRequest(limit=200)).items]
    finished = store.list_conferences(account, status=tw.CONF_COMPLETED, page=PageRequest(limit=50)).items
    return render_template("console/index.html", account=account, live=live, finished=finished)


@bp.get("/conferences/<sid>")
def conference(sid: str):
    """One conference: participants (live), timeline, status-callback log, recordings."""
    account = g.account_sid
    conf = conference_or_404(account, sid)
    store = ctx().store
    recordings = store.list_recordings(account, sid, page=PageRequest(limit=100)).items
    return render_template("console/conference.html", account=account, conf=conf,
                           participants=_participants(account, sid, conf.status == tw.CONF_COMPLETED),
                           recordings=recordings,
                           callbacks=_callback_log(sid), timeline=_timeline(account, sid),
                           rest_prefix=_rest_prefix(account, sid))


@bp.get("/conferences/<sid>/participants")
def participants_fragment(sid: str):
    """The participants table body (the page's script swaps it in after a change)."""
    account = g.account_sid
    conf = conference_or_404(account, sid)
    return render_template("console/participants.html", conf=conf,
                           participants=_participants(account, sid, conf.status == tw.CONF_COMPLETED))


@bp.get("/conferences/<sid>/callbacks")
def callbacks_fragment(sid: str):
    """The status-callback log (HTML fragment the script re-reads after events)."""
    conference_or_404(g.account_sid, sid)
    return render_template("console/callbacks.html", callbacks=_callback_log(sid))


@bp.get("/conferences/<sid>/timeline.json")
def timeline_json(sid: str):
    """The conference's timeline: ``{"start", "end", "participants": [...], "events": [...]}``."""
    account = g.account_sid
    conference_or_404(account, sid)
    return jsonify(_timeline(account, sid))


@bp.get("/events")
def account_events():
    """Server-sent events of every conference of the account (the index page reloads on starts and ends)."""
    return _event_stream(g.account_sid, None)


@bp.get("/conferences/<sid>/events")
def events(sid: str):
    """Server-sent events of this conference (``data:`` = one timeline entry as JSON); first a ``talking``
    snapshot; a comment every 15 s keeps proxies from closing the stream."""
    conference_or_404(g.account_sid, sid)
    return _event_stream(g.account_sid, sid)


def _event_stream(account: str, sid: Optional[str]) -> Response:
    hub = cctx().hub
    sub = hub.subscribe(account, sid)
    snapshot = {"event": "snapshot", "talking": sorted(hub.talking(sid)) if sid else []}

    def stream():
        try:
            yield "retry: 1000\n\n"
            yield f"data: {json.dumps(snapshot)}\n\n"
            while True:
                try:
                    msg = sub.get(KEEPALIVE_S)
                except StopIteration:
                    return
                yield ": keep-alive\n\n" if msg is None else f"data: {json.dumps(msg)}\n\n"
        finally:
            hub.unsubscribe(sub)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(stream()), mimetype="text/event-stream", headers=headers)


# ---------------------------------------------------------------------------------------------- actions
# The REST handlers' own functions (validation, 409 for a participant who left, the ConferenceControl call):
# a console click is exactly the REST request it names.
PARTICIPANT_ACTIONS = {
    "mute": {tw.MUTED: "true"}, "unmute": {tw.MUTED: "false"},
    "hold": {tw.HOLD: "true"}, "unhold": {tw.HOLD: "false"},
    "kick": None,
}


@bp.post("/conferences/<sid>/participants/<who>/<action>")
def participant_action(sid: str, who: str, action: str):
    """Mute / unmute / hold / unhold (Participant update) or kick (Participant DELETE)."""
    from fsbridge.api import twilio_participants
    if action not in PARTICIPANT_ACTIONS:
        raise ApiError(404, 20404, f"No console action {action!r}")
    account = g.account_sid
    conference_or_404(account, sid)
    form = PARTICIPANT_ACTIONS[action]
    if form is None:
        twilio_participants.kick(account, sid, who)
    else:
        twilio_participants.update(account, sid, who, MultiDict(form))
    return jsonify({"ok": True, "action": action})


@bp.post("/conferences/<sid>/<action>")
def conference_action(sid: str, action: str):
    """``end`` (Conference update Status=completed), ``announce`` (AnnounceUrl = form field ``url``),
    ``record`` (start recording now: ConferenceControl.start_recording; answers the new RecordingSid)."""
    from fsbridge.api import twilio_conferences
    account = g.account_sid
    conference_or_404(account, sid)
    if action == "end":
        twilio_conferences.update(account, sid, MultiDict({tw.STATUS: tw.CONF_COMPLETED}))
    elif action == "announce":
        url = (request.form.get("url") or "").strip()
        if not url:
            raise ApiError(400, 21205, "An announcement needs an http(s) URL")
        twilio_conferences.update(account, sid, MultiDict({tw.ANNOUNCE_URL: url}))
    elif action == "record":
        with live_control() as control:
            recording_sid = control.start_recording(account, sid)
        return jsonify({"ok": True, "action": action, "recording_sid": recording_sid})
    else:
        raise ApiError(404, 20404, f"No console action {action!r}")
    return jsonify({"ok": True, "action": action})


@bp.post("/conferences/<sid>/recordings/<rec>")
def recording_action(sid: str, rec: str):
    """Recording update (form field ``Status`` = paused | in-progress | stopped): the REST handler itself."""
    from fsbridge.api import twilio_recordings
    conference_or_404(g.account_sid, sid)
    return twilio_recordings.update_recording(AccountSid=g.account_sid, ConferenceSid=sid, Sid=rec)


# ---------------------------------------------------------------------------------------------- helpers
def _rest_prefix(account: str, sid: str) -> str:
    from urllib.parse import urlparse
    base = ctx().base_url
    prefix = urlparse(base).path.rstrip("/") if base else ""
    return f"{prefix}/2010-04-01/Accounts/{account}/Conferences/{sid}"


def _participants(account: str, sid: str, finished: bool = False) -> List[dict]:
    """Participants for the table with ``talking`` (from the live hub): those present, or everyone who took
    part once the conference is ``finished``."""
    talking = cctx().hub.talking(sid)
    rows = ctx().store.list_participants(account, sid, include_left=finished, page=PageRequest(limit=1000)).items
    return [{"row": p, "talking": p.call_sid in talking} for p in rows]


def _callback_log(sid: str) -> List[dict]:
    """Every status callback of the conference with state, attempts, last response code and error."""
    disp = cctx().dispatcher
    if disp is None:
        return []
    metrics = cctx().metrics
    out = []
    for st in disp.status(conference_sid=sid):
        code = metrics.response_code(st.id) if metrics is not None else None
        if code is None and st.last_error and st.last_error.startswith("HTTP "):
            code = st.last_error.split()[1]
        out.append({"status": st, "code": code})
    return out


def _timeline(account: str, sid: str) -> Dict[str, Any]:
    """Participants (join/leave from the store) and the events kept by the live hub, times in epoch s."""
    store = ctx().store
    conf = store.conference(account, sid)
    parts = store.list_participants(account, sid, include_left=True, page=PageRequest(limit=1000)).items
    events = [e.as_json() for e in cctx().hub.timeline(sid)]
    start = _ts(conf.started_at or conf.date_created) if conf else None
    end = _ts(conf.ended_at) if conf and conf.ended_at else None
    return {"start": start, "end": end, "events": events,
            "participants": [{"call_sid": p.call_sid, "label": p.label, "from": p.from_,
                              "joined": _ts(p.date_created), "left": _ts(p.left_at), "status": p.status}
                             for p in parts]}


def _ts(value: Optional[Any]) -> Optional[float]:
    return value.timestamp() if value is not None else None
