"""Golden tests: every dialect × event type renders to an exact, hand-written body.

Expected bodies are written out literally (not computed by the code under test). Sources: the seeds'
parameter tables and examples (twilio-twiml-conference-noun.txt, telnyx-texml-conference.txt,
jambonz-conference-verb.txt) and jambonz-feature-server lib/tasks/conference.js.
"""
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from fsbridge.callbacks.render import render
from fsbridge.callbacks.request import RenderSettings
from fsbridge.callbacks.signing import twilio_signature
from fsbridge.conference import events as ev
from fsbridge.callbacks.subscriptions import StatusSequence
from fsbridge.conference.events import CallbackConfig, ParticipantView, RecordingView, make
from fsbridge.markup.model import Hook

T = datetime(2017, 6, 1, 20, 48, 32, 993535, tzinfo=timezone.utc)
STARTED = T - timedelta(seconds=12, milliseconds=250)
SETTINGS = RenderSettings(base_url="https://bridge.example.com:8443")
AC = "AC25e16e9a716a4a8617a7c83f58e30482"
CF = "CFe08c870b500f6e44a9ad184defd1f391"
CA = "CA25e16e9a716a4a1786a7c83f58e30482"
ALL_TWIML = ("start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement")

ALICE = ParticipantView(call_sid=CA, label="alice", muted=True, hold=False, coaching=False,
                        end_conference_on_exit=True, start_conference_on_enter=True,
                        from_="+15551230000", to="+12132045020")
REC = RecordingView(sid="RE234", status="completed", path="/tmp/r.wav", start_time=T - timedelta(seconds=6),
                    duration_s=6, file_size=90786)


def event(name, dialect="twiml", participant=ALICE, method="POST", events=ALL_TWIML, seq=7, **kw):
    cfg_kw = {k: kw.pop(k) for k in list(kw) if k in ("recording_status_callback", "recording_status_events",
                                                       "event_callback_url")}
    cfg = CallbackConfig(dialect=dialect, status_callback=Hook("https://app.example.com:8443/cb?x=1", method),
                         status_events=events, **cfg_kw)
    return make(name, account_sid=AC, conference_sid=CF, friendly_name="My Conf",
                       sequence_number=seq, timestamp=T, callbacks=cfg, member_count=3, started_at=STARTED,
                       participant=participant, **kw)


HEAD = ("ConferenceSid=CFe08c870b500f6e44a9ad184defd1f391&FriendlyName=My+Conf"
        "&AccountSid=AC25e16e9a716a4a8617a7c83f58e30482&SequenceNumber=7"
        "&Timestamp=Thu%2C+1+Jun+2017+20%3A48%3A32+%2B0000")
PART = ("&CallSid=CA25e16e9a716a4a1786a7c83f58e30482&Muted=true&Hold=false&Coaching=false"
        "&EndConferenceOnExit=true&StartConferenceOnEnter=true&ParticipantLabel=alice")

