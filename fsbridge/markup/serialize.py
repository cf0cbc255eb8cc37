"""The model as JSON-ready dicts: what ``fsbridge parse`` prints (documented in docs/markup.md).

Shape: ``{"dialect": str, "verbs": [verb, ...], "warnings": [{"code", "message", "path"}, ...]}``; a verb is
``{"verb": "dial"|"conference"|"play"|"say"|"pause"|"redirect"|"hangup"|"gather", <every model field>}`` with
snake_case (Twilio) names, defaults filled in, tuples as lists, Hooks as ``{url, method, username,
password}``; a Gather's ``prompts`` are verbs like the top-level ones; a Dial's ``conference`` is the Conference's fields (no ``verb`` key). Fields come from the
dataclasses, so a field added to the model appears here without change.
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, Dict

from .model import MarkupWarning, Response


def _value(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _value(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    return value


def verb_to_json(verb: Any) -> Dict[str, Any]:
    """One verb → ``{"verb": <class name, lower case>, <field>: <value>, ...}``."""
    out: Dict[str, Any] = {"verb": type(verb).__name__.lower()}
    out.update(_value(verb))
    if "prompts" in out:   # a Gather's nested verbs keep their "verb" key
        out["prompts"] = [verb_to_json(p) for p in verb.prompts]
    return out


def warning_to_json(warning: MarkupWarning) -> Dict[str, Any]:
    """``MarkupWarning`` → ``{"code": 12200, "message": str, "path": str}``."""
    return {"code": warning.code, "message": warning.message, "path": warning.path}


def to_json(response: Response) -> Dict[str, Any]:
    """A parsed :class:`Response` → ``{"dialect", "verbs", "warnings"}`` (json.dumps-able; raises nothing)."""
    return {
        "dialect": response.dialect,
        "verbs": [verb_to_json(v) for v in response.verbs],
        "warnings": [warning_to_json(w) for w in response.warnings],
    }
