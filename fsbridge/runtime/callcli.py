"""``fsbridge call``: place a virtual call into a running ``fsbridge serve`` (standalone engine).

``fsbridge call --to NUMBER --from NAME --audio FILE [--dtmf DIGITS@SECONDS …] [--hangup-after SECONDS]
[--url http://127.0.0.1:PORT] [--account AC… --token …] [--app-url URL] [--wait]``

POSTs the REST API's ``Calls.json`` (To=NUMBER, From=NAME, Media=file:<absolute FILE>, Dtmf, TimeLimit; Url
when ``--app-url`` is given) and prints the new CallSid; ``--wait`` polls ``Calls/{Sid}.json`` until the call
completed. ``--url``/``--account``/``--token`` default to ``$FSBRIDGE_URL`` / ``$FSBRIDGE_ACCOUNT_SID`` /
``$FSBRIDGE_AUTH_TOKEN``, else the config file's server address and first account.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``call`` flags."""
    parser.add_argument("--to", required=True, help="a configured number (or a media URL)")
    parser.add_argument("--from", dest="from_", required=True, help="caller name / number")
    parser.add_argument("--audio", help="audio file the caller 'speaks' (WAV/FLAC/MP3), or a media URL "
                                        "(tone:440, silence:)")
    parser.add_argument("--dtmf", action="append", default=[], metavar="DIGITS@SECONDS",
                        help="send DTMF DIGITS at SECONDS after answer (repeatable)")
    parser.add_argument("--hangup-after", type=float, metavar="SECONDS", help="hang up after SECONDS")
    parser.add_argument("--url", help="bridge base URL (default $FSBRIDGE_URL or from --config)")
    parser.add_argument("--account", help="AccountSid (default $FSBRIDGE_ACCOUNT_SID or from --config)")
    parser.add_argument("--token", help="AuthToken (default $FSBRIDGE_AUTH_TOKEN or from --config)")
    parser.add_argument("--config", help="TOML config file to take the defaults from")
    parser.add_argument("--app-url", help="run this voice URL instead of the number's configured one")
    parser.add_argument("--wait", action="store_true", help="wait until the call has ended")
    parser.add_argument("--timeout", type=float, default=3600.0, help="--wait limit in seconds")


def _defaults(args):
    url, account, token = args.url or os.environ.get("FSBRIDGE_URL"), args.account, args.token
    account = account or os.environ.get("FSBRIDGE_ACCOUNT_SID")
    token = token or os.environ.get("FSBRIDGE_AUTH_TOKEN")
    if not (url and account and token):
        from fsbridge import config
        s = config.load(args.config)
        url = url or s.base_url()
        if s.accounts:
            first = next(iter(s.accounts.values()))
            account = account or first.sid
            token = token or first.auth_token
    return (url or "http://127.0.0.1:8080").rstrip("/"), account, token


def media_url(audio: str) -> str:
    """``--audio`` as a media URL: a file becomes ``file:<absolute path>``; media URLs pass through."""
    if audio.startswith(("tone:", "silence:", "file:")):
        return audio
    return "file:" + os.path.abspath(audio)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``fsbridge call``; returns 0 when the call was placed (and, with --wait, ended)."""
    from gevent import monkey
    monkey.patch_all()
    import requests

    from fsbridge.wire import twilio as tw

    url, account, token = _defaults(args)
    if not account or not token:
        print("fsbridge call: no account (use --account/--token or FSBRIDGE_ACCOUNT_SID/FSBRIDGE_AUTH_TOKEN)",
              file=sys.stderr)
        return 2
    if args.audio and not args.audio.startswith(("tone:", "silence:", "file:")) and not os.path.isfile(args.audio):
        print(f"fsbridge call: no such audio file {args.audio}", file=sys.stderr)
        return 2
    data = {tw.TO: args.to, tw.FROM: args.from_, "Media": media_url(args.audio or "silence:")}
    if args.dtmf:
        data["Dtmf"] = ",".join(args.dtmf)
    if args.hangup_after is not None:
        data["TimeLimit"] = str(args.hangup_after)
    if args.app_url:
        data["Url"] = args.app_url
    calls = f"{url}/2010-04-01/Accounts/{account}/Calls.json"
    try:
        resp = requests.post(calls, data=data, auth=(account, token), timeout=30)
    except requests.RequestException as exc:
        print(f"fsbridge call: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if resp.status_code != 201:
        print(f"fsbridge call: HTTP {resp.status_code}: {resp.text}", file=sys.stderr)
        return 1
    call = resp.json()
    print(call["sid"], flush=True)
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    status = call["status"]
    while status not in tw.CALL_FINAL_STATUSES:
        if time.monotonic() > deadline:
            print(f"fsbridge call: {call['sid']} still {status} after {args.timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(0.5)  # CLI polling of a remote process, not test synchronisation
        status = requests.get(f"{url}/2010-04-01/Accounts/{account}/Calls/{call['sid']}.json",
                              auth=(account, token), timeout=30).json()["status"]
    print(f"{call['sid']} {status}", flush=True)
    return 0
