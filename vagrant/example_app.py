"""Serve fsbridge's built-in example app (fsbridge.demo.app) for the Vagrant VM's two example numbers.

The VM's /etc/fsbridge/fsbridge.toml points 7200 at /voice/team and 7201 at /voice/waiting on this app.
It reads the same settings as ``fsbridge serve`` (fsbridge.config: the TOML, then FSBRIDGE_* variables): the
first account (to check X-Twilio-Signature on callbacks and to call the REST API) and the REST port (the API it
talks to on 127.0.0.1).

    /opt/fsbridge/bin/python example_app.py --config /etc/fsbridge/fsbridge.toml --listen 127.0.0.1:8090
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402

from fsbridge.config import load  # noqa: E402
from fsbridge.demo.app import create_demo_app  # noqa: E402


def main() -> int:
    """Serve the example app until killed; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="/etc/fsbridge/fsbridge.toml")
    parser.add_argument("--listen", default="127.0.0.1:8090", help="HOST:PORT (default %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = load(args.config)
    account = next(iter(settings.accounts.values()))
    rest_base = f"http://127.0.0.1:{settings.port}"
    app = create_demo_app(rest_base=rest_base, account_sid=account.sid, auth_token=account.auth_token,
                          on_callback=lambda p: logging.info("callback %s %s", p.get("StatusCallbackEvent"),
                                                             p.get("CallSid", "")))
    host, _, port = args.listen.rpartition(":")
    logging.info("example app on http://%s:%s (REST API %s)", host, port, rest_base)
    WSGIServer((host, int(port)), app).serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
