"""``fsbridge demo --console``: keep the demo's bridge serving so its conference can be watched live and
browsed after it ended (timeline, status callbacks, recording player) until Ctrl-C / SIGTERM."""
from __future__ import annotations

import signal
from urllib.parse import urlsplit, urlunsplit


def console_url(base_url: str, account_sid: str, token: str) -> str:
    """The console's URL with the demo account's credentials in it (``http://AC…:token@host:port/console/``),
    for a browser's address bar (the demo's token is random per run)."""
    parts = urlsplit(base_url)
    netloc = f"{account_sid}:{token}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/console/", "", ""))


def announce(base_url: str, account_sid: str, token: str) -> None:
    """Print where the console is and how to log in."""
    print(f"  console {base_url.rstrip('/')}/console/  (user {account_sid}, password {token})", flush=True)
    print(f"          {console_url(base_url, account_sid, token)}", flush=True)


def serve_until_interrupted() -> None:
    """Block (gevent-friendly) until SIGINT or SIGTERM."""
    import gevent
    import gevent.event
    done = gevent.event.Event()
    handlers = [gevent.signal_handler(s, done.set) for s in (signal.SIGINT, signal.SIGTERM)]
    print("  the bridge keeps serving the console; Ctrl-C to stop", flush=True)
    try:
        done.wait()
    finally:
        for h in handlers:
            h.cancel()
