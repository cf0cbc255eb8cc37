"""The one error type markup parsing may raise, with Twilio's error codes.

Codes: 11200 HTTP retrieval failure (the document could not be read), 12300 Invalid Content-Type,
12100 Document parse failure (not well-formed, wrong root, XXE/DTD), 11750 response body too large
(> 64 KB), 12200 Schema validation warning (carried as :class:`~fsbridge.markup.model.MarkupWarning`,
never raised). Source: Twilio error dictionary.
"""
from __future__ import annotations

DOCUMENT_PARSE_FAILURE = 12100
SCHEMA_VALIDATION_WARNING = 12200
RESPONSE_TOO_LARGE = 11750
RETRIEVAL_FAILURE = 11200
INVALID_CONTENT_TYPE = 12300
MAX_BODY_BYTES = 64 * 1024


class MarkupError(Exception):
    """A document that cannot be run at all. ``code``: Twilio error code (int); ``message``: text."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
