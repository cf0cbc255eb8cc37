"""Twilio Bulk Export v1 wire vocabulary (ExportCustomJob, Job, Day resources), spelled once.

Source: the official twilio Python SDK's ``twilio.rest.bulkexports.v1.export`` models (``ExportCustomJobInstance``,
``DayInstance`` fields; the ``ExportCustomJobList.create`` form parameters) and Twilio's Export Custom Job
resource page (the job ``details`` status words). Bulk Export is served from ``https://bulkexports.twilio.com``.
"""
from __future__ import annotations

from fsbridge.wire import twilio as tw

# --- resource types fsbridge exports (path segment {ResourceType}) -------------------------------------------
CONFERENCES = "Conferences"
RESOURCE_TYPES = (CONFERENCES,)

# --- ExportCustomJob create form parameters ------------------------------------------------------------------
START_DAY = "StartDay"
END_DAY = "EndDay"
FRIENDLY_NAME = tw.FRIENDLY_NAME
WEBHOOK_URL = "WebhookUrl"
WEBHOOK_METHOD = "WebhookMethod"
EMAIL = "Email"

# --- job status words (ExportCustomJob ``details[].status``) --------------------------------------------------
SUBMITTED = "Submitted"
RUNNING = "Running"
COMPLETED = "Completed"
COMPLETED_EMPTY = "CompletedEmptyRecords"
FAILED = "Failed"
FINAL = (COMPLETED, COMPLETED_EMPTY, FAILED)

# --- list keys (v1 ``meta`` envelope) ---------------------------------------------------------------------------
JOBS_KEY = "jobs"
DAYS_KEY = "days"

#: ExportCustomJob fields, in the SDK model's order
JOB_FIELDS = ("friendly_name", "resource_type", "start_day", "end_day", "webhook_url", "webhook_method", "email",
              "job_sid", "details", "job_queue_position", "estimated_completion_time")
#: Day fields, in the SDK model's order (``redirect_to`` only on a fetch)
DAY_FIELDS = ("redirect_to", "day", "size", "create_date", "friendly_name", "resource_type")

# --- the completion webhook (form parameters; Twilio does not publish its body — fsbridge's choice) ---------
JOB_SID = "JobSid"
RESOURCE_TYPE = "ResourceType"
JOB_STATUS = tw.STATUS
DAYS = "Days"
ACCOUNT_SID = tw.ACCOUNT_SID
#: outbox event name of the completion webhook
EXPORT_COMPLETED_EVENT = "bulkexport-job-completed"

#: the download route's query parameter carrying the signed, expiring token
DOWNLOAD_TOKEN = "Token"
#: Job (``/v1/Exports/Jobs/{JobSid}``) fields, in the SDK model's order
JOB_RESOURCE_FIELDS = ("resource_type", "friendly_name", "details", "start_day", "end_day", "job_sid", "webhook_url",
                       "webhook_method", "email", "url", "job_queue_position", "estimated_completion_time")
