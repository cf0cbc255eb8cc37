"""``fsbridge doctor`` against the fake FreeSWITCH (real TCP ESL on port 0), a real HTTP app (pytest-httpserver),
a real SQLite file and a real listening outbound socket: the all-✔ case, then one ✘ per thing that can go
wrong. FreeSWITCH's loaded configuration (xml_locate answers) comes from the stand-in vanilla tree after
``fsbridge setup freeswitch`` ran on it, expanded the way FreeSWITCH's preprocessor does."""
from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys

import pytest
from lxml import etree

from fsbridge.ops import doctor
from fs_standin import load_config, setup, write_vanilla
from fakes import FakeFreeSwitch

PASSWORD = "f" * 48
TOKEN = "t" * 32
SID = "AC" + "1" * 32
TEAM = '<?xml version="1.0"?><Response><Dial><Conference>TeamMeeting</Conference></Dial></Response>'
SOFIA = ("=================================================================================================\n"
         "Name             \tinternal\nRTP-IP           \t192.168.56.10\nExt-RTP-IP       \t203.0.113.7\n"
         "SIP-IP           \t192.168.56.10\n")
REGS = ("reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata\n"
        "1100,192.168.56.10,abc,sofia/internal/sip:1100@192.168.56.20:5060,1700000000,192.168.56.20,5060,udp,fs,\n"
        "\n1 total.\n")


def _xml(element) -> str:
    return etree.tostring(element, encoding="unicode")


@pytest.fixture
def world(tmp_path, httpserver):
    """Fake FreeSWITCH answering as a set-up vanilla tree would, an app, an outbound listener, a config."""
    write_vanilla(tmp_path / "etc" / "freeswitch")
    (tmp_path / "systemd").mkdir()
    assert setup(tmp_path, env={"FSBRIDGE_ESL_PASSWORD": PASSWORD})[0] == 0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    root = load_config(tmp_path / "etc" / "freeswitch")
    fake = FakeFreeSwitch(password=PASSWORD).start()
    confs = {c.get("name"): c for c in root.iter("configuration")}
    (dialplan,) = [s for s in root.iter("section") if s.get("name") == "dialplan"]
    fake.api_replies.update({
        "module_exists mod_conference": "true",
        "xml_locate configuration configuration name conference.conf": _xml(confs["conference.conf"]),
        "xml_locate configuration configuration name switch.conf": _xml(confs["switch.conf"]),
        "xml_locate dialplan": _xml(dialplan).replace("127.0.0.1:8084", f"127.0.0.1:{port}"),
        "sofia status profile internal": SOFIA,
        "show registrations": REGS,
    })
    httpserver.expect_request("/voice/team", method="POST").respond_with_data(TEAM, content_type="text/xml")
    config = tmp_path / "fsbridge.toml"
    config.write_text(f"""
[storage]
database_url = "sqlite:///{tmp_path / 'fsbridge.sqlite'}"
[engine]
type = "freeswitch"
rate = 16000
[freeswitch]
esl_host = "127.0.0.1"
esl_port = {fake.port}
esl_password = "{PASSWORD}"
outbound_host = "127.0.0.1"
outbound_port = {port}
[egress]
allow = ["127.0.0.0/8"]
[[accounts]]
sid = "{SID}"
auth_token = "{TOKEN}"
[[numbers]]
number = "7200"
voice_url = "{httpserver.url_for('/voice/team')}"
dialect = "twiml"
""")
    yield {"fake": fake, "config": config, "tmp": tmp_path, "http": httpserver, "dialplan": dialplan}
    fake.stop()
    listener.close()


def run_doctor(config, *extra):
    parser = argparse.ArgumentParser()
    doctor.add_arguments(parser)
    args = parser.parse_args(["--config", str(config), "--json", "--timeout", "2", *extra])
    out = io.StringIO()
    status = doctor.run(args, out=out, env={})
    report = json.loads(out.getvalue())
    return status, {c["name"]: c for c in report["checks"]}, report


def failed(config):
    status, checks, _ = run_doctor(config)
    assert status == 1
    return {name: c for name, c in checks.items() if not c["ok"]}


