"""esl_parse: every recorded FreeSWITCH 1.10.12 message parses; greenswitch's defects are fixed."""
import collections
import io

import pytest
from greenswitch import esl as gesl
from hypothesis import given, settings
from hypothesis import strategies as st

from fsbridge.engines.freeswitch import esl_parse
from fsbridge.engines.freeswitch.esl_parse import ESLParseError, parse_message, read_message
from fakes import FIXTURES, plain_event, read_transcript, recorded_events

ALL = sorted(FIXTURES.rglob("*.esl.txt"))


def test_fixture_set_is_complete():
    assert len(ALL) == 36


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_transcript_message_parses(path):
    kinds = collections.Counter()
    for direction, _, raw in read_transcript(path):
        if direction == "fs":
            msg = parse_message(raw)
            assert msg.content_type in {
                "auth/request", "command/reply", "api/response", "text/event-plain", "text/event-json",
                "text/disconnect-notice"}
            if msg.content_type in ("text/event-plain", "text/event-json"):
                assert msg.event is not None and msg.event.get("Event-Name")
                assert msg.event.get("Event-Date-Timestamp", "").isdigit()
            # the stream reader gives the same as the one-shot parser
            again = read_message(io.BytesIO(raw))
            assert again.header_list == msg.header_list and again.body == msg.body
            kinds[msg.content_type] += 1
        elif direction == "client":
            assert raw.endswith(b"\n\n")
    assert kinds  # every file has FreeSWITCH messages


def test_totals_match_the_fixture_readme():
    kinds = collections.Counter()
    for path in ALL:
        for direction, _, raw in read_transcript(path):
            kinds[direction if direction != "fs" else parse_message(raw).content_type] += 1
    assert kinds["text/event-plain"] == 589
    assert kinds["text/event-json"] == 97
    assert kinds["api/response"] == 119
    assert kinds["command/reply"] == 142
    assert kinds["client"] == 261
    assert kinds["text/disconnect-notice"] == 39


def test_background_job_inner_body_is_separate_from_content_length():
    jobs = [parse_message(r).event for r in recorded_events("conference_lifecycle/events_plain.esl.txt")]
    jobs = [e for e in jobs if e.get("Event-Name") == "BACKGROUND_JOB"]
    assert jobs
    first = jobs[0]
    assert first.get("Content-Length") == "41"  # not "41\n\n+OK …" as greenswitch makes it
    assert first.body == "+OK a311c92d-5fd1-4d9f-8fb0-3f3bebce3823\n"
    assert first.get("Job-Command-Arg").startswith("{origination_caller_id_number=1001,")
    assert first.get("Job-Command-Arg").endswith("&conference(life@default)")


