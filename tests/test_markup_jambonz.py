"""jambonz documents: the conference verb's properties, hooks, statusEvents, wait verbs, spec coverage."""
import json

import pytest

from fsbridge.markup import MarkupError, parse
from fsbridge.markup.jambonz import MAX_UNROLLED, PROPERTIES, UNSUPPORTED_VERBS
from fsbridge.markup.model import Conference, Hangup, Hook, Pause, Play, Redirect, Say


def one(verb, **props):
    response = parse(json.dumps([{"verb": verb, **props}]), "jambonz")
    return (response.verbs[0] if response.verbs else None), response.warnings


def test_bare_conference_has_jambonz_defaults():
    conf, warnings = one("conference", name="room")
    assert warnings == ()
    assert conf == Conference(name="room", beep="false", wait_url="")
    assert (conf.start_conference_on_enter, conf.end_conference_on_exit, conf.muted) == (True, False, False)


def test_hook_forms():
    conf, warnings = one("conference", name="r", waitHook={"url": "/w", "method": "get", "username": "u",
                                                           "password": "p"}, statusHook="/s")
    assert warnings == ()
    assert conf.wait_hook == Hook("/w", "GET", "u", "p") and (conf.wait_url, conf.wait_method) == ("/w", "GET")
    assert conf.status_hook == Hook("/s") and (conf.status_callback, conf.status_callback_method) == ("/s", "POST")


@pytest.mark.parametrize("hook", ["", {"method": "GET"}, {"url": "/x", "verb": "GET"}, {"url": "/x", "password": 1},
                                  7, ["/x"]])
def test_bad_hooks_warn_and_are_dropped(hook):
    conf, warnings = one("conference", name="r", actionHook=hook)
    assert conf.action_hook is None
    assert [(w.code, w.path) for w in warnings] == [(12200, "[0]/conference@actionHook")]


def test_status_events_alias_and_dedup():
    conf, warnings = one("conference", name="r", statusEvents=["join", "stop-talking", "end-talking", "start"])
    assert warnings == ()
    assert conf.status_callback_event == ("join", "end-talking", "start")


def test_status_events_all_unknown_keep_the_default_like_twiml():
    """docs/markup.md: unknown words are dropped (warned); if none is known the default is used — in every
    dialect (the jambonz walker and the XML walker read values through the same values.convert)."""
    conf, warnings = one("conference", name="r", statusEvents=["explode", 3])
    assert conf.status_callback_event == ()
    assert [w.message.split(":")[0] for w in warnings] == ["statusEvents", "invalid statusEvents"]
    assert {w.path for w in warnings} == {"[0]/conference@statusEvents"}
    xml = parse('<Response><Dial><Conference statusCallbackEvent="explode">r</Conference></Dial></Response>',
                "twiml")
    assert xml.verbs[0].conference.status_callback_event == ()
    assert [w.message.split(":")[0] for w in xml.warnings] == ["statusCallbackEvent", "invalid statusCallbackEvent"]


def test_member_tag_join_muted_and_record():
    conf, warnings = one("conference", name="r", memberTag="t" * 129, joinMuted=True, record={"path": "/r.wav"},
                         endConferenceDuration=2.5)
    assert conf.participant_label == "t" * 129 and conf.muted is True
    assert (conf.record, conf.record_options) == ("record-from-start", {"path": "/r.wav"})
    assert conf.end_conference_duration == 2.5
    assert [w.path for w in warnings] == ["[0]/conference@memberTag"]


@pytest.mark.parametrize("name", ["", " ", None, 5, ["a"]])
def test_conference_without_a_usable_name_is_skipped(name):
    conf, warnings = one("conference", name=name)
    assert conf is None
    assert warnings and {w.code for w in warnings} == {12200}
    assert warnings[-1].path == "[0]/conference"


@pytest.mark.parametrize("value", [True, 0, 5001, 1.5, "ten", float("1e300")])
def test_max_participants_must_be_whole_1_to_the_cap(value):
    conf, warnings = one("conference", name="r", maxParticipants=value)
    assert conf.max_participants == 250 and [w.code for w in warnings] == [12200]


def test_max_participants_above_twilios_250_is_jambonz():
    """jambonz has no limit of its own (FreeSWITCH max-members): rooms above Twilio's 250 are allowed."""
    conf, warnings = one("conference", name="r", maxParticipants=1000)
    assert conf.max_participants == 1000 and warnings == ()


def test_wait_verbs():
    doc = [{"verb": "say", "text": "hi", "synthesizer": {"vendor": "aws", "voice": "Joanna", "language": "en-US"}},
           {"play": {"url": "https://x/a.wav", "loop": "forever"}},
           {"verb": "pause", "length": 3}, {"verb": "redirect", "actionHook": "/next"}, {"hangup": {}}]
    response = parse(json.dumps(doc), "jambonz")
    assert response.warnings == ()
    assert response.verbs == (Say("hi", "Joanna", "en-US"), Play("https://x/a.wav", 0), Pause(3.0),
                              Redirect("/next"), Hangup())


def test_list_loop_forever_is_unrolled_with_a_warning():
    play, warnings = one("play", url=["/a", "/b"], loop="forever")
    response = parse(json.dumps([{"verb": "play", "url": ["/a", "/b"], "loop": "forever"}]), "jambonz")
    assert len(response.verbs) == MAX_UNROLLED and response.verbs[:3] == (Play("/a"), Play("/b"), Play("/a"))
    assert [w.code for w in warnings] == [12200]


def test_unsupported_and_unknown_verbs_and_properties():
    doc = [{"verb": "gather"}, {"verb": "nope"}, {"verb": "conference", "name": "r", "colour": "red"}, [], "say"]
    response = parse(json.dumps(doc), "jambonz")
    assert len(response.verbs) == 1
    messages = [w.message for w in response.warnings]
    assert "not supported" in messages[0] and "unknown" in messages[1] and "colour" in messages[2]
    assert [w.path for w in response.warnings] == ["[0]/gather", "[1]/nope", "[2]/conference@colour", "[3]", "[4]"]


@pytest.mark.parametrize("body", ["{}", "null", "[", "[NaN]", '[{"verb": "pause", "length": Infinity}]', "\xff"])
def test_not_a_json_array_is_12100(body):
    with pytest.raises(MarkupError) as exc:
        parse(body.encode("latin-1"), "jambonz")
    assert exc.value.code == 12100


def test_every_spec_property_of_our_verbs_is_known(shared_dir):
    """Our property tables match jambonz verb specification 0.1.13 exactly, and our unsupported verbs exist."""
    spec = json.loads((shared_dir / "specs" / "jambonz_verb_specifications_0.1.13.json").read_text())
    for verb, table in PROPERTIES.items():
        assert set(table) == set(spec[verb]["properties"]), verb
        for required in spec[verb]["required"]:
            doc = {"verb": verb, **{k: v for k, v in {"name": "r", "text": "t", "url": "/u", "length": 1,
                                                      "actionHook": "/a"}.items() if k in table}}
            doc.pop(required)
            response = parse(json.dumps([doc]), "jambonz")
            assert response.verbs == () and "needs" in response.warnings[-1].message, (verb, required)
    assert UNSUPPORTED_VERBS <= set(spec)
