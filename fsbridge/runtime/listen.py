"""jambonz ``listen`` inside a conference: the member's audio streamed to the app's websocket while it is there.

Source: jambonz-feature-server ``lib/tasks/listen.js`` — the first text frame is ``{sampleRate, mixType,
<CallInfo.toJSON()>, <metadata>}`` (later keys win), then L16 binary frames; ``passDtmf`` sends
``{"event": "dtmf", "dtmf": <digit>}`` text frames; ``maxLength`` ends the stream after that many seconds.
The engine streams (:meth:`fsbridge.engines.base.CallLeg.start_fork`): the standalone engine natively,
FreeSWITCH through mod_audio_fork.

The URL is tenant input: before the stream starts it goes through the egress policy (the runtime's fetcher
policy: loopback/private/metadata addresses refused unless the operator allows them), resolved here; the
standalone engine connects only to an address the same policy accepted. Every failure (refused address,
unresolvable host, FreeSWITCH without mod_audio_fork, a refused start) is a 12200 warning on the call and the
conference goes on without streaming — never an error that ends the call.
"""
from __future__ import annotations

import json
import logging
from typing import Callable, Optional
from urllib.parse import urlsplit

from fsbridge.egress import EgressDenied
from fsbridge.engines.base import AudioFork, EngineError, NotSupported
from fsbridge.markup.listen import Listen
from fsbridge.runtime import params
from fsbridge.wire import jambonz as jb

log = logging.getLogger("fsbridge.runtime.call")

SCHEMA_VALIDATION_WARNING = 12200


def first_frame(listen: Listen, call: params.CallInfo) -> str:
    """The metadata text frame: ``{sampleRate, mixType}``, then the call (jambonz CallInfo.toJSON keys), then
    the app's ``metadata`` (its keys override), as compact JSON text."""
    payload = params.jambonz_call_payload(call)
    frame = {
        jb.LISTEN_SAMPLE_RATE: listen.sample_rate,
        jb.LISTEN_MIX_TYPE: listen.mix_type,
        jb.META_CALL_SID: call.call_sid,
        jb.META_DIRECTION: payload[jb.DIRECTION],
        jb.META_FROM: call.from_,
        jb.META_TO: call.to,
        jb.META_CALL_ID: payload[jb.CALL_ID],
        jb.META_SIP_STATUS: payload[jb.SIP_STATUS],
        jb.META_SIP_REASON: payload[jb.SIP_REASON],
        jb.META_CALL_STATUS: call.status,
        jb.META_ACCOUNT_SID: call.account_sid,
    }
    frame.update(json.loads(listen.metadata))
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=True)


class Listening:
    """A running stream of one call (returned by :func:`start`): :meth:`dtmf` forwards a digit when
    ``passDtmf`` asked for it, :meth:`stop` ends the stream (idempotent)."""

    def __init__(self, leg, listen: Listen, timer=None):
        self.leg = leg
        self.listen = listen
        self.timer = timer
        self.stopped = False

    def dtmf(self, digits: str) -> None:
        """jambonz passDtmf: one ``{"event": "dtmf", "dtmf": d}`` text frame per digit (nothing otherwise)."""
        if self.listen.pass_dtmf and not self.stopped:
            for digit in digits or "":
                self.leg.fork_text(json.dumps({jb.EVENT: jb.DTMF_EVENT, jb.DTMF_DIGIT: digit}))

    def chain(self, handler: Optional[Callable[[str], None]]) -> Optional[Callable[[str], None]]:
        """A DTMF handler that runs ``handler`` (hangupOnStar, distributeDtmf) and then :meth:`dtmf`; just
        ``handler`` when digits are not passed."""
        if not self.listen.pass_dtmf:
            return handler

        def both(digits: str) -> None:
            if handler is not None:
                handler(digits)
            self.dtmf(digits)
        return both

    def stop(self) -> None:
        """Stop streaming (the maxLength timer too)."""
        if self.stopped:
            return
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
        self.leg.stop_fork()


def start(session, listen: Listen) -> Optional[Listening]:
    """Start streaming ``session``'s call as ``listen`` says; None (after a 12200 warning on the call) when it
    cannot. ``session``: the :class:`~fsbridge.runtime.session.CallSession` (its leg, bridge, call info)."""
    parts = urlsplit(listen.url)
    secure = parts.scheme.lower() == "wss"
    policy = session.bridge.fetcher.egress
    try:
        policy.resolve(parts.hostname, parts.port or (443 if secure else 80))
    except EgressDenied as exc:
        log.warning("call %s listen: %s", session.record.call_sid, exc)   # the addresses: log only
        session.notify(SCHEMA_VALIDATION_WARNING, "listen url is refused by the egress policy (internal or "
                       "non-public address); the conference audio is not streamed", end=False)
        return None
    except (OSError, UnicodeError) as exc:
        session.notify(SCHEMA_VALIDATION_WARNING, f"listen url host cannot be resolved ({exc}); the conference "
                       "audio is not streamed", end=False)
        return None
    user, password = listen.ws_auth or (None, None)
    fork = AudioFork(url=listen.url, mix_type=listen.mix_type, sample_rate=listen.sample_rate,
                     metadata=first_frame(listen, session.call_info()), username=user, password=password,
                     egress=policy)
    try:
        session.leg.start_fork(fork)
    except NotSupported as exc:
        session.notify(SCHEMA_VALIDATION_WARNING, f"listen: {exc}", end=False)
        return None
    except EngineError as exc:
        session.notify(SCHEMA_VALIDATION_WARNING, f"listen could not start streaming: {exc}", end=False)
        return None
    session.step(f"streams its audio to {parts.scheme}://{parts.hostname} ({listen.mix_type}, "
                 f"{listen.sample_rate} Hz)")
    running = Listening(session.leg, listen)
    if listen.max_length:
        running.timer = session.bridge.call_later(listen.max_length, running.stop)
    return running

