"""Unit tests of the call runtime's pieces: the markup fetch (signatures checked with twilio's
RequestValidator, Twilio error codes), request parameters per dialect, media URLs of virtual calls, DTMF
specs, engine-time timers, the verb registry. Real HTTP servers (pytest-httpserver) on port 0."""
from __future__ import annotations

import json

import gevent
import gevent.event
import pytest
from twilio.request_validator import RequestValidator
from werkzeug.wrappers import Response as WzResponse

from fsbridge.callbacks import signing
from fsbridge.markup import model as m
from fsbridge.runtime import params
from fsbridge.runtime.bridge import is_media_url, source_ref
from fsbridge.api.calls import parse_dtmf, parse_send_digits
from fsbridge.runtime.fetch import Credentials, FetchError, Fetcher
from fsbridge.runtime.media import MediaResolver, local_path, silence
from fsbridge.runtime.tasks.registry import TASKS, WAIT_VERBS

AC = "AC" + "1" * 32
CALL = params.CallInfo("CA" + "2" * 32, AC, "+15551110000", "+15552220000")


def test_twilio_voice_request_is_signed_and_complete(httpserver):
    httpserver.expect_request("/voice", method="POST").respond_with_data(
        "<Response/>", content_type="text/xml")
    url = httpserver.url_for("/voice")
    got = Fetcher().fetch_markup(url, "POST", params.voice_params("twiml", CALL), dialect="twiml",
                                 credentials=Credentials(auth_token="tok"))
    assert got.status == 200 and got.content_type == "text/xml" and got.body == b"<Response/>"
    req, _ = httpserver.log[0]
    form = req.form.to_dict()
    assert form == {"CallSid": CALL.call_sid, "AccountSid": AC, "From": CALL.from_, "To": CALL.to,
                    "Caller": CALL.from_, "Called": CALL.to, "CallStatus": "ringing", "Direction": "inbound",
                    "ApiVersion": "2010-04-01"}
    assert RequestValidator("tok").validate(url, form, req.headers["X-Twilio-Signature"])
    assert not RequestValidator("other").validate(url, form, req.headers["X-Twilio-Signature"])


def test_get_request_signs_the_query_string(httpserver):
    httpserver.expect_request("/wait", method="GET").respond_with_data("<Response/>", content_type="text/xml")
    url = httpserver.url_for("/wait")
    Fetcher().fetch_markup(url, "GET", {"CallSid": "CA1", "A": "b c"}, credentials=Credentials(auth_token="tok"))
    req, _ = httpserver.log[0]
    assert req.args.to_dict() == {"CallSid": "CA1", "A": "b c"}
    assert RequestValidator("tok").validate(req.url, {}, req.headers["X-Twilio-Signature"])


