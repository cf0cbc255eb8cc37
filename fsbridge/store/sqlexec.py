"""Run the Store's prebuilt SQLAlchemy Core statements on a connection: ``execute`` / ``first`` / ``scalar``."""
from __future__ import annotations

from typing import Any, Dict, Optional


class SAExec:
    """Statements through a SQLAlchemy ``Connection`` (inside the caller's transaction)."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, stmt, params: Dict[str, Any]) -> int:
        """Run a DML statement; returns the matched row count."""
        return self.conn.execute(stmt, params).rowcount

    def first(self, stmt, params: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """First row as a column-name dict, or None."""
        row = self.conn.execute(stmt, params).mappings().first()
        return dict(row) if row is not None else None

    def scalar(self, stmt, params: Dict[str, Any]) -> Any:
        """First column of the first row (None if no row)."""
        return self.conn.execute(stmt, params).scalar()
