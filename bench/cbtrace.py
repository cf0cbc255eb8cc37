"""Stage timestamps of the talk callbacks in the bridge child of ``bench/freeswitch.py`` (``--trace``).

Wraps (in the child only, by monkey-patching classes before the engine is built) the steps one
start-talking event goes through and stamps ``time.monotonic()`` (CLOCK_MONOTONIC: system-wide on Linux, so
the child's stamps compare with the parent's) per member, in order:

``read``      the ESL reader parsed the event (``StrictESLMixin.handle_event``)
``handler``   the inbound handler greenlet took it (``FreeSwitchEngine._on_esl_event``)
``sink``      the mapped NativeEvent reached the runtime's inbox (``BridgeCore._sink``)
``apply``     the runtime's pump started applying it (``BridgeCore._apply_native``)
``published`` ``Store.record`` + ``Dispatcher.enqueue`` done for the speech-start DomainEvent (``_publish``)
``committed`` the group commit holding its store rows and outbox row is done (``GroupWriter._commit``)
``post``      the delivery worker starts the POST (``Dispatcher._attempt``)
``posted``    the POST's response was read

Keys: ``read``/``handler``/``sink``/``apply`` by Unique-ID, the rest by CallSid (the parent maps one to the
other). Only start-talking / participant-speech-start are stamped. ``dump(path)`` writes them as JSON.
"""
import json
import time
from collections import defaultdict

STAMPS = defaultdict(lambda: defaultdict(list))   # stage → key → [monotonic, …]


def _stamp(stage, key):
    STAMPS[stage][key].append(time.monotonic())


def install():
    """Patch the bridge's classes (call before the engine and the bridge are created)."""
    from fsbridge.callbacks.dispatcher import Dispatcher
    from fsbridge.callbacks.groupcommit import GroupWriter
    from fsbridge.engines.freeswitch import transport
    from fsbridge.engines.freeswitch.engine import FreeSwitchEngine
    from fsbridge.runtime.core import BridgeCore

    def talk_uid(msg):
        try:
            if msg.get("Action") == "start-talking":
                return msg.get("Unique-ID")
        except Exception:
            return None
        return None

    orig_handle = transport.StrictESLMixin.handle_event

    def handle_event(self, msg):
        ev = msg.event if msg.event is not None else None
        uid = talk_uid(ev) if ev is not None else None
        if uid:
            _stamp("read", uid)
        return orig_handle(self, msg)

    transport.StrictESLMixin.handle_event = handle_event

    orig_on = FreeSwitchEngine._on_esl_event

    def on_esl_event(self, ev):
        uid = talk_uid(ev)
        if uid:
            _stamp("handler", uid)
        return orig_on(self, ev)

    FreeSwitchEngine._on_esl_event = on_esl_event

    orig_sink, orig_apply, orig_publish = BridgeCore._sink, BridgeCore._apply_native, BridgeCore._publish

    def sink(self, ev):
        if getattr(ev, "action", None) == "start-talking" and getattr(ev, "unique_id", None):
            _stamp("sink", ev.unique_id)
        return orig_sink(self, ev)

    def apply_native(self, ev):
        if getattr(ev, "action", None) == "start-talking" and getattr(ev, "unique_id", None):
            _stamp("apply", ev.unique_id)
        return orig_apply(self, ev)

    def publish(self, events):
        events = list(events)
        orig_publish(self, events)
        for e in events:
            if e.name == "participant-speech-start" and e.participant is not None:
                _stamp("published", e.participant.call_sid)

    BridgeCore._sink, BridgeCore._apply_native, BridgeCore._publish = sink, apply_native, publish

    orig_commit = GroupWriter._commit

    def commit(self, rows, marks, batches=()):
        orig_commit(self, rows, marks, batches)
        for _, row in rows:
            req = row.request
            if req.event_name == "participant-speech-start":
                _stamp("committed", dict(req.params).get("CallSid"))

    GroupWriter._commit = commit

    orig_attempt = Dispatcher._attempt

    def attempt(self, req, url, policy):
        sid = dict(req.params).get("CallSid") if req.event_name == "participant-speech-start" else None
        if sid:
            _stamp("post", sid)
        try:
            return orig_attempt(self, req, url, policy)
        finally:
            if sid:
                _stamp("posted", sid)

    Dispatcher._attempt = attempt

    import gc
    started = []

    def on_gc(phase, info):
        if phase == "start":
            started[:] = [time.monotonic()]
        elif started:
            STAMPS["gc"]["pauses"].append((time.monotonic() - started[0], info.get("generation"), started[0]))

    gc.callbacks.append(on_gc)


def dump(path):
    """Write the stamps to ``path`` as ``{stage: {key: [t, …]}}``."""
    with open(path, "w") as f:
        json.dump({s: dict(k) for s, k in STAMPS.items()}, f)


STAGES = ("read", "handler", "sink", "apply", "published", "committed", "post", "posted")


def report(path, sent, written, arrived, sid_of, pct):
    """Print per-stage latency quantiles. ``sent``: CallSid → [parent send stamps] (``written``: after the
    fake's write returned); ``arrived``: CallSid →
    [app arrival stamps]; ``sid_of``: Unique-ID → CallSid; ``pct(xs, q)`` → ms."""
    with open(path) as f:
        st = json.load(f)
    by_sid = {}
    for stage in STAGES:
        m = st.get(stage, {})
        by_sid[stage] = {sid_of.get(k, k): v for k, v in m.items()}
    chain = [("sent", sent), ("written", written)] + [(s, by_sid[s]) for s in STAGES] + [("arrived", arrived)]
    print("stage latency (ms, from the previous stage; p50 / p90 / p99 / max):")
    for (pname, prev), (name, cur) in zip(chain, chain[1:]):
        d = []
        for sid, ts in cur.items():
            ps = prev.get(sid, [])
            for a, b in zip(ps, ts):
                d.append(b - a)
        if d:
            print("  %-10s → %-10s %6.2f / %6.2f / %6.2f / %6.2f  (n=%d)" % (
                pname, name, pct(d, .5), pct(d, .9), pct(d, .99), pct(d, 1.0), len(d)))
    t0 = min((t for ts in sent.values() for t in ts), default=0.0)
    t1 = max((t for ts in arrived.values() for t in ts), default=0.0)
    gcs = [(p, g) for p, g, at in st.get("gc", {}).get("pauses", []) if t0 <= at <= t1]   # the talk phase
    if gcs:
        print("  GC in the bridge (talk phase): %d collections, longest %.2f ms, gen-2 %d" % (
            len(gcs), max(p for p, _ in gcs) * 1000, sum(1 for _, g in gcs if g == 2)))
    for name, cur in (("post", by_sid["post"]), ("posted", by_sid["posted"]), ("arrived", arrived)):
        d = [b - a for sid, ts in cur.items() for a, b in zip(sent.get(sid, []), ts)]
        if d:
            print("  total sent → %-8s %6.2f / %6.2f / %6.2f / %6.2f" % (name, pct(d, .5), pct(d, .9),
                                                                        pct(d, .99), pct(d, 1.0)))