def test_jambonz_request_is_json_and_signed(httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("[]", content_type="application/json")
    Fetcher().fetch_markup(httpserver.url_for("/hook"), "POST", params.voice_params("jambonz", CALL),
                           dialect="jambonz", credentials=Credentials(jambonz_secret="s3cret"))
    req, _ = httpserver.log[0]
    body = req.get_data()
    assert json.loads(body)["call_sid"] == CALL.call_sid and json.loads(body)["from"] == CALL.from_
    assert signing.jambonz_verify("s3cret", req.headers[signing.JAMBONZ_SIGNATURE_HEADER], body)


@pytest.mark.parametrize("status", [404, 500, 503])
def test_error_status_is_11200(httpserver, status):
    httpserver.expect_request("/voice").respond_with_data("no", status=status)
    with pytest.raises(FetchError) as err:
        Fetcher().fetch_markup(httpserver.url_for("/voice"))
    assert err.value.code == 11200 and err.value.status == status


def test_timeout_is_11200_connection_refused_11205_bad_url_11100(httpserver):
    release = gevent.event.Event()

    def slow(_request):
        release.wait(5)
        return WzResponse("<Response/>", content_type="text/xml")
    httpserver.expect_request("/slow").respond_with_handler(slow)
    try:
        with pytest.raises(FetchError) as err:
            Fetcher(timeout_s=0.3).fetch_markup(httpserver.url_for("/slow"))
        assert err.value.code == 11200
    finally:
        release.set()
    with pytest.raises(FetchError) as err:
        Fetcher().fetch_markup("http://127.0.0.1:9/voice")        # discard port: nobody listens
    assert err.value.code == 11205
    with pytest.raises(FetchError) as err:
        Fetcher().fetch_markup("ftp://example.com/voice")
    assert err.value.code == 11100


def test_body_that_stalls_is_11200(httpserver):
    """Headers arrive, then the body stops: the read timeout while streaming it is 11200, not 11205."""
    release = gevent.event.Event()

    def stalled(_request):
        def body():
            yield b"<Response>"
            release.wait(5)
            yield b"</Response>"
        return WzResponse(body(), content_type="text/xml")
    httpserver.expect_request("/stall").respond_with_handler(stalled)
    try:
        with pytest.raises(FetchError) as err:
            Fetcher(timeout_s=0.3).fetch_markup(httpserver.url_for("/stall"))
        assert err.value.code == 11200, err.value.message
    finally:
        release.set()


def test_body_over_64kb_is_11750(httpserver):
    httpserver.expect_request("/big").respond_with_data("x" * (64 * 1024 + 1), content_type="text/xml")
    with pytest.raises(FetchError) as err:
        Fetcher().fetch_markup(httpserver.url_for("/big"))
    assert err.value.code == 11750


def test_play_downloads_once_into_the_cache(httpserver, tmp_path):
    httpserver.expect_request("/a.wav").respond_with_data(b"RIFFdata", content_type="audio/wav")
    media = MediaResolver(str(tmp_path / "cache"))
    first = media.play(httpserver.url_for("/a.wav"))
    again = media.play(httpserver.url_for("/a.wav"))
    assert first == again and first.endswith(".wav") and open(first, "rb").read() == b"RIFFdata"
    assert len(httpserver.log) == 1
    assert media.play(first) == first and media.play("silence_stream://500") == "silence_stream://500"
    for local in ("file:///x/y.wav", "/etc/passwd", "file:" + first + "/../../../etc/passwd"):
        with pytest.raises(FetchError) as info:      # markup never plays host files (#14)
            media.play(local)
        assert info.value.code == 11100
    assert silence(1.5) == "silence_stream://1500" and local_path("http://x/y") is None
    # two calls asking for the same new URL at once: one download; no per-URL lock is kept afterwards
    httpserver.expect_request("/b.wav").respond_with_data(b"RIFFb", content_type="audio/wav")
    both = [gevent.spawn(media.play, httpserver.url_for("/b.wav")) for _ in range(2)]
    gevent.joinall(both, raise_error=True)
    assert both[0].value == both[1].value and len(httpserver.log) == 2
    assert media._locks == {}


def test_say_renders_a_wav(tmp_path):
    import soundfile as sf
    from fsbridge.engines.standalone.engine import StandaloneEngine
    ref = MediaResolver(str(tmp_path / "cache"), say=StandaloneEngine(rate=16000).render_say).say(
        "hello there", "woman", "en-US")
    info = sf.info(ref)
    assert info.samplerate == 16000 and 0.3 < info.duration < 5


def test_dial_action_and_texml_parameters():
    body = params.dial_action_params("twiml", CALL, dial_status="completed", duration_s=7, conference_sid="CF1")
    assert body["DialCallStatus"] == "completed" and body["DialCallDuration"] == "7"
    assert body["ConferenceSid"] == "CF1" and body["CallSid"] == CALL.call_sid
    texml = params.voice_params("texml", CALL)
    assert texml["CallSidLegacy"] == CALL.call_sid and "ApiVersion" not in texml
    j = params.dial_action_params("jambonz", CALL, dial_status="completed", duration_s=3, conference_sid="CF2")
    assert j == params.voice_params("jambonz", CALL)   # jambonz: the actionHook body is the CallInfo alone


def test_media_urls_of_virtual_calls():
    assert source_ref("file:/tmp/a.wav") == "/tmp/a.wav" == source_ref("file:///tmp/a.wav")
    assert source_ref("tone:440") == "tone_stream://%(1000,0,440)"
    assert source_ref("tone:%(100,100,350,440)") == "tone_stream://%(100,100,350,440)"
    assert source_ref("silence:") == "silence_stream://-1"
    assert is_media_url("tone:1") and is_media_url("/a.wav") and not is_media_url("+15551230000")
    with pytest.raises(ValueError):
        source_ref("+15551230000")


def test_dtmf_specs():
    assert parse_dtmf("*@4,12#@7.5") == (("*", 4.0), ("12#", 7.5))
    assert parse_send_digits("ww1w2") == (("1", 1.0), ("2", 1.6))
    with pytest.raises(ValueError):
        parse_dtmf("12")
    with pytest.raises(ValueError):
        parse_send_digits("x")


def test_one_task_per_verb():
    assert set(TASKS) == {m.Say, m.Play, m.Pause, m.Redirect, m.Hangup, m.Dial, m.Conference, m.Gather}
    assert set(WAIT_VERBS) == {m.Play, m.Say, m.Pause, m.Redirect}


def test_timer_clock_fires_in_engine_time():
    from fsbridge.engines.standalone.timers import TimerClock
    clock = TimerClock(speed=None)
    fired = []
    clock.call_later(0.1, lambda: fired.append(clock.ticks))
    handle = clock.call_later(0.05, lambda: fired.append("cancelled"))
    handle.cancel()
    clock.run(lambda: None, max_ticks=10)
    gevent.sleep(0)
    assert fired == [5]            # 100 ms = 5 ticks of 20 ms
