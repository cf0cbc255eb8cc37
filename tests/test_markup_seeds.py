"""Every example and attribute table of the three seeds parses to what the seed says.

The seeds (../shared/seeds) are read as data: the Twilio page's ten (Node.js snippet, TwiML) pairs — the
snippet's option object is the oracle for the parsed values —, the Twilio and Telnyx attribute tables
(every attribute recognised, every listed value accepted, every default filled in), and jambonz's example
and option table.
"""
import json
import re

from fsbridge.markup import parse
from fsbridge.markup.schema import snake_case

TWILIO = "twilio-twiml-conference-noun.txt"
TELNYX = "telnyx-texml-conference.txt"
JAMBONZ = "jambonz-conference-verb.txt"


def seed(shared_dir, name):
    return (shared_dir / "seeds" / name).read_text(encoding="utf-8")


def unnumber(line):
    """The seed's code blocks lost their newlines: ``1<?xml ...?>2<Response>3...``. Split on the
    consecutive line numbers (1, 2, 3, ...) and return the lines."""
    assert line.startswith("1")
    lines, pos, n = [], 1, 2
    while (i := line.find(str(n), pos)) >= 0:
        lines.append(line[pos:i])
        pos, n = i + len(str(n)), n + 1
    lines.append(line[pos:])
    return lines


def js_object(body):
    """``key: 'text'|true|false|123`` pairs of a snippet's option object → dict."""
    pairs = re.findall(r"(\w+):\s*('([^']*)'|true|false|\d+)", body or "")
    out = {}
    for key, raw, text in pairs:
        out[key] = text if raw.startswith("'") else (raw == "true" if raw in ("true", "false") else int(raw))
    return out


def twilio_examples(text):
    js = [unnumber(line) for line in text.splitlines() if line.startswith("1const VoiceResponse")]
    xml = [unnumber(line) for line in text.splitlines() if line.startswith("1<?xml")]
    assert len(js) == len(xml) == 10, "the Twilio seed has ten snippet/TwiML pairs"
    return list(zip(("\n".join(j) for j in js), ("\n".join(x) for x in xml)))


def expected_conference_value(key, value):
    """A Node.js option value → the model's value (beep is a word; statusCallbackEvent a tuple)."""
    if key == "beep":
        return str(value).lower()
    if key.endswith("Event"):
        return tuple(value.split())
    return value


def test_twilio_examples_parse_to_what_their_snippets_say(shared_dir):
    for snippet, twiml in twilio_examples(seed(shared_dir, TWILIO)):
        conf = re.search(r"dial\.conference\((?:\{(.*?)\},\s*)?'([^']*)'\)", snippet, re.S)
        dial_opts = re.search(r"response\.dial\(\{(.*?)\}\)", snippet, re.S)
        response = parse(twiml.encode(), "twiml")
        assert response.warnings == ()
        (dial,) = response.verbs
        assert dial.conference.name == conf.group(2)
        options = js_object(conf.group(1))
        for key, value in options.items():
            assert getattr(dial.conference, snake_case(key)) == expected_conference_value(key, value), key
        for key, value in js_object(dial_opts.group(1) if dial_opts else "").items():
            assert getattr(dial, snake_case(key)) == value, key
        untouched = parse(f"<Response><Dial><Conference>{conf.group(2)}</Conference></Dial></Response>", "twiml")
        for field in ("muted", "beep", "start_conference_on_enter", "end_conference_on_exit", "wait_url"):
            if field not in {snake_case(k) for k in options}:
                assert getattr(dial.conference, field) == getattr(untouched.verbs[0].conference, field)


def twilio_table(text):
    rows = []
    lines = text.splitlines()
    start = lines.index("Attribute Name | Allowed Values | Default Value |") + 2
    for line in lines[start:]:
        if "|" not in line:
            break
        name, allowed, default = (cell.strip() for cell in line.split("|")[:3])
        rows.append((name, allowed, default))
    assert len(rows) == 20
    return rows


def sample_values(allowed):
    """Values the seed's "Allowed Values" cell lists (enumerations), or a representative one for prose."""
    if "URL" in allowed:
        return ["https://example.com/x"]
    if "label" in allowed:
        return ["alice"]
    if "integer" in allowed:
        return ["1", "250"]
    if "SID" in allowed:
        return ["CA" + "0" * 32]
    return [v for v in re.split(r",\s*|\s+or\s+|\s+", allowed) if v]


def model_default(cell):
    """The seed's "Default Value" cell in the model's terms."""
    if cell in ("None", "none", "default Twilio hold music"):
        return None
    return {"true": True, "false": False, "250": 250}.get(cell, cell)


def conference(attrs, dialect):
    response = parse(f"<Response><Dial><Conference {attrs}>r</Conference></Dial></Response>", dialect)
    return response.verbs[0].conference, response.warnings


