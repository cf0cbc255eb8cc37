"""``fsbridge setup freeswitch`` against a stand-in of the stock vanilla configuration tree (tests/fs_standin.py):
the result is what FreeSWITCH would load, a second run and --dry-run change nothing, refusals change nothing,
--uninstall restores the tree exactly."""
from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from fsbridge import config as fsconfig
from fsbridge.ops import setup_freeswitch
from fs_standin import load_config, setup, snapshot, write_vanilla

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path):
    """A stand-in /etc/freeswitch plus empty /etc/fsbridge, systemd and fs_cli.conf locations."""
    write_vanilla(tmp_path / "etc" / "freeswitch")
    (tmp_path / "systemd").mkdir()
    return tmp_path


def everything(tree: Path) -> dict:
    return snapshot(tree)


def test_install_gives_a_configuration_freeswitch_loads(tree):
    status, out = setup(tree)
    assert status == 0, out
    conf = tree / "etc" / "freeswitch"
    root = load_config(conf)
    confs = {c.get("name"): c for c in root.iter("configuration")}
    profiles = [p.get("name") for p in confs["conference.conf"].find("profiles").findall("profile")]
    assert profiles == ["fsbridge", "default", "wideband"]   # added beside the stock ones, first <profiles> only
    esl = {p.get("name"): p.get("value") for p in confs["event_socket.conf"].iter("param")}
    assert esl["listen-ip"] == "127.0.0.1" and esl["apply-inbound-acl"] == "loopback.auto"
    assert esl["stop-on-bind-error"] == "true"
    assert esl["nat-map"] == "false"                           # the operator's other params are kept
    password = esl["password"]
    assert password not in ("ClueCon", "CHANGE_ME_ESL_PASSWORD") and len(password) == 48
    # the dialplan: fsbridge's extension sits in context default, after the stock 7243 one
    (default,) = [c for c in root.iter("context") if c.get("name") == "default"]
    names = [e.get("name") for e in default.findall("extension")]
    assert names.index("rtp_multicast_page") < names.index("fsbridge") < names.index("enum")
    users = {u.get("id"): u for u in root.iter("user")}
    assert {"1000", "1100", "1101"} <= set(users)
    pw = {k: users[k].find("params/param").get("value") for k in ("1100", "1101")}
    assert pw["1100"] != pw["1101"] and "CHANGE_ME" not in pw["1100"]
    assert f"SIP user 1100 password {pw['1100']}" in out
    # secrets with the README's modes; fsbridge's own files agree with FreeSWITCH's
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(conf / "autoload_configs/event_socket.conf.xml") == 0o640
    assert mode(conf / "directory/default/fsbridge-1100.xml") == 0o640
    assert mode(tree / "etc/fsbridge/fsbridge.env") == 0o600 and mode(tree / "etc/fs_cli.conf") == 0o600
    assert mode(tree / "etc/fsbridge/fsbridge.toml") == 0o640
    assert (tree / "etc/fsbridge/fsbridge.env").read_text() == f"FSBRIDGE_ESL_PASSWORD={password}\n"
    assert f"password => {password}\n" in (tree / "etc/fs_cli.conf").read_text()
    settings = fsconfig.load(str(tree / "etc/fsbridge/fsbridge.toml"), {"FSBRIDGE_ESL_PASSWORD": password})
    assert settings.engine == "freeswitch" and settings.esl_password == password
    (sid,) = settings.accounts
    assert sid.startswith("AC") and sid != setup_freeswitch.SAMPLE_SID
    assert (tree / "systemd/fsbridge.service").read_bytes() == (REPO / "freeswitch-conf/fsbridge.service").read_bytes()
    assert (tree / "etc/freeswitch.before-fsbridge/autoload_configs/event_socket.conf.xml").read_text().count("ClueCon")


