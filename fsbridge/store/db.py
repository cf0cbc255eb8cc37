"""One SQLAlchemy engine and MetaData for every table fsbridge keeps (store tables, callback outbox).

``make_engine(url)``: SQLite (default, a file: ``sqlite:///path/fsbridge.sqlite``) gets WAL journaling and a
busy timeout so several greenlets/processes can share the file; PostgreSQL URLs are passed through.
Tables are declared on :data:`metadata` by their own modules and created with :func:`create_tables`.
"""
from __future__ import annotations

from sqlalchemy import MetaData, Table, create_engine, delete, event, func, insert, select
from sqlalchemy.engine import Engine

metadata = MetaData()


#: bytes a SQLite WAL file is truncated to after a checkpoint (``PRAGMA journal_size_limit``)
WAL_SIZE_LIMIT = 16 * 1024 * 1024


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
            # WAL files are reused, not shrunk, after a checkpoint: cap what is left on disk (the soak saw
            # 29–160 MiB otherwise; SQLite "PRAGMA journal_size_limit").
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def replace_row(engine: Engine, table: Table, key: dict, values: dict) -> None:
    """Insert or replace, in one transaction, the row of ``table`` whose columns ``key`` (``{column: value}``,
    its primary key) hold: the old row (if any) is deleted, ``key`` + ``values`` inserted. Raises what the
    database raises (the transaction is rolled back)."""
    with engine.begin() as conn:
        conn.execute(delete(table).where(*[table.c[k] == v for k, v in key.items()]))
        conn.execute(insert(table).values(**key, **values))


#: PostgreSQL advisory-lock key held while tables are created: one process at a time (signed 64-bit)
SCHEMA_LOCK = 0x66736272_31380001


def create_tables(engine: Engine, *schemas) -> None:
    """Create whatever of ``schemas`` (MetaData or Table objects; default: :data:`metadata`) does not exist
    yet, in one transaction. On PostgreSQL the transaction first takes ``pg_advisory_xact_lock(SCHEMA_LOCK)``:
    processes starting together (cluster nodes, a dispatcher beside its store) do not race on ``CREATE TABLE``
    — PostgreSQL's catalog refuses the loser with a unique violation on ``pg_type`` (seen in CI, issue 18)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        for schema in schemas or (metadata,):
            if isinstance(schema, MetaData):
                schema.create_all(conn)
            else:
                schema.create(conn, checkfirst=True)


def sqlite_file(engine: Engine):
    """The database file path of a SQLite file engine, else None (PostgreSQL, ``:memory:``, ``file:`` URIs)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


class WalCheckpointer:
    """PASSIVE WAL checkpoints of a SQLite file, run off the gevent hub.

    SQLite runs automatic checkpoints inside a commit (copying the log back into the database with an fsync,
    up to ≈ 20 ms on this project's machine) — a stall of every greenlet. Connections that write through this
    helper turn automatic checkpoints off (``PRAGMA wal_autocheckpoint=0``) and call :meth:`committed` after
    each commit; every ``every`` commits a PASSIVE checkpoint runs on a private connection in an OS thread
    (``runner(fn)``, default gevent's threadpool ``spawn``), which does not block writers. ``db_file`` None
    (not a SQLite file) makes it a no-op. A failed checkpoint only lets the WAL grow until the next one.
    """

    def __init__(self, db_file, every: int = 200, runner=None):
        self.db_file = db_file
        self.every = every
        self.runner = runner
        self._commits = 0
        self._running = False

    def committed(self) -> None:
        """Count one commit; start a checkpoint when ``every`` commits have accumulated and none is running."""
        if self.db_file is None:
            return
        self._commits += 1
        if self._running or self._commits < self.every:
            return
        self._commits = 0
        self._running = True
        runner = self.runner
        if runner is None:
            import gevent

            runner = gevent.get_hub().threadpool.spawn
        runner(self._checkpoint)

    def _checkpoint(self) -> None:
        import logging
        import sqlite3

        try:
            conn = sqlite3.connect(self.db_file, timeout=30, check_same_thread=False)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                conn.close()
        except Exception:  # noqa: BLE001
            logging.getLogger("fsbridge.store").warning("WAL checkpoint of %s failed", self.db_file, exc_info=True)
        finally:
            self._running = False
