"""Operations endpoints: ``/healthz`` (the process is up), ``/readyz`` (database and engine reachable) and
``/metrics`` (Prometheus text format, :class:`fsbridge.metrics.Metrics`).

None of them needs credentials and none reveals anything per account: ``/readyz`` names only its checks
(``database``, ``engine``) with ``ok`` / ``unavailable``; the metrics carry no account label.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("ops", __name__)


def _ops() -> dict:
    return current_app.extensions.get("fsbridge_ops", {})


@bp.get("/healthz")
def healthz():
    """200 ``ok`` while the process serves HTTP."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz():
    """200 when the database answers ``SELECT 1`` and the engine is available, else 503; body
    ``{"status": "ready"|"unavailable", "checks": {"database": "ok"|"unavailable", "engine": …}}``."""
    from fsbridge.api.context import ctx
    checks = {"database": "ok" if _database_ok(ctx().store) else "unavailable",
              "engine": "ok" if _engine_ok(ctx().control) else "unavailable"}
    ready = all(v == "ok" for v in checks.values())
    resp = jsonify({"status": "ready" if ready else "unavailable", "checks": checks})
    resp.status_code = 200 if ready else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/metrics")
def metrics():
    """The app's metrics registry in Prometheus' text exposition format (404 when none is attached)."""
    m = _ops().get("metrics")
    if m is None:
        return Response("no metrics\n", status=404, mimetype="text/plain")
    from fsbridge.metrics import CONTENT_TYPE
    return Response(m.exposition(), mimetype=None, content_type=CONTENT_TYPE)


def _database_ok(store: Any) -> bool:
    from sqlalchemy import text
    db = getattr(store, "engine", None)
    if db is None:
        return False
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:   # noqa: BLE001 - any failure means not ready
        return False


def _engine_ok(control: Optional[Any]) -> bool:
    if control is None:
        return False
    available = getattr(control, "engine_available", None)
    try:
        return bool(available()) if callable(available) else True
    except Exception:   # noqa: BLE001
        return False


def register(app: Any, metrics: Any = None, prefix: str = "") -> None:
    """Mount ``/healthz``, ``/readyz`` and ``/metrics`` at ``prefix``; with ``metrics`` (a
    :class:`fsbridge.metrics.Metrics`) also time every request by route."""
    app.extensions["fsbridge_ops"] = {"metrics": metrics}
    if metrics is not None:
        metrics.instrument_flask(app)
    app.register_blueprint(bp, url_prefix=prefix.rstrip("/") or None)
