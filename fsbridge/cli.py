"""The ``fsbridge`` command: one subcommand per module, imported lazily.

Each subcommand module exposes ``add_arguments(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int`` (the exit status). gevent monkey-patching, when a subcommand
needs it, is done by that subcommand's ``run`` before anything else (entry points only).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

#: subcommand → (module, one-line help)
SUBCOMMANDS = {
    "parse": ("fsbridge.markup.cli", "parse a TwiML/TeXML/jambonz document and print the model as JSON"),
    "serve": ("fsbridge.app", "run the bridge: engine, REST API, callbacks, store"),
    "call": ("fsbridge.runtime.callcli", "place a virtual call into a running bridge (standalone engine)"),
    "demo": ("fsbridge.demo.run", "run the Team Meeting demo on the standalone engine"),
    "setup": ("fsbridge.ops.setup_freeswitch", "install fsbridge beside FreeSWITCH: setup freeswitch [--dry-run]"),
    "export": ("fsbridge.ops.export", "write one UTC day of Conferences + Participants as gzip'd JSON lines"),
    "doctor": ("fsbridge.ops.doctor", "check an installation: config, database, FreeSWITCH, apps (✔/✘ per check)"),
}


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``fsbridge`` console script; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="fsbridge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_module=module)
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    return int(args._module.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