TWILIO_GOLDEN = [
    (event(ev.CONFERENCE_START, participant=None), HEAD + "&StatusCallbackEvent=conference-start"),
    (event(ev.CONFERENCE_END, participant=None, call_sid_ending_conference=CA,
           participant_label_ending_conference="alice",
           reason_conference_ended="participant-with-end-conference-on-exit-left",
           reason="Participant CA25e16e9a716a4a1786a7c83f58e30482 with endConferenceOnExit left the conference"),
     HEAD + "&StatusCallbackEvent=conference-end&CallSidEndingConference=CA25e16e9a716a4a1786a7c83f58e30482"
     "&ParticipantLabelEndingConference=alice"
     "&ReasonConferenceEnded=participant-with-end-conference-on-exit-left"
     "&Reason=Participant+CA25e16e9a716a4a1786a7c83f58e30482+with+endConferenceOnExit+left+the+conference"),
    (event(ev.PARTICIPANT_JOIN), HEAD + "&StatusCallbackEvent=participant-join" + PART),
    (event(ev.PARTICIPANT_LEAVE, participant_call_status="completed",
           reason_participant_left="participant_hung_up"),
     HEAD + "&StatusCallbackEvent=participant-leave" + PART
     + "&ParticipantCallStatus=completed&ReasonParticipantLeft=participant_hung_up"),
    (event(ev.PARTICIPANT_MUTE), HEAD + "&StatusCallbackEvent=participant-mute" + PART),
    (event(ev.PARTICIPANT_UNMUTE), HEAD + "&StatusCallbackEvent=participant-unmute" + PART),
    (event(ev.PARTICIPANT_HOLD), HEAD + "&StatusCallbackEvent=participant-hold" + PART),
    (event(ev.PARTICIPANT_UNHOLD), HEAD + "&StatusCallbackEvent=participant-unhold" + PART),
    (event(ev.PARTICIPANT_MODIFY), HEAD + "&StatusCallbackEvent=participant-modify" + PART),
    (event(ev.PARTICIPANT_SPEECH_START), HEAD + "&StatusCallbackEvent=participant-speech-start" + PART),
    (event(ev.PARTICIPANT_SPEECH_STOP), HEAD + "&StatusCallbackEvent=participant-speech-stop" + PART),
    (event(ev.ANNOUNCEMENT_END, participant=None, announce_url="https://app.example.com/hello.xml"),
     HEAD + "&StatusCallbackEvent=announcement-end&AnnounceUrl=https%3A%2F%2Fapp.example.com%2Fhello.xml"),
    (event(ev.ANNOUNCEMENT_FAIL, announce_url="https://app.example.com/x.mp3",
           reason_announcement_failed="Internal error"),
     HEAD + "&StatusCallbackEvent=announcement-fail" + PART
     + "&AnnounceUrl=https%3A%2F%2Fapp.example.com%2Fx.mp3&ReasonAnnouncementFailed=Internal+error"),
]


@pytest.mark.parametrize("evt,body", TWILIO_GOLDEN, ids=[e.name for e, _ in TWILIO_GOLDEN])
def test_twilio_status_golden_and_official_validator(evt, body):
    req = render(evt, SETTINGS)
    assert req.method == "POST" and req.content_type == "application/x-www-form-urlencoded"
    assert req.url == "https://app.example.com:8443/cb?x=1"
    assert req.body.decode() == body
    assert_validates(req)


def assert_validates(req):
    """The official twilio-python validator accepts our signature over what the receiver gets."""
    sig = twilio_signature("tok3n", req.url, req.params)
    assert RequestValidator("tok3n").validate(req.url, dict(parse_qsl(req.body.decode())), sig)
    assert not RequestValidator("wrong").validate(req.url, dict(parse_qsl(req.body.decode())), sig)


def test_twilio_coaching_participant_carries_call_sid_to_coach():
    coach = ParticipantView(call_sid="CA2", coaching=True, call_sid_to_coach=CA)
    body = render(event(ev.PARTICIPANT_JOIN, participant=coach), SETTINGS).body.decode()
    assert body.endswith("&CallSid=CA2&Muted=false&Hold=false&Coaching=true&EndConferenceOnExit=false"
                         "&StartConferenceOnEnter=true&CallSidToCoach=" + CA)


def test_twilio_get_puts_params_in_query_and_signature_is_over_full_url():
    req = render(event(ev.PARTICIPANT_JOIN, method="GET"), SETTINGS)
    assert req.method == "GET" and req.body == b"" and req.params == ()
    assert req.url == ("https://app.example.com:8443/cb?x=1&" + HEAD
                       + "&StatusCallbackEvent=participant-join" + PART)
    sig = twilio_signature("tok3n", req.url, None)
    assert RequestValidator("tok3n").validate(req.url, {}, sig)


def test_twilio_unsubscribed_and_unconfigured_events_are_skipped():
    assert render(event(ev.PARTICIPANT_MUTE, events=("join", "leave")), SETTINGS) is None
    assert render(event(ev.PARTICIPANT_JOIN, events=("join",)), SETTINGS) is not None
    nourl = dataclasses.replace(event(ev.PARTICIPANT_JOIN), callbacks=CallbackConfig(status_events=ALL_TWIML))
    assert render(nourl, SETTINGS) is None


