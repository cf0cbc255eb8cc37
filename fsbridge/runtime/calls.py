"""Calls: one :class:`~fsbridge.runtime.session.CallSession` greenlet per call; calls arriving from the
engine (:meth:`CallsMixin.on_call`), virtual calls placed on the standalone engine
(:meth:`CallsMixin.place_call`), and joining a conference (:meth:`CallsMixin.join_call` asks the domain,
:meth:`CallsMixin.run_join` executes the JoinMember and waits while the call is in the room)."""
from __future__ import annotations

import logging
import time
from typing import Optional, Tuple

import gevent

from fsbridge.conference import commands as C
from fsbridge.conference.ids import new_sid
from fsbridge.wire.twilio import CALL_FAILED, P_QUEUED
from fsbridge.engines.base import CallLeg, EngineUnavailable
from fsbridge.markup.model import Conference, Response
from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw
from fsbridge.runtime.fetch import Credentials
from fsbridge.runtime.registry import CallRecord

log = logging.getLogger("fsbridge.runtime.bridge")

MEDIA_SCHEMES = ("file:", "tone:", "silence:")


def source_ref(media_url: str) -> str:
    """Engine media reference for a virtual call's audio given as a media URL (fsbridge's stand-in for a
    phone): ``file:/path`` / ``file:///path`` / ``/path`` → the path; ``tone:440`` → a 440 Hz
    ``tone_stream://%(1000,0,440)`` (looped by :meth:`Bridge.place_call`: it sounds until the call ends); ``tone:%(on,off,hz)`` → that tone_stream; ``silence:`` → endless
    silence. Engine references pass through. Raises ValueError for anything else."""
    from fsbridge.runtime.media import ENGINE_SCHEMES, local_path
    url = (media_url or "").strip()
    if url.startswith(ENGINE_SCHEMES):
        return url
    path = local_path(url)
    if path:
        return path
    if url.startswith("tone:"):
        spec = url[len("tone:"):].lstrip("/")
        return "tone_stream://" + (spec if spec.startswith("%(") else f"%(1000,0,{spec})")
    if url.startswith("silence:"):
        return "silence_stream://-1"
    raise ValueError(f"not a media URL: {media_url!r} (use file:/path, tone:HZ or silence:)")


def is_media_url(value: str) -> bool:
    """True for a ``file:``/``tone:``/``silence:`` media URL or an absolute path (virtual-call audio)."""
    v = (value or "").strip()
    return v.startswith(MEDIA_SCHEMES) or v.startswith("/")


