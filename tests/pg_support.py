"""A throw-away PostgreSQL for the tests: the session fixture ``pg_url`` yields a SQLAlchemy URL.

With FSBRIDGE_TEST_PG=postgresql+psycopg2://user@host:port/db set, that server is used as is. Otherwise the
session starts its own cluster from Debian's ``postgresql`` package binaries (/usr/lib/postgresql/*/bin, which
``.ci/setup`` installs): ``initdb`` into a fresh temp dir, ``pg_ctl start`` listening on a unix socket in that
dir only (``listen_addresses=''``, so no port is taken), ``fsync=off``; readiness is awaited with ``pg_isready``
(``pg_ctl -w`` polls it, bounded by ``-t``), and ``pg_ctl stop -m immediate`` ends it with the session. initdb
refuses to run as root, so under root the cluster belongs to ``nobody`` (``runuser``). Without the binaries
(a developer machine) the PostgreSQL tests skip with the reason.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

import pytest

PG_ENV = "FSBRIDGE_TEST_PG"
START_TIMEOUT_S = 30


def pg_bindir() -> str | None:
    """The newest /usr/lib/postgresql/<major>/bin holding initdb, pg_ctl and postgres, or None."""
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
             if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres"))]
    found.sort(key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    return found[-1] if found else None


class ThrowAwayCluster:
    """A PostgreSQL cluster in a temp dir: ``start()`` → SQLAlchemy URL, ``stop()`` removes it all.

    Raises ``RuntimeError`` (with the server log) when initdb or the start fails or times out."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.root = tempfile.mkdtemp(prefix="fsbridge-pg-")   # /tmp/fsbridge-pg-XXXX: short socket path
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self.as_user: list[str] = []
        if os.geteuid() == 0:                                  # initdb refuses root: the cluster is nobody's
            shutil.chown(self.root, "nobody")
            self.as_user = ["runuser", "-u", "nobody", "--"]

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        cmd = self.as_user + [os.path.join(self.bindir, args[0]), *args[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            log = open(self.log).read() if os.path.exists(self.log) else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}")

    def start(self) -> str:
        """initdb + start; returns ``postgresql+psycopg2://postgres@/postgres?host=<socket dir>``."""
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale=C")
        opts = f"-c listen_addresses='' -k {self.root} -c fsync=off -c synchronous_commit=off " \
               "-c full_page_writes=off -c max_connections=50"
        # -w waits until the server accepts connections (pg_ctl's pg_isready-style poll), at most -t seconds
        self._run("pg_ctl", "start", "-D", self.data, "-l", self.log, "-w", "-t", str(START_TIMEOUT_S),
                  "-o", opts)
        return f"postgresql+psycopg2://postgres@/postgres?host={self.root}"

    def stop(self) -> None:
        """``pg_ctl stop -m immediate`` and remove the temp dir."""
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run("pg_ctl", "stop", "-D", self.data, "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url():
    """SQLAlchemy URL of a PostgreSQL server for this session (FSBRIDGE_TEST_PG, else a throw-away cluster);
    skips when neither is available."""
    url = os.environ.get(PG_ENV)
    if url:
        yield url
        return
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (Debian's `postgresql` "
                    f"package; .ci/setup installs it) and {PG_ENV} is not set")
    cluster = ThrowAwayCluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def empty_tables(engine) -> None:
    """Delete every row of fsbridge's tables (PostgreSQL state is shared by the session's tests)."""
    from fsbridge.store.db import metadata
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A database URL with fsbridge's tables created and empty: once a SQLite file in ``tmp_path``, once the
    session's PostgreSQL (``pg_url``, emptied first). Import it into a test module to use it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fsb.sqlite'}"
    from fsbridge.store import Store
    from fsbridge.store.db import make_engine
    url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    Store(engine).create_all()
    empty_tables(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A :class:`fsbridge.store.Store` with its tables created, once on a SQLite file in ``tmp_path`` and once
    on the session's PostgreSQL (``pg_url``; emptied first, as its state is shared). Import it into a test
    module to use it."""
    from fsbridge.store import Store
    from fsbridge.store.db import make_engine
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fsb.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = Store(make_engine(url))
    s.create_all()
    if request.param == "postgresql":
        empty_tables(s.engine)
    yield s
    s.engine.dispose()
