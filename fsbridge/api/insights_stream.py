"""Insights Event Stream (issue 22): the three Conference Insights events, as optional CloudEvents-shaped
webhooks per account, through the durable callback outbox (signed with the account's AuthToken).

``InsightsStream(store, dispatcher, sinks, base_url, region="us1", quality_wait_s=5.0, spawn=gevent.spawn)``;
``sinks``: ``{AccountSid: webhook URL}`` (accounts without one get no events). Wired by the composition root:
``on_event`` is a Bridge ``listeners`` entry (called after the event was recorded in the store), ``on_quality``
a ``quality_listeners`` entry (:mod:`fsbridge.runtime.quality`).

* ``conference-start`` → ``com.twilio.voice.insights.conference-summary.partial`` (the Conference Summary as
  it stands, ``processing_state`` in_progress);
* ``conference-end`` → ``…conference-summary.complete``;
* ``participant-leave`` → ``…conference-participant-summary.complete``, sent once the call's quality was kept
  (its hangup) or after ``quality_wait_s`` seconds without one (a participant that left but stays on the call,
  an engine that measures nothing): FreeSWITCH reports RTP statistics only at CHANNEL_HANGUP_COMPLETE, which
  follows the leave. Waiting events are in memory: a stop during the wait loses them (the REST summary stays).

``data`` is the Insights REST resource (:func:`fsbridge.api.insights.summary`,
:func:`fsbridge.api.insights_participants.participant_summary`) without its ``url`` / ``links``; the envelope
and signing: :func:`fsbridge.callbacks.insights.event_stream_request`.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable, Dict, Mapping, Tuple

import gevent
import gevent.event

from fsbridge.api.insights import iso, summary
from fsbridge.api.insights_participants import summaries
from fsbridge.callbacks.insights import event_stream_request
from fsbridge.conference.events import DomainEvent
from fsbridge.store.summary import fetch_summary
from fsbridge.wire import insights as wi
from fsbridge.wire import twilio as tw

log = logging.getLogger("fsbridge.insights.stream")
_DROP = ("url", "links")


class InsightsStream:
    """See the module docstring."""

    def __init__(self, store, dispatcher, sinks: Mapping[str, str], base_url: str, region: str = "us1",
                 quality_wait_s: float = 5.0, spawn: Callable = gevent.spawn) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.sinks = {k: v for k, v in sinks.items() if v}
        self.base = base_url.rstrip("/")
        self.region = region
        self.quality_wait_s = quality_wait_s
        self.spawn = spawn
        self._kept: Dict[Tuple[str, str], gevent.event.Event] = {}

    def on_event(self, event: DomainEvent) -> None:
        """A Bridge listener: send the Insights event this domain event stands for, if the account has a sink."""
        if event.account_sid not in self.sinks:
            return
        if event.name in (tw.CONFERENCE_START, tw.CONFERENCE_END):
            partial = event.name == tw.CONFERENCE_START
            self._conference(event, wi.EVENT_CONFERENCE_PARTIAL if partial else wi.EVENT_CONFERENCE_COMPLETE)
        elif event.name == tw.PARTICIPANT_LEAVE and event.participant is not None:
            key = (event.conference_sid, event.participant.call_sid)
            self._kept.setdefault(key, gevent.event.Event())
            self.spawn(self._participant_later, event, key)

    def on_quality(self, account_sid: str, conference_sid: str, call_sid: str, _q) -> None:
        """A quality listener: the call's quality was kept — its participant event may go now. Accounts without
        a sink get no participant event, so nothing is kept for them (it would never be popped)."""
        if account_sid not in self.sinks:
            return
        self._kept.setdefault((conference_sid, call_sid), gevent.event.Event()).set()

    def _send(self, account_sid: str, conference_sid: str, event_type: str, schema: str, data: dict) -> None:
        req = event_stream_request(
            account_sid=account_sid, conference_sid=conference_sid, event_type=event_type, schema=schema,
            source=f"{self.base}/v1/Conferences/{conference_sid}", data=data, url=self.sinks[account_sid],
            time=iso(datetime.now(timezone.utc)))
        self.dispatcher.enqueue(req)

    def _conference(self, event: DomainEvent, event_type: str) -> None:
        found = fetch_summary(self.store.engine, event.account_sid, event.conference_sid)
        if found is None:
            return
        data = {k: v for k, v in summary(found, self.base, self.region).items() if k not in _DROP}
        self._send(event.account_sid, event.conference_sid, event_type, wi.SCHEMA_CONFERENCE, data)

    def _participant_later(self, event: DomainEvent, key: Tuple[str, str]) -> None:
        try:
            self._kept[key].wait(self.quality_wait_s)
            self._kept.pop(key, None)
            conf = self.store.conference(event.account_sid, event.conference_sid)
            p = self.store.participant(event.account_sid, event.conference_sid, key[1])
            if conf is None or p is None:
                return
            data = {k: v for k, v in summaries(self.store.engine, [p], conf, self.base, self.region)[0].items()
                    if k not in _DROP}
            self._send(event.account_sid, event.conference_sid, wi.EVENT_PARTICIPANT_COMPLETE,
                       wi.SCHEMA_PARTICIPANT, data)
        except Exception:   # noqa: BLE001 - a report; never breaks the bridge
            log.exception("insights event for %s failed", key)


__all__ = ["InsightsStream"]
