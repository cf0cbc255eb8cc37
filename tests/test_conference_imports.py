"""fsbridge.conference is sans-IO: importing it (every module) pulls in no I/O or web library and no other
fsbridge layer above it (DESIGN.md layers; issue #3: nothing from gevent, requests, flask, lxml,
sqlalchemy or fsbridge.engines/callbacks/api/runtime). Checked in fresh interpreters via sys.modules.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = ("gevent", "greenlet", "requests", "flask", "werkzeug", "lxml", "sqlalchemy", "socket",
             "fsbridge.engines", "fsbridge.callbacks", "fsbridge.api", "fsbridge.runtime", "fsbridge.store")
MODULES = ("fsbridge.conference", "fsbridge.conference.state", "fsbridge.conference.testing",
           "fsbridge.conference.errors", "fsbridge.conference.ids", "fsbridge.conference.model",
           "fsbridge.conference.rules", "fsbridge.conference.room",
           "fsbridge.conference.media", "fsbridge.conference.tables", "fsbridge.conference.resync",
           "fsbridge.conference.events", "fsbridge.conference.outcome")
#: the domain spells its own words: no markup dialect module (only markup.model, the verb dataclasses)
DIALECT_MODULES = ("fsbridge.markup.twiml", "fsbridge.markup.texml", "fsbridge.markup.jambonz")

# Loads fsbridge.markup as a bare namespace (its __init__ — the parsers — is not run), so only what
# fsbridge.conference itself needs (fsbridge.markup.model) is imported.
STUB_MARKUP = """
import sys, types, pathlib, fsbridge
pkg = types.ModuleType("fsbridge.markup")
pkg.__path__ = [str(pathlib.Path(fsbridge.__file__).parent / "markup")]
sys.modules["fsbridge.markup"] = pkg
"""
PROBE = """
import importlib, json, sys
before = set(sys.modules)
%s
for name in %r:
    importlib.import_module(name)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _loaded(modules, stub_markup=False):
    code = PROBE % (STUB_MARKUP if stub_markup else "", tuple(modules))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _bad(loaded, forbidden=FORBIDDEN):
    return [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)]


def test_conference_itself_imports_no_io_library_nor_upper_layer():
    loaded = _loaded(MODULES, stub_markup=True)
    assert "fsbridge.conference.state" in loaded and "fsbridge.markup.model" in loaded
    assert _bad(loaded) == [], f"fsbridge.conference imported {_bad(loaded)}"
    assert _bad(loaded, DIALECT_MODULES) == [], f"fsbridge.conference imported {_bad(loaded, DIALECT_MODULES)}"


def test_importing_conference_with_the_real_markup_package():
    loaded = _loaded(MODULES)
    assert "fsbridge.conference.state" in loaded and "fsbridge.markup" in loaded
    assert _bad(loaded) == [], f"fsbridge.conference imported {_bad(loaded)}"
