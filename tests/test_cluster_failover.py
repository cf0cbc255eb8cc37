"""Node failure in a 3-node standalone cluster (issue #18): ``kill -9`` of node 1, which owns a room with
callers who entered at all three nodes → one survivor ends that room with the full callback sequence
(participant-leave × 3, conference-end; reasons as a restart gives them; SequenceNumbers gapless after the
delivered ones; repeats only with the same idempotency token) within 10 s; REST through a survivor shows it
completed; a room the surviving node 2 runs is untouched; node 1 restarted on the same config rejoins and owns
a new room that a caller at node 2 is moved into."""
from __future__ import annotations

import time

from sqlalchemy import create_engine, select

from cluster_support import ClusterApp, Node, deduplicated, fresh_database, names, node_config, start_cluster
from fsbridge.cluster import tables

KILL_DEADLINE_S = 10.0


def node_state(db_url, name):
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(tables.nodes.c.state).where(tables.nodes.c.name == name)).scalar()
    finally:
        engine.dispose()


def room_events(items, room):
    return [c["StatusCallbackEvent"] for c in items if c["FriendlyName"] == room]


def test_kill_9_of_the_owner_ends_its_rooms_from_a_survivor_and_the_node_rejoins(tmp_path, pg_url):
    url, drop = fresh_database(pg_url)
    app = ClusterApp()
    app.room = "KillRoom"
    nodes = []
    try:
        nodes = start_cluster(tmp_path, url, app.http.url)
        n1, n2, n3 = nodes
        sids = [n1.call("Alice", 1100)]
        assert app.status.wait_for(lambda items: names(items) == ["participant-join"], 20)
        sids += [n2.call("Bob", 1300), n3.call("Carol", 1700)]
        assert app.status.wait_for(lambda items: names(items).count("participant-join") == 3
                                   and "conference-start" in names(items), 20), names(app.status.items)
        conf = app.status.items[0]["ConferenceSid"]
        # a room the survivor n2 runs (a caller at n3 moved there) must come through n1's death untouched
        app.room = "SurvivorRoom"
        n2.call("Sam", 900)
        assert app.status.wait_for(lambda items: room_events(items, "SurvivorRoom") == ["participant-join"], 20)
        n3.call("Tia", 950)
        assert app.status.wait_for(lambda items: room_events(items, "SurvivorRoom") == [
            "participant-join", "participant-join", "conference-start"], 20), names(app.status.items)
        survivor = next(c for c in app.status.items if c["FriendlyName"] == "SurvivorRoom")["ConferenceSid"]
        app.status.items[:] = [c for c in app.status.items if c["FriendlyName"] == "KillRoom"]
        before = len(app.status.items)
        killed = time.monotonic()
        n1.kill()
        assert app.status.wait_for(lambda items: "conference-end" in names(items), KILL_DEADLINE_S), \
            names(app.status.items)
        assert time.monotonic() - killed < KILL_DEADLINE_S
        items = deduplicated(app.status.items)
        after = items[before:]
        assert names(after) == ["participant-leave"] * 3 + ["conference-end"]
        assert sorted(c["CallSid"] for c in after[:3]) == sorted(sids)
        assert {c["ReasonParticipantLeft"] for c in after[:3]} == {"participant_hung_up"}
        assert after[3]["ReasonConferenceEnded"] == "last-participant-left"
        assert all(c["ConferenceSid"] == conf for c in after)
        assert [int(c["SequenceNumber"]) for c in items] == list(range(1, len(items) + 1))
        fetched = n2.api(f"Conferences/{conf}.json").json()
        assert fetched["status"] == "completed" and n3.api(f"Conferences/{conf}/Participants.json").json()[
            "participants"] == []
        assert node_state(url, "n1") == "down"
        assert n3.api(f"Conferences/{survivor}.json").json()["status"] == "in-progress"
        assert [c["StatusCallbackEvent"] for c in app.status.items if c["ConferenceSid"] == survivor] == []
        # node 1 comes back under its name: it rejoins and owns the next room opened there
        n1 = nodes[0] = Node("n1", node_config(tmp_path, "n1", url, app.http.url), tmp_path).ready()
        assert node_state(url, "n1") == "up"
        app.room = "RejoinRoom"
        # (the restarted n1 re-sends what its previous run delivered but had not marked yet: same tokens)
        def rejoin_joins(items):
            return [c for c in deduplicated(items) if c["FriendlyName"] == "RejoinRoom"
                    and c["StatusCallbackEvent"] == "participant-join"]
        again = [n1.call("Dave", 1100)]
        assert app.status.wait_for(lambda items: len(rejoin_joins(items)) == 1, 20), names(app.status.items)
        again.append(n2.call("Erin", 1300))
        assert app.status.wait_for(lambda items: len(rejoin_joins(items)) == 2, 20), names(app.status.items)
        rejoined = rejoin_joins(app.status.items)
        assert {c["CallSid"] for c in rejoined} == set(again)
        assert len({c["ConferenceSid"] for c in rejoined}) == 1 and rejoined[0]["ConferenceSid"] != conf
        owner = n3.api(f"Conferences/{rejoined[0]['ConferenceSid']}.json").json()
        assert owner["status"] == "in-progress"
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(select(tables.rooms.c.node).where(
                tables.rooms.c.conference_sid == rejoined[0]["ConferenceSid"])).scalar() == "n1"
        engine.dispose()
    finally:
        for node in nodes:
            node.stop()
        app.http.stop()
        drop()
