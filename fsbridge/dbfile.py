"""The SQLite database file holds secrets (hook usernames/passwords of ``callback_outbox`` rows, callback
URLs with their credentials): keep it readable by the bridge's user only (#14 item 8, docs/security.md)."""
from __future__ import annotations

import os
from typing import Optional

from sqlalchemy.engine import make_url

MODE = 0o600


def sqlite_path(database_url: str) -> Optional[str]:
    """The file of a ``sqlite:///…`` URL, None for other databases and in-memory SQLite."""
    try:
        url = make_url(database_url)
    except Exception:   # noqa: BLE001 - not a URL SQLAlchemy reads: nothing to protect here
        return None
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return url.database


def restrict(database_url: str) -> Optional[str]:
    """Create the SQLite file (if missing) with mode 0600 and set 0600 on it and its ``-wal``/``-shm``/
    ``-journal`` companions (SQLite creates those with the main file's mode). Returns the path, or None for
    a database that is not a SQLite file. Raises OSError when the file cannot be created."""
    path = sqlite_path(database_url)
    if path is None:
        return None
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, MODE)
    os.close(fd)
    for name in (path, path + "-wal", path + "-shm", path + "-journal"):
        if os.path.exists(name):
            os.chmod(name, MODE)
    return path
