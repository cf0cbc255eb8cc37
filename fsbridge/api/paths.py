"""Every REST path fsbridge serves, in one place: format strings with ``{Name}`` placeholders.

Used both to declare the Flask routes (:func:`rule`) and to render the ``uri`` / ``subresource_uris`` /
paging fields (:func:`build`), which are relative to the API's base URL exactly as Twilio's are relative to
``https://api.twilio.com``. Sources: ../shared/specs/twilio_api_v2010_conferences.json (paths) and Telnyx's
TeXML REST reference (``/v2/texml/Accounts/{account_sid}/Conferences…``, no ``.json`` suffix).
"""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

TW_ROOT = "/2010-04-01/Accounts/{AccountSid}"
TW_CONFERENCES = TW_ROOT + "/Conferences.json"
TW_CONFERENCE = TW_ROOT + "/Conferences/{Sid}.json"
_TW_CONF = TW_ROOT + "/Conferences/{ConferenceSid}"
TW_PARTICIPANTS = _TW_CONF + "/Participants.json"
TW_PARTICIPANT = _TW_CONF + "/Participants/{CallSid}.json"
TW_RECORDINGS = _TW_CONF + "/Recordings.json"
TW_RECORDING_MEDIA = _TW_CONF + "/Recordings/{Sid}"       # bare: the audio (WAV)
TW_RECORDING = TW_RECORDING_MEDIA + ".json"
TW_RECORDING_WAV = TW_RECORDING_MEDIA + ".wav"
TW_RECORDING_MP3 = TW_RECORDING_MEDIA + ".mp3"
TW_ACCOUNT_RECORDINGS = TW_ROOT + "/Recordings.json"
TW_ACCOUNT_RECORDING_MEDIA = TW_ROOT + "/Recordings/{Sid}"
TW_ACCOUNT_RECORDING = TW_ACCOUNT_RECORDING_MEDIA + ".json"
TW_ACCOUNT_RECORDING_WAV = TW_ACCOUNT_RECORDING_MEDIA + ".wav"
TW_ACCOUNT_RECORDING_MP3 = TW_ACCOUNT_RECORDING_MEDIA + ".mp3"

TX_ROOT = "/v2/texml/Accounts/{account_sid}"
TX_CONFERENCES = TX_ROOT + "/Conferences"
TX_CONFERENCE = TX_ROOT + "/Conferences/{conference_sid}"
TX_PARTICIPANTS = TX_CONFERENCE + "/Participants"
TX_PARTICIPANT = TX_PARTICIPANTS + "/{call_sid_or_participant_label}"
TX_RECORDINGS = TX_CONFERENCE + "/Recordings"
TX_RECORDING = TX_RECORDINGS + "/{recording_sid}"
TX_RECORDING_WAV = TX_RECORDING + ".wav"

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def rule(path: str) -> str:
    """Flask URL rule for a path template: ``{Sid}`` → ``<Sid>``."""
    return _PLACEHOLDER.sub(r"<\1>", path)


_SEGMENT_MEMO_MAX_LEN = 64   # a Sid is 34 characters; a label at most 128 is rare enough to encode afresh


@lru_cache(maxsize=8192)
def _segment_memo(value: str) -> str:
    return quote(value, safe="")


def _segment(value: str) -> str:
    """``value`` percent-encoded as one path segment (``quote(value, safe="")``). Short values (Sids) are
    memoized, at most 8192 of them; a long one (path input up to pywsgi's 8 KiB request line) is encoded
    afresh, so tenants' paths cannot pin megabytes in the memo."""
    if len(value) > _SEGMENT_MEMO_MAX_LEN:
        return quote(value, safe="")
    return _segment_memo(value)


def build(path: str, **values: str) -> str:
    """Fill a path template (values percent-encoded as one path segment; the encodings of recent values are
    memoized: every rendered resource has a ``uri`` built from the same few Sids)."""
    return path.format(**{k: _segment(str(v)) for k, v in values.items()})