def test_the_include_is_relative_to_the_including_file(tree):
    """The profile is found only because the include is globbed in autoload_configs/ (the conf dir holds no
    conference_profiles/): the path FreeSWITCH really resolves."""
    setup(tree)
    conf = tree / "etc" / "freeswitch"
    assert not (conf / "conference_profiles").exists()
    assert (conf / "autoload_configs/conference_profiles/fsbridge.xml").is_file()
    text = (conf / "autoload_configs/conference.conf.xml").read_text()
    line = [x for x in text.splitlines() if "X-PRE-PROCESS" in x]
    assert line == ['    <X-PRE-PROCESS cmd="include" data="conference_profiles/*.xml"/>']


def test_second_run_and_dry_run_change_nothing(tree):
    assert setup(tree)[0] == 0
    before = everything(tree)
    status, out = setup(tree)
    assert status == 0 and "0 change(s) made; nothing to do" in out
    assert all(line.startswith("= ") for line in out.splitlines()[:-1]), out
    assert everything(tree) == before
    status, out = setup(tree, "--dry-run")
    assert status == 0 and "dry run: 0 change(s)" in out and everything(tree) == before


def test_dry_run_on_a_fresh_tree_prints_the_plan_and_changes_nothing(tree):
    before = everything(tree)
    status, out = setup(tree, "--dry-run")
    assert status == 0, out
    assert everything(tree) == before and not (tree / "etc/freeswitch.before-fsbridge").exists()
    assert "+ " + str(tree / "etc/freeswitch/dialplan/default/fsbridge.xml") in out
    assert "~ " + str(tree / "etc/freeswitch/autoload_configs/conference.conf.xml") in out
    assert "+    " in out and "conference_profiles/*.xml" in out      # the include line, as a diff line
    assert "ClueCon" not in out                                          # secret files' diffs are hidden


def test_passwords_from_the_environment_are_used(tree):
    env = {"FSBRIDGE_ESL_PASSWORD": "e" * 40, "FSBRIDGE_SIP_PASSWORD_1100": "s1100"}
    assert setup(tree, "--phones", "1100", env=env)[0] == 0
    assert 'value="' + "e" * 40 + '"' in (tree / "etc/freeswitch/autoload_configs/event_socket.conf.xml").read_text()
    assert 'value="s1100"' in (tree / "etc/freeswitch/directory/default/fsbridge-1100.xml").read_text()
    assert not (tree / "etc/freeswitch/directory/default/fsbridge-1101.xml").exists()


def test_uninstall_restores_the_tree_exactly(tree):
    conf = tree / "etc" / "freeswitch"
    before = snapshot(conf)
    assert setup(tree)[0] == 0
    password = (tree / "etc/fsbridge/fsbridge.env").read_text().split("=", 1)[1].strip()
    status, out = setup(tree, "--uninstall")
    assert status == 0, out
    assert snapshot(conf) == before
    assert password not in out                                          # the restore's diff is hidden too
    assert not (tree / "etc/fsbridge").exists() and not (tree / "etc/fs_cli.conf").exists()
    assert not (tree / "systemd/fsbridge.service").exists()
    assert "backup" in out and (tree / "etc/freeswitch.before-fsbridge").is_dir()


def test_uninstall_keeps_an_edited_toml(tree):
    setup(tree)
    toml = tree / "etc/fsbridge/fsbridge.toml"
    toml.write_text(toml.read_text() + "\n# mine\n")
    status, out = setup(tree, "--uninstall")
    assert status == 0 and "edited since setup: kept" in out and toml.exists()
    tomllib.loads(toml.read_text())


def refused(tree, *extra, env=None):
    before = everything(tree)
    status, out = setup(tree, *extra, env=env)
    assert status == 1 and "refused" in out, out
    assert everything(tree) == before
    return out


def test_refuses_a_directory_that_is_not_a_freeswitch_conf_dir(tree):
    (tree / "etc/freeswitch/freeswitch.xml").unlink()
    assert "not a FreeSWITCH configuration directory" in refused(tree)