def normalise(field, value):
    if isinstance(value, tuple):
        return value[0] if len(value) == 1 else (value or None)
    if field == "beep":
        return {"true": True, "false": False}.get(value, value)
    return value


def test_twilio_table_every_attribute_value_and_default(shared_dir):
    defaults, _ = conference("", "twiml")
    for name, allowed, default in twilio_table(seed(shared_dir, TWILIO)):
        field = snake_case(name)
        assert normalise(field, getattr(defaults, field)) == model_default(default), name
        for value in sample_values(allowed):
            parsed, warnings = conference(f'{name}="{value}"', "twiml")
            assert warnings == (), (name, value)
            got = getattr(parsed, field)
            assert (value in got) if isinstance(got, tuple) else str(got).lower() == value.lower(), (name, value)


def telnyx_rows(text):
    block = text.split("ATTRIBUTEDESCRIPTIONOPTIONSDEFAULT", 1)[1].split("Expected callbacks", 1)[0]
    rows = [line.strip() for line in block.splitlines() if line.strip()]
    assert len(rows) == 17
    return rows


def test_telnyx_table_every_attribute_value_and_default(shared_dir):
    defaults, _ = conference("", "texml")
    for row in telnyx_rows(seed(shared_dir, TELNYX)):
        name, default = row.split()[0], row.split()[-1]
        field = snake_case(name)
        sample = default if default != "-" else ("start" if name.endswith("Event") else "https://example.com/x")
        parsed, warnings = conference(f'{name}="{sample}"', "texml")
        assert warnings == (), row
        if default != "-":
            assert str(normalise(field, getattr(defaults, field))).lower() == default.lower(), row
        else:
            assert getattr(defaults, field) in (None, ()), row
        listed = re.search(r"((?:[\w-]+, )+[\w-]+) \S+$", row)
        for value in (listed.group(1).split(", ") if listed else []):
            assert conference(f'{name}="{value}"', "texml")[1] == (), (name, value)
        span = re.search(r"(\d+) - (\d+) \S+$", row)
        if span:
            lo, hi = int(span.group(1)), int(span.group(2))
            for ok in (lo, hi):
                assert getattr(conference(f'{name}="{ok}"', "texml")[0], field) == ok, (name, ok)
            for bad in (lo - 1, hi + 1):
                assert [w.code for w in conference(f'{name}="{bad}"', "texml")[1]] == [12200], (name, bad)


def test_telnyx_has_only_its_own_attributes(shared_dir):
    names = {row.split()[0] for row in telnyx_rows(seed(shared_dir, TELNYX))}
    for name, _allowed, _default in twilio_table(seed(shared_dir, TWILIO)):
        warnings = conference(f'{name}="x"', "texml")[1]
        if name not in names:
            assert [w.message.startswith("unknown attribute") for w in warnings] == [True], name


def test_jambonz_example_parses_to_what_the_seed_says(shared_dir):
    text = seed(shared_dir, JAMBONZ)
    block = re.search(r"\{\s*\"verb\": \"conference\".*?\}", text, re.S).group(0)
    example = json.loads(block)
    response = parse(json.dumps([example]), "jambonz")
    assert response.warnings == ()
    (conf,) = response.verbs
    assert conf.name == "test" and conf.beep == "onEnter" and conf.start_conference_on_enter is False
    assert (conf.wait_hook.url, conf.enter_hook.url) == ("/confWait", "/confEnter")


def test_jambonz_option_table_and_status_events(shared_dir):
    text = seed(shared_dir, JAMBONZ)
    table = text.split("option description required", 1)[1].split("Conference status events", 1)[0]
    rows = [line.strip() for line in table.splitlines() if line.strip()]
    assert len(rows) == 10
    samples = {"beep": True, "endConferenceOnExit": True, "startConferenceOnEnter": False, "maxParticipants": 5,
               "statusEvents": ["join"], "name": "room"}
    (bare,) = parse('[{"verb": "conference", "name": "room"}]', "jambonz").verbs
    for row in rows:
        option = row.split()[0]
        doc = {"verb": "conference", "name": "room", option: samples.get(option, "/hook")}
        response = parse(json.dumps([doc]), "jambonz")
        assert response.warnings == (), row
        default = re.search(r"\(default: (true|false)\)", row)
        if default:
            field = {"beep": "beep"}.get(option, snake_case(option))
            assert normalise(field, getattr(bare, field)) is (default.group(1) == "true"), row
    events = re.findall(r"• '([\w-]+)'", text)
    assert len(events) == 6
    (conf,) = parse(json.dumps([{"verb": "conference", "name": "r", "statusEvents": events}]), "jambonz").verbs
    assert conf.status_callback_event == tuple(events)
