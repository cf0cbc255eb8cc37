"""``fsbridge setup freeswitch``: install fsbridge beside an existing FreeSWITCH, idempotently.

What it does (README "Install beside your FreeSWITCH"; the manual steps are in docs/install-manual.md):
a backup of the FreeSWITCH conf dir (once, ``DIR.before-fsbridge``); mod_event_socket on 127.0.0.1:8021
with ACL ``loopback.auto`` and a generated password (the other params of your event_socket.conf.xml are
kept); the ``fsbridge`` conference profile and its include line in conference.conf.xml; the 7200-7299
dialplan; desk-phone users with generated passwords (``--phones``); /etc/fs_cli.conf; fsbridge's own
fsbridge.toml (only when absent), fsbridge.env (FSBRIDGE_ESL_PASSWORD) and systemd unit.

Every change is planned first and printed as a diff-like line (``+`` new, ``~`` changed, ``-`` removed,
``=`` unchanged); nothing is touched when it refuses (not a FreeSWITCH conf dir, not writable, a file it
cannot merge: the conflict is printed) or with ``--dry-run``. A second run changes nothing. ``--uninstall``
removes what it added and restores event_socket.conf.xml from the backup. Passwords can be given in the
environment (``FSBRIDGE_ESL_PASSWORD``, ``FSBRIDGE_SIP_PASSWORD_<user>``); otherwise the existing ones are
kept and missing ones generated (``secrets.token_hex``) and printed once.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Dict, List, Optional

from fsbridge.ops import fsconf
from fsbridge.ops.changes import Change, Plan, Refusal, unified

REPO_CONF = Path(__file__).resolve().parent.parent.parent / "freeswitch-conf"
ESL_PARAMS = {"listen-ip": "127.0.0.1", "listen-port": "8021", "apply-inbound-acl": "loopback.auto",
              "stop-on-bind-error": "true"}
SAMPLE_SID = "AC00000000000000000000000000000000"
SAMPLE_TOKEN = "change-me-to-a-long-random-token"
FS_GROUP = "freeswitch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``fsbridge setup freeswitch [--fs-conf DIR] [--dry-run] [--uninstall]`` and the paths tests move."""
    parser.add_argument("target", choices=["freeswitch"], help="what to set up (only: freeswitch)")
    parser.add_argument("--fs-conf", default="/etc/freeswitch", metavar="DIR",
                        help="FreeSWITCH's configuration directory (default /etc/freeswitch)")
    parser.add_argument("--dry-run", action="store_true", help="print the changes, make none")
    parser.add_argument("--uninstall", action="store_true", help="remove what setup added")
    parser.add_argument("--phones", default="1100,1101", metavar="USERS",
                        help="desk-phone SIP users to add, comma-separated (default 1100,1101; '' for none)")
    parser.add_argument("--etc", default="/etc/fsbridge", metavar="DIR", help="fsbridge's settings directory")
    parser.add_argument("--systemd-dir", default="/etc/systemd/system", metavar="DIR")
    parser.add_argument("--fs-cli-conf", default="/etc/fs_cli.conf", metavar="FILE")
    parser.add_argument("--source", default=None, metavar="DIR",
                        help="fsbridge's freeswitch-conf/ directory (default: the one of this checkout)")


class Paths:
    """Where everything goes, from the command line."""

    def __init__(self, args: argparse.Namespace):
        self.conf = Path(args.fs_conf)
        self.etc = Path(args.etc)
        self.unit = Path(args.systemd_dir) / "fsbridge.service"
        self.fs_cli = Path(args.fs_cli_conf)
        self.source = Path(args.source) if args.source else _default_source()
        self.backup = self.conf.with_name(self.conf.name + ".before-fsbridge")

    def src(self, rel: str) -> bytes:
        """A file of freeswitch-conf/ (:class:`Refusal` when missing)."""
        try:
            return (self.source / rel).read_bytes()
        except OSError:
            raise Refusal(f"{self.source / rel} not found: run from an fsbridge checkout or pass --source "
                          "DIR (the checkout's freeswitch-conf/); nothing was changed") from None


