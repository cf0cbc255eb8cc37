"""The CreateParticipant attribute table (fsbridge.api.participant_params) against today's path.

Oracle (until the switch-over deletes it): ``api.twilio_participants.parse_create`` (validation, the snake_case
options) followed by ``runtime.bridge.conference_from_options`` + the Dial ``time_limit`` rule of
``Bridge.add_participant``. For every parameter, alone and all together, the table must build exactly the
same ``Dial``; for bad values it must raise the same ApiError (status, code, message).
"""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from fsbridge.api import participant_params as pp
from fsbridge.api.errors import ApiError
from fsbridge.api.twilio_participants import CREATE_PARAMS, parse_create
from fsbridge.markup.model import Dial
from fsbridge.runtime.bridge import conference_from_options

CA = "CA" + "ab" * 16
BY = "BY" + "cd" * 16
BASE = [("From", "+15550001111"), ("To", "sip:bob@example.com")]

#: valid sample values per parameter (several where the value changes the model)
VALID = {
    "StatusCallback": ["https://app.example.com/cb"], "StatusCallbackMethod": ["get", "POST"],
    "StatusCallbackEvent": ["initiated ringing", "answered,completed"], "Label": ["agent"],
    "Timeout": ["5", "600"], "Record": ["true", "False"], "Muted": ["true", "false"],
    "Beep": ["true", "false", "onEnter", "onExit"], "StartConferenceOnEnter": ["false", "TRUE"],
    "EndConferenceOnExit": ["true", "false"], "WaitUrl": ["https://app.example.com/wait"],
    "WaitMethod": ["get", "post"], "EarlyMedia": ["true"], "MaxParticipants": ["2", "250"],
    "ConferenceRecord": ["true", "false", "record-from-start", "do-not-record"],
    "ConferenceTrim": ["trim-silence", "do-not-trim"], "ConferenceStatusCallback": ["https://a.example/s"],
    "ConferenceStatusCallbackMethod": ["GET"], "ConferenceStatusCallbackEvent": ["start end join", "speaker"],
    "RecordingChannels": ["mono", "dual"], "RecordingStatusCallback": ["https://a.example/r"],
    "RecordingStatusCallbackMethod": ["GET"], "SipAuthUsername": ["u"], "SipAuthPassword": ["p"],
    "Region": ["ie1"], "ConferenceRecordingStatusCallback": ["https://a.example/cr"],
    "ConferenceRecordingStatusCallbackMethod": ["GET"], "RecordingStatusCallbackEvent": ["in-progress"],
    "ConferenceRecordingStatusCallbackEvent": ["in-progress completed absent", "absent"],
    "Coaching": ["false"], "CallSidToCoach": [CA], "JitterBufferSize": ["off", "small", "medium", "large"],
    "Byoc": [BY], "CallerId": ["+1555"], "CallReason": ["why"], "RecordingTrack": ["both"],
    "TimeLimit": ["1", "86400"], "MachineDetection": ["Enable"], "MachineDetectionTimeout": ["30"],
    "MachineDetectionSpeechThreshold": ["2400"], "MachineDetectionSpeechEndThreshold": ["1200"],
    "MachineDetectionSilenceTimeout": ["5000"], "AmdStatusCallback": ["https://a.example/amd"],
    "AmdStatusCallbackMethod": ["GET"], "Trim": ["do-not-trim"], "CallToken": ["tok"],
    "ClientNotificationUrl": ["https://a.example/n"], "CallerDisplayName": ["Bob"],
}
BAD = {
    "Muted": "yes", "Beep": "loud", "Timeout": "4", "MaxParticipants": "251", "ConferenceRecord": "maybe",
    "ConferenceTrim": "x", "ConferenceStatusCallbackEvent": "start bogus", "WaitUrl": "ftp://x",
    "WaitMethod": "PUT", "CallSidToCoach": "CA12", "Label": "x" * 129, "TimeLimit": "0",
    "JitterBufferSize": "huge", "Byoc": "BY1", "StatusCallbackEvent": "join",
}


def oracle(form: MultiDict, name: str = "Room") -> Dial:
    """Today's path: parse_create → conference_from_options → Dial(time_limit)."""
    _, _, options = parse_create(form)
    conf = conference_from_options(name, options)
    return Dial(conference=conf, time_limit=int(options.get("time_limit") or 14400))


def form(*pairs) -> MultiDict:
    return MultiDict(BASE + list(pairs))


def test_the_table_covers_every_create_parameter_in_order():
    assert [p.wire for p in pp.PARAMS] == list(CREATE_PARAMS)
    assert set(VALID) == set(CREATE_PARAMS)


def test_no_parameters_builds_the_defaults():
    req = pp.parse(form())
    assert req.dial("Room") == oracle(form())
    assert (req.from_, req.to, req.options) == ("+15550001111", "sip:bob@example.com", {})


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in VALID.items() for v in vs])
def test_each_parameter_alone_builds_what_conference_from_options_builds(name, value):
    f = form((name, value))
    req = pp.parse(f)
    assert req.dial("Room") == oracle(f)
    assert req.options == parse_create(f)[2]


def test_all_parameters_together_and_coaching():
    pairs = [(n, vs[-1]) for n, vs in VALID.items() if n != "Coaching"] + [("Coaching", "true")]
    f = form(*pairs)
    req = pp.parse(f)
    assert req.dial("Team") == oracle(f, "Team")
    assert req.dial("Team").conference.coach == CA
    assert req.options == parse_create(f)[2]


def test_repeated_event_parameters_keep_document_order():
    f = form(("ConferenceStatusCallbackEvent", "join"), ("ConferenceStatusCallbackEvent", "leave start"))
    assert pp.parse(f).dial("R").conference.status_callback_event == ("join", "leave", "start")
    assert pp.parse(f).dial("R") == oracle(f, "R")


def _error(fn, f):
    with pytest.raises(ApiError) as info:
        fn(f)
    return info.value.status, info.value.code, info.value.message


@pytest.mark.parametrize("name,value", sorted(BAD.items()))
def test_bad_values_raise_what_the_api_raises_today(name, value):
    f = form((name, value))
    assert _error(pp.parse, f) == _error(parse_create, f)
    assert _error(pp.parse, f)[0] == 400


@pytest.mark.parametrize("pairs", [
    [("To", "+1555")], [("From", "+1555")], [],
    BASE + [("Coaching", "true")],
])
def test_missing_from_to_and_coaching_without_a_call_match_today(pairs):
    f = MultiDict(pairs)
    assert _error(pp.parse, f) == _error(parse_create, f)
