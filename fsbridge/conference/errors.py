"""The one error type the conference domain raises, with Twilio's error codes and the HTTP status to answer.

Codes (Twilio error dictionary): 16025 duplicate participant label, 13240 bad coach CallSid,
16020 conference is full (maxParticipants), 20404 resource not found, 21220 invalid state (e.g. the
participant is not connected yet, the call is already in a conference), 21201 invalid parameter
(fsbridge's choice inside Twilio's 21xxx REST-parameter range: no single documented code exists).
"""
from __future__ import annotations

DUPLICATE_LABEL = 16025
BAD_COACH = 13240
CONFERENCE_FULL = 16020
NOT_FOUND = 20404
INVALID_STATE = 21220
INVALID_PARAMETER = 21201

_STATUS = {
    DUPLICATE_LABEL: 409,
    BAD_COACH: 400,
    CONFERENCE_FULL: 409,
    NOT_FOUND: 404,
    INVALID_STATE: 409,
    INVALID_PARAMETER: 400,
}


class DomainError(Exception):
    """An intent the domain refuses.

    ``code``: Twilio error code (int, constants above). ``status``: HTTP status the REST API should answer
    (400, 404 or 409, derived from the code; 400 for a code not listed). ``message``: human-readable text.
    For a join, the runtime treats 16025 and 16020 as warnings (the call continues with its next verb)
    and 13240 as a failure to the Dial action URL (Twilio TwiML Conference: participantLabel, coach,
    maxParticipants).
    """

    def __init__(self, code: int, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = _STATUS.get(code, 400)


def not_found(what: str) -> DomainError:
    """A 20404/404 error for ``what`` (e.g. ``"Conference CF…"``)."""
    return DomainError(NOT_FOUND, f"The requested resource {what} was not found")
