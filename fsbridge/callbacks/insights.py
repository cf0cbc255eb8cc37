"""Issue 22 webhooks that are not conference status callbacks, rendered to :class:`.request.CallbackRequest`
for the durable outbox (``Dispatcher.enqueue`` takes a CallbackRequest as is): the Bulk Export job-completion
webhook and the Insights Event Stream events (:func:`event_stream_request`).

Kinds (the outbox ``kind`` column): :data:`KIND_EXPORT`, :data:`KIND_INSIGHTS`. Both go out in the ``twiml``
dialect, so the dispatcher signs every attempt with the account's AuthToken (``X-Twilio-Signature``) like the
other Twilio callbacks, and carry a stable ``I-Twilio-Idempotency-Token``. Queue key (the outbox
``conference_sid`` column): the job Sid for an export webhook, the conference Sid for Insights events.
"""
from __future__ import annotations

import hashlib
import json
from typing import Sequence
from urllib.parse import urlsplit, urlunsplit

from fsbridge.wire import TWIML
from fsbridge.wire import bulkexports as bx
from fsbridge.wire import insights as wi

from .request import JSON, CallbackRequest, form_request
from .signing import TWILIO_IDEMPOTENCY_HEADER, twilio_idempotency_token

#: outbox kinds added by issue 22
KIND_EXPORT = "export"
KIND_INSIGHTS = "insights"


class _Event:
    """The few event fields :func:`.request.form_request` reads."""

    def __init__(self, name: str, account_sid: str, queue_key: str, sequence_number: int):
        self.name, self.account_sid, self.conference_sid, self.sequence_number = (
            name, account_sid, queue_key, sequence_number)


def export_webhook(*, account_sid: str, job_sid: str, resource_type: str, friendly_name: str, start_day: str,
                   end_day: str, status: str, days: Sequence[str], url: str, method: str) -> CallbackRequest:
    """The Bulk Export completion webhook: a form POST (or GET with the query string) to the job's WebhookUrl.

    Parameters (Twilio documents no body for it; fsbridge's choice, Twilio-style names): ``AccountSid``,
    ``JobSid``, ``ResourceType``, ``FriendlyName``, ``StartDay``, ``EndDay``, ``Status`` (Completed |
    CompletedEmptyRecords | Failed) and ``Days`` (the days written, comma-separated ``YYYY-MM-DD``)."""
    params = ((bx.ACCOUNT_SID, account_sid), (bx.JOB_SID, job_sid), (bx.RESOURCE_TYPE, resource_type),
              (bx.FRIENDLY_NAME, friendly_name), (bx.START_DAY, start_day), (bx.END_DAY, end_day),
              (bx.JOB_STATUS, status), (bx.DAYS, ",".join(days)))
    headers = ((TWILIO_IDEMPOTENCY_HEADER, twilio_idempotency_token(job_sid, KIND_EXPORT)),)
    return form_request(dialect=TWIML, kind=KIND_EXPORT, event=_Event(bx.EXPORT_COMPLETED_EVENT, account_sid,
                                                                       job_sid, 1),
                        hook_url=url, method=method, params=params, headers=headers)


def event_stream_request(*, account_sid: str, conference_sid: str, event_type: str, schema: str, source: str,
                         data: dict, url: str, time: str, sequence_number: int = 0) -> CallbackRequest:
    """One Insights Event Stream event as Twilio's Event Streams webhook sink delivers it: a JSON POST of an
    array holding one CloudEvent ``{"specversion": "1.0", "type", "source", "id", "dataschema",
    "datacontenttype": "application/json", "time", "data"}``. ``id``: a UUID stable for (conference, type,
    the participant's call_sid in ``data`` if any) — a receiver de-duplicates retries and re-sends with it.

    Signed like Twilio's JSON webhooks: the URL gets ``bodySHA256=<hex SHA-256 of the body>`` and the
    dispatcher's ``X-Twilio-Signature`` covers that URL (twilio's ``RequestValidator.validate(url, body, sig)``
    checks both). The outbox ``event_name`` is the type's last two parts (``conference-summary.complete``)."""
    event_id = twilio_idempotency_token(conference_sid, event_type, data.get("call_sid") or "")
    body = json.dumps([{
        "specversion": wi.CLOUDEVENTS_VERSION, "type": event_type, "source": source, "id": event_id,
        "dataschema": schema, "datacontenttype": JSON, "time": time, "data": data,
    }], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    parts = urlsplit(url)
    digest = f"{wi.BODY_SHA256}={hashlib.sha256(body).hexdigest()}"
    signed = urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(q for q in (parts.query, digest) if q),
                         parts.fragment))
    return CallbackRequest(dialect=TWIML, kind=KIND_INSIGHTS, event_name=".".join(event_type.split(".")[-2:]),
                           account_sid=account_sid, conference_sid=conference_sid,
                           sequence_number=sequence_number, method="POST", url=signed, body=body, content_type=JSON,
                           headers=((TWILIO_IDEMPOTENCY_HEADER, event_id),))


__all__ = ["KIND_EXPORT", "KIND_INSIGHTS", "event_stream_request", "export_webhook"]
