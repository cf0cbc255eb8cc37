"""A 3-node standalone cluster (issue #18) of real ``fsbridge serve`` processes on one PostgreSQL (a database
of its own per test): callers entering at all three nodes into one room are moved to the owning node and
mixed there (the room's recording holds all three voices); a REST mute through node 2 of a caller in the
room owned by node 1 takes effect (the caller's tone leaves the mix) and its callback arrives in order; a
dial-out through node 3 and its kick through node 2 run on the owner; the Dial action of every moved caller
is requested; REST reads and the end through node 3."""
from __future__ import annotations

import gevent
import numpy as np
import pytest
import soundfile as sf

from cluster_support import ClusterApp, deduplicated, fresh_database, names, start_cluster
from e2e_support import tone_energy

FREQ = {"Alice": 1100, "Bob": 1300, "Carol": 1700}
WINDOW_S = 0.2


@pytest.fixture
def cluster(tmp_path, pg_url):
    url, drop = fresh_database(pg_url)
    app = ClusterApp()
    nodes = []
    try:
        nodes = start_cluster(tmp_path, url, app.http.url, timeout=10.0)   # no failure expected here
        yield app, nodes, url
    finally:
        codes = {node.name: node.stop() for node in nodes}
        app.http.stop()
        drop()
    assert codes == {"n1": 0, "n2": 0, "n3": 0}, "\n".join(node.log()[-2000:] for node in nodes)


def windows(audio, rate):
    """Per WINDOW_S window: {name: energy of its tone}, and a reference energy at an unused frequency."""
    out = []
    for i in range(int(len(audio) / rate / WINDOW_S)):
        a, b = i * WINDOW_S, (i + 1) * WINDOW_S
        out.append(({n: tone_energy(audio, rate, hz, a, b) for n, hz in FREQ.items()},
                    tone_energy(audio, rate, 1900, a, b)))
    return out


def test_callers_at_three_nodes_share_one_room_and_rest_writes_go_to_the_owner(cluster):
    app, (n1, n2, n3), _ = cluster
    sids = {"Alice": n1.call("Alice", FREQ["Alice"])}
    assert app.status.wait_for(lambda items: names(items) == ["participant-join"], 20), names(app.status.items)
    sids["Bob"] = n2.call("Bob", FREQ["Bob"])
    sids["Carol"] = n3.call("Carol", FREQ["Carol"])
    assert app.status.wait_for(lambda items: names(items).count("participant-join") == 3, 20), \
        names(app.status.items)
    joins = [c for c in app.status.items if c["StatusCallbackEvent"] == "participant-join"]
    conf = joins[0]["ConferenceSid"]
    assert {c["ConferenceSid"] for c in app.status.items} == {conf}   # one room, on the owner
    assert {c["CallSid"]: c["ParticipantLabel"] for c in joins} == {sid: who for who, sid in sids.items()}
    # REST reads on any node come from the shared store
    listed = n3.api(f"Conferences/{conf}/Participants.json").json()["participants"]
    assert sorted(p["call_sid"] for p in listed) == sorted(sids.values())
    gevent.sleep(0.6)    # let the mix of all three reach the recording (real-time audio, not a sync point)
    muted = n2.api(f"Conferences/{conf}/Participants/{sids['Bob']}.json", {"Muted": "true"})
    assert muted.status_code == 200, muted.text
    assert muted.json()["muted"] is True and muted.json()["call_sid"] == sids["Bob"]
    assert app.status.wait_for(lambda items: names(items)[-1:] == ["participant-mute"], 10)
    assert app.status.items[-1]["CallSid"] == sids["Bob"] and app.status.items[-1]["Muted"] == "true"
    # the same write for an unknown participant answers as a single node does
    single = n1.api(f"Conferences/{conf}/Participants/CA{'0' * 32}.json", {"Muted": "true"})
    carried = n2.api(f"Conferences/{conf}/Participants/CA{'0' * 32}.json", {"Muted": "true"})
    assert (carried.status_code, carried.json()) == (single.status_code, single.json())
    assert carried.status_code == 404
    # a dial-out through node 3 and its kick through node 2 run on the owner
    dialed = n3.api(f"Conferences/{conf}/Participants.json", {"From": "bridge", "To": "tone:500", "Label": "dialed"})
    assert dialed.status_code == 201 and dialed.json()["status"] == "queued", dialed.text
    out_sid = dialed.json()["call_sid"]
    assert app.status.wait_for(lambda items: any(c.get("ParticipantLabel") == "dialed" for c in items), 10)
    kicked = n2.api(f"Conferences/{conf}/Participants/dialed.json", method="DELETE")
    assert kicked.status_code == 204, kicked.text
    assert app.status.wait_for(lambda items: [c["CallSid"] for c in items if c["StatusCallbackEvent"]
                                              == "participant-leave"] == [out_sid], 10)
    gevent.sleep(0.6)    # Bob muted: more mix without him
    ended = n3.api(f"Conferences/{conf}.json", {"Status": "completed"})
    assert ended.status_code == 200 and ended.json()["status"] == "completed", ended.text
    assert app.status.wait_for(lambda items: "conference-end" in names(items), 10)
    assert app.recordings.wait_for(lambda items: len(items) == 1, 10)
    assert app.actions.wait_for(lambda items: len(items) == 3, 10)
    assert sorted(a["CallSid"] for a in app.actions.items) == sorted(sids.values())
    items = deduplicated(app.status.items)
    assert [int(c["SequenceNumber"]) for c in items] == list(range(1, len(items) + 1))
    assert n2.api(f"Conferences/{conf}.json").json()["reason_conference_ended"] == "conference-ended-via-api"
    # the owner (n1: the first call arrived there) recorded the mix of callers from all three nodes
    rec = app.recordings.items[0]
    audio, rate = sf.read(str(n1.work / "n1" / "recordings" / f"{rec['RecordingSid']}.wav"), dtype="int16")
    wins = windows(audio, rate)
    everyone = [i for i, (e, ref) in enumerate(wins) if all(v > 20 * max(ref, 1.0) for v in e.values())]
    assert everyone, "no stretch of the recording holds all three callers"
    later = [i for i, (e, ref) in enumerate(wins) if i > everyone[0] and e["Alice"] > 20 * max(ref, 1.0)
             and e["Carol"] > 20 * max(ref, 1.0) and e["Bob"] < 0.05 * e["Alice"]]
    assert later, "Bob's tone never left the mix after the mute through node 2"
