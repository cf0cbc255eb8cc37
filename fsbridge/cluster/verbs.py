"""The verb a moved call runs on the owning node, as JSON: ``<Dial>`` (with its ``<Conference>``) or a bare
jambonz ``conference``, with their hooks. Only these markup model classes are encoded or decoded
(:data:`CLASSES`); anything else is refused with ValueError (the owner never builds arbitrary objects from a
request, even an authenticated one)."""
from __future__ import annotations

import dataclasses
from typing import Any

from fsbridge.markup.model import Conference, Dial, Hook

CLASSES = {cls.__name__: cls for cls in (Dial, Conference, Hook)}


def to_json(verb: Any) -> Any:
    """``verb`` (Dial / Conference / Hook, nested) → JSON-ready dicts tagged with ``"_type"``."""
    if dataclasses.is_dataclass(verb):
        if type(verb).__name__ not in CLASSES:
            raise ValueError(f"cannot move a call running {type(verb).__name__}")
        out = {"_type": type(verb).__name__}
        for f in dataclasses.fields(verb):
            out[f.name] = to_json(getattr(verb, f.name))
        return out
    if isinstance(verb, (list, tuple)):
        return [to_json(v) for v in verb]
    if verb is None or isinstance(verb, (str, int, float, bool)):
        return verb
    raise ValueError(f"cannot encode {type(verb).__name__}")


def from_json(data: Any) -> Any:
    """The inverse of :func:`to_json`: tagged dicts → the model objects, lists → tuples. Raises ValueError
    for an unknown tag or field."""
    if isinstance(data, dict):
        cls = CLASSES.get(str(data.get("_type")))
        if cls is None:
            raise ValueError(f"unknown verb type {data.get('_type')!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: from_json(v) for k, v in data.items() if k != "_type"}
        if set(kw) - names:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(set(kw) - names)}")
        return cls(**kw)
    if isinstance(data, list):
        return tuple(from_json(v) for v in data)
    return data


__all__ = ["to_json", "from_json", "CLASSES"]
