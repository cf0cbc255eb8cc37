"""``fsbridge export --day YYYY-MM-DD [--config FILE] [--out DIR] [--account AC…]``: one day of Conferences and
Participants in one gzip'd JSON-lines file, for operators (issue 22, modelled on Twilio's Bulk Export: "one
day of data per file"; ../shared/seeds/twilio-conference-resource.txt, Conference Log Retention).

The file ``DIR/conferences-YYYY-MM-DD.jsonl.gz`` holds one JSON object per line, exactly as the REST API
renders the resource (:mod:`fsbridge.api.render`: Twilio 2010-04-01 field names, RFC 2822 dates):

* first every Conference created that UTC day (``date_created`` in [day 00:00, next day 00:00)), oldest
  first — these lines have ``sid`` ``CF…`` and ``subresource_uris``;
* then every Participant created that UTC day, oldest first — these lines have ``call_sid`` and
  ``conference_sid``.

All accounts unless ``--account`` narrows it. Rows are read in keyset batches (bounded memory); the file is
written beside its final name and renamed into place, so a reader never sees half a file. Exit status 0,
the path printed on stdout; 2 for a bad ``--day``.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date

from fsbridge.api.export_files import BATCH, export_day, file_name  # noqa: F401 - the day file writer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--day`` (required, UTC date), ``--config``, ``--out`` (default .), ``--account``, ``--database-url``."""
    parser.add_argument("--day", required=True, help="the UTC day to export, YYYY-MM-DD")
    parser.add_argument("--config", default=None, metavar="FILE", help="TOML config (default: $FSBRIDGE_CONFIG)")
    parser.add_argument("--out", default=".", metavar="DIR", help="directory for the file (default: .)")
    parser.add_argument("--account", default=None, help="only this AccountSid's records")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL (overrides the config)")


def run(args: argparse.Namespace) -> int:
    """Entry point: export the day; print the file's path."""
    from fsbridge import config
    from fsbridge.store.db import make_engine

    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        print(f"fsbridge export: --day must be YYYY-MM-DD, not {args.day!r}", file=sys.stderr)
        return 2
    settings = config.load(args.config)
    engine = make_engine(args.database_url or settings.database_url)
    try:
        print(export_day(engine, day, args.out, account=args.account))
    finally:
        engine.dispose()
    return 0


__all__ = ["add_arguments", "export_day", "file_name", "run"]
