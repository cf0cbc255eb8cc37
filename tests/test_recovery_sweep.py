"""Issue 15 on the fake FreeSWITCH: calls stranded while the bridge runs are found by the periodic sweep (not only
at start-up), and FreeSWITCH's ``${core_uuid}`` is kept in the store, so a FreeSWITCH restarted while the
bridge was down is recognised at the bridge's first connection."""
from __future__ import annotations

import json
import time

from fsbridge.conference import native as n
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.store import Store
from fsbridge.store.db import make_engine
from fakes import FakeFreeSwitch, Sink


def _engine(fake, **kw):
    return FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", **{**dict(
        outbound_port=0, command_timeout=2, reconnect_backoff=0.01, max_backoff=0.05, talk_stop_ms=0), **kw})


def test_a_call_stranded_later_is_redialled_by_the_sweep_then_hung_up_if_still_stuck():
    """A channel in ``socket`` toward our listener that is no call of ours: re-dialled (uuid_transfer) once two
    consecutive sweeps saw it, hung up with NORMAL_TEMPORARY_FAILURE if the sweep after that still sees it."""
    fake = FakeFreeSwitch().start()
    engine = _engine(fake, sweep_interval=0.1)
    engine.set_call_handler(lambda leg: None)
    engine.outbound.start()
    rows = []
    fake.api_replies["show channels as json"] = lambda cmd: json.dumps({"row_count": len(rows), "rows": rows})
    engine.start()
    try:
        assert engine.wait_connected(5)
        assert fake.wait_for(lambda: sum(c == "api show channels as json" for c in fake.commands) >= 2)
        assert not any("uuid_transfer" in c for c in fake.commands)      # nothing stuck: nothing done
        rows.append({"uuid": "u-late", "application": "socket", "dest": "7200", "context": "default",
                     "application_data": "127.0.0.1:%d async full" % engine.outbound_port,
                     "created_epoch": str(int(time.time() - 30))})
        transfer = fake.wait_command("api uuid_transfer u-late 7200 XML default")
        kill = fake.wait_command("api uuid_kill u-late NORMAL_TEMPORARY_FAILURE")
        assert fake.commands.index(transfer) < fake.commands.index(kill)
        sweeps = [i for i, c in enumerate(fake.commands) if c == "api show channels as json"]
        assert len([i for i in sweeps if i < fake.commands.index(transfer)]) >= 2   # seen twice first
    finally:
        engine.stop()
        fake.stop()


def test_a_freeswitch_restart_during_the_bridge_downtime_is_recognised_at_start(tmp_path):
    """The core_uuid of the last connection is kept in the store (fsb_engine_state): the next bridge's first
    snapshot carries lost_cause CRASH when it changed, None when it did not."""
    fake = FakeFreeSwitch().start()
    store = Store(make_engine("sqlite:///%s" % (tmp_path / "s.sqlite")))
    store.create_all()
    core = {"uuid": "core-1"}
    fake.api_replies["eval ${core_uuid}"] = lambda cmd: core["uuid"] + "\n"

    def first_snapshot():
        sink = Sink()
        engine = _engine(fake)
        engine.set_state_store(store)
        engine.set_event_sink(sink)
        engine.start()
        try:
            assert engine.wait_connected(5)
            assert fake.wait_for(lambda: sink.snapshots)
            return sink.snapshots[0].lost_cause
        finally:
            engine.stop()
    try:
        assert first_snapshot() is None           # nothing kept yet
        assert first_snapshot() is None           # same FreeSWITCH: an ESL reconnect only
        core["uuid"] = "core-2"                   # FreeSWITCH restarted while no bridge ran
        assert first_snapshot() == n.CAUSE_CRASH
        assert store.engine_value("core_uuid@127.0.0.1:%d" % fake.port) == "core-2"
    finally:
        fake.stop()


def test_old_continuations_are_pruned(tmp_path):
    """Continuations are deleted when their call leaves its room; one whose call ended while no bridge ran is
    forgotten once it is older than any stay (prune_continuations, run at the first snapshot)."""
    from datetime import datetime
    from sqlalchemy import update
    from fsbridge.store import tables as t
    store = Store(make_engine("sqlite:///%s" % (tmp_path / "c.sqlite")))
    store.create_all()
    store.keep_continuation("CAold", "AC1", {"v": 1})
    store.keep_continuation("CAnew", "AC1", {"v": 1})
    cc = t.call_continuations
    with store.engine.begin() as conn:   # written long ago
        conn.execute(update(cc).where(cc.c.call_sid == "CAold").values(date_created=datetime(2020, 1, 1)))
    assert store.prune_continuations(3600) == 1
    assert store.continuation("CAold") is None and store.continuation("CAnew") == {"v": 1}
