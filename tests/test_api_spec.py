"""fsbridge's REST API against Twilio's own OpenAPI description (../shared/specs/twilio_api_v2010_conferences.json):
routes + methods, request parameter names, enums, and every response body validated against its schema with
exactly the schema's fields (no more, no fewer)."""
import copy
import json
import re
from email.utils import parsedate_to_datetime

import jsonschema
import pytest
import requests

from fixtures.api.harness import AC_A, TOKEN_A, api  # noqa: F401 - fixture

from fsbridge.conference import events as ev
from fsbridge.api import create_app, paging, params, participant_params
from fsbridge.api import twilio_participants as tp
from fsbridge.wire import twilio as tw

RFC2822 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")


@pytest.fixture
def spec(shared_dir):
    return json.loads((shared_dir / "specs" / "twilio_api_v2010_conferences.json").read_text())


def strict(schema, components):
    """OpenAPI 3.0 schema → JSON Schema: resolve $refs, ``nullable`` → also null, every listed property
    required and no other allowed. A $ref'd enum property may be null too: Twilio's own responses carry null
    there (e.g. reason_conference_ended while in progress) and OAS 3.0 cannot say nullable beside a $ref."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            target = copy.deepcopy(components[schema["$ref"].split("/")[-1]])
            target = strict(target, components)
            if "enum" in target:
                target["enum"] = list(target["enum"]) + [None]
                target["type"] = [target["type"], "null"]
            return target
        out = {k: strict(v, components) for k, v in schema.items()}
        if out.get("nullable") and "type" in out:
            out["type"] = [out["type"], "null"]
        if out.get("type") == "object" and "properties" in out:
            out["required"] = sorted(out["properties"])
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(x, components) for x in schema]
    return schema


def checker():
    fc = jsonschema.FormatChecker()

    @fc.checks("date-time-rfc-2822")
    def _rfc2822(value):
        return value is None or (bool(RFC2822.match(value)) and parsedate_to_datetime(value) is not None)

    @fc.checks("uri")
    def _uri(value):
        return value is None or value.startswith("/2010-04-01/Accounts/")

    return fc


def validator(spec, path, method, status):
    op = spec["paths"][path][method]
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    return jsonschema.Draft7Validator(strict(schema, spec["components"]["schemas"]), format_checker=checker())


def test_every_spec_route_is_served(spec, tmp_path):
    from fsbridge.store import Store
    from fsbridge.store.db import make_engine
    app = create_app(Store(make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")), None, {})
    served = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    wanted = {(re.sub(r"\{(\w+)\}", r"<\1>", p), m.upper()) for p, ops in spec["paths"].items()
              for m in ops if m in ("get", "post", "delete")}
    assert wanted <= served, wanted - served


def _body_params(spec, path, method):
    body = spec["paths"][path][method].get("requestBody")
    return set(body["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]) if body else set()


def _query_params(spec, path, method):
    return {p["name"] for p in spec["paths"][path][method].get("parameters", []) if p["in"] == "query"}


def test_request_parameters_match_the_spec(spec):
    base = "/2010-04-01/Accounts/{AccountSid}"
    conf, parts, part = base + "/Conferences/{Sid}.json", base + "/Conferences/{ConferenceSid}/Participants.json", \
        base + "/Conferences/{ConferenceSid}/Participants/{CallSid}.json"
    recs, rec = base + "/Conferences/{ConferenceSid}/Recordings.json", \
        base + "/Conferences/{ConferenceSid}/Recordings/{Sid}.json"
    assert _body_params(spec, conf, "post") == {tw.STATUS, tw.ANNOUNCE_URL, tw.ANNOUNCE_METHOD}
    assert _body_params(spec, parts, "post") == {p.wire for p in participant_params.PARAMS} | {tw.FROM, tw.TO}
    assert _body_params(spec, part, "post") == set(tp.UPDATE_PARAMS)
    assert _body_params(spec, rec, "post") == {tw.STATUS, tw.PAUSE_BEHAVIOR}
    paging_names = {tw.PAGE, tw.PAGE_SIZE, tw.PAGE_TOKEN}
    dates = lambda n: {n, n + "<", n + ">"}  # noqa: E731
    assert _query_params(spec, base + "/Conferences.json", "get") == (
        paging_names | {tw.FRIENDLY_NAME, tw.STATUS} | dates(tw.DATE_CREATED) | dates(tw.DATE_UPDATED))
    assert _query_params(spec, parts, "get") == paging_names | {tw.MUTED, tw.HOLD, tw.COACHING}
    assert _query_params(spec, recs, "get") == paging_names | dates(tw.DATE_CREATED)


def test_enums_match_the_spec(spec):
    schemas = spec["components"]["schemas"]
    assert tuple(schemas["conference_enum_status"]["enum"]) == tw.CONFERENCE_STATUSES
    assert tuple(schemas["conference_enum_update_status"]["enum"]) == tw.CONFERENCE_UPDATE_STATUSES
    assert set(tw.RECORDING_SETTABLE_STATUSES) <= set(schemas["conference_recording_enum_status"]["enum"])
    part = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}.json"]
    props = part["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert tuple(props["HoldMethod"]["enum"]) == params.HTTP_METHODS
    listing = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Conferences.json"]["get"]["parameters"]
    page_size = next(p for p in listing if p["name"] == "PageSize")["schema"]
    assert (page_size["minimum"], page_size["maximum"]) == (1, paging.MAX_PAGE_SIZE)


def test_responses_validate_against_the_spec_schemas(spec, api):
    s = api.seed()
    api.control.emit(ev.PARTICIPANT_JOIN, AC_A, s["cf"], participant=ev.ParticipantView(call_sid="CA" + "c" * 32))
    auth = (AC_A, TOKEN_A)
    root = f"/2010-04-01/Accounts/{AC_A}"
    P = "/2010-04-01/Accounts/{AccountSid}"
    cf, re_sid = s["cf"], s["re"]
    checks = [
        ("get", f"{root}/Conferences.json?PageSize=1", P + "/Conferences.json", 200, None),
        ("get", f"{root}/Conferences/{cf}.json", P + "/Conferences/{Sid}.json", 200, None),
        ("get", f"{root}/Conferences/{cf}/Participants.json", P + "/Conferences/{ConferenceSid}/Participants.json",
         200, None),
        ("get", f"{root}/Conferences/{cf}/Participants.json?PageSize=1&Page=1",
         P + "/Conferences/{ConferenceSid}/Participants.json", 200, None),
        ("get", f"{root}/Conferences/{cf}/Participants/alice.json",
         P + "/Conferences/{ConferenceSid}/Participants/{CallSid}.json", 200, None),
        ("post", f"{root}/Conferences/{cf}/Participants/alice.json",
         P + "/Conferences/{ConferenceSid}/Participants/{CallSid}.json", 200, {"Muted": "true"}),
        ("post", f"{root}/Conferences/{cf}/Participants.json", P + "/Conferences/{ConferenceSid}/Participants.json",
         201, {"From": "+1555", "To": "+1666", "Label": "dave"}),
        ("get", f"{root}/Conferences/{cf}/Recordings.json", P + "/Conferences/{ConferenceSid}/Recordings.json",
         200, None),
        ("get", f"{root}/Conferences/{cf}/Recordings/{re_sid}.json",
         P + "/Conferences/{ConferenceSid}/Recordings/{Sid}.json", 200, None),
        ("post", f"{root}/Conferences/{cf}/Recordings/{re_sid}.json",
         P + "/Conferences/{ConferenceSid}/Recordings/{Sid}.json", 200, {"Status": "stopped"}),
        ("post", f"{root}/Conferences/{cf}.json", P + "/Conferences/{Sid}.json", 200, {"Status": "completed"}),
        ("get", f"{root}/Conferences/{cf}.json", P + "/Conferences/{Sid}.json", 200, None),
        ("get", f"{root}/Conferences/{cf}/Participants/alice.json",
         P + "/Conferences/{ConferenceSid}/Participants/{CallSid}.json", 200, None),
    ]
    for method, url, spec_path, status, data in checks:
        r = requests.request(method.upper(), api.base + url, auth=auth, data=data)
        assert r.status_code == status, (url, r.text)
        body = r.json()
        errs = sorted(validator(spec, spec_path, method, status).iter_errors(body), key=str)
        assert not errs, (url, [e.message for e in errs])
    completed = requests.get(f"{api.base}{root}/Conferences/{cf}.json", auth=auth).json()
    assert completed["status"] == "completed" and completed["reason_conference_ended"] == "conference-ended-via-api"


def test_the_schema_check_can_fail(spec):
    v = validator(spec, "/2010-04-01/Accounts/{AccountSid}/Conferences/{Sid}.json", "get", 200)
    good = {"account_sid": AC_A, "date_created": "Fri, 18 Feb 2011 19:26:50 +0000",
            "date_updated": "Fri, 18 Feb 2011 19:26:50 +0000", "api_version": "2010-04-01",
            "friendly_name": "x", "region": "us1", "sid": "CF" + "0" * 32, "status": "init",
            "uri": "/2010-04-01/Accounts/x.json", "subresource_uris": {}, "reason_conference_ended": None,
            "call_sid_ending_conference": None}
    assert not list(v.iter_errors(good))
    assert list(v.iter_errors({**good, "extra": 1}))
    assert list(v.iter_errors({**good, "status": "running"}))
    assert list(v.iter_errors({**good, "date_created": "2011-02-18T19:26:50Z"}))
    assert list(v.iter_errors({k: x for k, x in good.items() if k != "region"}))
