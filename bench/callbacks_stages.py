"""CPU per callback, stage by stage (what ``bench/callbacks.py`` measures as a whole), without a profiler.

Usage: ``python3 bench/callbacks_stages.py [--n 3000] [--db sqlite|postgresql]``

Each stage runs ``--n`` times in this process and prints process CPU µs per callback: ESL parsing of a
recorded FreeSWITCH start-talking event (tests/fakes, talk transcript), rendering (Twilio, participant-join),
the outbox buffer (``GroupWriter.insert``), the group commit per row (batches of 100), signing + headers, and
one keep-alive HTTP POST to a gevent WSGI receiver in another process (``Transport.request``; the
receiver's CPU is not counted). Then ``Store.record`` of a participant-speech-start/-stop (100 conferences, a
joined participant each): one transaction per event (the store alone, as before the shared group commit), and
buffered + written in the outbox's group commit (``Dispatcher.share_commit``; batches of 100, per event).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
sys.path.insert(0, HERE)

from callbacks import AC, TOKEN, App  # noqa: E402


def per_call(fn, n):
    """CPU µs per ``fn(i)`` over ``n`` calls (after 50 warm-up calls)."""
    for i in range(50):
        fn(i)
    t0 = time.process_time()
    for i in range(n):
        fn(i)
    return (time.process_time() - t0) / n * 1e6


def main():
    """Run every stage ``--n`` times (SQLite, or a throw-away PostgreSQL with ``--db postgresql``) and print
    process CPU µs per callback for each, then the two Store.record variants."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
    from datetime import datetime, timezone

    from fakes.esl import recorded_events
    from fsbridge.callbacks import dispatcher as dsp
    from fsbridge.callbacks.groupcommit import GroupWriter
    from fsbridge.callbacks.http import Transport
    from fsbridge.callbacks.outbox import outbox
    from fsbridge.callbacks.render import render
    from fsbridge.callbacks.request import RenderSettings
    from fsbridge.conference import events as ev
    from fsbridge.conference.events import CallbackConfig, ParticipantView, make
    from fsbridge.egress import EgressPolicy
    from fsbridge.engines.freeswitch import esl_parse
    from fsbridge.markup.model import Hook
    from fsbridge.store.db import make_engine

    cluster = None
    if args.db == "postgresql":
        from pg_support import ThrowAwayCluster, pg_bindir
        cluster = ThrowAwayCluster(pg_bindir())
        url = cluster.start()
    else:
        url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="fsbench-st-"), "o.sqlite")
    app = App()
    try:
        raws = [r for r in recorded_events("talk/events_plain.esl.txt") if b"start-talking" in r]
        now = datetime.now(timezone.utc)
        config = CallbackConfig(dialect="twiml", status_callback=Hook(app.url + "/cb"), status_events=("join",))
        events = [make(ev.PARTICIPANT_JOIN, account_sid=AC, conference_sid="CF%032d" % (i % 100),
                       friendly_name="bench", sequence_number=i, timestamp=now, callbacks=config, member_count=3,
                       started_at=now, participant=ParticipantView(call_sid="CA%032d" % i, from_="+1555", to="+1666"))
                  for i in range(args.n + 50)]
        settings = RenderSettings()
        reqs = [render(e, settings) for e in events]
        engine = make_engine(url)
        outbox.create(engine, checkfirst=True)
        w = GroupWriter(engine, window_s=3600.0, max_batch=10 ** 9)
        d = dsp.Dispatcher(engine, {AC: TOKEN})
        t = Transport(egress=EgressPolicy(allow=["127.0.0.0/8"]))
        hdr = d._headers(reqs[0], reqs[0].url)
        rows = {
            "ESL parse of a recorded start-talking event (%d bytes)" % len(raws[0]):
                per_call(lambda i: esl_parse.parse_message(raws[i % len(raws)]), args.n),
            "render (Twilio participant-join)": per_call(lambda i: render(events[i], settings), args.n),
            "outbox buffer (GroupWriter.insert)": per_call(lambda i: w.insert(reqs[i], 1.0), args.n),
        }
        w._rows = w._rows[:100 * (len(w._rows) // 100)]
        batches = len(w._rows) // 100
        t0 = time.process_time()
        while w._rows:
            rest, w._rows = w._rows[100:], w._rows[:100]
            w.flush()
            w._rows = rest
        rows["group commit per row (batches of 100)"] = (time.process_time() - t0) / max(1, batches * 100) * 1e6
        rows["sign + headers (X-Twilio-Signature)"] = per_call(lambda i: d._headers(reqs[i], reqs[i].url), args.n)
        rows["HTTP POST, keep-alive (Transport.request)"] = per_call(
            lambda i: t.request("POST", reqs[i].url, reqs[i].body, hdr, 5, 15), args.n)
        callback_sum = sum(list(rows.values())[1:])
        rows.update(store_stages(os.path.dirname(url[len("sqlite:///"):]) if cluster is None else None, url, args.n))
        print("# CPU per callback by stage, %s, n=%d, load average %.1f" % (args.db, args.n, os.getloadavg()[0]))
        for name, us in rows.items():
            print("%-60s %7.1f µs" % (name, us))
        print("%-60s %7.1f µs" % ("sum of the callback stages (without ESL parse and store)", callback_sum))
        w.close()
    finally:
        app.stop()
        if cluster is not None:
            cluster.stop()


def store_stages(tmpdir, pg_url, n):
    """µs of CPU per Store.record: {"… one transaction per event": µs, "… group commit": µs}."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from fsbridge.callbacks import Dispatcher
    from fsbridge.conference import events as ev
    from fsbridge.store import Store
    from fsbridge.store.db import make_engine

    now = datetime.now(timezone.utc)

    def fresh(tag):
        if tmpdir is not None:
            return Store(make_engine("sqlite:///" + os.path.join(tmpdir, tag + ".sqlite")))
        s = Store(make_engine(pg_url))
        with s.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        return s

    def talk(i):
        cf, k = "CF%032d" % (i % 100), i // 100 + 2
        name = ev.PARTICIPANT_SPEECH_START if k % 2 else ev.PARTICIPANT_SPEECH_STOP
        return ev.make(name, account_sid=AC, conference_sid=cf, friendly_name="bench", sequence_number=k,
                       timestamp=now, participant=ev.ParticipantView(call_sid="CA" + cf[2:], status="connected"))

    out = {}
    for tag in ("one transaction per event", "in the outbox's group commit (batches of 100)"):
        store = fresh(tag.split()[0])
        store.create_all()
        d = None
        if tag.startswith("in the"):
            d = Dispatcher(store.engine, group_commit_s=3600.0)
            d.share_commit(store)
            d.start()
        for c in range(100):
            store.record(ev.make(ev.PARTICIPANT_JOIN, account_sid=AC, conference_sid="CF%032d" % c,
                                 friendly_name="bench", sequence_number=1, timestamp=now,
                                 participant=ev.ParticipantView(call_sid="CA%032d" % c, status="connected")))
        store.sync()
        todo = [talk(i) for i in range(n)]
        t0 = time.process_time()
        for i, event in enumerate(todo):
            store.record(event)
            if d is not None and i % 100 == 99:
                store.sync()
        store.sync()
        out["Store.record, " + tag] = (time.process_time() - t0) / n * 1e6
        if d is not None:
            d.stop()
        store.engine.dispose()
    return out


if __name__ == "__main__":
    main()
