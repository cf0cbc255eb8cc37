"""esl_parse keeps a header block as received and finds/decodes a header only when read (issue 21): the
answers must be those of splitting every line first — first value of repeated names, empty values, odd
lines skipped, no forged header — whether a header is found by searching the block or after it is indexed."""
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsbridge.engines.freeswitch import esl_parse
from fsbridge.engines.freeswitch.esl_parse import ESLParseError, parse_message, read_message
from fakes import plain_event, recorded_events


def _event(block: bytes):
    raw = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(block) + block
    return parse_message(raw).event


def test_values_stay_encoded_until_read_and_are_decoded_once():
    ev = _event(b"Event-Name: CUSTOM\nCaller-Caller-ID-Name: Bob%20Smith\nUnique-ID: u1\n\n")
    assert ev._text is not None and "Bob%20Smith" in ev._text      # nothing decoded at parse time
    assert ev.get("Caller-Caller-ID-Name") == "Bob Smith"
    assert ev._cache["Caller-Caller-ID-Name"] == "Bob Smith"        # decoded once, then cached
    assert ev.get("Missing") is None and ev.get("Missing", "d") == "d"


def test_repeated_empty_and_odd_lines():
    ev = _event(b"Event-Name: CUSTOM\nHangup-Cause: FIRST\nEmpty:\nBlank: \nName:x: no\nweird name: v\n"
                b"Hangup-Cause: SECOND\nName: yes\n\n")
    assert ev.get("Hangup-Cause") == "FIRST" and ev.get_all("Hangup-Cause") == ["FIRST", "SECOND"]
    assert ev.get("Empty") == "" and ev.get("Blank") == ""
    assert ev.get("Name") == "yes"              # "Name:x: no" is a line whose name is "Name:x" (odd, skipped)
    assert [n for n, _ in ev.header_list] == ["Event-Name", "Hangup-Cause", "Empty", "Blank", "Hangup-Cause",
                                              "Name"]


def test_header_view_is_a_read_only_mapping():
    ev = _event(b"Event-Name: CUSTOM\nA: 1\nA: 2\nB: x%3Ay\n\n")
    h = ev.headers
    assert h["B"] == "x:y" and h.get("A") == "1" and "A" in h and "Z" not in h
    assert list(h) == ["Event-Name", "A", "B"] and len(h) == 3 and dict(h) == {"Event-Name": "CUSTOM", "A": "1",
                                                                                "B": "x:y"}
    with pytest.raises(KeyError):
        h["Z"]
    with pytest.raises(TypeError):
        h["A"] = "3"


def test_lookups_by_search_and_by_index_agree_on_recorded_events():
    """Past ``_FIND_LOOKUPS`` distinct names the block is indexed: every recorded event must give the same
    values before and after, equal to the first value of its header list."""
    for raw in recorded_events("conference_lifecycle/events_plain.esl.txt"):
        searched, indexed = parse_message(raw).event, parse_message(raw).event
        names = [n for n, _ in searched.header_list]
        for k in range(esl_parse._FIND_LOOKUPS):
            indexed.get("X-Not-There-%d" % k)
        indexed.get("X-Force-Index")
        assert indexed._first is not None
        first = {}
        for n, v in searched.header_list:
            first.setdefault(n, v)
        for n in names:
            assert searched.get(n) == indexed.get(n) == first[n], n


def test_strict_outer_blocks_still_reject_bad_lines_and_accept_crlf():
    with pytest.raises(ESLParseError):
        parse_message(b"Content-Type: command/reply\nbad name: x\n\n")
    with pytest.raises(ESLParseError):
        parse_message(b"Content-Type: command/reply\nReply-Text:+OK\n\n")
    msg = read_message(io.BytesIO(b"Content-Type: command/reply\r\nReply-Text: +OK accepted\r\n\r\n"))
    assert msg.get("Reply-Text") == "+OK accepted" and msg.content_type == "command/reply"


names = st.text(alphabet="ABCDEFGHIJ-", min_size=1, max_size=4)
values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(names, values), min_size=1, max_size=30), lookups=st.lists(names, max_size=60))
def test_any_header_set_reads_like_the_split_first_parser(pairs, lookups):
    ev = parse_message(plain_event([("Event-Name", "CUSTOM")] + pairs)).event
    first = {"Event-Name": "CUSTOM"}
    for n, v in pairs:
        first.setdefault(n, v)
    for n in lookups + [n for n, _ in pairs]:   # enough lookups to cross into the indexed path, too
        assert ev.get(n) == first.get(n)
    assert ev.header_list == (("Event-Name", "CUSTOM"),) + tuple(pairs)


@pytest.mark.parametrize("indexed", [False, True])
def test_an_encoded_newline_forges_no_header_searched_or_indexed(indexed):
    """finding 7: ``%0A`` in a caller-controlled value decodes to a newline only after the lines are found."""
    ev = parse_message(plain_event([("Event-Name", "CUSTOM"),
                                    ("Caller-Caller-ID-Name", "Bob\nUnique-ID: forged\nX-Evil: 1"),
                                    ("Unique-ID", "real")])).event
    if indexed:
        for k in range(esl_parse._FIND_LOOKUPS + 1):
            ev.get("X-Not-There-%d" % k)
        assert ev._first is not None
    assert ev.get("Unique-ID") == "real" and ev.get_all("Unique-ID") == ["real"]
    assert ev.get("X-Evil") is None and "X-Evil" not in ev.headers
    assert ev.get("Caller-Caller-ID-Name") == "Bob\nUnique-ID: forged\nX-Evil: 1"
    assert list(ev.headers) == ["Event-Name", "Caller-Caller-ID-Name", "Unique-ID"]
