"""Deployment files: freeswitch-conf/ (what goes into /etc/freeswitch), vagrant/ (the Debian 12 VM), the systemd
units and the sample configuration. Real tools where installed: shellcheck, vagrant validate, systemd-analyze."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "freeswitch-conf"
VAGRANT = REPO / "vagrant"
PROVISION = VAGRANT / "provision.sh"
DIALPLAN = CONF / "dialplan" / "default" / "fsbridge.xml"
PROFILE = CONF / "autoload_configs" / "conference_profiles" / "fsbridge.xml"
ESL_CONF = CONF / "autoload_configs" / "event_socket.conf.xml"
SAMPLE_TOML = CONF / "fsbridge.toml.example"
UNITS = [CONF / "fsbridge.service", VAGRANT / "fsbridge-example-app.service"]
XML_FILES = sorted(CONF.rglob("*.xml"))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False)


def _parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), _parser())


def _defaults():
    """(outbound host, outbound port, ESL port, rate) of fsbridge's default settings."""
    try:
        from fsbridge.config import Settings
    except ImportError:  # pragma: no cover - the settings module is part of the package
        return "127.0.0.1", 8084, 8021, 16000
    s = Settings()
    return s.outbound_host, s.outbound_port, s.esl_port, s.rate


def _standalone_energy_level() -> int:
    try:
        from fsbridge.engines.standalone.talk import DEFAULT_ENERGY_LEVEL
    except ImportError:  # pragma: no cover
        return 100
    return DEFAULT_ENERGY_LEVEL


# --- freeswitch-conf/ XML ------------------------------------------------------------------------------------------

def test_conf_tree_has_the_expected_files():
    names = {p.relative_to(CONF).as_posix() for p in XML_FILES}
    assert names == {
        "autoload_configs/event_socket.conf.xml",
        "autoload_configs/conference_profiles/fsbridge.xml",
        "dialplan/default/fsbridge.xml",
        "directory/default/fsbridge-1100.xml",
        "directory/default/fsbridge-1101.xml",
    }


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: p.relative_to(CONF).as_posix())
def test_xml_is_well_formed_without_entities(path):
    tree = _parse(path)
    assert tree.docinfo.doctype == "", "no DOCTYPE/entities in FreeSWITCH configuration"
    assert b"<!ENTITY" not in path.read_bytes()


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: p.relative_to(CONF).as_posix())
def test_xml_survives_freeswitchs_line_preprocessor(path):
    """FreeSWITCH's preprocessor drops every line containing an include tag or '<?', and runs X-PRE-PROCESS
    lines even inside comments: wrapper tags must stand alone on their lines, and what is left must parse
    to the same elements."""
    text = path.read_text(encoding="utf-8")
    assert "X-PRE-PROCESS" not in text
    kept = []
    for line in text.splitlines():
        if "<include>" in line or "</include>" in line or "<?" in line:
            assert line.strip() in ("<include>", "</include>") or line.startswith("<?xml"), line
            continue
        kept.append(line)
    root = _parse(path).getroot()
    body = "\n".join(kept)
    if root.tag == "include":
        body = "<include>\n" + body + "\n</include>"
    again = etree.fromstring(body.encode(), _parser())
    assert [e.tag for e in again.iter() if isinstance(e.tag, str)] == \
        [e.tag for e in root.iter() if isinstance(e.tag, str)]


def _dialplan_extension():
    root = _parse(DIALPLAN).getroot()
    (ext,) = root.findall("extension")
    (cond,) = ext.findall("condition")
    return cond


def test_dialplan_hands_calls_to_the_default_outbound_socket():
    host, port, _, _ = _defaults()
    cond = _dialplan_extension()
    actions = [(a.get("application"), a.get("data")) for a in cond.findall("action")]
    apps = [a for a, _ in actions]
    sockets = [d for a, d in actions if a == "socket"]
    # three socket actions (issue 15): the first, then re-entry points for calls whose conference ended
    # while no bridge held their socket (after a bridge restart); never socket_resume
    assert sockets == [f"{host}:{port} async full"] * 3
    assert not any("socket_resume" in (d or "") for _, d in actions)
    # hangup_after_conference=false before the socket (an endconf member must not hang the others up),
    # answered before fsbridge takes over.
    assert ("set", "hangup_after_conference=false") in actions
    assert apps.index("set") < apps.index("answer") < apps.index("socket")
    assert apps[-1] == "hangup"


