"""Deployment files: freeswitch-conf/ (what goes into /etc/freeswitch), the systemd units, the sample
configuration and the documentation naming them. Real tools where installed: systemd-analyze."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from lxml import etree

from deploy_common import (CONF, DIALPLAN, ESL_CONF, PROFILE, REPO, SAMPLE_TOML, UNITS, XML_FILES, _defaults,
                                 _params, _parse, _parser, _provision_toml, _standalone_energy_level)

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

@pytest.mark.parametrize("doc", [REPO / "README.md", CONF / "README.md", REPO / "docs" / "install-manual.md"],
                         ids=lambda p: p.name)
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