def _default_source() -> Path:
    for cand in (REPO_CONF, Path.cwd() / "freeswitch-conf"):
        if (cand / "fsbridge.service").is_file():
            return cand
    return REPO_CONF


def phone_users(text: str) -> List[str]:
    """``"1100,1101"`` → ``["1100", "1101"]``; :class:`Refusal` on anything but digits."""
    users = [u.strip() for u in text.split(",") if u.strip()]
    bad = [u for u in users if not re.fullmatch(r"[0-9]{2,10}", u)]
    if bad:
        raise Refusal(f"--phones: not SIP user numbers: {', '.join(bad)}")
    return users


def user_file(conf: Path, user: str) -> Path:
    """Where desk-phone ``user``'s directory entry goes."""
    return conf / fsconf.USER_DIR / f"fsbridge-{user}.xml"


def user_xml(template: bytes, user: str, password: str) -> bytes:
    """freeswitch-conf's example user (1100) made into ``user`` with ``password``."""
    text = template.decode("utf-8").replace("1100", user)
    return text.replace('value="CHANGE_ME_SIP_PASSWORD"', f'value="{password}"').encode("utf-8")


def _user_password(existing: Optional[bytes]) -> Optional[str]:
    if not existing:
        return None
    m = re.search(rb'<param name="password" value="([^"]*)"/>', existing)
    return m.group(1).decode() if m else None


#: freeswitch-conf's XML files open with a comment whose first line starts "fsbridge: " — how setup knows a
#: file it finds is one it (or an earlier fsbridge version, or the manual steps) installed.
OURS = re.compile(rb"\A(?:<\?xml[^>]*\?>\s*)?<!--\s*fsbridge: ")


def is_ours(data: Optional[bytes]) -> bool:
    """Whether a file's bytes are one of fsbridge's XML files (its header comment)."""
    return bool(data) and bool(OURS.match(data))


def _owned(change: Change, expected: bytes, what: str) -> None:
    """Refuse when ``change.path`` exists with other contents than ``expected`` and is not one of fsbridge's
    files (an older version of ours is updated, with its diff printed)."""
    now = change.current()
    if now is not None and now != expected and not is_ours(now):
        diff = "\n".join("    " + line.rstrip("\n") for line in unified(now, expected, str(change.path)))
        raise Refusal(f"conflict: {change.path} exists, is not fsbridge's, and differs from {what}:\n{diff}\n"
                      "move it away (or merge it by hand) and run again; nothing was changed")


