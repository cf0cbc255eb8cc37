"""fsbridge/store/driver.py: Core statements on the driver's cursor write exactly what ``conn.execute`` writes
(bind processors applied: DateTime, Boolean, NULL), count rows like it, return RETURNING rows, raise
SQLAlchemy's exceptions — on a real SQLite file, and through ``conn.execute`` on PostgreSQL."""
import datetime

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, bindparam, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from fsbridge.store.db import make_engine
from fsbridge.store.driver import DriverStatement

md = MetaData()
rows_t = Table("driver_rows", md, Column("id", Integer, primary_key=True), Column("flag", Boolean),
               Column("at", DateTime), Column("name", String), Column("n", Integer))
INS = rows_t.insert()
UPD = (update(rows_t).where(rows_t.c.id == bindparam("w_id"), rows_t.c.n < bindparam("w_n"))
       .values(flag=bindparam("v_flag"), at=bindparam("v_at"), name=bindparam("v_name"), n=bindparam("w_n")))


def _engines(tmp_path, n):
    return [make_engine(f"sqlite:///{tmp_path / ('d%d.sqlite' % i)}") for i in range(n)]


def _dump(engine):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(rows_t).order_by(rows_t.c.id))]


row = st.fixed_dictionaries({"flag": st.none() | st.booleans(),
                             "at": st.none() | st.datetimes(min_value=datetime.datetime(2000, 1, 1)),
                             "name": st.none() | st.text(max_size=20), "n": st.integers(0, 5)})


@settings(max_examples=25, deadline=None)
@given(first=st.lists(row, min_size=1, max_size=6), second=st.lists(row, min_size=1, max_size=6))
def test_same_rows_and_counts_as_conn_execute(tmp_path_factory, first, second):
    core, drv = _engines(tmp_path_factory.mktemp("drv"), 2)
    md.create_all(core)
    md.create_all(drv)
    ins, upd = DriverStatement(INS), DriverStatement(UPD)
    inserted = [dict(r, id=i) for i, r in enumerate(first)]
    updates = [{"w_id": i % len(first), "w_n": r["n"], "v_flag": r["flag"], "v_at": r["at"], "v_name": r["name"]}
               for i, r in enumerate(second)]
    with core.begin() as c:
        c.execute(INS, inserted)
        want = [c.execute(UPD, u).rowcount for u in updates]
    with drv.begin() as c:
        assert ins.run(c, inserted) == len(inserted)
        got = [upd.run(c, u) for u in updates]
    assert got == want
    assert _dump(drv) == _dump(core)
    again = [dict(u, w_n=u["w_n"] + 3) for u in updates]
    with core.begin() as c:   # executemany: the driver's count is Core's
        want = c.execute(UPD, again).rowcount
    with drv.begin() as c:
        assert upd.run(c, again) == want
    assert _dump(drv) == _dump(core)


def test_returning_rows_and_sqlalchemy_errors(tmp_path):
    (engine,) = _engines(tmp_path, 1)
    md.create_all(engine)
    ins = DriverStatement(sqlite_insert(rows_t).values(id=bindparam("i"), n=bindparam("n"))
                          .on_conflict_do_nothing().returning(rows_t.c.id))
    with engine.begin() as c:
        assert ins.rows(c, [{"i": 1, "n": 0}, {"i": 2, "n": 0}, {"i": 1, "n": 5}]) == [(1,), (2,)]
    with pytest.raises(IntegrityError):
        with engine.begin() as c:
            DriverStatement(INS).run(c, [{"id": 3, "flag": None, "at": None, "name": "a", "n": 1},
                                         {"id": 3, "flag": None, "at": None, "name": "b", "n": 1}])
    assert [r[0] for r in _dump(engine)] == [1, 2]   # the failed transaction left nothing


def test_other_dialects_go_through_conn_execute(pg_url):
    engine = make_engine(pg_url)
    rows_t.drop(engine, checkfirst=True)
    md.create_all(engine)
    try:
        ins, upd = DriverStatement(INS), DriverStatement(UPD)
        at = datetime.datetime(2026, 12, 7, 5, 0, 0, 123456)
        with engine.begin() as c:
            assert ins.run(c, [{"id": 1, "flag": True, "at": at, "name": "x", "n": 0}]) == 1
            assert upd.run(c, {"w_id": 1, "w_n": 2, "v_flag": False, "v_at": at, "v_name": "y"}) == 1
        assert _dump(engine) == [(1, False, at, "y", 2)]
    finally:
        rows_t.drop(engine, checkfirst=True)