def test_dialplan_range_is_7200_to_7299_without_the_stock_7243():
    cond = _dialplan_extension()
    assert cond.get("field") == "destination_number"
    rx = re.compile(cond.get("expression"))
    for number in ("7200", "7201", "7242", "7244", "7299"):
        assert rx.match(number), number
    for number in ("7243", "7199", "7300", "72000", "1100", "x7200"):
        assert not rx.match(number), number


def test_every_example_number_is_dialable():
    rx = re.compile(_dialplan_extension().get("expression"))
    sample = tomllib.loads(SAMPLE_TOML.read_text())
    vm = tomllib.loads(_provision_toml())
    numbers = [n["number"] for n in sample["numbers"]] + [n["number"] for n in vm["numbers"]]
    assert numbers and all(rx.match(n) for n in numbers), numbers


def _params(element) -> dict:
    out = {}
    for p in element.findall("param"):
        assert p.get("name") not in out, f"duplicate param {p.get('name')}"
        out[p.get("name")] = p.get("value")
    return out


def test_conference_profile():
    root = _parse(PROFILE).getroot()
    assert root.tag == "include"
    (profile,) = root.findall("profile")
    assert profile.get("name") == "fsbridge"
    params = _params(profile)
    _, _, _, rate = _defaults()
    assert params["rate"] == str(rate) and rate in (8000, 16000)
    assert params["interval"] == "20"
    assert params["energy-level"] == str(_standalone_energy_level())
    assert params["comfort-noise"] == "true"
    assert params["enter-sound"].startswith("tone_stream://")
    assert params["exit-sound"].startswith("tone_stream://")
    assert params["moh-sound"] == "local_stream://moh"
    assert params["max-members"] == "250"
    # No DTMF bindings ("*" would otherwise be "deaf mute"); none of FreeSWITCH's own prompts.
    assert params["caller-controls"] == "none" and params["moderator-controls"] == "none"
    for quiet in ("muted-sound", "unmuted-sound", "alone-sound", "kicked-sound", "max-members-sound"):
        assert quiet not in params


def test_event_socket_is_loopback_only_with_a_placeholder_password():
    _, _, esl_port, _ = _defaults()
    root = _parse(ESL_CONF).getroot()
    assert root.tag == "configuration" and root.get("name") == "event_socket.conf"
    params = _params(root.find("settings"))
    assert params["listen-ip"] == "127.0.0.1"
    assert params["listen-port"] == str(esl_port)
    assert params["apply-inbound-acl"] == "loopback.auto"
    assert params["password"] == "CHANGE_ME_ESL_PASSWORD"
    assert "ClueCon" not in ESL_CONF.read_text()
    # provision.sh replaces exactly that placeholder
    assert 's/value=\\"CHANGE_ME_ESL_PASSWORD\\"/' in PROVISION.read_text()


@pytest.mark.parametrize("user", ["1100", "1101"])
def test_directory_users(user):
    root = _parse(CONF / "directory" / "default" / f"fsbridge-{user}.xml").getroot()
    (u,) = root.findall("user")
    assert u.get("id") == user
    assert _params(u.find("params"))["password"] == "CHANGE_ME_SIP_PASSWORD"
    variables = {v.get("name"): v.get("value") for v in u.find("variables").findall("variable")}
    assert variables["user_context"] == "default"  # the context dialplan/default/fsbridge.xml is in


# --- sample configuration ------------------------------------------------------------------------------------------

def test_sample_toml_parses_and_matches_the_freeswitch_conf():
    data = tomllib.loads(SAMPLE_TOML.read_text())
    host, port, esl_port, _ = _defaults()
    assert data["engine"]["type"] == "freeswitch"
    assert data["server"]["host"] == "127.0.0.1"
    assert (data["freeswitch"]["outbound_host"], data["freeswitch"]["outbound_port"]) == (host, port)
    assert data["freeswitch"]["esl_port"] == esl_port
    config = pytest.importorskip("fsbridge.config")
    settings = config.load_file(str(SAMPLE_TOML))
    assert settings.engine == "freeswitch" and set(settings.numbers) == {"7200", "7201"}