def test_twilio_idempotency_token_stable_per_event():
    a = dict(render(event(ev.PARTICIPANT_JOIN), SETTINGS).headers)["I-Twilio-Idempotency-Token"]
    b = dict(render(event(ev.PARTICIPANT_JOIN), SETTINGS).headers)["I-Twilio-Idempotency-Token"]
    c = dict(render(event(ev.PARTICIPANT_JOIN, seq=8), SETTINGS).headers)["I-Twilio-Idempotency-Token"]
    assert a == b != c


REC_HOOK = Hook("https://app.example.com/rec")


@pytest.mark.parametrize("name,status,tail", [
    (ev.RECORDING_COMPLETED, "completed",
     "&RecordingStatus=completed&RecordingDuration=6&RecordingChannels=1"
     "&RecordingStartTime=Thu%2C+1+Jun+2017+20%3A48%3A26+%2B0000&RecordingSource=Conference"),
    (ev.RECORDING_IN_PROGRESS, "in-progress",
     "&RecordingStatus=in-progress&RecordingChannels=1"
     "&RecordingStartTime=Thu%2C+1+Jun+2017+20%3A48%3A26+%2B0000&RecordingSource=Conference"),
    (ev.RECORDING_ABSENT, "absent", "&RecordingStatus=absent&RecordingChannels=1&RecordingSource=Conference"),
])
def test_twilio_recording_status_callback_golden(name, status, tail):
    rec = REC if status == "completed" else RecordingView(
        sid="RE234", status=status, start_time=REC.start_time if status == "in-progress" else None)
    evt = event(name, participant=None, recording=rec, recording_status_callback=REC_HOOK,
                recording_status_events=("in-progress", "completed", "absent"))
    req = render(evt, SETTINGS)
    assert req.url == "https://app.example.com/rec"
    assert req.body.decode() == (
        "AccountSid=AC25e16e9a716a4a8617a7c83f58e30482&ConferenceSid=CFe08c870b500f6e44a9ad184defd1f391"
        "&RecordingSid=RE234&RecordingUrl=https%3A%2F%2Fbridge.example.com%3A8443%2F2010-04-01%2FAccounts%2F"
        "AC25e16e9a716a4a8617a7c83f58e30482%2FConferences%2FCFe08c870b500f6e44a9ad184defd1f391"
        "%2FRecordings%2FRE234" + tail)
    assert_validates(req)


def test_twilio_recording_events_filtered_by_recording_status_events():
    evt = event(ev.RECORDING_IN_PROGRESS, participant=None, recording=REC, recording_status_callback=REC_HOOK)
    assert render(evt, SETTINGS) is None  # default recordingStatusCallbackEvent = completed only


def test_twilio_conference_record_end_only_without_recording_status_callback():
    evt = event(ev.CONFERENCE_RECORD_END, participant=None, recording=REC,
                event_callback_url="https://app.example.com/events")
    req = render(evt, SETTINGS)
    assert req.method == "POST" and req.url == "https://app.example.com/events"
    assert req.body.decode() == (
        HEAD + "&EventName=conference-record-end&RecordingUrl=https%3A%2F%2Fbridge.example.com%3A8443"
        "%2F2010-04-01%2FAccounts%2FAC25e16e9a716a4a8617a7c83f58e30482%2FConferences%2F"
        "CFe08c870b500f6e44a9ad184defd1f391%2FRecordings%2FRE234&Duration=6&RecordingFileSize=90786")
    assert_validates(req)
    both = event(ev.CONFERENCE_RECORD_END, participant=None, recording=REC,
                 event_callback_url="https://app.example.com/events", recording_status_callback=REC_HOOK)
    assert render(both, SETTINGS) is None


