"""Data-driven: tests/fixtures/markup/{good,bad}/<dialect>/ (the jambonz feature-server test/data layout).

good/<dialect>/NAME.xml|json is parsed and compared with NAME.expected.json (the ``fsbridge parse`` JSON; a
dict in the expectation lists the keys it checks, so a field added to the model later does not break it;
lists must match element for element). bad/<dialect>/CODE-NAME.* must raise MarkupError(CODE).
"""
from pathlib import Path

import pytest

from fsbridge.markup import MarkupError, parse, to_json

ROOT = Path(__file__).resolve().parent / "fixtures" / "markup"
DIALECTS = ("twiml", "texml", "jambonz")


def _inputs(kind):
    found = []
    for dialect in DIALECTS:
        for path in sorted((ROOT / kind / dialect).glob("*")):
            if path.is_file() and not path.name.endswith(".expected.json"):
                found.append(pytest.param(dialect, path, id=f"{dialect}/{path.name}"))
    return found


def assert_matches(actual, expected, where="$"):
    """``expected`` ⊆ ``actual`` for dicts (every listed key equal), exact for lists and scalars."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing key {key!r}"
            assert_matches(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            f"{where}: expected {len(expected)} items, got {actual!r}"
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_matches(a, e, f"{where}[{index}]")
    else:
        assert actual == expected and type(actual) is type(expected), f"{where}: {actual!r} != {expected!r}"


def test_every_dialect_has_good_and_bad_fixtures():
    for dialect in DIALECTS:
        assert list((ROOT / "good" / dialect).glob("*.expected.json")), dialect
        assert list((ROOT / "bad" / dialect).glob("*")), dialect


@pytest.mark.parametrize("dialect,path", _inputs("good"))
def test_good_fixture(dialect, path):
    import json

    expected_path = path.with_name(path.stem + ".expected.json")
    assert expected_path.exists(), f"{path.name} has no {expected_path.name}"
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    actual = to_json(parse(path.read_bytes(), dialect))
    json.dumps(actual)  # printable by the CLI
    assert_matches(actual, expected)


@pytest.mark.parametrize("dialect,path", _inputs("bad"))
def test_bad_fixture(dialect, path):
    code = int(path.name.split("-", 1)[0])
    with pytest.raises(MarkupError) as exc:
        parse(path.read_bytes(), dialect)
    assert exc.value.code == code, exc.value.message


def test_assert_matches_is_strict_where_it_should_be():
    with pytest.raises(AssertionError):
        assert_matches({"a": [1, 2]}, {"a": [1]})
    with pytest.raises(AssertionError):
        assert_matches({"a": 1}, {"a": True})
    with pytest.raises(AssertionError):
        assert_matches({"a": 1}, {"b": 1})
    assert_matches({"a": 1, "b": 2}, {"a": 1})
