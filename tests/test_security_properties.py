"""Property test (#14 "done when"): every REST route of a served bridge (taken from the app's URL map, so a
new route is covered automatically), driven with generated path values and parameters — hostile numbers,
dates, URLs, media, Unicode — never answers 5xx, and every error is JSON in the route's shape (Twilio
``{code, message, more_info, status}``; Telnyx ``{"errors": [{code, title, detail}]}``).

Egress is the default policy (nothing allowed beyond public addresses), so generated URLs never reach a
real service; examples per route are bounded to keep the suite fast."""
from __future__ import annotations

import dataclasses
import re

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fsbridge.app import BridgeServer
from fsbridge.config import Account
from fsbridge.local import local_settings
from security_support import AC, AC_B, TOKEN, TOKEN_B

TELNYX_KEY = "KEY-props"
EXAMPLES = 10

HOSTILE = ["", " ", "0", "-1", "1e308", "9" * 18, "-" + "9" * 18, "inf", "-inf", "nan", "NaN", str(10 ** 18), str(2 ** 63), "9" * 400,
           "1_000", "0x10", "true", "false", "TRUE", "9999-12-31", "0001-01-01", "2024-02-30", "10000-01-01",
           "file:/etc/passwd", "file:///dev/zero", "/etc/passwd", "tone:440", "tone:%(1,1,1)", "silence:",
           "http://169.254.169.254/", "http://127.0.0.1:9/x", "http://2852039166/", "https://[::1]:8080/",
           "gopher://x", "javascript:alert(1)", "http://a:b@example.com:99999/", "1@1e308", "1@inf", "*@-1",
           "w" * 300, "PA" + "A" * 40, "PAMTIzfHg", "CA" + "0" * 32, "CF" + "f" * 32, "RE" + "1" * 32,
           "\u202e\u0000", "é" * 50, "<Response/>", "<Response><Play>file:///etc/passwd</Play></Response>",
           "GET", "POST", "PUT", "start end join leave", "completed", "canceled", "in-progress"]

NAMES = ["To", "From", "Url", "Method", "Twiml", "Media", "Dtmf", "SendDigits", "TimeLimit", "Status", "Page",
         "PageSize", "PageToken", "DateCreated", "DateCreated<", "DateCreated>", "DateUpdated", "DateUpdated<",
         "DateUpdated>", "FriendlyName", "Muted", "Hold", "HoldUrl", "HoldMethod", "AnnounceUrl",
         "AnnounceMethod", "Label", "Coaching", "CallSidToCoach", "EndConferenceOnExit",
         "StartConferenceOnEnter", "Beep", "StatusCallback", "StatusCallbackEvent", "StatusCallbackMethod",
         "ConferenceStatusCallback", "ConferenceStatusCallbackEvent", "WaitUrl", "WaitMethod", "Timeout",
         "MaxParticipants", "Record", "Region", "PauseBehavior", "EarlyMedia", "Trim", "Recording"]

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
hostile = st.sampled_from(HOSTILE)
value = st.one_of(hostile, hostile, hostile, text, st.integers(-10 ** 20, 10 ** 20).map(str),
                  st.floats(allow_nan=True).map(repr))
NUMBERS = st.sampled_from(["9" * 18, "-" + "9" * 18, str(2 ** 63), "1e308", "inf", "nan", "-1", "0", "1_000",
                           "٣", " 7 ", "0x1f"])
DATES = st.sampled_from(["9999-12-31", "0001-01-01", "10000-01-01", "2024-02-30", "2024-13-01", "x", ""])


# the inputs #14 found (each was a 5xx): tried on every route before the generated ones
KNOWN_BAD = [
    {"Page": "9" * 18, "DateCreated": "9999-12-31", "TimeLimit": "inf", "To": "file:/dev/zero", "From": "+1",
     "Url": "http://127.0.0.1:9/x", "Dtmf": "1@1e308"},
    {"Page": "1", "PageSize": "1000", "DateCreated<": "9999-12-31", "DateUpdated>": "9999-12-31",
     "PageToken": "PAOTk5OTk5OTk5OTk5OTk5OTk5OTk5OXx4", "AnnounceUrl": "http://127.0.0.1:22/x"},
    {"DateCreated>": "9999-12-31", "Muted": "true", "HoldUrl": "file:///etc/passwd", "To": "tone:1@inf"},
]


