"""SQLAlchemy Core statements run straight on the driver's cursor — the hot writes of the group commit.

At a few events per transaction (a bridge at 400–1000 callbacks/s) SQLAlchemy's per-execute work (cache
lookup, execution context, ``construct_params`` and bind processing per row, result set-up) costs 25–45 µs per
statement against ≈ 10 µs for the SQLite driver itself (issue 21: measured with a 14-column UPDATE, 3000 rows,
this repository's bench notes). :class:`DriverStatement` compiles a Core statement once per dialect
(SQLAlchemy still renders the SQL and supplies the bind processors: DateTime → text, Boolean → int) and then
runs it on the connection's own DBAPI cursor — inside the transaction the SQLAlchemy ``Connection`` has open.
SQLite only (its driver's ``rowcount`` is exact for ``executemany``); on any other dialect, or for a
statement with expanding (``IN``) parameters, it is ``conn.execute``. Driver errors are raised as SQLAlchemy's
(``sqlalchemy.exc.IntegrityError`` …), as ``conn.execute`` raises them.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Union

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

Params = Union[Mapping[str, object], Sequence[Mapping[str, object]]]


class DriverStatement:
    """``stmt``: a Core DML statement whose parameters are bindparams by name (``bindparam("v_x")``) or fixed
    values. :meth:`run` executes it for one parameter dict or many; :meth:`rows` returns the rows of a
    ``RETURNING`` statement."""

    def __init__(self, stmt):
        self.stmt = stmt
        self._plans: Dict[object, tuple] = {}   # dialect → (sql, [(name, processor, default)]) or None

    def _plan(self, conn: Connection):
        dialect = conn.dialect
        plan = self._plans.get(dialect, False)
        if plan is False:
            plan = None
            if dialect.name == "sqlite":
                compiled = self.stmt.compile(dialect=dialect)
                binds = compiled.binds
                if compiled.positional and not any(b.expanding for b in binds.values()):
                    procs = compiled._bind_processors
                    order = [(name, procs.get(name), binds[name]) for name in compiled.positiontup]
                    plan = (compiled.string, order)
            self._plans[dialect] = plan
        return plan

    @staticmethod
    def _row(order, params: Mapping[str, object]) -> tuple:
        out = []
        for name, proc, bind in order:
            value = params[name] if name in params else bind.effective_value
            out.append(proc(value) if proc is not None and value is not None else value)
        return tuple(out)

    def _cursor(self, conn: Connection):
        return conn.connection.driver_connection.cursor()

    def _raise(self, conn: Connection, sql: str, params, err: Exception):
        raise sa_exc.DBAPIError.instance(sql, params, err, conn.dialect.loaded_dbapi.Error) from err

    def run(self, conn: Connection, params: Params) -> int:
        """Execute for ``params`` (a dict: one row; a list of dicts: executemany); the number of rows matched."""
        plan = self._plan(conn)
        if plan is None:
            return conn.execute(self.stmt, params).rowcount
        sql, order = plan
        many = not isinstance(params, Mapping)
        rows = [self._row(order, p) for p in params] if many else self._row(order, params)
        cur = self._cursor(conn)
        try:
            cur.executemany(sql, rows) if many else cur.execute(sql, rows)
            return cur.rowcount
        except conn.dialect.loaded_dbapi.Error as err:
            self._raise(conn, sql, rows, err)
        finally:
            cur.close()

    def rows(self, conn: Connection, params: Sequence[Mapping[str, object]]) -> List[tuple]:
        """Execute once per dict in ``params`` (a ``RETURNING`` statement) and return every row returned."""
        plan = self._plan(conn)
        if plan is None:
            return [tuple(r) for r in conn.execute(self.stmt, list(params))]
        sql, order = plan
        cur = self._cursor(conn)
        out: List[tuple] = []
        try:
            for p in params:
                row = self._row(order, p)
                cur.execute(sql, row)
                out.extend(cur.fetchall())
            return out
        except conn.dialect.loaded_dbapi.Error as err:
            self._raise(conn, sql, params, err)
        finally:
            cur.close()
