"""``fsbridge parse [--dialect twiml|texml|jambonz] [--content-type T] [--wait] PATH|-``.

Prints the parsed document as JSON (shape: :mod:`fsbridge.markup.serialize`, docs/markup.md) and exits 0;
on a markup error prints ``error <code>: <message>`` to stderr and exits 2 (an unreadable file is Twilio's
11200, "HTTP retrieval failure", the code for a document that could not be fetched).
"""
from __future__ import annotations

import argparse
import json
import sys

from . import parse, to_json, verbs_allowed_in_wait
from .errors import MAX_BODY_BYTES, RETRIEVAL_FAILURE, MarkupError
from .model import DIALECTS, JAMBONZ, TWIML


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``parse`` subcommand's options on ``parser`` (see the module docstring)."""
    parser.add_argument("--dialect", choices=DIALECTS, default=None,
                        help="document dialect (default: jambonz for a .json file or a body starting "
                             "with '[' or '{', else twiml; TeXML must be named)")
    parser.add_argument("--content-type", default=None, help="Content-Type the document was served with")
    parser.add_argument("--wait", action="store_true",
                        help="read it as a waitUrl/holdUrl/announceUrl document (Play, Say, Pause, Redirect only)")
    parser.add_argument("path", help="document file, or - for standard input")


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
        with open(path, "rb") as fh:
            return fh.read(MAX_BODY_BYTES + 1)
    except OSError as exc:
        raise MarkupError(RETRIEVAL_FAILURE, f"cannot read {path}: {exc.strerror or exc}") from None


def guess_dialect(path: str, body: bytes) -> str:
    """``--dialect`` left out: jambonz for ``*.json`` or a body whose first non-blank byte is ``[``/``{``,
    else twiml (TwiML and TeXML look alike: TeXML is never guessed)."""
    if path.lower().endswith(".json") or body.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] in (b"[", b"{"):
        return JAMBONZ
    return TWIML


def run(args: argparse.Namespace) -> int:
    """Parse ``args.path`` and print the JSON on stdout → 0; on MarkupError print ``error <code>: <message>``
    on stderr → 2."""
    try:
        body = _read(args.path)
        dialect = args.dialect or guess_dialect(args.path, body)
        response = parse(body, dialect, args.content_type)
        if args.wait:
            response = verbs_allowed_in_wait(response)
    except MarkupError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    json.dump(to_json(response), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