def test_repeated_headers_are_kept_in_order():
    events = [parse_message(r).event for r in recorded_events("conference_lifecycle/events_plain.esl.txt")]
    hangup = next(e for e in events if e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE")
    assert hangup.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
    energy = next(e for e in events if e.get("Action") == "energy-level-member")
    assert len(energy.get_all("Energy-Level")) == 2
    floor = next(e for e in events if e.get("Action") == "floor-change")
    assert len(floor.get_all("Conference-Name")) == 2


def test_json_events_carry_the_same_sequence_as_plain_ones():
    def seq(rel, kind):
        out = []
        for d, _, raw in read_transcript(FIXTURES / rel):
            if d == "fs" and kind in raw:
                e = parse_message(raw).event
                out.append((e.get("Event-Name"), e.get("Action"), e.get("Unique-ID"), e.get("Member-ID")))
        return out
    plain = seq("conference_lifecycle/events_plain.esl.txt", b"text/event-plain")
    js = seq("conference_lifecycle/events_json.esl.txt", b"text/event-json")
    assert js and [x for x in plain if x[0] != "BACKGROUND_JOB"][:20] == [x for x in js if x[0] != "BACKGROUND_JOB"][:20]


def test_json_background_job_body():
    for d, _, raw in read_transcript(FIXTURES / "inbound/events_json.esl.txt"):
        if d == "fs" and b"BACKGROUND_JOB" in raw:
            e = parse_message(raw).event
            assert e.body.startswith(("+OK", "-ERR"))
            return
    pytest.fail("no JSON BACKGROUND_JOB")


def test_outbound_connect_reply_is_decoded_channel_data():
    recs = read_transcript(FIXTURES / "outbound/basic.outbound_session.esl.txt")
    connect = next(parse_message(b) for d, _, b in recs if d == "fs" and b"Socket-Mode" in b)
    assert connect.get("Reply-Text") == "+OK\n"  # finding 27: url-encoded "+OK\n"
    assert connect.get("Event-Name") == "CHANNEL_DATA"
    assert connect.get("Unique-ID").startswith("bc60be83")
    assert connect.get("Control") == "full"


FORGED = "Bob%0AUnique-ID%3A%20x"


def _forged_event() -> bytes:
    inner = ("Event-Name: CUSTOM\nEvent-Subclass: conference%3A%3Amaintenance\nAction: add-member\n"
             "Conference-Name: CF1\nMember-ID: 7\nUnique-ID: real-uuid\nCaller-Caller-ID-Name: " + FORGED
             + "\nEvent-Date-Timestamp: 1795312372174627\n\n").encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner


def test_forged_header_is_rejected_by_the_strict_parser():
    ev = parse_message(_forged_event()).event
    assert ev.get("Unique-ID") == "real-uuid"
    assert ev.get_all("Unique-ID") == ["real-uuid"]
    assert ev.get("Caller-Caller-ID-Name") == "Bob\nUnique-ID: x"


def test_greenswitch_parser_is_fooled_by_the_same_event():
    """The defect this module exists for (greenswitch 0.0.19 ESLEvent.parse_data): keep as a canary."""
    body = _forged_event().split(b"\n\n", 1)[1].decode()
    ev = gesl.ESLEvent("")
    ev.parse_data(body)
    assert ev.headers["Unique-ID"] == "x"


def test_greenswitch_glues_the_background_job_body_onto_content_length():
    raw = next(r for r in recorded_events("conference_lifecycle/events_plain.esl.txt") if b"BACKGROUND_JOB" in r)
    ev = gesl.ESLEvent("")
    ev.parse_data(raw.split(b"\n\n", 1)[1].decode())
    assert ev.headers["Content-Length"] != "41"
    assert parse_message(raw).event.get("Content-Length") == "41"


@pytest.mark.parametrize("bad", [
    b"Content-Type: api/response\nContent-Length: 5\n\nabc",          # short body
    b"Content-Type: api/response\nContent-Length: x\n\n",             # bad length
    b"no colon here\n\n",                                              # not a header
    b"Content-Type: command/reply\nReply-Text: +OK\n\nstray",          # body without length
    b"Content-Type: api/response\nContent-Length: 2\n\nabc",          # body longer than its length
    b"Content-Type: api/response\nContent-Length: 3",                  # no end of header block
    b"",                                                               # no message at all
])
def test_malformed_messages_raise(bad):
    with pytest.raises(ESLParseError):
        parse_message(bad)


def test_odd_lines_inside_an_event_are_skipped_not_fatal():
    inner = b"Event-Name: CUSTOM\nno colon line\nweird name: v\nUnique-ID: u1\n\n"
    raw = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner
    ev = parse_message(raw).event
    assert [k for k, _ in ev.header_list] == ["Event-Name", "Unique-ID"]
    bad_json = b'{"Event-Name": '
    msg = parse_message(b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(bad_json) + bad_json)
    assert msg.event is None and msg.error


def test_eof_inside_a_body_raises():
    with pytest.raises(ESLParseError):
        read_message(io.BytesIO(b"Content-Type: api/response\nContent-Length: 10\n\nabc"))
    assert read_message(io.BytesIO(b"")) is None


values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(name=values, other=values)
def test_any_value_round_trips_and_never_adds_headers(name, other):
    raw = plain_event([("Event-Name", "CUSTOM"), ("Caller-Caller-ID-Name", name), ("Unique-ID", "u1"),
                       ("X-Other", other)])
    ev = parse_message(raw).event
    assert ev.get("Caller-Caller-ID-Name") == name
    assert ev.get("X-Other") == other
    assert [k for k, _ in ev.header_list] == ["Event-Name", "Caller-Caller-ID-Name", "Unique-ID", "X-Other"]


def test_content_type_constants_are_the_wire_names():
    assert esl_parse.EVENT_PLAIN == "text/event-plain" and esl_parse.API_RESPONSE == "api/response"
