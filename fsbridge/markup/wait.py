"""What a waitUrl / holdUrl / announceUrl (jambonz waitHook / enterHook) document may contain.

Source: Twilio TwiML Conference (seed): "If the waitUrl responds with TwiML, <Record>, <Dial>, <Hangup>,
and <Gather> verbs are not allowed" — only Play, Say, Pause and Redirect run; jambonz wait/enter hooks
may also end the call with ``hangup`` (issue #2).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from .errors import SCHEMA_VALIDATION_WARNING
from .model import JAMBONZ, Hangup, MarkupWarning, Pause, Play, Redirect, Response, Say

WAIT_VERBS = (Play, Say, Pause, Redirect)


def verbs_allowed_in_wait(response: Response, allow_hangup: Optional[bool] = None) -> Response:
    """``response`` with only the verbs a wait/hold/announce document may run; a 12200 warning per verb dropped.

    ``allow_hangup``: keep Hangup too; None = the dialect's rule (jambonz yes, TwiML/TeXML no).
    Returns a new Response (same dialect, earlier warnings first). Raises nothing.
    """
    if allow_hangup is None:
        allow_hangup = response.dialect == JAMBONZ
    allowed = WAIT_VERBS + ((Hangup,) if allow_hangup else ())
    kept, warnings = [], list(response.warnings)
    for index, verb in enumerate(response.verbs):
        if isinstance(verb, allowed):
            kept.append(verb)
        else:
            name = type(verb).__name__
            warnings.append(MarkupWarning(
                SCHEMA_VALIDATION_WARNING, f"<{name}> is not allowed in a wait/hold/announce document; skipped",
                f"verbs[{index}]"))
    return replace(response, verbs=tuple(kept), warnings=tuple(warnings))