def test_refuses_an_unwritable_conf_dir(tree):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    conf = tree / "etc" / "freeswitch"
    dirs = [conf / "autoload_configs", conf / "dialplan/default", conf / "directory/default"]
    for d in dirs:
        d.chmod(0o555)
    try:
        assert "not writable" in refused(tree)
    finally:
        for d in dirs:
            d.chmod(0o755)


def test_refuses_when_check_writable_fails(tree, monkeypatch):
    """The same refusal as root (who may write anywhere): the writability probe answers no."""
    import fsbridge.ops.changes as changes
    monkeypatch.setattr(changes.os, "access", lambda *a, **k: False)
    assert "not writable" in refused(tree)


def test_refuses_a_dialplan_file_of_someone_else(tree):
    other = tree / "etc/freeswitch/dialplan/default/fsbridge.xml"
    other.write_text("<include>\n  <extension name=\"mine\"/>\n</include>\n")
    out = refused(tree)
    assert "conflict" in out and "extension name=\"mine\"" in out      # the conflict is printed as a diff


def test_refuses_a_conference_conf_without_profiles_or_with_a_fsbridge_profile(tree):
    cc = tree / "etc/freeswitch/autoload_configs/conference.conf.xml"
    stock = cc.read_text()
    cc.write_text(stock.replace('<profile name="wideband">', '<profile name="fsbridge">'))
    assert "already defines a profile named \"fsbridge\"" in refused(tree)
    cc.write_text('<configuration name="conference.conf">\n</configuration>\n')
    assert "no <profiles>" in refused(tree)


def test_refuses_a_phone_user_that_exists(tree):
    assert "already defined" in refused(tree, "--phones", "1000")


def test_refuses_esl_params_sharing_a_line(tree):
    esl = tree / "etc/freeswitch/autoload_configs/event_socket.conf.xml"
    esl.write_text(esl.read_text().replace('<param name="listen-ip" value="::"/>\n    <param name="listen-port"',
                                           '<param name="listen-ip" value="::"/><param name="listen-port"'))
    assert "holds more than" in refused(tree)


def test_missing_event_socket_conf_gets_freeswitch_confs_with_the_password(tree):
    (tree / "etc/freeswitch/autoload_configs/event_socket.conf.xml").unlink()
    assert setup(tree, env={"FSBRIDGE_ESL_PASSWORD": "p" * 40})[0] == 0
    written = (tree / "etc/freeswitch/autoload_configs/event_socket.conf.xml").read_text()
    template = (REPO / "freeswitch-conf/autoload_configs/event_socket.conf.xml").read_text()
    assert written == template.replace("CHANGE_ME_ESL_PASSWORD", "p" * 40)
    assert setup(tree, "--uninstall")[0] == 0       # there was none before: uninstall removes it
    assert not (tree / "etc/freeswitch/autoload_configs/event_socket.conf.xml").exists()


def test_an_older_fsbridge_file_is_updated_with_its_diff(tree):
    """A file with fsbridge's header comment (an earlier version, or the manual steps) is ours to update;
    a user file keeps its password."""
    assert setup(tree, env={"FSBRIDGE_SIP_PASSWORD_1100": "keepme"})[0] == 0
    dialplan = tree / "etc/freeswitch/dialplan/default/fsbridge.xml"
    current = dialplan.read_text()
    dialplan.write_text(current.replace('data="127.0.0.1:8084 async full"', 'data="127.0.0.1:8999 async full"'))
    user = tree / "etc/freeswitch/directory/default/fsbridge-1100.xml"
    user.write_text(user.read_text().replace("Desk phone 1100", "Old name"))
    status, out = setup(tree)
    assert status == 0, out
    assert "-      <action application=\"socket\" data=\"127.0.0.1:8999 async full\"/>" in out
    assert dialplan.read_text() == current
    assert 'value="keepme"' in user.read_text() and "Desk phone 1100" in user.read_text()