class CallsMixin:
    """Call sessions and placement of :class:`~fsbridge.runtime.bridge.Bridge` (state set up by
    :class:`~fsbridge.runtime.core.BridgeCore`)."""

    # ------------------------------------------------------------------ calls
    def credentials(self, account_sid: str) -> Credentials:
        """How requests of ``account_sid`` are signed (its AuthToken, Telnyx key, jambonz secret)."""
        acc = self.settings.accounts.get(account_sid)
        if acc is None:
            return Credentials()
        return Credentials(auth_token=acc.auth_token, telnyx_private_key=acc.telnyx_private_key,
                           jambonz_secret=acc.jambonz_secret)

    def join_call(self, record: CallRecord, conference: Conference, dialect: str,
                  wait_media: Tuple[str, ...]) -> Optional[C.JoinMember]:
        """Ask the domain to put ``record``'s call into ``conference`` (Twilio TwiML Conference); returns the
        JoinMember the call's leg must execute, or None if the domain gave none. Raises DomainError (16025,
        16020, 13240 …)."""
        with self._lock:
            outcome = self.state.join(account_sid=record.account_sid, call_sid=record.call_sid,
                                      unique_id=record.unique_id, conference=conference, dialect=dialect,
                                      from_=record.from_, to=record.to, wait_media=tuple(wait_media),
                                      timestamp_us=self.now_us())
            join = None
            rest = []
            for cmd in outcome.commands:
                if isinstance(cmd, C.JoinMember) and cmd.unique_id == record.unique_id and join is None:
                    join = cmd
                else:
                    rest.append(cmd)
            self._publish(outcome.events)
            self._execute(rest)
            record.label = conference.participant_label
            if join is not None:
                record.conference_sid = join.room
        return join

    def run_join(self, leg: CallLeg, join: C.JoinMember) -> str:
        """Put ``leg``'s call into its room — ``engine.execute(join)`` like every command — and block until
        it left: "left", "hangup" or "refused" (:meth:`CallLeg.wait_left`). A call already hung up, or whose
        engine went away, returns "hangup"; an EngineError of the join is raised."""
        if leg.hung_up:
            return "hangup"
        try:
            self.engine.execute(join)
        except EngineUnavailable:
            return "hangup"
        return leg.wait_left()

    def _start_session(self, record: CallRecord, leg, *, url: Optional[str], method: str, dialect: str,
                       first: Optional[Response] = None, resume: Optional[dict] = None) -> CallRecord:
        from fsbridge.runtime.session import CallSession
        record.leg = leg
        session = CallSession(self, record, leg, url=url, method=method, dialect=dialect, first=first)
        record.session = session
        self.registry.add(record)
        g = gevent.spawn(session.resume, resume) if resume is not None else gevent.spawn(session.run)
        self._sessions[record.call_sid] = g
        g.link(lambda _g: self._sessions.pop(record.call_sid, None))
        log.info("call %s %s → %s: %s %s call (%s)", record.call_sid, record.from_, record.to,
                 "adopted" if resume is not None else "new", record.direction, dialect)
        return record

    def call_ended(self, record: CallRecord) -> None:
        """A session finished (its record is complete). A dial-out whose participant is still queued (the
        call ended before its join reached the conference, or the join was refused: 16020, 13240 …) is
        reported as a failed dial-out."""
        errors = ", ".join(str(code) for code, _ in record.errors)
        log.info("call %s ended%s", record.call_sid, f" with errors {errors}" if errors else "")
        view = self.state.participant_of_call(record.call_sid)
        if view is not None and view.status == P_QUEUED:
            self._dial_out_failed(record.call_sid, CALL_FAILED, "the call ended before joining the conference")
        if not self.settings.capture_heard:   # an ended call keeps its record, not its media (issue 15 soak)
            record.session = None
            record.leg = None
        self.registry.prune(record)

    def on_call(self, leg) -> Optional[CallRecord]:
        """An inbound call leg from the engine (FreeSWITCH outbound socket): look up the dialled number
        (``leg.to``), then run its voice URL. Unknown numbers are hung up (logged)."""
        pending = self._originated.pop(leg.call_sid or "", None)
        if pending is not None:   # a REST-created participant dialled out by the engine, now answered
            record = CallRecord(call_sid=leg.call_sid, account_sid=pending["account_sid"], from_=pending["from_"],
                                to=pending["to"], direction=tw.DIRECTION_OUTBOUND_API, unique_id=leg.unique_id,
                                dialect=pending["dialect"])
            return self._start_session(record, leg, url=None, method="POST", dialect=pending["dialect"],
                                       first=pending["first"])
        cluster = getattr(self, "cluster", None)   # issue 18: a call moved here over SIP by another node
        moved = cluster.accept_leg(leg) if cluster is not None else None
        if moved is not None:
            record = CallRecord(call_sid=moved["call_sid"], account_sid=moved["account_sid"], from_=moved["from"],
                                to=moved["to"], direction=moved["direction"], unique_id=leg.unique_id,
                                dialect=moved["dialect"])
            return self._start_session(record, leg, url=moved["doc_url"], method="POST", dialect=moved["dialect"],
                                       first=moved["first"])
        number = self.settings.number(leg.to)
        if number is None:
            log.warning("call from %s to unknown number %s: hanging up", leg.from_, leg.to)
            leg.hangup("UNALLOCATED_NUMBER")
            return None
        record = CallRecord(call_sid=leg.call_sid or new_sid("CA"),
                            account_sid=number.account, from_=leg.from_, to=leg.to,
                            direction=tw.DIRECTION_INBOUND, unique_id=leg.unique_id,
                            dialect=number.dialect)
        return self._start_session(record, leg, url=number.voice_url, method=number.voice_method,
                                   dialect=number.dialect)

    def place_call(self, account_sid: str, from_: str, to: str, source, *, url: Optional[str] = None,
                   method: str = "POST", dialect: Optional[str] = None, direction: Optional[str] = None,
                   dtmf: Tuple[Tuple[str, float], ...] = (), hangup_after_s: Optional[float] = None,
                   first: Optional[Response] = None, call_sid: Optional[str] = None) -> CallRecord:
        """Place a virtual call (standalone engine): a caller whose audio is ``source`` (a media URL, see
        :func:`source_ref`, or a live frame source such as the standalone engine's ``QueueSource``) calls
        ``to``.

        Without ``url``: ``to`` must be a configured number (Direction ``inbound``, its voice URL/method/
        dialect/account); with ``url``: Direction ``outbound-api`` (Twilio Calls.json ``Url``).
        ``dtmf``: ``((digits, at_seconds), …)`` engine time after answer; ``hangup_after_s``: the caller
        hangs up after that many seconds. ``call_sid``: the CallSid to use (a queued dial-out's), else a
        new one. Raises ValueError (bad source / unknown number / account), EngineError (unreadable audio).
        """
        if not self.engine.can_create_calls:
            raise ValueError("this engine cannot place virtual calls (use the standalone engine)")
        number = self.settings.number(to)
        if url is None and first is None:
            if number is None:
                raise ValueError(f"{to} is not a configured number and no Url was given")
            url, method, dialect = number.voice_url, number.voice_method, dialect or number.dialect
            direction = direction or tw.DIRECTION_INBOUND
            if number.account != account_sid:
                raise ValueError(f"{to} is not a configured number and no Url was given")   # as unknown (#14)
        if account_sid not in self.settings.accounts:
            raise ValueError(f"unknown account {account_sid}")
        ref = source_ref(source) if isinstance(source, str) else source
        kw = {}
        if isinstance(ref, str):
            self.engine.preload(ref)
            if ref.startswith("tone_stream://"):
                kw = {"loop": True}   # tone:HZ sounds until hangup
        call_sid = call_sid or new_sid("CA")
        leg = self.engine.create_call(call_sid, ref, from_, to, dtmf=tuple(dtmf), hangup_after_s=hangup_after_s,
                                      **kw)
        record = CallRecord(call_sid=call_sid, account_sid=account_sid, from_=from_, to=to,
                            direction=direction or tw.DIRECTION_OUTBOUND_API,
                            unique_id=leg.unique_id, dialect=dialect or TWIML)
        if isinstance(source, str):   # what another node needs to run this call (issue 18: cluster moves)
            record.origin = {"source": source, "dtmf": [list(d) for d in dtmf], "hangup_after_s": hangup_after_s}
        return self._start_session(record, leg, url=url, method=method or "POST", dialect=dialect or TWIML,
                                   first=first)

    def wait_call(self, call_sid: str, timeout: Optional[float] = None) -> bool:
        """Block until the call has ended (True) or ``timeout`` seconds passed (False)."""
        rec = self.registry.get(call_sid)
        return rec is not None and rec.done.wait(timeout)

    def wait_calls(self, timeout: Optional[float] = None) -> bool:
        """Block until every call so far has ended and its events were applied."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for rec in self.registry.calls():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not rec.done.wait(left):
                return False
        return self.barrier(None if deadline is None else max(0.0, deadline - time.monotonic()))