def test_all_pass(world):
    status, checks, report = run_doctor(world["config"])
    assert report["ok"] and status == 0, [c for c in checks.values() if not c["ok"]]
    assert set(checks) >= {"config", "database", "outbound socket", "ESL reachable", "ESL password",
                           "events subscribed", "mod_conference", "fsbridge profile", "dialplan", "RTP range",
                           "advertised address", "registered phones", "voice URL 7200", "egress"}
    assert "rate 16000" in checks["fsbridge profile"]["evidence"]
    assert "extension 'fsbridge'" in checks["dialplan"]["evidence"]
    assert "1100@192.168.56.10" in checks["registered phones"]["evidence"]
    assert "X-Twilio-Signature" in checks["voice URL 7200"]["evidence"]
    (req, _), = world["http"].log
    assert req.headers.get("X-Twilio-Signature") and req.form["To"] == "7200"   # signed like a real call
    assert any(c.startswith("event plain ") and "conference::maintenance" in c for c in world["fake"].commands)


def test_wrong_password(world):
    world["fake"].password = "something-else"
    bad = failed(world["config"])
    assert set(bad) == {"ESL password"} and "-ERR invalid" in bad["ESL password"]["evidence"]
    assert "FSBRIDGE_ESL_PASSWORD" in bad["ESL password"]["fix"]


def test_stock_password_accepted_is_still_a_failure(world):
    world["fake"].password = "ClueCon"
    world["config"].write_text(world["config"].read_text().replace(PASSWORD, "ClueCon"))
    bad = failed(world["config"])
    assert set(bad) == {"ESL password"} and "stock" in bad["ESL password"]["evidence"]


def test_esl_unreachable(world):
    world["fake"].stop()
    bad = failed(world["config"])
    assert set(bad) == {"ESL reachable"}


def test_esl_connection_closed_before_auth(world):
    """What an ACL rejection looks like from the client: the connection ends without an auth request."""
    world["fake"].accepting = False
    bad = failed(world["config"])
    assert set(bad) == {"ESL reachable"} and "did not ask for auth" in bad["ESL reachable"]["evidence"]


def test_module_missing(world):
    world["fake"].api_replies["module_exists mod_conference"] = "false"
    assert set(failed(world["config"])) == {"mod_conference"}


def test_profile_missing(world):
    """The include line absent (or its path wrong): conference.conf as loaded has only the stock profiles."""
    stock = write_vanilla(world["tmp"] / "stock")
    (cc,) = [c for c in load_config(stock).iter("configuration") if c.get("name") == "conference.conf"]
    world["fake"].api_replies["xml_locate configuration configuration name conference.conf"] = _xml(cc)
    bad = failed(world["config"])
    assert set(bad) == {"fsbridge profile"}
    assert "profiles: default, wideband" in bad["fsbridge profile"]["evidence"]
    assert "relative to autoload_configs/" in bad["fsbridge profile"]["fix"]


def test_profile_with_another_rate(world):
    world["config"].write_text(world["config"].read_text().replace("rate = 16000", "rate = 8000"))
    assert set(failed(world["config"])) == {"fsbridge profile"}


def test_dialplan_pointing_elsewhere(world):
    world["fake"].api_replies["xml_locate dialplan"] = _xml(world["dialplan"])     # still 127.0.0.1:8084
    bad = failed(world["config"])
    assert set(bad) == {"dialplan"} and "socket 127.0.0.1:8084 async full" in bad["dialplan"]["evidence"]


def test_dialplan_without_fsbridge(world):
    plan = world["fake"].api_replies["xml_locate dialplan"]
    world["fake"].api_replies["xml_locate dialplan"] = plan.replace('expression="^(72(?!43)[0-9]{2})$"',
                                                                    'expression="^none$"')
    bad = failed(world["config"])
    assert set(bad) == {"dialplan"} and "extension 'enum'" in bad["dialplan"]["evidence"]


def test_outbound_socket_not_listening(world):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    text = world["config"].read_text()
    old = text.split("outbound_port = ")[1].split("\n")[0]
    world["config"].write_text(text.replace(f"outbound_port = {old}", f"outbound_port = {port}"))
    assert set(failed(world["config"])) == {"outbound socket", "dialplan"}