def plan_install(p: Paths, users: List[str], env: Dict[str, str], printed: List[str]) -> Plan:
    """Every change of an install (:class:`Refusal` before any change). ``printed`` receives the lines
    with generated passwords (shown once)."""
    fsconf.check_conf_dir(p.conf)
    plan = Plan(backup=(p.conf, p.backup))
    esl_path = p.conf / fsconf.EVENT_SOCKET_CONF
    esl_now = esl_path.read_bytes() if esl_path.exists() else None
    password = env.get("FSBRIDGE_ESL_PASSWORD") or None
    current = fsconf.param_value(esl_now, "password")
    if not password and current and current not in fsconf.STOCK_ESL_PASSWORDS:
        password = current
    if not password:
        password = secrets.token_hex(24)
        printed.append(f"ESL password (in {p.etc / 'fsbridge.env'} and {p.fs_cli}): generated")
    values = dict(ESL_PARAMS, password=password)
    if esl_now is None:
        esl_new = p.src(fsconf.EVENT_SOCKET_CONF).decode().replace("CHANGE_ME_ESL_PASSWORD", password)
    else:
        esl_new = fsconf.set_settings_params(esl_now.decode("utf-8"), values, str(esl_path))
    plan.add(Change(esl_path, esl_new.encode(), 0o640, FS_GROUP, secret=True, note="ESL: 127.0.0.1:8021, loopback.auto"))

    profile = Change(p.conf / fsconf.PROFILE_DIR / "fsbridge.xml", p.src(fsconf.PROFILE_DIR + "/fsbridge.xml"))
    _owned(profile, profile.content, "freeswitch-conf's profile")
    plan.add(profile)
    cc = p.conf / fsconf.CONFERENCE_CONF
    plan.add(Change(cc, fsconf.add_profile_include(cc.read_text(encoding="utf-8"), str(cc)).encode("utf-8"),
                    cc.stat().st_mode & 0o7777, note="include of conference_profiles/*.xml"))
    dialplan = Change(p.conf / fsconf.DIALPLAN_FILE, p.src(fsconf.DIALPLAN_FILE), note="7200-7299 -> 127.0.0.1:8084")
    _owned(dialplan, dialplan.content, "freeswitch-conf's dialplan")
    plan.add(dialplan)

    template = p.src(fsconf.USER_DIR + "/fsbridge-1100.xml")
    for user in users:
        path = user_file(p.conf, user)
        others = fsconf.users_defined(p.conf, user, path)
        if others:
            raise Refusal(f"conflict: SIP user {user} is already defined in {others[0]}; choose other --phones; "
                          "nothing was changed")
        now = path.read_bytes() if path.exists() else None
        pw = env.get(f"FSBRIDGE_SIP_PASSWORD_{user}") or _user_password(now)
        if not pw:
            pw = secrets.token_hex(6)
            printed.append(f"SIP user {user} password {pw}")
        change = Change(path, user_xml(template, user, pw), 0o640, FS_GROUP, secret=True, note=f"desk phone {user}")
        _owned(change, change.content, f"fsbridge's user {user} with its password")
        plan.add(change)

    plan.add(Change(p.fs_cli, f"[default]\nhost => 127.0.0.1\nport => 8021\npassword => {password}\n".encode(),
                    0o600, secret=True, note="fs_cli's ESL password"))
    plan.add(Change(p.etc / "fsbridge.env", _env_file(p.etc / "fsbridge.env", password), 0o600, secret=True,
                    note="FSBRIDGE_ESL_PASSWORD"))
    toml = p.etc / "fsbridge.toml"
    if toml.exists():
        plan.add(Change(toml, toml.read_bytes(), toml.stat().st_mode & 0o7777, note="yours: kept"))
    else:
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        text = p.src("fsbridge.toml.example").decode().replace(SAMPLE_SID, sid).replace(SAMPLE_TOKEN, token)
        plan.add(Change(toml, text.encode(), 0o640, "fsbridge", note=f"account {sid}: edit numbers"))
    plan.add(Change(p.unit, p.src("fsbridge.service"), 0o644, note="systemd unit"))
    return plan


def _env_file(path: Path, password: str) -> bytes:
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [x for x in lines if not x.startswith("FSBRIDGE_ESL_PASSWORD=")]
    return ("\n".join(lines + [f"FSBRIDGE_ESL_PASSWORD={password}"]) + "\n").encode()


