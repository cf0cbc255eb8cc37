"""Property-based: random and mutated documents never raise anything but MarkupError, and whatever parses
satisfies the model's invariants (values within their allowed sets, warnings all 12200, JSON-printable)."""
import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsbridge.markup import MarkupError, parse, to_json, verbs_allowed_in_wait
from fsbridge.markup.jambonz import PROPERTIES, STATUS_EVENTS
from fsbridge.markup.model import Conference, Dial, Gather, Hangup, Pause, Play, Redirect, Say
from fsbridge.markup.texml import CONFERENCE_EVENTS as TEXML_EVENTS
from fsbridge.markup.texml import TEXML_DIALECT
from fsbridge.markup.twiml import CONFERENCE_EVENTS, TWIML

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "markup"
GOOD = sorted(p for p in FIXTURES.glob("*/*/*") if not p.name.endswith(".expected.json") and p.stat().st_size < 5000)
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIALECTS = st.sampled_from(["twiml", "texml", "jambonz"])
EVENTS = {"twiml": CONFERENCE_EVENTS, "texml": TEXML_EVENTS, "jambonz": STATUS_EVENTS}


def check(body, dialect):
    """Parse; a MarkupError is fine (documented codes only); a Response must satisfy the invariants."""
    try:
        response = parse(body, dialect)
    except MarkupError as exc:
        assert exc.code in (12100, 11750, 12300)
        return None
    assert response.dialect == dialect
    assert all(w.code == 12200 for w in response.warnings)
    json.dumps(to_json(response))
    for verb in response.verbs:
        conference = verb.conference if isinstance(verb, Dial) else verb
        if isinstance(verb, Dial):
            assert verb.method in ("GET", "POST") and 1 <= verb.time_limit <= 86400
        if isinstance(conference, Conference):
            assert isinstance(conference.name, str) and conference.name.strip() == conference.name != ""
            assert conference.beep in ("true", "false", "onEnter", "onExit")
            assert isinstance(conference.max_participants, int) and 1 <= conference.max_participants <= 250
            assert conference.jitter_buffer_size in ("small", "medium", "large", "off")
            assert {conference.wait_method, conference.status_callback_method} <= {"GET", "POST"}
            assert set(conference.status_callback_event) <= set(EVENTS[dialect])
            assert isinstance(conference.muted, bool) and isinstance(conference.end_conference_on_exit, bool)
        elif isinstance(verb, (Play, Say)):
            assert isinstance(verb.loop, int) and verb.loop >= 0
        elif isinstance(verb, Pause):
            assert 0 <= verb.length <= 3600
        elif isinstance(verb, Redirect):
            assert verb.url and verb.method in ("GET", "POST")
        elif isinstance(verb, Gather):
            assert verb.method in ("GET", "POST") and verb.input == ("dtmf",) and 0 <= verb.timeout <= 600
            assert verb.finish_on_key in ("", *"0123456789#*") and all(isinstance(p, (Say, Play, Pause))
                                                                         for p in verb.prompts)
            assert verb.num_digits is None or 1 <= verb.num_digits <= 128
        else:
            assert isinstance(verb, Hangup)
    waited = verbs_allowed_in_wait(response)
    assert all(isinstance(v, (Play, Say, Pause, Redirect, Hangup)) for v in waited.verbs)
    return response


@SETTINGS
@given(body=st.binary(max_size=400), dialect=DIALECTS)
def test_random_bytes(body, dialect):
    check(body, dialect)


@SETTINGS
@given(body=st.text(max_size=300), dialect=DIALECTS)
def test_random_text(body, dialect):
    check(body, dialect)


MUTATION = st.tuples(st.sampled_from(["delete", "insert", "duplicate", "flip"]), st.integers(0, 10**6),
                     st.integers(0, 40), st.binary(min_size=1, max_size=12))


def mutate(data: bytes, mutations) -> bytes:
    for kind, at, length, blob in mutations:
        at = at % (len(data) + 1)
        if kind == "delete":
            data = data[:at] + data[at + length:]
        elif kind == "insert":
            data = data[:at] + blob + data[at:]
        elif kind == "duplicate":
            data = data[:at] + data[at:at + length] + data[at:]
        elif at < len(data):
            data = data[:at] + bytes([data[at] ^ blob[0]]) + data[at + 1:]
    return data


@SETTINGS
@given(index=st.integers(0, len(GOOD) - 1), mutations=st.lists(MUTATION, min_size=1, max_size=5))
def test_mutated_fixtures(index, mutations):
    path = GOOD[index]
    check(mutate(path.read_bytes(), mutations), path.parent.name)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
XML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
WIRE = sorted({a.wire for t in (TWIML, TEXML_DIALECT) for attrs in t.attrs.values() for a in attrs})
VALUES = st.one_of(st.sampled_from(["true", "false", "onEnter", "GET", "post", "0", "250", "251", "-1", "1.5",
                                    "", " ", "start end", "CA" + "0" * 32, "small", "ie1", "forever"]),
                   XML_TEXT)
TAGS = st.sampled_from(["Say", "Play", "Pause", "Redirect", "Hangup", "Gather", "Dial", "X"])


@st.composite
def twiml_documents(draw):
    def attrs():
        pairs = draw(st.dictionaries(st.sampled_from(WIRE) | st.from_regex(r"[a-z]{1,6}", fullmatch=True), VALUES,
                                     max_size=6))
        return "".join(f" {k}={quoteattr(v)}" for k, v in pairs.items())

    verbs = []
    for tag in draw(st.lists(TAGS, max_size=5)):
        inner = draw(st.sampled_from(["", "room", "https://x/y", "<Conference{a}>{t}</Conference>",
                                      "<Number>1</Number><Conference{a}>{t}</Conference><Conference>b</Conference>"]))
        inner = inner.format(a=attrs(), t=draw(XML_TEXT).replace("&", "&amp;").replace("<", "&lt;"))
        verbs.append(f"<{tag}{attrs()}>{inner}</{tag}>")
    return "<Response>" + "".join(verbs) + "</Response>"


@SETTINGS
@given(doc=twiml_documents(), dialect=st.sampled_from(["twiml", "texml"]))
def test_random_twiml_documents(doc, dialect):
    check(doc, dialect)


@st.composite
def jambonz_documents(draw):
    verbs = []
    for name in draw(st.lists(st.sampled_from(sorted(PROPERTIES) + ["record", "nope"]), max_size=4)):
        props = sorted(PROPERTIES.get(name, {"x": None}))
        doc = draw(st.dictionaries(st.sampled_from(props), JSON_VALUES | VALUES | st.lists(VALUES, max_size=3),
                                   max_size=8))
        if draw(st.booleans()):
            doc["name" if name == "conference" else props[0]] = draw(st.text(min_size=1, max_size=8))
        verbs.append({name: doc} if draw(st.booleans()) else {"verb": name, **doc})
    return json.dumps(verbs + draw(st.lists(JSON_VALUES, max_size=2)))


@SETTINGS
@given(doc=jambonz_documents())
def test_random_jambonz_documents(doc):
    check(doc, "jambonz")


@SETTINGS
@given(value=JSON_VALUES)
def test_any_json_value(value):
    check(json.dumps(value), "jambonz")
