"""doctor checks that need no FreeSWITCH: the configuration, the database, the outbound-socket server."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from sqlalchemy.engine import make_url

from fsbridge import config as fsconfig
from fsbridge.redact import redact


def run(ctx) -> None:
    """config parses → database → outbound socket (the last two need the settings)."""
    check_config(ctx)
    if ctx.settings is None:
        return
    check_database(ctx)
    check_outbound(ctx)


def check_config(ctx) -> None:
    """The TOML file and FSBRIDGE_* environment load into valid settings (fsbridge.config.load)."""
    try:
        s = fsconfig.load(ctx.config, ctx.env)
    except fsconfig.ConfigError as exc:
        ctx.add("config", False, str(exc), "fix the file (keys: docs/runtime.md) or pass --config FILE")
        return
    ctx.settings = s
    where = ctx.config or "defaults + environment (no --config)"
    ctx.add("config", True, f"{where}: engine {s.engine}, {len(s.accounts)} account(s), {len(s.numbers)} number(s)")
    if s.engine != "freeswitch":
        ctx.add("engine", False, f"engine is {s.engine!r}",
                "set [engine] type = \"freeswitch\" to run beside FreeSWITCH")


def check_database(ctx) -> None:
    """The database answers and takes a write lock (SQLite: BEGIN IMMEDIATE, rolled back; a missing file
    counts when its directory is writable — fsbridge creates it). Nothing is written."""
    from sqlalchemy import text
    from fsbridge.store.db import make_engine, sqlite_file
    url = ctx.settings.database_url
    try:
        engine = make_engine(url)
    except Exception as exc:  # bad URL, missing driver
        ctx.add("database", False, f"{_safe_url(url)}: {redact(str(exc))}", "fix [storage] database_url")
        return
    path = sqlite_file(engine)
    try:
        if path is not None and not Path(path).exists():
            folder = Path(path).parent
            ok = folder.is_dir() and os.access(folder, os.W_OK)
            ctx.add("database", ok, f"{path} does not exist yet; {folder} is {'writable' if ok else 'not writable'}",
                    f"create {folder} writable by the fsbridge user (install -d -o fsbridge {folder})")
            return
        with engine.connect() as conn:
            if path is not None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                conn.exec_driver_sql("ROLLBACK")
            else:
                conn.execute(text("SELECT 1"))
                with conn.begin() as tx:
                    conn.execute(text("CREATE TEMPORARY TABLE fsbridge_doctor_probe (x INTEGER)"))
                    tx.rollback()
        ctx.add("database", True, f"{_safe_url(url)} reachable and writable")
    except Exception as exc:
        ctx.add("database", False, f"{_safe_url(url)}: {redact(str(exc).splitlines()[0])}",
                "check [storage] database_url, the file's owner/mode, or the server")
    finally:
        engine.dispose()


def check_outbound(ctx) -> None:
    """Something listens on ``outbound_host:outbound_port`` — where the dialplan's ``socket`` connects."""
    s = ctx.settings
    addr = f"{s.outbound_host}:{s.outbound_port}"
    try:
        with socket.create_connection((s.outbound_host, s.outbound_port), timeout=ctx.timeout):
            pass
    except OSError as exc:
        ctx.add("outbound socket", False, f"nothing listens on {addr} ({exc.strerror or exc})",
                "start fsbridge (sudo systemctl start fsbridge; journalctl -u fsbridge) — calls to 7200 "
                "are answered and dropped until it listens")
        return
    ctx.add("outbound socket", True, f"{addr} is listening")


def _safe_url(url: str) -> str:
    """A database URL without its password (SQLAlchemy's own rendering); unparsable text goes through
    :func:`fsbridge.redact.redact` like every log line."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can read: still never show credentials
        return redact(url)
