"""The CreateParticipant attribute table (fsbridge.api.participant_params): known answers.

For every parameter the table must accept Twilio's values (Participants resource, create) and build the
``<Dial><Conference>`` they mean — the model fields below, Twilio's defaults for the rest; bad values are the
400 / 21xxx errors Twilio returns. ``ConferenceRecordingStatusCallbackMethod`` is validated and not applied.
"""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from fsbridge.api import participant_params as pp
from fsbridge.api.errors import FROM_MISSING, INVALID_PARAMETER, INVALID_URL, TO_MISSING, ApiError
from fsbridge.markup.model import Conference, Dial

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


#: (parameter, value) → the Conference fields (or ``dial.<field>``) it sets; every other VALID pair sets nothing
MODEL = {
    ("Label", "agent"): {"participant_label": "agent"},
    ("Muted", "true"): {"muted": True}, ("Muted", "false"): {"muted": False},
    ("Beep", "onExit"): {"beep": "onExit"}, ("Beep", "false"): {"beep": "false"},
    ("Beep", "onEnter"): {"beep": "onEnter"},
    ("StartConferenceOnEnter", "false"): {"start_conference_on_enter": False},
    ("StartConferenceOnEnter", "TRUE"): {"start_conference_on_enter": True},
    ("EndConferenceOnExit", "true"): {"end_conference_on_exit": True},
    ("WaitUrl", "https://app.example.com/wait"): {"wait_url": "https://app.example.com/wait"},
    ("WaitMethod", "get"): {"wait_method": "GET"},
    ("MaxParticipants", "2"): {"max_participants": 2},
    ("ConferenceRecord", "true"): {"record": "record-from-start"},
    ("ConferenceRecord", "record-from-start"): {"record": "record-from-start"},
    ("ConferenceRecord", "false"): {"record": "do-not-record"},
    ("ConferenceRecord", "do-not-record"): {"record": "do-not-record"},
    ("ConferenceTrim", "do-not-trim"): {"trim": "do-not-trim"},
    ("ConferenceStatusCallback", "https://a.example/s"): {"status_callback": "https://a.example/s"},
    ("ConferenceStatusCallbackMethod", "GET"): {"status_callback_method": "GET"},
    ("ConferenceStatusCallbackEvent", "start end join"): {"status_callback_event": ("start", "end", "join")},
    ("ConferenceStatusCallbackEvent", "speaker"): {"status_callback_event": ("speaker",)},
    ("Region", "ie1"): {"region": "ie1"},
    ("ConferenceRecordingStatusCallback", "https://a.example/cr"):
        {"recording_status_callback": "https://a.example/cr"},
    ("ConferenceRecordingStatusCallbackEvent", "in-progress completed absent"):
        {"recording_status_callback_event": ("in-progress", "completed", "absent")},
    ("ConferenceRecordingStatusCallbackEvent", "absent"): {"recording_status_callback_event": ("absent",)},
    ("JitterBufferSize", "off"): {"jitter_buffer_size": "off"},
    ("JitterBufferSize", "small"): {"jitter_buffer_size": "small"},
    ("JitterBufferSize", "medium"): {"jitter_buffer_size": "medium"},
    ("TimeLimit", "1"): {"dial.time_limit": 1}, ("TimeLimit", "86400"): {"dial.time_limit": 86400},
}
#: bad value → Twilio error code (all 400)
BAD_CODE = {"WaitUrl": INVALID_URL}


def form(*pairs) -> MultiDict:
    return MultiDict(BASE + list(pairs))


def expected(name: str = "Room", **changes) -> Dial:
    dial_fields = {k[5:]: v for k, v in changes.items() if k.startswith("dial.")}
    conf = Conference(name=name, **{k: v for k, v in changes.items() if not k.startswith("dial.")})
    return Dial(conference=conf, **dial_fields)


def test_every_valid_sample_is_a_known_parameter():
    assert set(VALID) == {p.wire for p in pp.PARAMS}
    assert {n for n, _ in MODEL} <= set(VALID)


def test_no_parameters_builds_twilios_defaults():
    req = pp.parse(form())
    assert req.dial("Room") == Dial(conference=Conference(name="Room")) == expected()
    assert req.dial("Room").time_limit == 14400 and req.dial("Room").conference.record == "do-not-record"
    assert (req.from_, req.to, req.options) == ("+15550001111", "sip:bob@example.com", {})


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in VALID.items() for v in vs])
def test_each_parameter_alone_sets_what_it_means(name, value):
    req = pp.parse(form((name, value)))
    assert req.dial("Room") == expected(**MODEL.get((name, value), {}))
    assert list(req.options) == [pp.Param(name, None).key]


def test_all_parameters_together_and_coaching():
    pairs = [(n, vs[-1]) for n, vs in VALID.items() if n != "Coaching"] + [("Coaching", "true")]
    dial = pp.parse(form(*pairs)).dial("Team")
    assert dial.conference.coach == CA and dial.conference.name == "Team" and dial.time_limit == 86400
    assert (dial.conference.muted, dial.conference.beep, dial.conference.record) == (False, "onExit", "do-not-record")


def test_repeated_event_parameters_keep_document_order():
    f = form(("ConferenceStatusCallbackEvent", "join"), ("ConferenceStatusCallbackEvent", "leave start"))
    assert pp.parse(f).dial("R").conference.status_callback_event == ("join", "leave", "start")


def _error(f):
    with pytest.raises(ApiError) as info:
        pp.parse(f)
    return info.value.status, info.value.code


@pytest.mark.parametrize("name,value", sorted(BAD.items()))
def test_bad_values_are_400s(name, value):
    assert _error(form((name, value))) == (400, BAD_CODE.get(name, INVALID_PARAMETER))


@pytest.mark.parametrize("pairs,code", [
    ([("To", "+1555")], FROM_MISSING), ([("From", "+1555")], TO_MISSING), ([], TO_MISSING),
    (BASE + [("Coaching", "true")], INVALID_PARAMETER),
])
def test_missing_from_to_and_coaching_without_a_call(pairs, code):
    assert _error(MultiDict(pairs)) == (400, code)