def test_app_unreachable(world):
    world["http"].clear()
    world["http"].expect_request("/voice/team").respond_with_data("gone", status=500)
    bad = failed(world["config"])
    assert set(bad) == {"voice URL 7200"} and "11200" in bad["voice URL 7200"]["evidence"]


def test_bad_markup(world):
    world["http"].clear()
    world["http"].expect_request("/voice/team").respond_with_data("<Response><Dial>", content_type="text/xml")
    bad = failed(world["config"])
    assert set(bad) == {"voice URL 7200"} and "12100" in bad["voice URL 7200"]["evidence"]


def test_loopback_advertised_address_and_no_sip_profile(world):
    world["fake"].api_replies["sofia status profile internal"] = SOFIA.replace("203.0.113.7", "127.0.0.1")
    assert set(failed(world["config"])) == {"advertised address"}     # SIP on 192.168.56.10, RTP on loopback
    world["fake"].api_replies["sofia status profile internal"] = SOFIA.replace("203.0.113.7", "127.0.0.1") \
        .replace("192.168.56.10", "127.0.0.1")
    assert run_doctor(world["config"])[0] == 0                          # a loopback-only lab is consistent
    world["fake"].api_replies["sofia status profile internal"] = "Invalid Profile!\n"
    assert "not running" in failed(world["config"])["advertised address"]["evidence"]


def test_unreadable_env_file_is_reported(world, monkeypatch):
    (world["config"].parent / "fsbridge.env").write_text(f"FSBRIDGE_ESL_PASSWORD={PASSWORD}\n")

    def denied(path):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(doctor, "read_env_file", denied)
    bad = failed(world["config"])
    assert set(bad) == {"env file"} and "Permission denied" in bad["env file"]["evidence"]


def test_egress_policy_refusing_the_app(world):
    """Without [egress] allow, the app on loopback is refused — by the check and by the fetch itself."""
    world["config"].write_text(world["config"].read_text().replace('[egress]\nallow = ["127.0.0.0/8"]\n', ""))
    bad = failed(world["config"])
    assert set(bad) == {"egress", "voice URL 7200"}
    assert "non-public" in bad["egress"]["evidence"] and "[egress] allow" in bad["egress"]["fix"]


def test_bad_config_stops_early(world):
    world["config"].write_text("[engine\n")
    status, checks, _ = run_doctor(world["config"])
    assert status == 1 and list(checks) == ["config"]


def test_command_line_prints_one_line_per_check(world):
    """``fsbridge doctor`` as a process: ✔/✘ lines with the fix under each ✘, exit status 1 on a failure;
    the password comes from fsbridge.env beside the config (as the systemd unit has it)."""
    world["config"].write_text(world["config"].read_text().replace(f'esl_password = "{PASSWORD}"\n', ""))
    (world["config"].parent / "fsbridge.env").write_text(f"FSBRIDGE_ESL_PASSWORD={PASSWORD}\n")
    world["fake"].api_replies["module_exists mod_conference"] = "false"
    r = subprocess.run([sys.executable, "-m", "fsbridge", "doctor", "--config", str(world["config"]),
                        "--timeout", "5"], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "✔ ESL password: accepted (not the stock one)" in lines
    i = lines.index("✘ mod_conference: module_exists mod_conference → 'false'")
    assert lines[i + 1].startswith("    fix: load it")
    assert lines[-1].endswith("1 failed")


def test_database_existing_file_and_unreachable_server(world):
    import sqlite3
    db = world["tmp"] / "fsbridge.sqlite"
    sqlite3.connect(db).close()
    status, checks, _ = run_doctor(world["config"])
    assert status == 0 and checks["database"]["evidence"].endswith("reachable and writable")
    text = world["config"].read_text()
    world["config"].write_text(text.replace(f"sqlite:///{db}", "postgresql://fsb:s3cret@127.0.0.1:1/fsb"))
    bad = failed(world["config"])
    assert set(bad) == {"database"} and "s3cret" not in bad["database"]["evidence"]
