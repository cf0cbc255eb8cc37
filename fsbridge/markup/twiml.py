"""Twilio TwiML: the attribute table of ``<Response>`` documents with ``<Dial><Conference>``.

Sources: ../shared/seeds/twilio-twiml-conference-noun.txt (every Conference attribute, allowed values,
defaults; "callerId and timeout ... have no effect" with a Conference; waitUrl documents hold Play, Say,
Pause, Redirect) and twilio-python's ``twiml/voice_response.py`` (the keywords ``Dial.conference`` and
``VoiceResponse.dial`` offer). This module is the only place these attribute names are spelled; TeXML
derives its table from :data:`TWIML` by model field.
"""
from __future__ import annotations

from fsbridge.wire import twilio as tw
from fsbridge.wire.twilio import CONFERENCE_EVENTS, RECORDING_EVENTS, REGIONS  # noqa: F401  (re-exported)

from .model import TWIML as _TWIML
from .model import Conference, Dial, Gather, Pause, Play, Redirect, Say
from .schema import IGNORED, Attr, XmlDialect
from .values import METHOD, Bool, Choice, Events, Int, Number, Text

# statusCallbackEvent / recordingStatusCallbackEvent words and mixing regions: fsbridge.wire.twilio.
#: Twilio Conference participantLabel limit (longer labels are kept with a warning; the domain rejects them).
PARTICIPANT_LABEL_MAX = 128
#: Twilio Dial timeLimit: default 14400 s, at most 24 h.
TIME_LIMIT_MAX = 86400

URL = Text()

CONFERENCE_ATTRS = (
    Attr("muted", Bool()),
    Attr("beep", Choice(tw.BEEP)),
    Attr("startConferenceOnEnter", Bool()),
    Attr("endConferenceOnExit", Bool()),
    Attr("participantLabel", Text(warn_over=PARTICIPANT_LABEL_MAX)),
    Attr("jitterBufferSize", Choice(tw.JITTER)),
    Attr("waitUrl", Text(empty="")),
    Attr("waitMethod", METHOD),
    Attr("maxParticipants", Int(1, 250)),
    Attr("record", Choice(tw.CONFERENCE_RECORD_MODES)),
    Attr("recordingConfigurationId", Text()),
    Attr("region", Choice(REGIONS)),
    Attr("trim", Choice(tw.TRIM)),
    Attr("coach", Text(pattern=r"CA[0-9a-fA-F]{32}")),
    Attr("statusCallbackEvent", Events(CONFERENCE_EVENTS)),
    Attr("statusCallback", URL),
    Attr("statusCallbackMethod", METHOD),
    Attr("recordingStatusCallback", URL),
    Attr("recordingStatusCallbackMethod", METHOD),
    Attr("recordingStatusCallbackEvent", Events(RECORDING_EVENTS)),
    Attr("eventCallbackUrl", URL),
)

DIAL_ATTRS = (
    Attr("action", URL),
    Attr("method", METHOD),
    Attr("hangupOnStar", Bool()),
    Attr("timeLimit", Int(1, TIME_LIMIT_MAX)),
    Attr("callerId", Text()),
    Attr("timeout", Int(0, 600)),
    Attr("record", Choice(tw.DIAL_RECORD)),
    # Valid <Dial> attributes that do nothing for a Conference (twilio-python VoiceResponse.dial keywords).
    *(Attr(name, Text(), IGNORED) for name in (
        "trim", "recordingStatusCallback", "recordingStatusCallbackMethod", "recordingStatusCallbackEvent",
        "recordingConfigurationId", "answerOnBridge", "ringTone", "recordingTrack", "sequential",
        "referUrl", "referMethod", "events", "passports")),
)

PLAY_ATTRS = (
    Attr("loop", Int(0, 1000)),
    Attr("digits", Text(pattern=r"[0-9wW*#a-dA-D]+")),
)

SAY_ATTRS = (
    Attr("voice", Text()),
    Attr("language", Text()),
    Attr("loop", Int(0, 1000)),
)

PAUSE_ATTRS = (Attr("length", Number(0, 3600)),)

REDIRECT_ATTRS = (Attr("method", METHOD),)

#: <Gather numDigits> upper bound (Twilio: "positive integer"; a bound keeps hostile values finite).
GATHER_MAX_DIGITS = 128
#: Twilio <Gather> attributes; the speech ones are accepted without effect (speech input is not supported).
GATHER_ATTRS = (
    Attr("action", URL),
    Attr("method", METHOD),
    Attr("timeout", Int(1, 600)),
    Attr("finishOnKey", Text(empty="", pattern=r"[0-9#*]")),
    Attr("numDigits", Int(1, GATHER_MAX_DIGITS)),
    Attr("input", Events(("dtmf", "speech"))),
    Attr("actionOnEmptyResult", Bool()),
    Attr("bargeIn", Bool(), "dtmf_bargein"),
    *(Attr(name, Text(), IGNORED) for name in (
        "speechTimeout", "maxSpeechTime", "profanityFilter", "partialResultCallback",
        "partialResultCallbackMethod", "language", "hints", "debug", "speechModel", "enhanced")),
)

#: The TwiML dialect: Twilio's attribute tables, Twilio's defaults (those of the model).
TWIML = XmlDialect(
    name=_TWIML,
    attrs={
        Conference: CONFERENCE_ATTRS,
        Dial: DIAL_ATTRS,
        Play: PLAY_ATTRS,
        Say: SAY_ATTRS,
        Pause: PAUSE_ATTRS,
        Redirect: REDIRECT_ATTRS,
        Gather: GATHER_ATTRS,
    },
)