def _value_for(name: str):
    """Values for ``name``: its own kind of hostile value half of the time (numbers, dates), else any."""
    if name in ("Page", "PageSize", "TimeLimit", "Timeout", "MaxParticipants", "Trim"):
        return st.one_of(NUMBERS, value)
    if name.startswith(("DateCreated", "DateUpdated")):
        return st.one_of(DATES, value)
    return value


# every known parameter may appear (each drawn independently), plus a few unknown ones
form = st.builds(lambda known, extra: {**extra, **known},
                 st.fixed_dictionaries({}, optional={name: _value_for(name) for name in NAMES}),
                 st.dictionaries(text, value, max_size=2))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("props"))
    s = local_settings(workdir, accounts={AC: TOKEN, AC_B: TOKEN_B}, clock="20", rate=8000, fetch_timeout=2.0,
                       egress_allow=())
    accounts = dict(s.accounts)
    accounts[AC] = dataclasses.replace(accounts[AC], telnyx_api_key=TELNYX_KEY)
    server = BridgeServer(dataclasses.replace(s, accounts=accounts)).start()
    made = requests.post(f"{server.base_url}/2010-04-01/Accounts/{AC}/Conferences/Room/Participants.json",
                         data={"From": "+1555", "To": "tone:440", "Label": "agent"}, auth=(AC, TOKEN), timeout=10)
    assert made.status_code == 201, made.text
    ids = {"conference": made.json()["conference_sid"], "call": made.json()["call_sid"]}
    yield server, ids
    server.stop()


def routes(app):
    """``[(method, rule)]`` of every route the served app has (its URL map), sorted."""
    out = {(method, rule.rule) for rule in app.url_map.iter_rules()
           for method in rule.methods - {"HEAD", "OPTIONS"}}
    return sorted(out)


def _path_value(name: str, ids: dict):
    low = name.lower()
    if "account" in low:
        return st.sampled_from([AC, AC, AC, AC_B, "AC" + "0" * 32, "x"])
    if "conference" in low:
        return st.one_of(st.sampled_from([ids["conference"], "Room", "CF" + "0" * 32]), text.filter(bool))
    if "call" in low or "label" in low:
        return st.one_of(st.sampled_from([ids["call"], "agent", "CA" + "0" * 32]), text.filter(bool))
    return st.one_of(st.sampled_from(["RE" + "0" * 32, "x"]), text.filter(bool))


def _check_error(resp, telnyx: bool) -> None:
    assert resp.headers.get("Content-Type", "").startswith("application/json"), (resp.status_code, resp.text[:200])
    body = resp.json()
    if telnyx and "errors" in body:
        assert body["errors"] and {"code", "title", "detail"} <= set(body["errors"][0]), body
        return
    assert {"code", "message", "more_info", "status"} <= set(body) and body["status"] == resp.status_code, body
    assert isinstance(body["code"], int), body


def test_every_route_is_driven(served):
    """The routes come from the served app, so a new or moved route is covered without editing this file."""
    server, _ = served
    found = routes(server.app)
    assert len(found) >= 30 and ("POST", "/2010-04-01/Accounts/<AccountSid>/Calls.json") in found
    for method, rule in found:
        if rule.startswith(("/2010-04-01/", "/v2/texml/")):
            _drive(server, served[1], method, rule)


def _drive(server, ids, method, rule):
    names = re.findall(r"<([^>]+)>", rule)
    telnyx = rule.startswith("/v2/texml")

    own = {n: AC if "account" in n.lower() else ids["conference"] if "conference" in n.lower()
           else ids["call"] if ("call" in n.lower() or "label" in n.lower()) else "RE" + "0" * 32 for n in names}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(path=st.fixed_dictionaries({n: _path_value(n, ids) for n in names}), params=form)
    @example(path=own, params=KNOWN_BAD[0])
    @example(path=own, params=KNOWN_BAD[1])
    @example(path=own, params=KNOWN_BAD[2])
    def run(path, params):
        url = rule
        for name, v in path.items():
            url = url.replace(f"<{name}>", requests.utils.quote(v, safe=""))
        kw = {"auth": (AC, TOKEN)} if not telnyx else {"headers": {"Authorization": f"Bearer {TELNYX_KEY}"}}
        if method == "GET":
            kw["params"] = params
        else:
            kw["data"] = params
        resp = requests.request(method, server.base_url + url, timeout=20, **kw)
        assert resp.status_code < 500, (method, url, params, resp.status_code, resp.text[:300])
        if resp.status_code >= 400:
            _check_error(resp, telnyx)

    run()
