"""``fsbridge doctor [--config FILE] [--json]``: every check of README's Troubleshooting section, one line each.

Each check prints ``✔`` or ``✘``, its name, the evidence (what was seen) and, when it fails, the fix.
Groups (one module each): :mod:`checks_local` (config parses, database reachable and writable, outbound
socket listening), :mod:`checks_esl` (ESL reachable, password accepted and not the stock one, events
subscribed, mod_conference, the fsbridge profile, the 7200 dialplan, RTP range and advertised address,
registered phones) and :mod:`checks_app` (each number's voice URL answers markup that parses, signed as
configured; URLs allowed by the egress policy). Exit status 0 only when every check passes; ``--json``
prints ``{"ok": bool, "checks": [{"name", "ok", "evidence", "fix"}]}``. Read-only: doctor changes nothing
in FreeSWITCH or the database.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

PASS, FAIL = "✔", "✘"


@dataclass
class Check:
    """One result: ``name`` (short, stable), ``ok``, ``evidence`` (what was seen), ``fix`` (what to do;
    '' when ok)."""

    name: str
    ok: bool
    evidence: str
    fix: str = ""

    def line(self) -> str:
        """``✔ name: evidence`` or ``✘ name: evidence — fix: …``."""
        text = f"{PASS if self.ok else FAIL} {self.name}: {self.evidence}"
        return text if self.ok or not self.fix else f"{text}\n    fix: {self.fix}"


@dataclass
class Context:
    """What the checks share: ``settings`` (None when the config did not load), the ``config`` path, the
    ``env`` used, ``timeout`` seconds per network step, and ``esl`` (an authenticated client once the ESL
    checks connected, else None)."""

    config: Optional[str]
    env: Dict[str, str]
    timeout: float = 5.0
    settings: object = None
    esl: object = None
    results: List[Check] = field(default_factory=list)

    def add(self, name: str, ok: bool, evidence: str, fix: str = "") -> Check:
        """Record one result."""
        check = Check(name, bool(ok), evidence, "" if ok else fix)
        self.results.append(check)
        return check


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` (default $FSBRIDGE_CONFIG, else /etc/fsbridge/fsbridge.toml when present),
    ``--env-file FILE`` (FSBRIDGE_* lines, default fsbridge.env beside the config), ``--json``,
    ``--timeout SECONDS``."""
    parser.add_argument("--config", default=None, metavar="FILE")
    parser.add_argument("--env-file", default=None, metavar="FILE",
                        help="FSBRIDGE_* settings as the systemd unit reads them (default: fsbridge.env beside --config)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per network step (default 5)")


def read_env_file(path: Path) -> Dict[str, str]:
    """``NAME=value`` lines of a systemd EnvironmentFile (comments and blanks skipped)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip().strip('"')
    return out


def resolve(args: argparse.Namespace, env: Dict[str, str]) -> Context:
    """The config path and environment doctor uses (the env file's values under the process's own); an env
    file that exists but cannot be read is reported as a failed check (its password would be missing)."""
    config = args.config or env.get("FSBRIDGE_CONFIG")
    if not config and Path("/etc/fsbridge/fsbridge.toml").exists():
        config = "/etc/fsbridge/fsbridge.toml"
    env_file = Path(args.env_file) if args.env_file else (Path(config).with_name("fsbridge.env") if config else None)
    ctx = Context(config=config, env=dict(env), timeout=args.timeout)
    if env_file is not None and env_file.is_file():
        try:
            ctx.env = {**read_env_file(env_file), **env}
        except OSError as exc:
            ctx.add("env file", False, f"cannot read {env_file}: {exc.strerror or exc}",
                    "run fsbridge doctor with sudo (the file is mode 0600), or pass --env-file")
    return ctx


def run_checks(ctx: Context) -> List[Check]:
    """Run every group in order (later groups skip what depends on a failed earlier one)."""
    from fsbridge.ops import checks_app, checks_esl, checks_local
    checks_local.run(ctx)
    if ctx.settings is not None:
        checks_esl.run(ctx)
        checks_app.run(ctx)
    return ctx.results


def run(args: argparse.Namespace, out=None, env: Optional[Dict[str, str]] = None) -> int:
    """Entry point: print the results; exit status 0 only if all passed, else 1."""
    out = out or sys.stdout
    ctx = resolve(args, dict(os.environ) if env is None else env)
    try:
        results = run_checks(ctx)
    finally:
        if ctx.esl is not None:
            ctx.esl.close()
    ok = all(c.ok for c in results)
    if args.json:
        json.dump({"ok": ok, "checks": [asdict(c) for c in results]}, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        for c in results:
            print(c.line(), file=out)
        failed = sum(not c.ok for c in results)
        print(f"{len(results) - failed} passed, {failed} failed", file=out)
    return 0 if ok else 1
