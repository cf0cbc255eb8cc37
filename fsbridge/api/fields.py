"""Twilio request parameter names that several resources share (each wire name lives in one module).

Conference and Conference Recording both take ``Status`` and ``DateCreated``; Conference and Participant
both take ``AnnounceUrl`` / ``AnnounceMethod``. Source: ../shared/specs/twilio_api_v2010_conferences.json.
Names used by one resource only stay in that resource's module; paging names are in
:mod:`fsbridge.api.paging`.
"""

STATUS = "Status"
DATE_CREATED = "DateCreated"
DATE_UPDATED = "DateUpdated"
ANNOUNCE_URL = "AnnounceUrl"
ANNOUNCE_METHOD = "AnnounceMethod"
