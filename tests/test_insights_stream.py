"""Insights Event Stream (issue 22) through a whole bridge (standalone engine, fast clock): an account with an
``insights_webhook_url`` gets conference-summary.partial at start, one conference-participant-summary.complete
per participant after its leave (with the metrics of a caller whose audio crossed a lossy emulated network),
and conference-summary.complete at the end — CloudEvents in a JSON array, through the durable outbox,
signed as Twilio signs JSON webhooks (bodySHA256 + X-Twilio-Signature, checked with RequestValidator)."""
import json
from dataclasses import replace

from flask import Flask
from twilio.request_validator import RequestValidator

from fixtures.callbacks import Receiver
from fsbridge.app import BridgeServer
from fsbridge.config import Account, Number
from fsbridge.api.insights_stream import InsightsStream
from fsbridge.engines.standalone.netem import NetEm
from fsbridge.local import HttpApp, local_settings
from fsbridge.wire import insights as wi
from test_api_bridge import wav_bytes

AC, TOKEN, NUMBER = "AC" + "5" * 32, "stream-token", "+15550100"


def test_three_insights_events_arrive_signed_as_cloudevents(tmp_path):
    app = Flask("stream-app")

    @app.post("/voice")
    def voice():
        return ('<Response><Dial><Conference beep="false">team</Conference></Dial></Response>', 200,
                {"Content-Type": "text/xml"})

    customer, sink = HttpApp(app).start(), Receiver().start()
    settings = local_settings(str(tmp_path), accounts={AC: TOKEN}, clock="1",   # real time: the test acts
                              numbers=[Number(NUMBER, AC, customer.url + "/voice")])
    settings = replace(settings, accounts={AC: Account(AC, TOKEN, insights_webhook_url=sink.url("/insights"))})
    server = BridgeServer(settings).start()
    try:
        tone = tmp_path / "talker.wav"
        tone.write_bytes(wav_bytes(440, 10.0))
        talker = server.bridge.place_call(AC, "+15551111", NUMBER, f"file:{tone}", hangup_after_s=1.5)
        talker.leg.network = NetEm(delay_ms=30, jitter_ms=30, loss=0.1, seed=7)   # before its first frame
        listener = server.bridge.place_call(AC, "+15552222", NUMBER, "silence:")
        assert sink.wait_for(1, timeout=20)                                        # conference-summary.partial
        cf = json.loads(sink.requests[0]["body"])[0]["data"]["conference_sid"]
        server.bridge.update_participant(AC, cf, listener.call_sid, muted=True)   # → the summary's events
        assert server.bridge.wait_call(talker.call_sid, timeout=20)
        server.bridge.end_conference(AC, cf)
        assert sink.wait_for(4, timeout=20), sink.requests
        assert server.dispatcher.wait_idle(10)
    finally:
        server.stop()
        customer.stop()
        sink.stop()
    events = []
    for got in sink.requests:
        body = got["body"].decode()
        assert got["content_type"] == "application/json"
        assert RequestValidator(TOKEN).validate(got["url"], body, got["headers"]["x-twilio-signature"])
        assert not RequestValidator(TOKEN).validate(got["url"], body + " ", got["headers"]["x-twilio-signature"])
        (event,) = json.loads(body)
        assert event["specversion"] == "1.0" and event["datacontenttype"] == "application/json"
        events.append(event)
    types = [e["type"] for e in events]
    assert types[0] == wi.EVENT_CONFERENCE_PARTIAL
    assert sorted(types[1:]) == sorted([wi.EVENT_PARTICIPANT_COMPLETE] * 2 + [wi.EVENT_CONFERENCE_COMPLETE])
    partial, = (e["data"] for e in events if e["type"] == wi.EVENT_CONFERENCE_PARTIAL)
    complete, = (e["data"] for e in events if e["type"] == wi.EVENT_CONFERENCE_COMPLETE)
    assert partial["status"] == "in_progress" and partial["processing_state"] == "in_progress"
    assert complete["status"] == "completed" and complete["conference_sid"] == partial["conference_sid"]
    assert complete["max_concurrent_participants"] == 2 and "url" not in complete
    people = {e["data"]["call_sid"]: e["data"] for e in events if e["type"] == wi.EVENT_PARTICIPANT_COMPLETE}
    assert set(people) == {talker.call_sid, listener.call_sid}
    assert all(p["processing_state"] == "complete" and p["leave_time"] for p in people.values())
    lossy = people[talker.call_sid]["metrics"]["inbound"]
    assert lossy["total_packets_lost"] > 0 and 0 < lossy["packet_loss_percentage"] < 40
    assert lossy["jitter"]["max"] > 0 and lossy["mos"] < 4.3
    assert people[listener.call_sid]["metrics"] is None     # no emulated network: nothing measured
    assert list(people[listener.call_sid]["events"]) == ["mute"] and people[talker.call_sid]["events"] is None
    assert people[talker.call_sid]["properties"]["start_conference_on_enter"] is True
    assert len({e["id"] for e in events}) == 4


def test_quality_of_a_call_whose_account_has_no_sink_is_not_kept():
    stream = InsightsStream(store=None, dispatcher=None, sinks={AC: "http://sink.invalid/x", "ACnone": ""},
                            base_url="http://bridge.invalid")
    stream.on_quality("ACnone", "CF1", "CA1", None)
    stream.on_quality("ACother", "CF1", "CA2", None)
    assert stream._kept == {}
    stream.on_quality(AC, "CF1", "CA3", None)
    assert stream._kept[("CF1", "CA3")].is_set()