def plan_uninstall(p: Paths) -> Plan:
    """Every change of ``--uninstall``: the files setup wrote are removed when they are still what setup
    wrote (an edited fsbridge.toml is kept, and said so), the include line taken out, event_socket.conf.xml
    restored from the backup."""
    fsconf.check_conf_dir(p.conf)
    plan = Plan(restore_dirs=[p.conf / fsconf.PROFILE_DIR, p.etc])
    esl = p.conf / fsconf.EVENT_SOCKET_CONF
    old = p.backup / fsconf.EVENT_SOCKET_CONF
    if old.exists():
        plan.add(Change(esl, old.read_bytes(), old.stat().st_mode & 0o7777, secret=True, note=f"from {p.backup}"))
    elif p.backup.is_dir():
        plan.add(Change(esl, None, note="there was none before setup"))
    else:
        raise Refusal(f"the backup {p.backup} is missing: cannot restore event_socket.conf.xml; nothing was changed")
    cc = p.conf / fsconf.CONFERENCE_CONF
    plan.add(Change(cc, fsconf.remove_profile_include(cc.read_text(encoding="utf-8")).encode("utf-8"),
                    cc.stat().st_mode & 0o7777, note="include line removed"))
    ours = {p.conf / fsconf.PROFILE_DIR / "fsbridge.xml": p.src(fsconf.PROFILE_DIR + "/fsbridge.xml"),
            p.conf / fsconf.DIALPLAN_FILE: p.src(fsconf.DIALPLAN_FILE), p.unit: p.src("fsbridge.service")}
    template = p.src(fsconf.USER_DIR + "/fsbridge-1100.xml")
    for f in sorted((p.conf / fsconf.USER_DIR).glob("fsbridge-*.xml")):
        user = f.stem[len("fsbridge-"):]
        ours[f] = user_xml(template, user, _user_password(f.read_bytes()) or "")
    for path, expected in ours.items():
        if path.exists():
            _owned(Change(path, None), expected, "what setup writes")
            plan.add(Change(path, None))
    if p.fs_cli.exists():
        if not re.fullmatch(rb"\[default\]\nhost => 127\.0\.0\.1\nport => 8021\npassword => \S+\n", p.fs_cli.read_bytes()):
            raise Refusal(f"conflict: {p.fs_cli} is not the one setup wrote; nothing was changed")
        plan.add(Change(p.fs_cli, None))
    env = p.etc / "fsbridge.env"
    if env.exists():
        rest = _env_file(env, "x").decode().splitlines()[:-1]
        plan.add(Change(env, None) if not rest else Change(env, ("\n".join(rest) + "\n").encode(), 0o600, secret=True))
    toml = p.etc / "fsbridge.toml"
    if toml.exists():
        sample = re.escape(p.src("fsbridge.toml.example").decode())
        sample = sample.replace(re.escape(SAMPLE_SID), "AC[0-9a-f]{32}").replace(re.escape(SAMPLE_TOKEN), "[0-9a-f]{32}")
        if re.fullmatch(sample, toml.read_text()):
            plan.add(Change(toml, None))
        else:
            plan.add(Change(toml, toml.read_bytes(), toml.stat().st_mode & 0o7777, note="edited since setup: kept"))
    return plan


def run(args: argparse.Namespace, out=None, env: Optional[Dict[str, str]] = None) -> int:
    """Plan, print, apply. Exit status 0 done (or nothing to do), 1 refused, 2 usage."""
    out = out or sys.stdout
    env = dict(os.environ) if env is None else env
    printed: List[str] = []
    try:
        p = Paths(args)
        plan = plan_uninstall(p) if args.uninstall else plan_install(p, phone_users(args.phones), env, printed)
        lines = plan.describe()
        if not args.dry_run:
            plan.check_writable()
    except Refusal as exc:
        print(f"fsbridge setup freeswitch: refused: {exc}", file=out)
        return 1
    for line in lines:
        print(line, file=out)
    if args.dry_run:
        print(f"dry run: {len(plan.pending())} change(s) not made", file=out)
        return 0
    done = plan.apply()
    for line in printed:
        print(line, file=out)
    if args.uninstall:
        print(f"{done} change(s) made; the backup {p.backup} is kept (remove it yourself)", file=out)
        return 0
    print(f"{done} change(s) made" + ("; nothing to do" if not done else ""), file=out)
    if done:
        print("next: sudo systemctl restart freeswitch (ESL changes need it; else fs_cli -x reloadxml), "
              "sudo systemctl daemon-reload && sudo systemctl enable --now fsbridge, then fsbridge doctor", file=out)
    return 0
