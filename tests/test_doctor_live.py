"""``fsbridge doctor``'s FreeSWITCH checks against a live FreeSWITCH (skipped unless FSBRIDGE_TEST_ESL is set).

FSBRIDGE_TEST_ESL=host:port:password. Checks what holds for any FreeSWITCH fsbridge can use — reachable,
password accepted, events subscribed, mod_conference loaded — and, when FSBRIDGE_TEST_SETUP=1 says
``fsbridge setup freeswitch`` was applied to it, the profile and the 7200 route too (outbound socket
127.0.0.1:8084, the default).
"""
import argparse
import io
import json
import os

import pytest

from fsbridge.ops import doctor

pytestmark = pytest.mark.freeswitch


def test_doctor_against_live_freeswitch(tmp_path):
    host, port, password = os.environ["FSBRIDGE_TEST_ESL"].rsplit(":", 2)
    config = tmp_path / "fsbridge.toml"
    config.write_text(f'[storage]\ndatabase_url = "sqlite:///{tmp_path / "db.sqlite"}"\n[engine]\ntype = "freeswitch"\n'
                      f'[freeswitch]\nesl_host = "{host}"\nesl_port = {port}\n')
    parser = argparse.ArgumentParser()
    doctor.add_arguments(parser)
    out = io.StringIO()
    doctor.run(parser.parse_args(["--config", str(config), "--json"]), out=out,
               env={"FSBRIDGE_ESL_PASSWORD": password})
    checks = {c["name"]: c for c in json.loads(out.getvalue())["checks"]}
    must = ["config", "database", "ESL reachable", "events subscribed", "mod_conference", "RTP range",
            "registered phones"]
    if os.environ.get("FSBRIDGE_TEST_SETUP") == "1":
        must += ["ESL password", "fsbridge profile", "dialplan"]
    assert all(checks[name]["ok"] for name in must), {n: checks[n] for n in must}