def _provision_toml() -> str:
    text = PROVISION.read_text()
    m = re.search(r"<<TOML\n(.*?)\nTOML\n", text, re.S)
    assert m, "provision.sh writes /etc/fsbridge/fsbridge.toml from a TOML heredoc"
    return m.group(1).replace("$ACCOUNT_SID", "AC" + "0" * 32).replace("$AUTH_TOKEN", "t" * 32)


def test_provisioned_toml_parses():
    data = tomllib.loads(_provision_toml())
    host, port, _, _ = _defaults()
    assert data["engine"]["type"] == "freeswitch"
    assert (data["freeswitch"]["outbound_host"], data["freeswitch"]["outbound_port"]) == (host, port)
    config = pytest.importorskip("fsbridge.config")
    settings = config.from_mapping(data)
    assert set(settings.numbers) == {"7200", "7201"}


# --- vagrant/ --------------------------------------------------------------------------------------------------------

def test_provision_script_passes_shellcheck():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (.ci/setup installs it)")
    for script in (PROVISION,):
        r = subprocess.run(["shellcheck", "--severity=info", str(script)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_provision_refuses_without_a_signalwire_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SIGNALWIRE_TOKEN"}
    env["FSBRIDGE_SRC"] = str(tmp_path)  # nothing to install from, in case it got further
    r = subprocess.run(["bash", str(PROVISION)], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2
    assert "SIGNALWIRE_TOKEN is not set" in r.stderr
    assert r.stdout == ""  # refused before doing anything


def test_no_package_registry_but_signalwires_and_no_token():
    allowed = {"freeswitch.signalwire.com", "127.0.0.1"}
    for path in [PROVISION, VAGRANT / "Vagrantfile", VAGRANT / "example_app.py", *UNITS, SAMPLE_TOML, *XML_FILES]:
        text = path.read_text()
        hosts = {h for h in re.findall(r"https?://([A-Za-z0-9.-]+)", text) if not h.endswith("example.com")}
        assert hosts <= allowed, (path.name, hosts - allowed)
        assert not re.search(r"pat_[A-Za-z0-9]{8,}", text), path.name


def test_rtp_and_sip_ports_agree_between_vagrantfile_and_provision():
    vf = (VAGRANT / "Vagrantfile").read_text()
    start, end = map(int, re.search(r"RTP_PORTS = \((\d+)\.\.(\d+)\)", vf).groups())
    prov = PROVISION.read_text()
    assert int(re.search(r"^RTP_START=(\d+)$", prov, re.M).group(1)) == start
    assert int(re.search(r"^RTP_END=(\d+)$", prov, re.M).group(1)) == end
    assert 0 < end - start <= 200, "keep the forwarded RTP range small"
    assert re.search(r"^SIP_PORT = 5060$", vf, re.M)
    assert 'host_ip: "127.0.0.1"' in vf  # the REST API reaches the host's loopback only


PROFILE_SED = ("0,/<profiles>/s##<profiles>\\n    <X-PRE-PROCESS cmd=\"include\" "
               "data=\"conference_profiles/*.xml\"/>#")

STOCK_CONFERENCE = """<configuration name="conference.conf" description="Audio Conference">
  <caller-controls>
    <group name="default">
      <control action="deaf mute" digits="*"/>
    </group>
  </caller-controls>
  <profiles>
    <profile name="default">
      <param name="rate" value="8000"/>
    </profile>
  </profiles>
</configuration>
"""


def _provision_fn(*args: str) -> subprocess.CompletedProcess:
    """Run one of provision.sh's configuration-editing functions (the script is sourced, main not run)."""
    return subprocess.run(["bash", "-c", 'source "$1"; shift; "$@"', "_", str(PROVISION), *args],
                          capture_output=True, text=True, timeout=30)


def _expand_includes(text: str, cwd: Path = CONF / "autoload_configs") -> str:
    """FreeSWITCH's preprocessor for the include lines provision.sh adds: a relative pattern is globbed in
    ``cwd``, the directory of the *including* file (switch_xml.c preprocess_glob; conference.conf.xml is in
    autoload_configs/), not the conf dir; no match includes nothing, silently (an assertion here)."""
    out = []
    for line in text.splitlines():
        m = re.search(r'<X-PRE-PROCESS cmd="include" data="([^"]+)"/>', line)
        if not m:
            out.append(line)
            continue
        files = sorted(cwd.glob(m.group(1)))
        assert files, m.group(1)
        for f in files:
            out += [x for x in f.read_text().splitlines()
                    if "<include>" not in x and "</include>" not in x and "<?" not in x]
    return "\n".join(out)


def test_profile_include_adds_the_fsbridge_profile_beside_the_stock_ones(tmp_path):
    conf = tmp_path / "conference.conf.xml"
    conf.write_text(STOCK_CONFERENCE)
    for _ in range(2):  # idempotent
        r = _provision_fn("fs_add_profile_include", str(conf))
        assert r.returncode == 0, r.stderr
    text = conf.read_text()
    assert text.count("X-PRE-PROCESS") == 1
    root = etree.fromstring(_expand_includes(text).encode(), _parser())
    assert [p.get("name") for p in root.find("profiles").findall("profile")] == ["fsbridge", "default"]
    assert [g.get("name") for g in root.find("caller-controls").findall("group")] == ["default"]
    # the documented manual step is the same edit
    assert PROFILE_SED in (REPO / "README.md").read_text()
    assert PROFILE_SED in PROVISION.read_text()


def test_profile_include_fails_without_a_profiles_element(tmp_path):
    conf = tmp_path / "conference.conf.xml"
    conf.write_text('<configuration name="conference.conf">\n</configuration>\n')
    assert _provision_fn("fs_add_profile_include", str(conf)).returncode != 0


@pytest.mark.parametrize("stock", [
    '    <!-- <param name="rtp-start-port" value="16384"/> -->\n    <!-- <param name="rtp-end-port" value="32768"/> -->\n',
    '    <param name="rtp-start-port" value="10000"/>\n    <!--<param name="rtp-end-port" value="20000"/>-->\n',
])
def test_rtp_range_is_set_whether_commented_or_not(tmp_path, stock):
    conf = tmp_path / "switch.conf.xml"
    conf.write_text('<configuration name="switch.conf">\n  <settings>\n' + stock + "  </settings>\n</configuration>\n")
    r = _provision_fn("fs_set_rtp_range", str(conf), "16384", "16484")
    assert r.returncode == 0, r.stderr
    params = _params(etree.fromstring(conf.read_bytes(), _parser()).find("settings"))
    assert params == {"rtp-start-port": "16384", "rtp-end-port": "16484"}


def test_rtp_range_fails_when_switch_conf_has_no_such_lines(tmp_path):
    conf = tmp_path / "switch.conf.xml"
    conf.write_text('<configuration name="switch.conf">\n  <settings>\n  </settings>\n</configuration>\n')
    assert _provision_fn("fs_set_rtp_range", str(conf), "16384", "16484").returncode != 0


def test_vars_get_the_vm_address_and_a_new_default_password(tmp_path):
    vars_xml = tmp_path / "vars.xml"
    vars_xml.write_text('<include>\n  <X-PRE-PROCESS cmd="set" data="default_password=1234"/>\n'
                        '  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>\n</include>\n')
    for ip in ("192.168.56.10", "192.168.56.20"):  # re-provisioning with another address replaces the line
        r = _provision_fn("fs_set_vars", str(vars_xml), ip, "s3cret")
        assert r.returncode == 0, r.stderr
    sets = [e.get("data") for e in etree.fromstring(vars_xml.read_bytes(), _parser()).iter("X-PRE-PROCESS")]
    assert sets == ["local_ip_v4=192.168.56.20", "default_password=s3cret", "domain=$${local_ip_v4}"]


def test_vagrantfile_validates(tmp_path):
    if not shutil.which("vagrant"):
        pytest.skip("vagrant is not installed (.ci/setup installs Debian's vagrant package)")
    env = dict(os.environ, VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"), VAGRANT_HOME=str(tmp_path / "home"),
               VAGRANT_CHECKPOINT_DISABLE="1", SIGNALWIRE_TOKEN="")
    # --ignore-provider: no VirtualBox or libvirt here; everything else (networks, ports, synced folders,
    # the provisioner's script path) is validated.
    r = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=VAGRANT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "validated successfully" in r.stdout


def test_vagrant_up_without_a_token_refuses_before_booting(tmp_path):
    if not shutil.which("vagrant"):
        pytest.skip("vagrant is not installed (.ci/setup installs Debian's vagrant package)")
    env = {k: v for k, v in os.environ.items() if k != "SIGNALWIRE_TOKEN"}
    env.update(VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"), VAGRANT_HOME=str(tmp_path / "home"),
               VAGRANT_CHECKPOINT_DISABLE="1")
    r = subprocess.run(["vagrant", "up"], cwd=VAGRANT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "SIGNALWIRE_TOKEN is not set" in r.stderr
    assert not (tmp_path / "dot" / "machines").exists()  # nothing was created


def test_example_app_compiles():
    compile((VAGRANT / "example_app.py").read_text(), "example_app.py", "exec")


# --- systemd units ---------------------------------------------------------------------------------------------------

def test_fsbridge_unit_contents():
    text = (CONF / "fsbridge.service").read_text()
    assert re.search(r"^After=.*\bfreeswitch\.service\b", text, re.M)
    assert re.search(r"^Restart=on-failure$", text, re.M)
    assert re.search(r"^StandardOutput=journal$", text, re.M)
    assert re.search(r"^ExecStart=/opt/fsbridge/bin/fsbridge serve --config /etc/fsbridge/fsbridge.toml "
                     r"--engine freeswitch$", text, re.M)


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_unit_verifies(unit, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # The binaries live in /opt/fsbridge on the target; point them at real executables for the check.
    fsbridge_bin = shutil.which("fsbridge") or "/bin/true"
    text = unit.read_text().replace("/opt/fsbridge/bin/fsbridge", fsbridge_bin) \
                           .replace("/opt/fsbridge/bin/python", sys.executable)
    copy = tmp_path / unit.name
    copy.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if unit.name in line or "Failed" in line]
    assert r.returncode == 0 and not problems, r.stdout + r.stderr


# --- documentation -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", [REPO / "README.md", CONF / "README.md"], ids=lambda p: p.name)
def test_docs_name_only_existing_files(doc):
    text = doc.read_text()
    # (paths built in shell, like fsbridge-$user.xml, are left out by the look-ahead)
    named = set(re.findall(r"\b((?:freeswitch-conf|vagrant)/[A-Za-z0-9_./-]*[A-Za-z0-9_])(?![-$\w/]|\.\w)", text))
    assert named, "the install instructions name the files to copy"
    missing = sorted(n for n in named if not (REPO / n).exists())
    assert not missing, missing


def test_conf_readme_table_names_the_files_here():
    text = (CONF / "README.md").read_text()
    named = set(re.findall(r"^\| `([^`]+)`", text, re.M))
    named |= set(re.findall(r"`((?:autoload_configs|dialplan|directory)/[^`*]+\.xml)`", text))
    assert len(named) >= 6
    missing = sorted(n for n in named if not (CONF / n).exists())
    assert not missing, missing
    assert {p.relative_to(CONF).as_posix() for p in XML_FILES} <= named


def test_unit_execstart_arguments_are_accepted_by_fsbridge_serve():
    app = pytest.importorskip("fsbridge.app")
    import argparse
    line = re.search(r"^ExecStart=(.*)$", (CONF / "fsbridge.service").read_text(), re.M).group(1).split()
    assert line[:2] == ["/opt/fsbridge/bin/fsbridge", "serve"]
    parser = argparse.ArgumentParser()
    app.add_arguments(parser)
    args = parser.parse_args(line[2:])
    assert args.config == "/etc/fsbridge/fsbridge.toml" and args.engine == "freeswitch"


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_example_app_serves_the_vm_numbers_twiml(tmp_path):
    """vagrant/example_app.py with the TOML provision.sh writes answers the voice URLs of 7200 and 7201."""
    pytest.importorskip("fsbridge.demo.app")
    import time
    import urllib.parse
    import urllib.request
    config = tmp_path / "fsbridge.toml"
    config.write_text(_provision_toml())
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(VAGRANT / "example_app.py"), "--config", str(config),
                             "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        urls = {n["number"]: n["voice_url"] for n in tomllib.loads(config.read_text())["numbers"]}
        body = urllib.parse.urlencode({"From": "1100", "To": "7200", "CallSid": "CA" + "1" * 32}).encode()
        deadline = time.monotonic() + 20
        while True:
            try:
                replies = {}
                for number, url in urls.items():
                    url = url.replace("127.0.0.1:8090", f"127.0.0.1:{port}")
                    with urllib.request.urlopen(url, data=body, timeout=5) as r:
                        replies[number] = r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert ">TeamMeeting</Conference>" in replies["7200"] and "<Dial>" in replies["7200"]
        assert ">Customer Waiting Room</Conference>" in replies["7201"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
