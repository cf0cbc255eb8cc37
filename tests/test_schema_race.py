"""Processes creating fsbridge's tables together on one PostgreSQL database do not race (CI saw a cluster node
die on ``CREATE TABLE callback_lease``: unique violation on ``pg_type``). Every process imports all table
modules, waits for "go", then calls ``store.db.create_tables`` — the way ``fsbridge serve`` nodes, their
stores, dispatchers and callback leases do at start-up."""
from __future__ import annotations

import subprocess
import sys

import gevent
from sqlalchemy import create_engine, inspect

from cluster_support import REPO, fresh_database


CHILD = r"""
import sys
from fsbridge.store.db import create_tables, make_engine, metadata
import fsbridge.callbacks.leases, fsbridge.callbacks.outbox, fsbridge.cluster.tables, fsbridge.store.store  # declare tables
engine = make_engine(sys.argv[1])
with engine.connect():
    pass                                   # connected before "go": the CREATEs start together
print("ready", flush=True)
sys.stdin.readline()
create_tables(engine, fsbridge.cluster.tables.metadata, metadata)
print("done", flush=True)
"""


def test_processes_starting_together_create_the_schema_once_without_errors(pg_url):
    url, drop = fresh_database(pg_url)
    procs = []
    try:
        for _ in range(6):
            procs.append(subprocess.Popen([sys.executable, "-c", CHILD, url], cwd=REPO, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        with gevent.Timeout(60):
            for p in procs:
                assert p.stdout.readline() == b"ready\n", p.stderr.read().decode()[-2000:]
            for p in procs:
                p.stdin.write(b"go\n")
                p.stdin.flush()
            results = [(p.wait(), p.stdout.read(), p.stderr.read().decode()) for p in procs]
        for rc, out, err in results:
            assert (rc, out) == (0, b"done\n"), err[-2000:]
        engine = create_engine(url)
        try:
            names = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert {"callback_lease", "callback_outbox", "fsb_cluster_nodes"} <= names, names
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        drop()
