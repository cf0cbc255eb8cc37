"""jambonz ``listen`` as markup (verb specification 0.1.13 ``#listen``; listen.js defaults) and the FreeSWITCH
argument quoting of its values. Hostile values are 12200 warnings with jambonz's defaults, never errors."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsbridge.engines.base import AudioFork
from fsbridge.engines.freeswitch.fork import quoted, start_commands
from fsbridge.markup import parse
from fsbridge.markup.listen import Listen


def conference(listen):
    response = parse(json.dumps([{"verb": "conference", "name": "r", "listen": listen}]), "jambonz")
    return response.verbs[0].listen, [w.message for w in response.warnings]


def test_every_property_of_the_specification():
    listen, warnings = conference({
        "url": "wss://a.example.com/x", "mixType": "stereo", "sampleRate": 16000, "metadata": {"k": [1, "v"]},
        "wsAuth": {"username": "u", "password": "p"}, "passDtmf": True, "maxLength": 30, "id": "l1",
        "earlyMedia": True, "channel": 1, "disableBidirectionalAudio": True})
    assert listen == Listen(url="wss://a.example.com/x", mix_type="stereo", sample_rate=16000,
                            metadata='{"k":[1,"v"]}', ws_auth=("u", "p"), pass_dtmf=True, max_length=30.0)
    assert warnings == []


def test_defaults_are_jambonz_listen_js():
    assert conference({"url": "ws://a.example.com"}) == (Listen(url="ws://a.example.com"), [])
    assert Listen(url="x").mix_type == "mono" and Listen(url="x").sample_rate == 8000


def test_a_whole_float_sample_rate_is_that_rate_as_an_int():
    """JSON has one number type (jambonz is JavaScript): ``16000.0`` is 16000 Hz, handed on as the int the
    FreeSWITCH command and the standalone resampler (``math.gcd``) need."""
    listen, warnings = conference({"url": "ws://a.example.com", "sampleRate": 16000.0})
    assert warnings == [] and listen.sample_rate == 16000 and type(listen.sample_rate) is int


@pytest.mark.parametrize("url", ["http://a.example.com/x", "ws://", "ws://a b/x", "ws://a/'x", "ws://a/\\x",
                                 "wss://a:0/", "ws://a:99999/", "file:///etc/passwd", "ws://a/" + "x" * 3000, 42,
                                 "/relative", "ws://a/x\ny"])
def test_an_unusable_url_drops_the_listen_with_a_warning(url):
    listen, warnings = conference({"url": url})
    assert listen is None and len(warnings) == 1 and "url" in warnings[0]


@pytest.mark.parametrize("prop,value", [("mixType", "loud"), ("sampleRate", 11025), ("sampleRate", "8000"),
                                        ("metadata", "text"), ("metadata", {"x": "y" * 7000}),
                                        ("wsAuth", {"username": "a:b", "password": "p"}),
                                        ("wsAuth", {"username": "u", "password": "p\r\n"}), ("wsAuth", "u:p"),
                                        ("passDtmf", "yes"), ("maxLength", -1), ("maxLength", True),
                                        ("sampleRate", [8000]), ("mixType", ["mono"])])
def test_a_bad_optional_value_keeps_the_default_with_a_warning(prop, value):
    listen, warnings = conference({"url": "ws://a.example.com", prop: value})
    assert listen == Listen(url="ws://a.example.com")
    assert len(warnings) == 1 and prop in warnings[0]


def test_bidirectional_audio_and_nested_verbs_are_refused_with_warnings():
    listen, warnings = conference({"url": "ws://a.example.com", "bidirectionalAudio": {"enabled": True},
                                   "transcribe": {}, "actionHook": "/x", "bogus": 1})
    assert listen == Listen(url="ws://a.example.com")
    assert len(warnings) == 4 and "listen-only" in warnings[0]


def _freeswitch_unquote(arg: str) -> str:
    """What FreeSWITCH's cleanup_separated_string makes of one single-quoted argument."""
    assert arg[0] == arg[-1] == "'"
    return re.sub(r"\\(.)", r"\1", arg[1:-1])


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")))
def test_quoting_hands_freeswitch_the_exact_text(text):
    assert _freeswitch_unquote(quoted(text)) == text


def test_the_start_command_is_one_line_with_the_metadata_last():
    fork = AudioFork("ws://a.example.com/x", "mixed", 16000, json.dumps({"a": "it's \\ here\n"}), "u", "p")
    cmds = start_commands("uuid-1", fork)
    assert cmds[0] == "uuid_setvar uuid-1 MOD_AUDIO_BASIC_AUTH_USERNAME 'u'"
    assert cmds[2].startswith("uuid_audio_fork uuid-1 start ws://a.example.com/x mixed 16000 '")
    assert all("\n" not in c for c in cmds)
    assert json.loads(_freeswitch_unquote(cmds[2].split(" ", 6)[6])) == {"a": "it's \\ here\n"}


def test_every_listen_property_of_the_specification_is_handled_ignored_or_warned(shared_dir):
    """jambonz verb specification 0.1.13 ``listen``: each property has a decision (no silent gaps)."""
    from fsbridge.markup.listen import _FIELDS
    from fsbridge.wire import jambonz as jb
    spec = json.loads((shared_dir / "specs" / "jambonz_verb_specifications_0.1.13.json").read_text())
    decided = {jb.LISTEN_URL, jb.LISTEN_BIDIRECTIONAL, *_FIELDS, *jb.LISTEN_IGNORED, *jb.LISTEN_UNSUPPORTED}
    assert set(spec["listen"]["properties"]) == decided
    assert spec["conference"]["properties"]["listen"] == "#listen"
