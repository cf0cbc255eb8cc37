"""The FreeSWITCH move's pieces (fsbridge.cluster.sipmove, issue #18) on PostgreSQL: the one-time token with
its HMAC (forged / reused refused), the bridge dial string (header, credentials, profile, number, owner's
SIP address), a refused bridge leaving the call here, and the owner's ``accept_leg`` (ordinary calls and bad
headers pass through as ordinary calls)."""
from __future__ import annotations

import types

import pytest
from sqlalchemy import func, text, update

from cluster_support import fresh_database
from fsbridge.cluster import tables
from fsbridge.cluster.moves import Mover
from fsbridge.cluster.registry import NodeInfo
from fsbridge.cluster.sipmove import CHANNEL_VARIABLE, SipMoves
from fsbridge.config_cluster import ClusterSettings
from fsbridge.markup import parse

SECRET = "sipmove-secret-0123456789"


@pytest.fixture
def node(pg_url):
    from fsbridge.store.db import make_engine
    url, drop = fresh_database(pg_url)
    engine = make_engine(url)
    tables.create_all(engine)
    yield types.SimpleNamespace(engine=engine, secret=SECRET, me="fs2",
                                settings=ClusterSettings(node="fs2", secret=SECRET, sip_auth="1000:pw"))
    engine.dispose()
    drop()


class Leg:
    def __init__(self, answer=True):
        self.answer, self.dialed, self.hung_up = answer, [], False
        self.to = "7200"

    def transfer(self, dialstring, timeout_s=14400.0):
        self.dialed.append(dialstring)
        return self.answer


def session(leg):
    rec = types.SimpleNamespace(call_sid="CA" + "1" * 32, to="7200")
    return types.SimpleNamespace(record=rec, leg=leg, steps=[], step=lambda text: None)


def test_the_token_is_signed_and_used_once(node):
    moves = SipMoves(node)
    value = moves.stash({"call_sid": "CAx"})
    token, mac = value.split(".")
    assert moves.claim(f"{token}.{'0' * 32}") is None               # forged mac
    assert moves.claim(value) == {"call_sid": "CAx"}
    assert moves.claim(value) is None                                # used once
    stale = moves.stash({"call_sid": "CAy"})
    with node.engine.begin() as conn:
        conn.execute(update(tables.moves).where(tables.moves.c.token == stale.partition(".")[0]).values(
            created_at=func.now() - text("interval '1 hour'")))
    assert moves.claim(stale) is None                                # expired (not yet swept)


def test_the_bridge_carries_the_header_and_a_refusal_keeps_the_call_here(node):
    moves = SipMoves(node)
    peer = NodeInfo("fs1", "http://x", "127.0.0.1:5060", None, "up", 0)
    leg = Leg(answer=True)
    assert moves.move(session(leg), "fs1", peer, {"call_sid": "CAy"}) is True
    (dial,) = leg.dialed
    assert dial.startswith("{sip_h_X-Fsbridge-Move=") and dial.endswith("}sofia/internal/7200@127.0.0.1:5060")
    assert "absolute_codec_string=^^:G722:PCMU:PCMA" in dial
    assert "sip_auth_username=1000,sip_auth_password=pw" in dial
    value = dial[len("{sip_h_X-Fsbridge-Move="):].split(",")[0]
    assert moves.claim(value) == {"call_sid": "CAy"}                  # what the owner will find
    refused = Leg(answer=False)
    assert moves.move(session(refused), "fs1", peer, {"call_sid": "CAz"}) is False
    stale = refused.dialed[0][len("{sip_h_X-Fsbridge-Move="):].split(",")[0]
    assert moves.claim(stale) is None                                 # the stash was dropped
    no_sip = NodeInfo("fs1", "http://x", None, None, "up", 0)
    assert moves.move(session(Leg()), "fs1", no_sip, {}) is False


def test_the_owner_runs_a_moved_leg_from_its_verb(node):
    mover = Mover(node)
    dial = parse('<Response><Dial action="/after"><Conference participantLabel="bob">Room</Conference></Dial>'
                 '</Response>', "twiml").verbs[0]
    from fsbridge.cluster import verbs
    value = mover.sip.stash({"call_sid": "CA" + "2" * 32, "account_sid": "AC1", "from": "bob", "to": "7200",
                             "direction": "inbound", "dialect": "twiml", "doc_url": "http://app/voice",
                             "verb": verbs.to_json(dial), "origin": None, "from_node": "fs2"})
    leg = types.SimpleNamespace(to="7200", channel_data={CHANNEL_VARIABLE: value})
    moved = mover.accept_leg(leg)
    assert moved["call_sid"] == "CA" + "2" * 32 and moved["first"].verbs == (dial,)
    assert moved["doc_url"] == "http://app/voice"
    assert mover.accept_leg(leg) is None                               # the token was used
    assert mover.accept_leg(types.SimpleNamespace(to="7200", channel_data={})) is None
    assert mover.accept_leg(types.SimpleNamespace(to="7200")) is None  # a virtual leg
