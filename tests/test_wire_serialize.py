"""fsbridge.wire: the serialisers (known answers from each dialect's documentation), the vocabularies against
Twilio's API specification, and purity (stdlib only, so the sans-IO domain may import it)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from twilio.base import serialize as twilio_serialize

from fsbridge.wire import DIALECTS, JAMBONZ, TEXML, TWIML
from fsbridge.wire import jambonz as jz
from fsbridge.wire import texml as tx
from fsbridge.wire import twilio as tw
from fsbridge.wire.serialize import (bool_str, iso_ms, lower_camel, parse_bool, rfc2822_callback, rfc2822_rest,
                                     snake_case, telnyx_time, upper_camel)

REPO = Path(__file__).resolve().parent.parent
SPEC_NAME = "twilio_api_v2010_conferences.json"


@pytest.mark.parametrize("wire,snake", [
    ("startConferenceOnEnter", "start_conference_on_enter"), ("StartConferenceOnEnter", "start_conference_on_enter"),
    ("CallSidToCoach", "call_sid_to_coach"), ("beep", "beep"), ("Muted", "muted"),
    ("ConferenceRecordingStatusCallbackEvent", "conference_recording_status_callback_event"),
])
def test_snake_case_reads_lower_and_upper_camel(wire, snake):
    assert snake_case(wire) == snake


@pytest.mark.parametrize("snake", ["status_callback_event", "wait_url", "beep", "call_sid_to_coach"])
def test_camel_forms_invert_snake_case(snake):
    assert snake_case(lower_camel(snake)) == snake == snake_case(upper_camel(snake))
    assert lower_camel(snake)[0].islower() and upper_camel(snake)[0].isupper()


@pytest.mark.parametrize("text,value", [("true", True), ("FALSE", False), (" True ", True), ("false\n", False)])
def test_parse_bool_accepts_true_false_in_any_case(text, value):
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["", "1", "yes", "0", "truthy", "t"])
def test_parse_bool_rejects_anything_else(text):
    with pytest.raises(ValueError):
        parse_bool(text)


@pytest.mark.parametrize("value", [True, False])
def test_bool_str_is_what_twilio_python_sends(value):
    assert bool_str(value) == twilio_serialize.boolean_to_string(value)
    assert parse_bool(bool_str(value)) is value


def test_rfc2822_rest_pads_the_day_as_the_api_specification_shows(shared_dir):
    # spec examples: "Mon, 08 Feb 2021 20:58:45 +0000"
    assert rfc2822_rest(datetime(2021, 2, 8, 20, 58, 45, 999000, tzinfo=timezone.utc)) == \
        "Mon, 08 Feb 2021 20:58:45 +0000"
    assert "Mon, 08 Feb 2021 20:58:45 +0000" in (shared_dir / "specs" / SPEC_NAME).read_text()
    assert rfc2822_rest(None) is None


def test_rfc2822_callback_leaves_the_day_unpadded_as_the_statuscallback_table_shows(shared_dir):
    # twilio-twiml-conference-noun.txt: "Timestamp | Thu, 1 Jun 2017 20:48:32 +0000"
    assert rfc2822_callback(datetime(2017, 6, 1, 20, 48, 32, 500000, tzinfo=timezone.utc)) == \
        "Thu, 1 Jun 2017 20:48:32 +0000"
    assert rfc2822_callback(datetime(2017, 6, 11, 20, 48, 32)) == "Sun, 11 Jun 2017 20:48:32 +0000"
    seed = (shared_dir / "seeds" / "twilio-twiml-conference-noun.txt").read_text()
    assert "Thu, 1 Jun 2017 20:48:32 +0000" in seed


def test_dates_are_written_in_utc():
    cet = timezone(timedelta(hours=1))
    when = datetime(2017, 6, 1, 21, 48, 32, tzinfo=cet)
    assert rfc2822_callback(when) == "Thu, 1 Jun 2017 20:48:32 +0000"
    assert rfc2822_rest(when) == "Thu, 01 Jun 2017 20:48:32 +0000"
    assert telnyx_time(when) == "2017-06-01 20:48:32.000000Z"


def test_telnyx_and_jambonz_time_forms():
    when = datetime(2021, 4, 28, 22, 51, 29, 993535, tzinfo=timezone.utc)
    assert telnyx_time(when) == "2021-04-28 22:51:29.993535Z"        # telnyx-texml-conference.txt
    assert iso_ms(datetime(2020, 4, 27, 13, 44, 17, 336999)) == "2020-04-27T13:44:17.336Z"  # Date.toISOString


def test_dialect_ids():
    assert DIALECTS == (TWIML, TEXML, JAMBONZ) == ("twiml", "texml", "jambonz")
    from fsbridge.markup import model
    assert (model.TWIML, model.TEXML, model.JAMBONZ) == DIALECTS


def test_twilio_vocabulary_matches_the_api_specification(shared_dir):
    schemas = json.loads((shared_dir / "specs" / SPEC_NAME).read_text())["components"]["schemas"]
    props = {name: tuple(schemas[f"api.v2010.account.{name}"]["properties"])
             for name in ("conference", "conference.participant", "conference.conference_recording")}
    assert props["conference"] == tw.CONFERENCE_FIELDS
    assert props["conference.participant"] == tw.PARTICIPANT_FIELDS
    assert props["conference.conference_recording"] == tw.RECORDING_FIELDS
    assert tuple(schemas["conference_enum_status"]["enum"]) == tw.CONFERENCE_STATUSES
    assert tuple(schemas["participant_enum_status"]["enum"]) == tw.PARTICIPANT_STATUSES
    assert tuple(schemas["conference_recording_enum_status"]["enum"]) == tw.RECORDING_STATUSES
    assert set(schemas["conference_enum_reason_conference_ended"]["enum"]) == set(tw.REASONS_CONFERENCE_ENDED)


def test_jambonz_and_texml_words():
    assert jz.STATUS_EVENTS == ("start", "end", "join", "leave", "start-talking", "end-talking")
    assert dict(jz.STATUS_EVENT_ALIASES) == {"stop-talking": "end-talking"}
    assert set(tx.CONFERENCE_EVENTS) <= set(tw.CONFERENCE_EVENTS)
    assert tx.STATUS_CALLBACK_FIELDS[2] == "CallSidLegacy" and len(tx.STATUS_CALLBACK_FIELDS) == 10


def test_the_wire_package_imports_only_the_standard_library():
    code = ("import json, sys; before = set(sys.modules); import fsbridge.wire.twilio, fsbridge.wire.texml, "
            "fsbridge.wire.jambonz, fsbridge.wire.serialize; "
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    outside = [m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names
               and not m.startswith("fsbridge.wire") and m != "fsbridge"]
    assert not outside, outside
    assert "socket" not in loaded   # tests/test_conference_imports.py forbids it in the domain
