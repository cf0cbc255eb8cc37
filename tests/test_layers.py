"""The layer rules of ../shared/DESIGN.md "Layers", checked on the source (every ``import``, also those inside
functions): dependencies point down only; the runtime knows engines only through the contract
(``engines/base.py``, ``engines/talk.py``), never a specific engine; the two engines never import each
other; only the composition root (``app.py``) and what sits above it (``local.py``, ``demo/``, ``cli.py``)
name a concrete engine. (tests/test_conference_imports.py checks the domain's own rule at run time.)
"""
import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fsbridge"

#: layer rank: a module may import modules of its own layer or of a lower rank (DESIGN.md, top to bottom).
#: Packages not listed here (new ones) are not checked until they are given a rank.
RANK = {
    "__main__": 10, "cli": 10, "demo": 10, "ops": 10,
    "local": 9,
    "app": 8, "observability": 8,
    "api": 7, "metrics": 7,
    "runtime": 6,
    "callbacks": 5,
    "store": 4, "engines.base": 4, "engines.talk": 4, "engines.standalone": 4, "engines.freeswitch": 4,
    "config": 3, "config_cluster": 3,
    "cluster": 4,
    "conference": 3,
    "markup": 2,
    "wire": 1,
    # leaf utilities importing nothing of fsbridge (security, files): usable from every layer
    "dbfile": 1, "egress": 1, "media_policy": 1, "redact": 1, "textsafe": 1,
}
ENGINES = ("engines.standalone", "engines.freeswitch")
COMPOSITION = ("app", "observability", "local", "demo", "cli", "__main__", "ops")


def _layer(module: str) -> str:
    """``fsbridge.engines.freeswitch.leg`` → ``engines.freeswitch``; ``fsbridge.api.app`` → ``api``."""
    parts = module.split(".")[1:]
    if not parts:
        return ""
    if parts[0] == "engines" and len(parts) > 1:
        return "engines." + parts[1]
    return parts[0]


def _imports():
    """Every (importing module, imported fsbridge module) pair in the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        if module.endswith(".__init__"):
            module = package = module[: -len(".__init__")]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    names = [".".join(base + ([node.module] if node.module else []))]
                else:
                    names = [node.module or ""]
            else:
                continue
            out += [(module, n) for n in names if n.startswith("fsbridge.")]
    return out


IMPORTS = _imports()


def test_the_scan_sees_the_imports():
    pairs = {(_layer(a), _layer(b)) for a, b in IMPORTS}
    assert ("runtime", "engines.base") in pairs and ("app", "engines.standalone") in pairs
    assert ("engines.standalone", "engines.talk") in pairs and ("engines.freeswitch", "engines.talk") in pairs


def test_no_import_points_up():
    up = [(a, b) for a, b in IMPORTS
          if _layer(a) in RANK and _layer(b) in RANK and RANK[_layer(b)] > RANK[_layer(a)]]
    assert up == [], "lower layer imports a higher one: %s" % up


@pytest.mark.parametrize("engine", ENGINES)
def test_only_the_composition_root_names_a_concrete_engine(engine):
    bad = [(a, b) for a, b in IMPORTS if _layer(b) == engine and _layer(a) not in COMPOSITION + (engine,)]
    assert bad == [], "%s imported outside the composition root: %s" % (engine, bad)


def test_runtime_and_api_know_engines_only_through_the_contract():
    bad = [(a, b) for a, b in IMPORTS if _layer(a) in ("runtime", "api") and _layer(b).startswith("engines.")
           and _layer(b) not in ("engines.base", "engines.talk")]
    assert bad == []


def test_the_shared_engine_modules_import_no_engine():
    bad = [(a, b) for a, b in IMPORTS if _layer(a) in ("engines.base", "engines.talk") and _layer(b) in ENGINES]
    assert bad == []


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts)
        yield module[: -len(".__init__")] if module.endswith(".__init__") else module


def test_every_module_has_a_layer():
    """A new package must be given its rank (DESIGN.md) before it can be checked at all."""
    unranked = sorted(m for m in _modules() if _layer(m) not in RANK and m not in ("fsbridge", "fsbridge.engines"))
    assert unranked == [], "give these a layer in RANK: %s" % unranked


def test_wire_imports_nothing_of_fsbridge_but_itself():
    bad = [(a, b) for a, b in IMPORTS if _layer(a) == "wire" and _layer(b) != "wire"]
    assert bad == []


def test_no_module_probes_an_engine_with_getattr_or_hasattr():
    """The engine contract (engines/base.py) is complete: nothing asks an engine whether it has a method."""
    probe = re.compile(r"\b(getattr|hasattr)\(\s*[\w.]*engine\b")
    bad = [f"{p.relative_to(PACKAGE)}:{n}" for p in sorted(PACKAGE.rglob("*.py"))
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if probe.search(line)]
    assert bad == []
