"""Quality metrics from a live FreeSWITCH (issue 22): a SIPp phone streams PCMU into a conference through
FreeSWITCH's dialplan and fsbridge, hangs up, and the Insights Participant Summary (read with the official
twilio SDK) carries the ``rtp_audio_in_*`` statistics FreeSWITCH put on the CHANNEL_HANGUP_COMPLETE.

Marker ``freeswitch`` (needs FSBRIDGE_TEST_ESL, as the other live tests; FSBRIDGE_TEST_SOCKET for the
dialplan's socket address) and besides: FSBRIDGE_TEST_SIP=host:port (FreeSWITCH's SIP profile),
FSBRIDGE_TEST_SIP_AUTH=user:password (a directory user) and the ``sipp`` binary; skipped otherwise. The
scenario is the recorded fixtures' ../shared/fixtures/freeswitch/sipp/uac_auth_rtp_bye.xml.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import gevent.event
import pytest
from flask import Flask
from twilio.rest import Client

from fixtures.callbacks import free_port
from fsbridge.config import Number
from fsbridge.engines.freeswitch import FreeSwitchEngine
from fsbridge.local import HttpApp, start_bridge

pytestmark = pytest.mark.freeswitch

AC, TOKEN = "AC" + "6" * 32, "live-insights-token"
SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "freeswitch" / "sipp" / "uac_auth_rtp_bye.xml"


def test_live_rtp_statistics_become_participant_metrics(tmp_path):
    sip, auth = os.environ.get("FSBRIDGE_TEST_SIP"), os.environ.get("FSBRIDGE_TEST_SIP_AUTH")
    if not (sip and auth and shutil.which("sipp") and SCENARIO.exists()):
        pytest.skip("needs FSBRIDGE_TEST_SIP, FSBRIDGE_TEST_SIP_AUTH, sipp and the SIPp fixture scenario")
    host, port, password = os.environ["FSBRIDGE_TEST_ESL"].rsplit(":", 2)
    sock_host, sock_port = os.environ.get("FSBRIDGE_TEST_SOCKET", "127.0.0.1:8084").rsplit(":", 1)
    number = os.environ.get("FSBRIDGE_TEST_NUMBER", "7200")
    app = Flask("live-insights-app")

    @app.post("/voice")
    def voice():
        return ('<Response><Dial><Conference beep="false">insights-live</Conference></Dial></Response>', 200,
                {"Content-Type": "text/xml"})

    customer = HttpApp(app).start()
    engine = FreeSwitchEngine(host, int(port), password, outbound_host=sock_host, outbound_port=int(sock_port),
                              command_timeout=5, reconnect_backoff=0.1, max_backoff=1)
    server = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                          numbers=[Number(number, AC, customer.url + "/voice")], engine=engine, fetch_timeout=5.0)
    kept = []
    done = gevent.event.Event()
    server.bridge.quality_listeners.append(lambda *args: (kept.append(args), done.set()))
    engine.set_call_handler(server.bridge.on_call)
    try:
        assert engine.wait_connected(10)
        (tmp_path / "speech-gap.ulaw").write_bytes(b"\xff" * 8000 * 3)   # 3 s of PCMU silence, looped
        user, secret = auth.split(":", 1)
        phone = subprocess.Popen(
            ["sipp", sip, "-sf", str(SCENARIO), "-s", number, "-i", "127.0.0.1", "-p", str(free_port()),
             "-mi", "127.0.0.1", "-mp", str(free_port()), "-au", user, "-ap", secret, "-m", "1", "-l", "1",
             "-nostdin", "-d", "4000", "-timeout", "30s"], cwd=tmp_path, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            assert done.wait(30), "no CHANNEL_HANGUP_COMPLETE of a conference call"
        finally:
            phone.wait(30)
        account, cf, call_sid, q = kept[0]
        assert account == AC and q is not None and q.source == "freeswitch"
        client = Client(AC, TOKEN)
        client.insights.base_url = server.base_url
        got = client.insights.v1.conferences(cf).conference_participants(call_sid).fetch()
        inbound = got.metrics["inbound"]
        assert inbound["total_packets_received"] >= 100        # ≈ 50 packets/s for ≈ 4 s
        assert inbound["total_packets_lost"] == 0 and inbound["packet_loss_percentage"] == 0.0
        assert 3.5 <= inbound["mos"] <= 4.5 and inbound["jitter"]["max"] is not None
        print("live metrics:", got.metrics)
    finally:
        server.stop()
        customer.stop()
