"""TwiML written by the official ``twilio`` package parses back to the values it was given.

Every keyword ``VoiceResponse().dial().conference(...)`` offers is covered (the test fails when a twilio
release adds one we do not map), plus the Dial keywords that matter with a Conference and the wait verbs.
"""
import inspect

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml.voice_response import Dial, VoiceResponse

from fsbridge.markup import parse
from fsbridge.markup.model import Hangup, Pause, Play, Redirect, Say

SID = "CA" + "0123456789abcdef" * 2

#: keyword → (value given to twilio-python, value expected in the model)
CONFERENCE_SAMPLES = {
    "muted": (True, True),
    "beep": ("onExit", "onExit"),
    "start_conference_on_enter": (False, False),
    "end_conference_on_exit": (True, True),
    "wait_url": ("https://example.com/wait?a=1&b=2", "https://example.com/wait?a=1&b=2"),
    "wait_method": ("GET", "GET"),
    "max_participants": (12, 12),
    "record": ("record-from-start", "record-from-start"),
    "recording_configuration_id": ("JF0001", "JF0001"),
    "region": ("au1", "au1"),
    "coach": (SID, SID),
    "trim": ("do-not-trim", "do-not-trim"),
    "status_callback_event": ("start end join leave", ("start", "end", "join", "leave")),
    "status_callback": ("https://example.com/events", "https://example.com/events"),
    "status_callback_method": ("GET", "GET"),
    "recording_status_callback": ("/rec", "/rec"),
    "recording_status_callback_method": ("GET", "GET"),
    "recording_status_callback_event": ("in-progress absent", ("in-progress", "absent")),
    "event_callback_url": ("/legacy", "/legacy"),
    "jitter_buffer_size": ("medium", "medium"),
    "participant_label": ("coach <1> & \"co\"", "coach <1> & \"co\""),
}

DIAL_SAMPLES = {
    "action": ("/after?x=1&y=2", "/after?x=1&y=2"),
    "method": ("GET", "GET"),
    "hangup_on_star": (True, True),
    "time_limit": (30, 30),
    "caller_id": ("+15551230000", "+15551230000"),
    "timeout": (15, 15),
    "record": ("record-from-answer", "record-from-answer"),
}


def keywords(function):
    return [p for p in inspect.signature(function).parameters if p not in ("self", "name", "kwargs", "number")]


def test_every_conference_keyword_is_sampled():
    assert sorted(keywords(Dial.conference)) == sorted(CONFERENCE_SAMPLES)


def test_every_conference_keyword_round_trips_alone_and_together():
    for keyword, (given_value, expected) in CONFERENCE_SAMPLES.items():
        vr = VoiceResponse()
        vr.dial().conference("Room 1234", **{keyword: given_value})
        response = parse(str(vr), "twiml")
        assert response.warnings == (), keyword
        assert getattr(response.verbs[0].conference, keyword) == expected, keyword
    vr = VoiceResponse()
    vr.dial(**{k: v for k, (v, _) in DIAL_SAMPLES.items()}).conference(
        "Room 1234", **{k: v for k, (v, _) in CONFERENCE_SAMPLES.items()})
    response = parse(vr.to_xml().encode(), "twiml")
    assert response.warnings == ()
    (dial,) = response.verbs
    assert {k: getattr(dial.conference, k) for k in CONFERENCE_SAMPLES} == {
        k: e for k, (_, e) in CONFERENCE_SAMPLES.items()}
    assert {k: getattr(dial, k) for k in DIAL_SAMPLES} == {k: e for k, (_, e) in DIAL_SAMPLES.items()}


def test_other_dial_keywords_are_accepted_without_warning():
    samples = {"trim": "trim-silence", "recording_status_callback": "/r", "recording_configuration_id": "JF1",
               "recording_status_callback_method": "GET", "recording_status_callback_event": "completed",
               "answer_on_bridge": True, "ring_tone": "us", "recording_track": "both", "sequential": True,
               "refer_url": "/refer", "refer_method": "GET", "events": "call-progress-events",
               "passports": "abc"}
    assert sorted(set(keywords(VoiceResponse.dial)) - set(DIAL_SAMPLES)) == sorted(samples)
    vr = VoiceResponse()
    vr.dial(**samples).conference("Room")
    response = parse(str(vr), "twiml")
    assert response.warnings == () and response.verbs[0].conference.name == "Room"


def test_wait_verbs_round_trip():
    vr = VoiceResponse()
    vr.say("Please wait", voice="Polly.Amy", loop=3, language="en-GB")
    vr.play("https://example.com/m.mp3", loop=0)
    vr.play(digits="ww1234#")
    vr.pause(length=4)
    vr.redirect("/wait", method="GET")
    vr.hangup()
    response = parse(str(vr), "twiml")
    assert response.warnings == ()
    assert response.verbs == (Say("Please wait", "Polly.Amy", "en-GB", 3), Play("https://example.com/m.mp3", 0),
                              Play("", 1, "ww1234#"), Pause(4.0), Redirect("/wait", "GET"), Hangup())



NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                min_size=1, max_size=40)
BOOLS = ("muted", "start_conference_on_enter", "end_conference_on_exit")


@settings(max_examples=60, deadline=None)
@given(name=NAMES,
       chosen=st.dictionaries(st.sampled_from(sorted(CONFERENCE_SAMPLES)), st.booleans()),
       flags=st.fixed_dictionaries({k: st.booleans() for k in BOOLS}),
       max_participants=st.integers(1, 250),
       beep=st.sampled_from([True, False, "onEnter", "onExit"]))
def test_random_valid_combinations_round_trip(name, chosen, flags, max_participants, beep):
    kwargs, expected = {}, {}
    for keyword in chosen:
        kwargs[keyword], expected[keyword] = CONFERENCE_SAMPLES[keyword]
    kwargs.update(flags, max_participants=max_participants, beep=beep)
    expected.update(flags, max_participants=max_participants, beep=str(beep).lower() if isinstance(beep, bool)
                    else beep)
    vr = VoiceResponse()
    vr.dial().conference(name, **kwargs)
    response = parse(str(vr), "twiml")
    assert response.warnings == ()
    conference = response.verbs[0].conference
    assert conference.name == name.strip()
    assert {k: getattr(conference, k) for k in expected} == expected