# ---------------------------------------------------------------------------------------------- Telnyx
TX = ("AccountSid=AC25e16e9a716a4a8617a7c83f58e30482&CallSid={c}&CallSidLegacy={c}"
      "&ConferenceSid=CFe08c870b500f6e44a9ad184defd1f391&FriendlyName=My+Conf&From={f}&SequenceNumber=7"
      "&StatusCallbackEvent={e}&Timestamp=2017-06-01+20%3A48%3A32.993535Z&To={t}")
TELNYX_ALL = ("start", "end", "join", "leave", "speaker")


@pytest.mark.parametrize("name,participant,expected", [
    (ev.PARTICIPANT_JOIN, ALICE, TX.format(c=CA, f="%2B15551230000", e="participant-join", t="%2B12132045020")),
    (ev.PARTICIPANT_LEAVE, ALICE, TX.format(c=CA, f="%2B15551230000", e="participant-leave", t="%2B12132045020")),
    (ev.PARTICIPANT_SPEECH_START, ALICE,
     TX.format(c=CA, f="%2B15551230000", e="participant-speech-start", t="%2B12132045020")),
    (ev.PARTICIPANT_SPEECH_STOP, ALICE,
     TX.format(c=CA, f="%2B15551230000", e="participant-speech-stop", t="%2B12132045020")),
    (ev.CONFERENCE_START, ALICE, TX.format(c=CA, f="%2B15551230000", e="conference-start", t="%2B12132045020")),
    (ev.CONFERENCE_END, None, TX.format(c="", f="", e="conference-end", t="")),
])
def test_telnyx_golden(name, participant, expected):
    req = render(event(name, dialect="texml", participant=participant, events=TELNYX_ALL), SETTINGS)
    assert req.content_type == "application/x-www-form-urlencoded"
    assert req.body.decode() == expected
    assert [k for k, _ in req.params] == ["AccountSid", "CallSid", "CallSidLegacy", "ConferenceSid", "FriendlyName",
                                          "From", "SequenceNumber", "StatusCallbackEvent", "Timestamp", "To"]


def test_telnyx_does_not_report_mute_hold_or_announcements():
    for name in (ev.PARTICIPANT_MUTE, ev.PARTICIPANT_HOLD, ev.PARTICIPANT_MODIFY, ev.ANNOUNCEMENT_END):
        assert render(event(name, dialect="texml", events=ALL_TWIML), SETTINGS) is None


def test_telnyx_recording_url_is_the_wav_file():
    evt = event(ev.RECORDING_COMPLETED, dialect="texml", participant=None, recording=REC,
                recording_status_callback=REC_HOOK)
    params = dict(render(evt, SETTINGS).params)
    assert params["RecordingUrl"] == ("https://bridge.example.com:8443/2010-04-01/Accounts/"
                                      f"{AC}/Conferences/{CF}/Recordings/RE234.wav")
    assert params["RecordingStatus"] == "completed"


# ---------------------------------------------------------------------------------------------- jambonz
JZ_ALL = ("start", "end", "join", "leave", "start-talking", "end-talking")
JZ_TAIL = ('"conference_sid":"CFe08c870b500f6e44a9ad184defd1f391","friendly_name":"My Conf",'
           '"call_sid":"CA25e16e9a716a4a1786a7c83f58e30482","from":"+15551230000","to":"+12132045020",'
           '"call_id":"CA25e16e9a716a4a1786a7c83f58e30482","sip_status":200,"sip_reason":"OK",'
           '"call_status":"in-progress","account_sid":"AC25e16e9a716a4a8617a7c83f58e30482"}')


