"""Participant quality metrics (issue 22): the standalone engine's jitter buffer + emulated network become
quality figures that move with a lossy / jittery network; FreeSWITCH's ``rtp_audio_in_*`` variables of a
recorded CHANNEL_HANGUP_COMPLETE become the same figures (mapping unit) and, through the bridge on the fake
FreeSWITCH, the Insights Participant Summary ``metrics`` read with the official twilio SDK."""

import gevent.event
import pytest

from fakes.esl import recorded_events
from fsbridge.conference import native as N
from fsbridge.engines.freeswitch import esl_parse
from fsbridge.engines.freeswitch.mapping import EventMapper
from fsbridge.engines.standalone.netem import NetEm
from fsbridge.engines.standalone.jitter import JitterBuffer
from fsbridge.engines.standalone.quality import mos, quality_extras
from fsbridge.store.quality import CallQuality, parse_extra
from fsbridge.wire import insights as wi

from test_standalone_jitter import speaker_and_listener

HANGUP_FIXTURE = "outbound/basic.inbound_monitor.esl.txt"


def _standalone_quality(network):
    """One caller over ``network`` (medium jitter buffer) and a listener, 3 s; the caller's quality."""
    natives = []
    eng, spk, lis = speaker_and_listener(network, 40, natives.append)
    eng.run_for(3.0)
    spk.hangup()
    lis.hangup()
    eng.flush()
    hangups = {e.unique_id: e for e in natives if e.action == N.CHANNEL_HANGUP_COMPLETE}
    assert parse_extra(hangups["CAlis"].extra, wi.QUALITY_EXTRAS, "") is None   # no network: no measurement
    q = parse_extra(hangups["CAspk"].extra, wi.QUALITY_EXTRAS, dict(hangups["CAspk"].extra)[wi.Q_SOURCE])
    assert q is not None and q.source == "standalone"
    return q


def test_standalone_metrics_move_with_an_emulated_lossy_network():
    clean = _standalone_quality(NetEm(delay_ms=30, jitter_ms=0, seed=3))
    lossy = _standalone_quality(NetEm(delay_ms=30, jitter_ms=40, loss=0.1, seed=3))
    assert clean.packets_lost == 0 and clean.loss_percentage == 0.0
    assert clean.packets_received >= 140                       # ≈ 150 packets of 20 ms in 3 s
    assert clean.jitter_max_ms == 0.0 and 30 <= clean.latency_avg_ms <= 40   # tick-quantised 30 ms delay
    assert clean.mos >= 4.3
    assert 5.0 <= lossy.loss_percentage <= 25.0                # ≈ 10 % lost (+ a few late)
    assert lossy.jitter_avg_ms > 5.0 and lossy.jitter_max_ms > lossy.jitter_avg_ms
    assert lossy.latency_max_ms > clean.latency_max_ms
    assert lossy.mos < clean.mos - 0.5


def test_no_packet_arrived_means_no_jitter_latency_or_mos_rather_than_zero():
    net = NetEm(delay_ms=30, loss=1.0, seed=1)
    got = dict(quality_extras(net, JitterBuffer(40)))
    assert got[wi.Q_PACKETS_RECEIVED] == "0"
    assert not {wi.Q_JITTER_AVG_MS, wi.Q_JITTER_MAX_MS, wi.Q_LATENCY_AVG_MS, wi.Q_MOS} & set(got), got


def test_e_model_mos_is_monotonic():
    assert mos(20, 0, 0) == pytest.approx(4.4, abs=0.05)
    assert mos(20, 0, 0) > mos(20, 30, 0) > mos(20, 30, 5) > mos(400, 30, 5) >= 1.0


def test_freeswitch_rtp_variables_of_a_recorded_hangup_become_quality():
    raw = next(r for r in recorded_events(HANGUP_FIXTURE) if b"CHANNEL_HANGUP_COMPLETE" in r)
    ev = esl_parse.parse_message(raw).event
    native = EventMapper().map(ev)[0]
    assert native.action == N.CHANNEL_HANGUP_COMPLETE
    q = parse_extra(native.extra, wi.QUALITY_EXTRAS, "freeswitch")
    assert q == CallQuality(packets_received=int(ev.get("variable_rtp_audio_in_media_packet_count")),
                            packets_lost=int(ev.get("variable_rtp_audio_in_flaw_total")),
                            jitter_max_ms=float(ev.get("variable_rtp_audio_in_jitter_max_variance")),
                            mos=float(ev.get("variable_rtp_audio_in_mos")), source="freeswitch")
    assert (q.packets_received, q.packets_lost, q.jitter_max_ms, q.mos) == (429, 0, 86.10, 4.50)


def test_fake_freeswitch_rtp_variables_become_participant_summary_metrics(tmp_path):
    """A call through the bridge on the fake FreeSWITCH hangs up with the recorded hangup's RTP variables: the
    Insights Participant Summary read with the twilio SDK has them as ``metrics.inbound``."""
    from twilio.rest import Client

    from fakes import FakeCall, FakeFreeSwitch
    from fsbridge.config import Number
    from fsbridge.engines.freeswitch import FreeSwitchEngine
    from fsbridge.local import start_bridge
    from test_freeswitch_e2e import AC, NUMBER, TOKEN, App, conference_arg

    raw = next(r for r in recorded_events(HANGUP_FIXTURE) if b"CHANNEL_HANGUP_COMPLETE" in r)
    rtp = [(k, v) for k, v in esl_parse.parse_message(raw).event.header_list if k.startswith("variable_rtp_")]
    fake, app = FakeFreeSwitch().start(), App()
    engine = FreeSwitchEngine("127.0.0.1", fake.port, "ClueCon", outbound_port=0, command_timeout=3,
                              reconnect_backoff=0.01, talk_stop_ms=0)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                          numbers=[Number(NUMBER, AC, app.url + "/voice")], engine=engine, fetch_timeout=3.0)
    kept = gevent.event.Event()
    server.bridge.quality_listeners.append(lambda *args: kept.set())
    engine.set_call_handler(server.bridge.on_call)
    try:
        assert engine.wait_connected(5)
        call = FakeCall(fake, "127.0.0.1", engine.outbound_port, uid="11111111-0000-4000-8000-00000000000a").start()
        room = conference_arg(call).split("@")[0]
        join = app.wait("participant-join")
        call.hangup(extra=rtp)
        app.wait("conference-end")
        assert kept.wait(10)
        client = Client(AC, TOKEN)
        client.insights.base_url = server.base_url
        got = client.insights.v1.conferences(room).conference_participants(join["CallSid"]).fetch()
        assert got.metrics == {"inbound": {
            "total_packets_lost": 0, "total_packets_received": 429, "packet_loss_percentage": 0.0,
            "jitter": {"avg": None, "max": 86.1}, "latency": {"avg": None, "max": None}, "mos": 4.5},
            "outbound": None}
        listed = client.insights.v1.conferences(room).conference_participants.list()
        assert [p.metrics["inbound"]["mos"] for p in listed] == [4.5]
    finally:
        server.stop()
        app.http.stop()
        fake.stop()
