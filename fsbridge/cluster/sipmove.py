"""Moving a FreeSWITCH call to the owning node over SIP (issue #18, "Placement").

The node that has the call stashes what the owner needs to run it (the same payload as a virtual call's
move: CallSid, account, From/To, direction, dialect, document URL, the Dial/Conference verb) in
``fsb_cluster_moves`` under a random one-time token, then bridges the caller's leg to the dialled number on
the owner's FreeSWITCH (``[cluster] sip_address`` of the owner) with ``X-Fsbridge-Move: <token>.<mac>`` —
the mac an HMAC-SHA256 of the token with the cluster secret, so a forged or guessed header is refused. The
owner's dialplan hands the leg to the owner's bridge like any call to that number; the bridge sees the header
(:meth:`SipMoves.accept_leg`), checks it, takes the stash row (deleted: one use) and runs the call from the
verb with the original CallSid — it joins the room there, and the owner requests the Dial action. The first
node's leg stays bridged (its media flows to the owner) until either side hangs up.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from typing import Optional

from sqlalchemy import delete, func, insert, text

from fsbridge.engines.base import EngineError

from . import tables as t

log = logging.getLogger("fsbridge.cluster")

HEADER = "X-Fsbridge-Move"
CHANNEL_VARIABLE = "variable_sip_h_" + HEADER    # how FreeSWITCH shows the received header to the socket
SAFE_NUMBER = re.compile(r"^[0-9A-Za-z+*#._-]{1,64}$")
STASH_TTL_S = 600
CODECS = "^^:G722:PCMU:PCMA"   # FreeSWITCH list syntax (``^^:`` = ':' separates, inside the {} variables)


def _cutoff():
    """SQL: the creation time before which a stashed move has expired (now − :data:`STASH_TTL_S`)."""
    return func.now() - text(f"interval '{STASH_TTL_S} seconds'")


class SipMoves:
    """SIP moves of ``node`` (a :class:`~fsbridge.cluster.node.ClusterNode`)."""

    def __init__(self, node):
        self.node = node

    def _mac(self, token: str) -> str:
        return hmac.new(self.node.secret.encode(), b"fsbridge-move:" + token.encode(), hashlib.sha256).hexdigest()[:32]

    def stash(self, payload: dict) -> str:
        """Keep ``payload`` for the owner; returns the header value ``token.mac``."""
        token = uuid.uuid4().hex
        with self.node.engine.begin() as conn:
            conn.execute(delete(t.moves).where(t.moves.c.created_at < _cutoff()))
            conn.execute(insert(t.moves).values(token=token, payload=json.dumps(payload)))
        return f"{token}.{self._mac(token)}"

    def claim(self, value: str) -> Optional[dict]:
        """The payload stashed under header value ``value`` (removed), or None when the mac is wrong or the
        token unknown / already used / older than :data:`STASH_TTL_S` (the sweep in :meth:`stash` runs only
        when another move is stashed)."""
        token, _, mac = str(value).partition(".")
        if not token or not hmac.compare_digest(self._mac(token).encode(), mac.encode()):
            return None
        with self.node.engine.begin() as conn:
            row = conn.execute(delete(t.moves).where(t.moves.c.token == token).returning(
                t.moves.c.payload, t.moves.c.created_at >= _cutoff())).first()
        return json.loads(row[0]) if row is not None and row[1] else None

    def move(self, session, owner: str, peer, payload: dict) -> bool:
        """Bridge ``session``'s call to ``owner`` (its NodeInfo ``peer``); True when the owner took it (the
        bridge was answered and has ended), False when it could not (the call is still here: join here)."""
        settings = self.node.settings
        rec = session.record
        if not peer.sip_address or not SAFE_NUMBER.match(rec.to or ""):
            log.warning("call %s: node %s has no sip_address (or the number is unusable): joining here",
                        rec.call_sid, owner)
            return False
        value = self.stash(payload)
        # SIP-safe codecs: the leg may run a codec the owner's profile refuses over SIP (loopback's L16 → 488)
        variables = [f"sip_h_{HEADER}={value}", f"absolute_codec_string={CODECS}"]
        if settings.sip_auth:
            user, _, password = settings.sip_auth.partition(":")
            variables += [f"sip_auth_username={user}", f"sip_auth_password={password}"]
        dialstring = "{%s}sofia/%s/%s@%s" % (",".join(variables), settings.sip_profile, rec.to, peer.sip_address)
        session.step(f"moving to node {owner} over SIP ({peer.sip_address})")
        try:
            answered = session.leg.transfer(dialstring)
        except EngineError as exc:
            log.warning("call %s: SIP move to %s refused: %s", rec.call_sid, owner, exc)
            answered = False
        if not answered:
            self.claim(value)   # drop the stash
            if session.leg.hung_up:
                return True
            log.warning("call %s: node %s did not answer the SIP move: joining here", rec.call_sid, owner)
            return False
        session.step(f"moved to node {owner} over SIP; bridge ended")
        return True

    def accept_leg(self, leg) -> Optional[dict]:
        """An engine leg arriving here: the stashed payload when it carries a valid ``X-Fsbridge-Move``
        header, else None (an ordinary call; a bad header is logged and ignored)."""
        value = (getattr(leg, "channel_data", None) or {}).get(CHANNEL_VARIABLE)
        if not value:
            return None
        payload = self.claim(value)
        if payload is None:
            log.warning("call to %s with an invalid or used %s header: handled as an ordinary call", leg.to, HEADER)
        return payload


__all__ = ["SipMoves", "HEADER", "CHANNEL_VARIABLE"]
