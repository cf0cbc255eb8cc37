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
