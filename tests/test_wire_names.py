"""Each wire name is spelled as a string literal in exactly one module of fsbridge/: its fsbridge.wire module.

Issue #13 "Done when": ``grep`` finds each wire name (``start-talking``, ``stop-talking``, ``Hold``, ``Coaching``,
``Muted``, ``twiml``, ``completed``, ``in-progress`` …) as a string literal in exactly one module. The names
checked: every string constant of fsbridge.wire, fsbridge.wire.twilio/texml/jambonz that is distinctive enough
to grep for (hyphenated words, snake_case reasons, CamelCase field names, the dialect ids, the issue's list and
:data:`EXTRA`). A literal is an ``ast.Constant`` string that is not a docstring; f-string pieces count.

:data:`NOT_YET_SWITCHED` is empty: every module imports its wire names. :data:`HOMONYMS` are the same string in another vocabulary (a FreeSWITCH
header or event Action, a TwiML verb name): permanent, each with its reason. A listed module that no longer
spells the word fails the test too, so the lists only ever shrink.
"""
from __future__ import annotations

import ast
import importlib
import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fsbridge"
WIRE_MODULES = ("fsbridge.wire", "fsbridge.wire.twilio", "fsbridge.wire.texml", "fsbridge.wire.jambonz")
#: the issue's list (must all be checked)
ISSUE_NAMES = ("start-talking", "stop-talking", "Hold", "Coaching", "Muted", "twiml", "texml", "jambonz",
               "completed", "in-progress")
#: one-word wire names checked besides the pattern ones (Twilio field/parameter names, the conference status
#: ``init``, Telnyx's API version)
EXTRA = ("Timestamp", "Reason", "Duration", "Direction", "Caller", "Called", "Page", "Status", "From", "To",
         "init", "v2")
_DISTINCT = (re.compile(r"[a-z0-9]+(-[a-z0-9]+)+"), re.compile(r"[a-z]+(_[a-z]+){2,}"),
             re.compile(r"[A-Z][a-z]+([A-Z][a-z]+)+"))


def wire_constants() -> Dict[str, str]:
    """{checked literal: ``module.CONSTANT`` that spells it} over the wire modules (first definition wins)."""
    out: Dict[str, str] = {}
    for name in WIRE_MODULES:
        module = importlib.import_module(name)
        for key, value in vars(module).items():
            if key.isupper() and not key.startswith("_") and isinstance(value, str):
                if value in ISSUE_NAMES or value in EXTRA or any(p.fullmatch(value) for p in _DISTINCT):
                    out.setdefault(value, f"{name}.{key}")
    return out


def _docstrings(tree: ast.AST) -> Set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def literal_sites(words) -> Dict[str, Dict[str, List[int]]]:
    """{word: {module path relative to fsbridge/: [line, ...]}} for every string literal equal to a word."""
    words = set(words)
    sites: Dict[str, Dict[str, List[int]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in words
                    and id(node) not in docs):
                sites[node.value][rel].append(node.lineno)
    return sites


# Same string, another vocabulary — permanent (never switched to fsbridge.wire).
HOMONYMS: Dict[str, Dict[str, str]] = {
    "Hold": {
        "engines/freeswitch/wire.py": "FreeSWITCH member header Hold (H_HOLD)",
        "engines/standalone/events.py": "the FreeSWITCH member header the standalone engine emits",
        "markup/xmlverbs.py": "the TwiML <Hold> verb name (unsupported verbs list)",
    },
    "start-talking": {"conference/native.py": "FreeSWITCH conference::maintenance Action start-talking"},
    "stop-talking": {"conference/native.py": "FreeSWITCH conference::maintenance Action stop-talking"},
}

# Every module is switched over (issue #13): nothing may spell a wire name outside fsbridge/wire/ but the
# homonyms above. Kept (empty) so a temporary exception has one obvious place and the stale check covers it.
NOT_YET_SWITCHED: Dict[str, Tuple[str, ...]] = {}

WIRE = wire_constants()
SITES = literal_sites(WIRE)


def home_of(constant: str) -> str:
    """``fsbridge.wire.twilio.MUTED`` → ``wire/twilio.py`` (``fsbridge.wire.TWIML`` → ``wire/__init__.py``)."""
    module = constant.rsplit(".", 1)[0]
    rel = module.replace("fsbridge.", "", 1).replace(".", "/")
    return rel + "/__init__.py" if rel == "wire" else rel + ".py"


def test_the_issue_names_and_extras_are_all_checked():
    assert set(ISSUE_NAMES) | set(EXTRA) <= set(WIRE)
    assert len(WIRE) > 90


@pytest.mark.parametrize("word", sorted(WIRE))
def test_each_wire_name_is_spelled_in_exactly_one_module(word):
    home = home_of(WIRE[word])
    found = set(SITES[word])
    assert found & {home} == {home}, f"{word!r} is not spelled in its home {home}"
    wire_elsewhere = sorted(m for m in found if m.startswith("wire/") and m != home)
    assert not wire_elsewhere, f"{word!r} spelled in {wire_elsewhere} as well as {home}: import it"
    allowed = set(NOT_YET_SWITCHED.get(word, ())) | set(HOMONYMS.get(word, {}))
    stray = sorted(found - {home} - allowed)
    assert not stray, f"{word!r} spelled in {stray}: use {WIRE[word]}"
    stale = sorted(allowed - found)
    assert not stale, f"{word!r} no longer spelled in {stale}: remove them from the allow-list"


def test_allow_lists_name_only_checked_words():
    assert set(NOT_YET_SWITCHED) <= set(WIRE)
    assert set(HOMONYMS) <= set(WIRE)
    assert not any(m.startswith("wire/") for mods in NOT_YET_SWITCHED.values() for m in mods)
