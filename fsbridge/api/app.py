"""The Flask app factory for fsbridge's REST API (Twilio 2010-04-01 conference resources + Telnyx TeXML).

``create_app(store, control, accounts, base_url=None, telnyx_keys=None, region="us1")``:

* ``store``: :class:`fsbridge.store.Store` — every read, and the re-read after each write;
* ``control``: a :class:`fsbridge.runtime.control.ConferenceControl` (writes), or None for a read-only API
  (writes → 503);
* ``accounts``: ``{AccountSid: AuthToken}`` — HTTP Basic credentials, one namespace per account;
* ``base_url``: the public URL the API is reached at (e.g. ``https://bridge.example/fsbridge``); its path
  part, if any, prefixes every route. Resource ``uri`` fields stay relative to it, as Twilio's are relative
  to ``https://api.twilio.com`` — so an SDK pointed at ``base_url`` follows ``next_page_uri`` correctly;
* ``telnyx_keys``: ``{api_key: account_sid}`` for the Telnyx routes (Bearer auth); none → Telnyx routes 401;
* ``region``: the Twilio ``region`` value conferences report.
* ``exports``: the Bulk Export job runner (:class:`fsbridge.api.bulkexport_jobs.ExportRunner`), or None (creating
  an export job → 503; listing and downloading what exists still work).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional
from urllib.parse import urlparse

from flask import Flask, g, request

from fsbridge.api import (errors, limits, telnyx, twilio_account_recordings, twilio_conferences,
                          twilio_participants, twilio_recordings)
from fsbridge.api.auth import basic_account, require_same_account
from fsbridge.api.context import ApiContext
from fsbridge.store import Store
from fsbridge.wire.twilio import ACCOUNT_SID

TWILIO_BLUEPRINTS = (twilio_conferences.bp, twilio_participants.bp, twilio_recordings.bp,
                     twilio_account_recordings.bp)


def _twilio_auth() -> None:
    """before_request of the Twilio blueprints: Basic auth, then the path's AccountSid must be the caller's."""
    from fsbridge.api.context import ctx
    account = basic_account(ctx().accounts, ctx().api_keys)
    require_same_account(account, (request.view_args or {}).get(ACCOUNT_SID, ""))
    g.account_sid = account


def create_app(store: Store, control: Any, accounts: Mapping[str, str], base_url: Optional[str] = None,
               telnyx_keys: Optional[Mapping[str, str]] = None, region: str = "us1",
               api_keys: Optional[Mapping[str, tuple]] = None, exports: Any = None) -> Flask:
    """Build the Flask app (see module docstring for the arguments)."""
    app = Flask("fsbridge.api", static_folder=None)
    app.json.sort_keys = False
    app.extensions["fsbridge"] = ApiContext(store=store, control=control, accounts=dict(accounts),
                                            telnyx_keys=dict(telnyx_keys or {}), base_url=base_url,
                                            region=region, api_keys=dict(api_keys or {}),
                                            exports=exports)
    prefix = urlparse(base_url).path.rstrip("/") if base_url else ""
    errors.register(app)
    limits.install(app)   # 413 before reading a large body; Twilio JSON (never HTML) for a bug (#14)
    for bp in TWILIO_BLUEPRINTS:
        app.register_blueprint(bp, url_prefix=prefix or None)
        app.before_request_funcs.setdefault(bp.name, []).append(_twilio_auth)
    app.register_blueprint(telnyx.bp, url_prefix=prefix or None)
    from fsbridge.api import insights   # Voice Insights v1 Conference Summary (issue 22)
    app.register_blueprint(insights.bp, url_prefix=prefix or None)
    from fsbridge.api import bulkexports   # Bulk Export v1 (issue 22); ``exports``: its job runner
    app.register_blueprint(bulkexports.bp, url_prefix=prefix or None)
    return app
