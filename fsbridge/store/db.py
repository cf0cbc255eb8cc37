"""One SQLAlchemy engine and MetaData for every table fsbridge keeps (store tables, callback outbox).

``make_engine(url)``: SQLite (default, a file: ``sqlite:///path/fsbridge.sqlite``) gets WAL journaling and a
busy timeout so several greenlets/processes can share the file; PostgreSQL URLs are passed through.
Tables are declared on :data:`metadata` by their own modules and created with ``metadata.create_all``.
"""
from __future__ import annotations

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine

metadata = MetaData()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` (e.g. ``sqlite:////var/lib/fsbridge/db.sqlite``, ``postgresql://…``)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
