"""The wire serialisers give exactly what the copies they replace give today (delete this file together with
those copies when the switch-over lands: api/render.rfc2822, callbacks/twilio.rfc2822, callbacks/jambonz.iso_ms,
callbacks/telnyx.telnyx_time, api/twilio_participants.snake, api/params.boolean, runtime/bridge._bool,
runtime/calls_api's format_datetime)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from fsbridge.api import params as api_params
from fsbridge.api import render as api_render
from fsbridge.api.errors import ApiError
from fsbridge.api.twilio_participants import CREATE_PARAMS, UPDATE_PARAMS, snake
from fsbridge.callbacks import jambonz as cb_jambonz
from fsbridge.callbacks import telnyx as cb_telnyx
from fsbridge.callbacks import twilio as cb_twilio
from fsbridge.wire import serialize as ws

WHEN = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7)),
                                               timezone(timedelta(hours=5, minutes=30))]))


@settings(max_examples=300, deadline=None)
@given(WHEN)
def test_dates_match_the_copies_they_replace(when):
    assert ws.rfc2822_rest(when) == api_render.rfc2822(when) == format_datetime(when.astimezone(timezone.utc))
    assert ws.rfc2822_callback(when) == cb_twilio.rfc2822(when)
    assert ws.telnyx_time(when) == cb_telnyx.telnyx_time(when)
    assert ws.iso_ms(when) == cb_jambonz.iso_ms(when)


@pytest.mark.parametrize("name", list(CREATE_PARAMS) + list(UPDATE_PARAMS))
def test_snake_case_matches_the_api_copy(name):
    assert ws.snake_case(name) == snake(name)


@pytest.mark.parametrize("text", ["true", "false", "TRUE", " False ", "yes", "1", ""])
def test_parse_bool_matches_api_params_boolean(text):
    try:
        expected = api_params.boolean(MultiDict([("X", text)]), "X")
    except ApiError:
        with pytest.raises(ValueError):
            ws.parse_bool(text)
    else:
        assert ws.parse_bool(text) is expected
