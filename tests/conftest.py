"""Shared test setup. gevent monkey-patching happens here (and in entry points) only."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# The tests' apps and callback receivers listen on loopback, which the egress policy denies by default
# (fsbridge.egress, docs/security.md): this test configuration allows it explicitly, as an operator whose app
# sits on loopback would. Clients built without a policy and `fsbridge serve` subprocesses read it. Tests of
# the default policy build theirs explicitly.
os.environ.setdefault("FSBRIDGE_EGRESS_ALLOW", "127.0.0.0/8,::1/128")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

from pg_support import pg_url  # noqa: E402,F401 - session fixture: a throw-away PostgreSQL (tests/pg_support.py)


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the checkout (seeds, specs, FreeSWITCH transcripts); skips when absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout (a user's own clone)")
    return SHARED


def pytest_collection_modifyitems(config, items):
    """Tests marked ``freeswitch`` run only when FSBRIDGE_TEST_ESL=host:port:password is set."""
    if os.environ.get("FSBRIDGE_TEST_ESL"):
        return
    skip = pytest.mark.skip(reason="needs a live FreeSWITCH: set FSBRIDGE_TEST_ESL=host:port:password")
    for item in items:
        if "freeswitch" in item.keywords:
            item.add_marker(skip)


# ------------------------------------------------------------------ the app → bridge → client chain
# (Flask tutorial style): the customer's app on a real port 0, a whole in-process bridge whose number
# e2e_support.NUMBER runs that app's /voice, and a REST client for it (rest_api). Used by tests/test_e2e_*.py.
@pytest.fixture
def app_server():
    """The customer's app (:class:`e2e_support.AppServer`), served on 127.0.0.1:0 until the test ends."""
    from e2e_support import AppServer
    srv = AppServer()
    yield srv
    srv.http.stop()


@pytest.fixture
def bridge_server(tmp_path, app_server):
    """``fsbridge serve`` in this process (standalone engine, clock 10× real time, 16 kHz) with one account
    (e2e_support.AC/TOKEN) and the number e2e_support.NUMBER → ``app_server.url + "/voice"``."""
    from e2e_support import AC, NUMBER, SPEED, TOKEN
    from fsbridge.config import Number
    from fsbridge.local import start_bridge
    srv = start_bridge(str(tmp_path / "bridge"), accounts={AC: TOKEN},
                       numbers=[Number(NUMBER, AC, app_server.url + "/voice")], clock=SPEED, rate=16000,
                       fetch_timeout=2.0, media_dirs=(str(tmp_path),))   # REST file: callees live in tmp_path
    yield srv
    srv.stop()


@pytest.fixture
def rest_api(bridge_server):
    """``rest_api(path, data=None, method="POST")`` → requests.Response: an authenticated request to the
    bridge's account root (``/2010-04-01/Accounts/{AC}/{path}``)."""
    from e2e_support import rest
    return lambda path, data=None, method="POST": rest(bridge_server, path, data, method)
