"""vagrant/ (the Debian 12 VM): provision.sh (shellcheck, its VM-only edits run on stand-ins, the TOML it writes),
the Vagrantfile (vagrant validate), the example app; and the manual install steps of docs/install-manual.md."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from lxml import etree

from fsbridge.ops import fsconf
from deploy_common import (PROVISION, REPO, SAMPLE_TOML, UNITS, VAGRANT, XML_FILES, _defaults, _params, _parser,
                                 _provision_toml)
from fs_standin import FILES, write_vanilla

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


def _provision_fn(*args: str) -> subprocess.CompletedProcess:
    """Run one of provision.sh's configuration-editing functions (the script is sourced, main not run)."""
    return subprocess.run(["bash", "-c", 'source "$1"; shift; "$@"', "_", str(PROVISION), *args],
                          capture_output=True, text=True, timeout=30)


def test_manual_profile_include_step_is_the_edit_setup_makes(tmp_path):
    """docs/install-manual.md's sed line and ``fsbridge setup freeswitch`` leave the same conference.conf.xml."""
    manual = (REPO / "docs" / "install-manual.md").read_text()
    assert PROFILE_SED in manual
    stock = write_vanilla(tmp_path / "by-hand")
    cc = stock / "autoload_configs" / "conference.conf.xml"
    r = subprocess.run(["sed", "-i", PROFILE_SED, str(cc)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert cc.read_text() == fsconf.add_profile_include(FILES["autoload_configs/conference.conf.xml"])


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
