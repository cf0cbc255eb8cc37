"""Two ways to run the Store's prebuilt statements, behind one interface (``execute`` / ``first`` /
``scalar``): through SQLAlchemy (any database) or, on SQLite, straight on the DBAPI connection.

Why: a prebuilt statement through SQLAlchemy's execution layer costs ≈ 100–130 µs of CPU here, the same
statement compiled once and run on the ``sqlite3`` connection ≈ 15–30 µs — and the REST write path runs
several per request on the one gevent hub (bench/rest.py; fsbridge.callbacks.outbox takes the same route
for its inserts). The fast path keeps SQLAlchemy's SQLite storage formats exactly: DateTime columns are
``'YYYY-MM-DD HH:MM:SS.ffffff'`` text (naive UTC), Boolean columns 0/1; rows come back as dicts keyed by
column name with those decoded (datetime / bool), as ``Row._mapping`` would give them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Dict, Optional, Tuple

from sqlalchemy import Boolean, DateTime

from fsbridge.store.rows import to_naive_utc

_FMT = "%Y-%m-%d %H:%M:%S.%f"


def _bind(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_naive_utc(value).strftime(_FMT)
    return value


def _decoder(type_) -> Optional[Callable[[Any], Any]]:
    if isinstance(type_, DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(type_, Boolean):
        return lambda v: None if v is None else bool(v)
    return None


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


class RawSQLite:
    """Statements compiled once for SQLite and run on one DBAPI connection (``engine.raw_connection()``).

    Not for concurrent use from several OS threads; under gevent each call runs to completion without
    yielding. ``transaction()`` gives an executor whose statements commit together (or roll back)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.raw = engine.raw_connection()
        self._compiled: Dict[int, Tuple[Any, str, tuple, list]] = {}

    def _prepare(self, stmt):
        entry = self._compiled.get(id(stmt))
        if entry is None or entry[0] is not stmt:
            compiled = stmt.compile(dialect=self.engine.dialect)
            decoders = []
            if getattr(stmt, "is_select", False):
                decoders = [(c.name, _decoder(c.type)) for c in stmt.selected_columns]
            entry = (stmt, str(compiled), compiled, decoders)
            self._compiled[id(stmt)] = entry
        return entry

    def _run(self, stmt, params: Dict[str, Any]):
        _, sql, compiled, decoders = self._prepare(stmt)
        values = compiled.construct_params(params)
        cur = self.raw.cursor()
        cur.execute(sql, [_bind(values[k]) for k in compiled.positiontup])
        return cur, decoders

    def execute(self, stmt, params: Dict[str, Any]) -> int:
        """Run a DML statement; returns the matched row count."""
        cur, _ = self._run(stmt, params)
        try:
            return cur.rowcount
        finally:
            cur.close()

    def first(self, stmt, params: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """First row as a column-name dict (DateTime / Boolean decoded), or None."""
        cur, decoders = self._run(stmt, params)
        try:
            row = cur.fetchone()
        finally:
            cur.close()
        if row is None:
            return None
        return {name: (dec(v) if dec else v) for (name, dec), v in zip(decoders, row)}

    def scalar(self, stmt, params: Dict[str, Any]) -> Any:
        """First column of the first row (None if no row)."""
        cur, decoders = self._run(stmt, params)
        try:
            row = cur.fetchone()
        finally:
            cur.close()
        if row is None:
            return None
        dec = decoders[0][1] if decoders else None
        return dec(row[0]) if dec else row[0]

    def commit(self) -> None:
        """Commit the DBAPI transaction."""
        self.raw.commit()

    def rollback(self) -> None:
        """Roll the DBAPI transaction back."""
        self.raw.rollback()
