"""Twilio ``Calls`` resource for virtual calls: ``/2010-04-01/Accounts/{AccountSid}/Calls.json`` (POST create,
GET list) and ``Calls/{CallSid}.json`` (GET fetch, POST ``Status=completed`` hang up).

A virtual call's "phone" is a media URL — ``file:/path/to.wav``, ``tone:440``, ``silence:`` (see
:func:`fsbridge.runtime.bridge.source_ref`):

* ``To`` = media URL (Twilio's shape: the callee is the media): the call runs ``Url`` (or inline ``Twiml``,
  or the URL of the configured number ``From``), Direction ``outbound-api``.
* ``To`` = a configured number and ``Media`` = media URL (fsbridge extension; what ``fsbridge call`` sends):
  a virtual caller dials the number, which runs its configured voice URL (Direction ``inbound``) unless
  ``Url`` is given. A ``Url`` for a configured number (``To``, or ``From`` with a media ``To``) is run in the
  number's dialect (a jambonz number's ``--app-url`` gets jambonz's JSON call payload and must answer verbs).

Twilio parameters honoured: To, From, Url, Method, Twiml, SendDigits (``w`` = 0.5 s wait), TimeLimit (s),
StatusCallback / StatusCallbackEvent (initiated ringing answered completed) / StatusCallbackMethod (call
progress: :mod:`fsbridge.runtime.progress`).
fsbridge extensions: Media, Dtmf (``DIGITS@SECONDS[,DIGITS@SECONDS…]``, engine seconds after answer).
Auth: HTTP Basic AccountSid:AuthToken, as the conference routes. Source: Twilio Call resource (2010-04-01).
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from typing import List, Optional, Tuple
from urllib.parse import urlencode

from flask import Blueprint, jsonify, request

from fsbridge.api import params
from fsbridge.api.auth import basic_account, require_same_account
from fsbridge.api.twilio_participants import progress_hook
from fsbridge.api.errors import FROM_MISSING, INVALID_PARAMETER, INVALID_URL, NOT_FOUND, TO_MISSING, ApiError
from fsbridge.engines.base import EngineError
from fsbridge.media_policy import MediaRefused, virtual_source
from fsbridge.runtime.bridge import Bridge
from fsbridge.runtime.calls import is_media_url
from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw
from fsbridge.wire.serialize import rfc2822_rest

PREFIX = f"/{tw.API_VERSION}/Accounts/<AccountSid>"
MAX_SECONDS = 14400.0   # Twilio TimeLimit maximum (4 h); also the bound of Dtmf times
log = logging.getLogger("fsbridge.api.calls")


def _seconds(text: str, what: str) -> float:
    """A finite number of seconds in 0..MAX_SECONDS (``inf``, ``nan``, ``1e308`` → ValueError)."""
    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        raise ValueError(f"{what} must be between 0 and {MAX_SECONDS:g} seconds")
    return value


def parse_dtmf(spec: str) -> Tuple[Tuple[str, float], ...]:
    """``"*@12.5,123@20"`` → ``(("*", 12.5), ("123", 20.0))``: digits sent at engine seconds after answer.
    Raises ValueError."""
    out: List[Tuple[str, float]] = []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        digits, sep, at = item.partition("@")
        if not sep or not digits or any(ch not in "0123456789*#ABCDabcd" for ch in digits):
            raise ValueError(f"bad DTMF item {item!r}: use DIGITS@SECONDS")
        out.append((digits, _seconds(at, "Dtmf time")))
    return tuple(out)


def parse_send_digits(spec: str, start_s: float = 0.0) -> Tuple[Tuple[str, float], ...]:
    """Twilio ``SendDigits``: digits sent once answered, each ``w`` waits 0.5 s (``W`` 1 s); digits 0.1 s
    apart. Returns ``((digit, at_seconds), …)``. Raises ValueError for other characters."""
    t = start_s
    out: List[Tuple[str, float]] = []
    for ch in spec or "":
        if ch == "w":
            t += 0.5
        elif ch == "W":
            t += 1.0
        elif ch in "0123456789*#":
            out.append((ch, round(t, 3)))
            t += 0.1
        else:
            raise ValueError(f"bad SendDigits character {ch!r}")
    return tuple(out)


def _date(ts: Optional[float]) -> Optional[str]:
    return rfc2822_rest(datetime.fromtimestamp(ts, tz=timezone.utc)) if ts else None


def call_json(rec, prefix: str = "") -> dict:
    """A :class:`~fsbridge.runtime.registry.CallRecord` as Twilio's Call resource JSON (snake_case, RFC 2822
    dates, ``uri``)."""
    uri = f"{prefix}/{tw.API_VERSION}/Accounts/{rec.account_sid}/Calls/{rec.call_sid}.json"
    duration = str(int(round(rec.ended - rec.started))) if rec.ended else None
    return {
        "sid": rec.call_sid,
        "date_created": _date(rec.started),
        "date_updated": _date(rec.ended or rec.started),
        "parent_call_sid": None,
        "account_sid": rec.account_sid,
        "to": rec.to,
        "to_formatted": rec.to,
        "from": rec.from_,
        "from_formatted": rec.from_,
        "phone_number_sid": None,
        "status": rec.status,
        "start_time": _date(rec.started),
        "end_time": _date(rec.ended),
        "duration": duration,
        "price": None,
        "price_unit": "USD",
        "direction": rec.direction,
        "answered_by": None,
        "api_version": tw.API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": rec.from_,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": uri,
        "subresource_uris": {},
    }


def calls_blueprint(bridge: Bridge, prefix: str = "") -> Blueprint:
    """The Calls routes bound to ``bridge`` (register with ``url_prefix=prefix`` for a base URL path)."""
    bp = Blueprint("fsbridge_calls", __name__)

    def _own_number(number: str, account_sid: str):
        """The configured number ``number`` if it belongs to ``account_sid``; another account's number is
        treated exactly as an unknown one (#14)."""
        found = bridge.settings.number(number)
        return found if found is not None and found.account == account_sid else None

    def _auth(account_sid: str) -> None:
        account = basic_account(bridge.settings.auth_tokens(), bridge.settings.api_keys())
        require_same_account(account, account_sid)

    @bp.route(f"{PREFIX}/Calls.json", methods=["POST"])
    def create_call(AccountSid):
        """Twilio create Call (virtual; see module docstring)."""
        _auth(AccountSid)
        form = request.form
        to = (form.get(tw.TO) or "").strip()
        from_ = (form.get(tw.FROM) or "").strip()
        if not to:
            raise ApiError(400, TO_MISSING, "A 'To' phone number (or media URL) is required.")
        if not from_:
            raise ApiError(400, FROM_MISSING, "A 'From' phone number is required.")
        url = (form.get("Url") or "").strip() or None
        method = (form.get("Method") or "POST").upper()
        twiml = form.get("Twiml")
        media = (form.get("Media") or "").strip() or None
        progress = progress_hook({"status_callback": params.url(form, "StatusCallback"),
                                  "status_callback_method": params.method(form, "StatusCallbackMethod"),
                                  "status_callback_event": params.words(form, tw.STATUS_CALLBACK_EVENT,
                                                                        tw.CALL_EVENTS)})
        try:
            dtmf = parse_dtmf(form.get("Dtmf", "")) + parse_send_digits(form.get("SendDigits", ""))
            time_limit = _seconds(form["TimeLimit"], "TimeLimit") if form.get("TimeLimit") else None
        except ValueError as exc:
            raise ApiError(400, INVALID_PARAMETER, str(exc)[:200]) from None
        if url is not None and not url.startswith(("http://", "https://")):
            raise ApiError(400, INVALID_URL, f"Url is not a valid URL: {url}")
        first = None
        dialect = None
        if is_media_url(to):
            source, direction = to, tw.DIRECTION_OUTBOUND_API
            number = _own_number(from_, AccountSid)
            if url is None and twiml is None:
                if number is None:
                    raise ApiError(400, INVALID_URL, "Url (or Twiml) is required unless From is a configured number")
                url, method = number.voice_url, number.voice_method
        else:
            number = _own_number(to, AccountSid)
            if media is None or not is_media_url(media):
                raise ApiError(400, TO_MISSING, "To must be a media URL (file:/path, tone:HZ) or a configured "
                                                "number with a Media URL")
            if number is None and url is None and twiml is None:
                raise ApiError(404, NOT_FOUND, f"{to} is not a configured number")
            source = media
            direction = tw.DIRECTION_OUTBOUND_API if (url or twiml) else tw.DIRECTION_INBOUND
        if dialect is None and twiml is None and number is not None:
            dialect = number.dialect   # a Url for a configured number keeps the number's dialect (issue 17)
        try:
            virtual_source(source, bridge.settings.media_dirs)
        except MediaRefused as exc:
            raise ApiError(400, INVALID_PARAMETER, str(exc)) from None
        if twiml is not None:
            from fsbridge.markup import MarkupError, parse
            try:
                first = parse(twiml, TWIML)
            except MarkupError as exc:
                raise ApiError(400, INVALID_PARAMETER, f"Twiml: {exc.message}") from None
        try:
            rec = bridge.place_call(AccountSid, from_, to, source, url=url, method=method, dialect=dialect,
                                    direction=direction, dtmf=dtmf, hangup_after_s=time_limit, first=first,
                                    progress=progress)
        except ValueError as exc:
            raise ApiError(400, INVALID_PARAMETER, str(exc)) from None
        except EngineError as exc:   # e.g. an unreadable audio file: the caller's input, details to the log
            log.warning("Calls.json %s: engine refused the call: %s", AccountSid, exc)
            raise ApiError(400, INVALID_PARAMETER, "The media could not be opened") from None
        return jsonify(call_json(rec, prefix)), 201

    @bp.route(f"{PREFIX}/Calls.json", methods=["GET"])
    def list_calls(AccountSid):
        """Twilio list Calls (this process's calls, newest first; Status/To/From filters)."""
        _auth(AccountSid)
        recs = [r for r in bridge.registry.calls() if r.account_sid == AccountSid]
        for key, attr in ((tw.STATUS, "status"), (tw.TO, "to"), (tw.FROM, "from_")):
            if request.args.get(key):
                recs = [r for r in recs if getattr(r, attr) == request.args[key]]
        recs.reverse()
        from fsbridge.api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE
        from fsbridge.api.params import integer
        size = integer(request.args, tw.PAGE_SIZE, 1, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
        page = integer(request.args, tw.PAGE, 0, MAX_PAGE) or 0
        start = page * size
        items = recs[start:start + size]
        base = f"{prefix}/{tw.API_VERSION}/Accounts/{AccountSid}/Calls.json"
        filters = [(k, request.args[k]) for k in (tw.STATUS, tw.TO, tw.FROM) if request.args.get(k)]

        def uri(n: int) -> str:
            return base + "?" + urlencode(filters + [(tw.PAGE_SIZE, size), (tw.PAGE, n)])
        return jsonify({"calls": [call_json(r, prefix) for r in items], "first_page_uri": uri(0),
                        "next_page_uri": uri(page + 1) if start + size < len(recs) else None,
                        "previous_page_uri": uri(page - 1) if page > 0 else None, "page": page,
                        "page_size": size, "start": start, "end": start + max(0, len(items) - 1),
                        "uri": uri(page)})

    def _record(AccountSid, CallSid):
        rec = bridge.registry.get(CallSid)
        if rec is None or rec.account_sid != AccountSid:
            raise ApiError(404, NOT_FOUND, f"The requested resource Call {CallSid} was not found")
        return rec

    @bp.route(f"{PREFIX}/Calls/<CallSid>.json", methods=["GET"])
    def fetch_call(AccountSid, CallSid):
        """Twilio fetch Call."""
        _auth(AccountSid)
        return jsonify(call_json(_record(AccountSid, CallSid), prefix))

    @bp.route(f"{PREFIX}/Calls/<CallSid>.json", methods=["POST"])
    def update_call(AccountSid, CallSid):
        """Twilio update Call: ``Status=completed`` (or canceled) hangs the call up."""
        _auth(AccountSid)
        rec = _record(AccountSid, CallSid)
        status = (request.form.get(tw.STATUS) or "").lower()
        if status and status not in (tw.CALL_COMPLETED, tw.CALL_CANCELED):
            raise ApiError(400, INVALID_PARAMETER, "Status must be completed or canceled")
        if status and rec.leg is not None and not rec.leg.hung_up:
            rec.leg.hangup("NORMAL_CLEARING")
            rec.done.wait(bridge.confirm_timeout_s)
        return jsonify(call_json(rec, prefix))

    return bp
