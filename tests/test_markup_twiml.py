"""TwiML parsing: attributes, defaults, warnings (Twilio TwiML Conference, seed)."""
import pytest

from fsbridge.markup import MarkupError, parse
from fsbridge.markup.model import Conference, Dial, Hangup, Pause, Play, Redirect, Say


def conf(attrs="", name="Room 1234", dial_attrs=""):
    body = f"<Response><Dial {dial_attrs}><Conference {attrs}>{name}</Conference></Dial></Response>"
    response = parse(body, "twiml")
    return response.verbs[0], response.warnings


def test_minimal_conference_has_twilio_defaults():
    dial, warnings = conf()
    assert warnings == ()
    assert dial == Dial(conference=Conference(name="Room 1234"))
    c = dial.conference
    assert (c.muted, c.beep, c.start_conference_on_enter, c.end_conference_on_exit) == (False, "true", True, False)
    assert (c.jitter_buffer_size, c.wait_url, c.wait_method, c.max_participants) == ("large", None, "POST", 250)
    assert (c.record, c.trim, c.recording_status_callback_event) == ("do-not-record", "trim-silence", ("completed",))
    assert (dial.time_limit, dial.hangup_on_star, dial.method) == (14400, False, "POST")


@pytest.mark.parametrize("raw,value", [("true", "true"), ("false", "false"), ("onEnter", "onEnter"),
                                       ("onexit", "onExit"), ("TRUE", "true")])
def test_beep_values(raw, value):
    dial, warnings = conf(f'beep="{raw}"')
    assert dial.conference.beep == value and warnings == ()


@pytest.mark.parametrize("attr,raw", [("beep", "sometimes"), ("muted", "yes"), ("maxParticipants", "0"),
                                      ("maxParticipants", "251"), ("jitterBufferSize", "huge"),
                                      ("region", "mars1"), ("waitMethod", "PUT"), ("coach", "bob")])
def test_invalid_value_warns_12200_and_keeps_default(attr, raw):
    dial, warnings = conf(f'{attr}="{raw}"')
    assert dial.conference == Conference(name="Room 1234")
    assert [(w.code, w.path) for w in warnings] == [(12200, f"Response/Dial/Conference@{attr}")]


def test_empty_wait_url_means_nothing_and_absent_means_default():
    assert conf('waitUrl=""')[0].conference.wait_url == ""
    assert conf()[0].conference.wait_url is None


def test_status_callback_event_keeps_known_words_in_order_and_warns_on_others():
    dial, warnings = conf('statusCallbackEvent="leave start bogus start"')
    assert dial.conference.status_callback_event == ("leave", "start")
    assert [w.code for w in warnings] == [12200] and "bogus" in warnings[0].message


def test_long_participant_label_kept_with_warning():
    label = "x" * 129
    dial, warnings = conf(f'participantLabel="{label}"')
    assert dial.conference.participant_label == label
    assert [w.path for w in warnings] == ["Response/Dial/Conference@participantLabel"]
    assert conf('participantLabel="' + "x" * 128 + '"')[1] == ()


def test_dial_attributes_and_ignored_caller_id_timeout():
    dial, warnings = conf(dial_attrs='action="/after" method="get" hangupOnStar="true" timeLimit="30" '
                                     'callerId="+15550001111" timeout="20" ringTone="us"')
    assert warnings == ()
    assert (dial.action, dial.method, dial.hangup_on_star, dial.time_limit) == ("/after", "GET", True, 30)
    assert (dial.caller_id, dial.timeout) == ("+15550001111", 20)


def test_conference_name_is_stripped_and_empty_name_skips_dial():
    assert conf(name="\n  moderated-room \n")[0].conference.name == "moderated-room"
    response = parse("<Response><Dial><Conference>  </Conference></Dial><Hangup/></Response>", "twiml")
    assert response.verbs == (Hangup(),)
    assert {w.code for w in response.warnings} == {12200}


def test_wait_verbs():
    body = ('<Response><Say voice="alice" language="en-GB" loop="2">Please <break time="1s"/> wait</Say>'
            '<Play loop="0">http://h/m.mp3</Play><Pause length="5"/><Redirect method="GET">/again</Redirect>'
            '<Hangup/></Response>')
    r = parse(body, "twiml")
    assert r.warnings == ()
    assert r.verbs == (Say("Please wait", "alice", "en-GB", 2), Play("http://h/m.mp3", 0), Pause(5.0),
                       Redirect("/again", "GET"), Hangup())


def test_unknown_and_unsupported_verbs_warn_and_are_skipped():
    r = parse("<Response><Record/><Frobnicate/><Dial>+15551234567</Dial><Hangup/></Response>", "twiml")
    assert r.verbs == (Hangup(),)
    assert [w.path for w in r.warnings] == ["Response/Record", "Response/Frobnicate", "Response/Dial",
                                            "Response/Dial"]


@pytest.mark.parametrize("body", ["<Reply/>", "not xml", "<Response>", "", "<Response><Say></Response>"])
def test_not_a_response_is_12100(body):
    with pytest.raises(MarkupError) as exc:
        parse(body, "twiml")
    assert exc.value.code == 12100


def test_each_xml_attribute_name_is_spelled_in_exactly_one_module():
    """TwiML/TeXML attribute names live in twiml.py (TeXML-only ones in texml.py), nowhere else in markup/
    (jambonz.py spells jambonz's JSON property names, a different wire format)."""
    from pathlib import Path

    import fsbridge.markup as markup
    from fsbridge.markup.schema import snake_case
    from fsbridge.markup.texml import TEXML_DIALECT
    from fsbridge.markup.twiml import TWIML

    sources = {p.name: p.read_text() for p in Path(markup.__file__).parent.glob("*.py") if p.name != "jambonz.py"}
    wires = {a.wire for d in (TWIML, TEXML_DIALECT) for attrs in d.attrs.values() for a in attrs}
    assert len(wires) > 40
    for wire in wires:
        defined = [name for name, text in sources.items() if f'Attr("{wire}"' in text]
        assert len(defined) <= 1, (wire, defined)
        if wire != snake_case(wire):  # one-word names (beep, muted) are also model field names
            homes = [name for name, text in sources.items() if f'"{wire}"' in text]
            assert len(homes) == 1, (wire, homes)
