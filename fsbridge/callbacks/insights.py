"""Issue 22 webhooks that are not conference status callbacks, rendered to :class:`.request.CallbackRequest`
for the durable outbox (``Dispatcher.enqueue_request``): the Bulk Export job-completion webhook (this module)
and the Insights Event Stream events (:mod:`.event_stream`).

Kinds (the outbox ``kind`` column): :data:`KIND_EXPORT`, :data:`KIND_INSIGHTS`. Both go out in the ``twiml``
dialect, so the dispatcher signs every attempt with the account's AuthToken (``X-Twilio-Signature``) like the
other Twilio callbacks, and carry a stable ``I-Twilio-Idempotency-Token``. Queue key (the outbox
``conference_sid`` column): the job Sid for an export webhook, the conference Sid for Insights events.
"""
from __future__ import annotations

from typing import Sequence

from fsbridge.wire import TWIML
from fsbridge.wire import bulkexports as bx

from .request import CallbackRequest, form_request
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


__all__ = ["KIND_EXPORT", "KIND_INSIGHTS", "export_webhook"]