@pytest.mark.parametrize("name,expected", [
    (ev.CONFERENCE_START, '{"event":"start","duration":12.25,"time":"2017-06-01T20:48:32.993Z","members":3,' + JZ_TAIL),
    (ev.PARTICIPANT_JOIN, '{"event":"join","duration":12.25,"time":"2017-06-01T20:48:32.993Z","members":3,' + JZ_TAIL),
    (ev.PARTICIPANT_LEAVE, '{"event":"leave","duration":12.25,"time":"2017-06-01T20:48:32.993Z","members":3,' + JZ_TAIL),
    (ev.CONFERENCE_END, '{"event":"end","duration":12.25,"time":"2017-06-01T20:48:32.993Z","members":3,' + JZ_TAIL),
    (ev.PARTICIPANT_SPEECH_START,
     '{"time":"2017-06-01T20:48:32.993Z","members":3,"event":"start-talking","duration":12.25,' + JZ_TAIL),
    (ev.PARTICIPANT_SPEECH_STOP,
     '{"time":"2017-06-01T20:48:32.993Z","members":3,"event":"stop-talking","duration":12.25,' + JZ_TAIL),
])
def test_jambonz_golden(name, expected):
    req = render(event(name, dialect="jambonz", events=JZ_ALL), SETTINGS)
    assert req.method == "POST" and req.content_type == "application/json"
    assert req.body.decode() == expected
    json.loads(req.body)


def test_jambonz_subscription_accepts_both_talk_stop_words_and_docs_name_is_selectable():
    evt = event(ev.PARTICIPANT_SPEECH_STOP, dialect="jambonz", events=("stop-talking",))
    assert render(evt, SETTINGS) is not None
    assert render(event(ev.PARTICIPANT_SPEECH_STOP, dialect="jambonz", events=("join",)), SETTINGS) is None
    docs = RenderSettings(jambonz_stop_talking="end-talking")
    assert json.loads(render(evt, docs).body)["event"] == "end-talking"


def test_jambonz_whole_duration_is_an_integer_and_conference_events_without_call():
    evt = make(ev.CONFERENCE_END, account_sid=AC, conference_sid=CF, friendly_name="r",
                      sequence_number=1, timestamp=T, started_at=T - timedelta(seconds=5),
                      callbacks=CallbackConfig(dialect="jambonz", status_callback=Hook("http://h/cb"),
                                               status_events=("end",)))
    assert render(evt, SETTINGS).body == (
        b'{"event":"end","duration":5,"time":"2017-06-01T20:48:32.993Z","members":0,'
        b'"conference_sid":"CFe08c870b500f6e44a9ad184defd1f391","friendly_name":"r",'
        b'"account_sid":"AC25e16e9a716a4a8617a7c83f58e30482"}')


def test_jambonz_skips_events_it_does_not_report():
    for name in (ev.PARTICIPANT_MUTE, ev.PARTICIPANT_HOLD, ev.RECORDING_COMPLETED):
        assert render(event(name, dialect="jambonz", events=JZ_ALL + ALL_TWIML, recording=REC,
                            recording_status_callback=REC_HOOK), SETTINGS) is None


def test_jambonz_get_hook_uses_query_string():
    req = render(event(ev.PARTICIPANT_JOIN, dialect="jambonz", events=JZ_ALL, method="GET"), SETTINGS)
    q = dict(parse_qsl(urlsplit(req.url).query))
    assert req.method == "GET" and q["x"] == "1" and q["event"] == "join" and q["conference_sid"] == CF


def test_unknown_dialect_is_an_error():
    with pytest.raises(ValueError):
        render(event(ev.PARTICIPANT_JOIN, dialect="nope"), SETTINGS)



@pytest.mark.parametrize("dialect", ["twiml", "texml"])
def test_sequence_number_is_the_status_callback_count_when_the_domain_sets_it(dialect):
    """SequenceNumber = the dispatcher's StatusSequence count (the gap-free 1..N count of what the
    statusCallback receives); the history ordinal is only the fallback when rendered without a counter."""
    events = ("start", "end", "join", "leave", "speaker")

    def seq_of(e, sequence=None):
        req = render(e, SETTINGS, sequence)
        return dict(parse_qsl(req.body.decode() if req.body else urlsplit(req.url).query))["SequenceNumber"]

    assert seq_of(event(ev.PARTICIPANT_JOIN, dialect=dialect, events=events, seq=9), StatusSequence({CF: 3})) == "4"
    assert seq_of(event(ev.PARTICIPANT_JOIN, dialect=dialect, events=events, seq=9)) == "9"
