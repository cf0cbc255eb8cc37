"""Store support for start-up reconciliation (issue 15): each conference's callback configuration is kept
(:func:`config_json` / :func:`config_from_json`, table ``fsb_conference_callbacks``) and
:meth:`Recovery.live_conferences` loads every conference left ``init`` / ``in-progress`` — by a crash —
as a :class:`~fsbridge.conference.restore.StoredConference` for ``ConferenceState.restore``.
A part of :class:`fsbridge.store.store.Store`.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import List, Optional

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from fsbridge.conference import events as ev
from fsbridge.conference.events import CallbackConfig, ParticipantView, RecordingView
from fsbridge.wire.twilio import CONF_COMPLETED, REC_IN_PROGRESS, REC_PAUSED, REC_PROCESSING
from fsbridge.conference.restore import StoredConference
from fsbridge.markup.model import Hook
from fsbridge.store import tables as t
from fsbridge.store.rowbuffer import RowBuffer
from fsbridge.store.rows import ConferenceRow, ParticipantRow, RecordingRow, naive_utc_now


def _hook(h: Optional[Hook]) -> Optional[list]:
    return None if h is None else [h.url, h.method, h.username, h.password]


def config_json(config: CallbackConfig) -> str:
    """``config`` as a JSON text (hooks as ``[url, method, username, password]``)."""
    return json.dumps({"dialect": config.dialect, "status_callback": _hook(config.status_callback),
                       "status_events": list(config.status_events),
                       "recording_status_callback": _hook(config.recording_status_callback),
                       "recording_status_events": list(config.recording_status_events),
                       "event_callback_url": config.event_callback_url})


def config_from_json(text: str) -> CallbackConfig:
    """The CallbackConfig :func:`config_json` wrote."""
    d = json.loads(text)
    hook = (lambda v: Hook(*v) if v else None)
    return CallbackConfig(dialect=d["dialect"], status_callback=hook(d["status_callback"]),
                          status_events=tuple(d["status_events"]),
                          recording_status_callback=hook(d["recording_status_callback"]),
                          recording_status_events=tuple(d["recording_status_events"]),
                          event_callback_url=d["event_callback_url"])


class Recovery:
    """The recovery half of :class:`~fsbridge.store.store.Store`."""

    def _keep_config(self, conn: Connection, event: ev.DomainEvent) -> None:
        """Write the conference's CallbackConfig once (called for participant-join events)."""
        if event.callbacks is None or self._config_known.get(event.conference_sid):
            return
        self._insert_missing(conn, t.conference_callbacks, {"sid": event.conference_sid},
                             {"config": config_json(event.callbacks)})
        if len(self._config_known) > 10000:
            self._config_known.clear()
        self._config_known[event.conference_sid] = True

    def live_conferences(self) -> List[StoredConference]:
        """Every conference not completed (left ``init`` / ``in-progress``: after a crash, those the bridge
        was running), oldest first, with its participants not left, its unfinished recordings, its last
        recorded sequence number and its callback configuration (the default — no callbacks — if none was
        kept)."""
        c, p, r, cb = t.conferences, t.participants, t.recordings, t.conference_callbacks
        out = []
        with self.engine.connect() as conn:
            confs = conn.execute(select(c).where(c.c.status != CONF_COMPLETED).order_by(c.c.date_created, c.c.sid)
                                 ).mappings().all()
            for row in confs:
                conf = ConferenceRow.from_mapping(row)
                parts = [ParticipantRow.from_mapping(m) for m in conn.execute(select(p).where(
                    p.c.conference_sid == conf.sid, p.c.left_at.is_(None)).order_by(
                    p.c.date_created, p.c.call_sid)).mappings().all()]
                recs = [RecordingRow.from_mapping(m) for m in conn.execute(select(r).where(
                    r.c.conference_sid == conf.sid, r.c.status.in_((REC_PROCESSING, REC_IN_PROGRESS, REC_PAUSED))
                ).order_by(r.c.date_created, r.c.sid)).mappings().all()]
                text = conn.execute(select(cb.c.config).where(cb.c.sid == conf.sid)).scalar()
                seq = int(conn.execute(self._sel_last_seq, {"cf": conf.sid}).scalar() or 0)
                out.append(StoredConference(
                    sid=conf.sid, account_sid=conf.account_sid, friendly_name=conf.friendly_name,
                    dialect=conf.dialect, status=conf.status, date_created=conf.date_created,
                    date_updated=conf.date_updated, sequence=max(seq, conf.last_sequence),
                    callbacks=config_from_json(text) if text else CallbackConfig(dialect=conf.dialect),
                    region=conf.region, started_at=conf.started_at,
                    participants=tuple(ParticipantView(
                        call_sid=x.call_sid, label=x.label, muted=x.muted, hold=x.hold, coaching=x.coaching,
                        call_sid_to_coach=x.call_sid_to_coach, end_conference_on_exit=x.end_conference_on_exit,
                        start_conference_on_enter=x.start_conference_on_enter, beep=x.beep, status=x.status,
                        from_=x.from_, to=x.to, conference_sid=conf.sid, account_sid=x.account_sid,
                        date_created=x.date_created, date_updated=x.date_updated) for x in parts),
                    recordings=tuple(RecordingView(sid=x.sid, status=x.status, path=x.path,
                                                   start_time=x.start_time) for x in recs)))
        return out

    # -- continuations of calls in a room (engines whose calls outlive the bridge) ------------------------
    @property
    def rows(self) -> RowBuffer:
        """This store's per-call row writes (continuations, quality rows), committed in the outbox's group
        commit once a dispatcher shares it (:mod:`fsbridge.store.rowbuffer`), else each at once."""
        buf = self.__dict__.get("_row_buffer")
        if buf is None:
            buf = self._row_buffer = RowBuffer(self.engine, self._committed)
        return buf

    def keep_continuation(self, call_sid: str, account_sid: str, data: dict) -> None:
        """Write (replace) ``call_sid``'s continuation: a JSON-able dict (runtime/adoption.py builds it).
        Durable within the group-commit window when shared (:attr:`rows`), else at once."""
        self.rows.replace(t.call_continuations, {"call_sid": call_sid},
                          {"account_sid": account_sid, "data": json.dumps(data), "date_created": naive_utc_now()})

    def continuation(self, call_sid: str) -> Optional[dict]:
        """The continuation kept for ``call_sid``, or None."""
        cc = t.call_continuations
        with self.engine.connect() as conn:
            text = conn.execute(select(cc.c.data).where(cc.c.call_sid == call_sid)).scalar()
        return json.loads(text) if text else None

    def drop_continuation(self, call_sid: str) -> None:
        """Forget ``call_sid``'s continuation (it left its room; nothing to continue by another bridge)."""
        self.rows.delete(t.call_continuations, {"call_sid": call_sid})

    def prune_continuations(self, older_than_s: float) -> int:
        """Forget continuations written more than ``older_than_s`` seconds ago (their calls ended while no
        bridge was up to see it); returns how many."""
        cc = t.call_continuations
        cutoff = naive_utc_now() - timedelta(seconds=older_than_s)
        with self.engine.begin() as conn:
            return conn.execute(delete(cc).where(cc.c.date_created < cutoff)).rowcount or 0

    def engine_value(self, key: str) -> Optional[str]:
        """A kept engine fact (``fsb_engine_state``), or None."""
        es = t.engine_state
        with self.engine.connect() as conn:
            return conn.execute(select(es.c.value).where(es.c.key == key)).scalar()

    def set_engine_value(self, key: str, value: str) -> None:
        """Keep an engine fact (insert or replace)."""
        es = t.engine_state
        with self.engine.begin() as conn:
            if not conn.execute(update(es).where(es.c.key == key).values(value=value)).rowcount:
                conn.execute(insert(es).values(key=key, value=value))
        self._committed()


__all__ = ["Recovery", "config_json", "config_from_json"]
