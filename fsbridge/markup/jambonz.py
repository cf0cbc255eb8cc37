"""jambonz: a JSON array of verbs → Response (dialect ``jambonz``).

Sources: ../shared/seeds/jambonz-conference-verb.txt (the ``conference`` verb, its defaults: beep false,
startConferenceOnEnter true, endConferenceOnExit false; statusEvents start end join leave start-talking
end-talking), jambonz verb specification 0.1.13 (every property name and type; ``say``, ``play``,
``pause``, ``hangup``, ``redirect``), DESIGN.md (jambonz emits ``stop-talking``: accepted as
``end-talking``). A verb is ``{"verb": "say", ...}`` or ``{"say": {...}}`` (both forms jambonz accepts).

Mapping onto the model: memberTag → participant_label, joinMuted → muted, beep true → ``"onEnter"`` (the
seed: "play a beep tone to the conference when caller enters"), beep false → ``"false"``; waitHook also
sets wait_url/wait_method and statusHook status_callback/status_callback_method; a ``record`` object sets
record_options and record = ``record-from-start``; no waitHook → wait_url ``""`` (jambonz plays nothing).
A ``text``/``url`` array becomes one Say/Play per item, in order, the list unrolled ``loop`` times;
``synthesizer.voice``/``language`` become Say voice/language; ``loop: "forever"`` is 0.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from fsbridge.wire import twilio as tw
from fsbridge.wire.jambonz import STATUS_EVENT_ALIASES, STATUS_EVENTS  # noqa: F401  (re-exported)

from .listen import parse_listen
from .errors import DOCUMENT_PARSE_FAILURE, SCHEMA_VALIDATION_WARNING, MarkupError
from .model import JAMBONZ, Conference, Hangup, Hook, MarkupWarning, Pause, Play, Redirect, Response, Say, Verb
from .twiml import PARTICIPANT_LABEL_MAX
from .values import METHOD, Bool, Events, Int, Invalid, Number, Text, convert

# statusEvents words and the alias jambonz's code emits: fsbridge.wire.jambonz.
#: jambonz sets no room limit of its own (maxParticipants goes to FreeSWITCH's max-members, an int): fsbridge
#: caps it here — Twilio's 250 is TwiML/TeXML's cap; the standalone engine is measured with rooms of 2000.
MAX_PARTICIPANTS = 5000
#: Verbs of the jambonz verb specification 0.1.13 that fsbridge does not run (warned 12200, skipped).
UNSUPPORTED_VERBS = frozenset({
    "alert", "answer", "sip:decline", "sip:request", "sip:refer", "config", "dub", "dequeue", "enqueue", "leave",
    "gather", "dial", "dialogflow", "dtmf", "lex", "listen", "llm", "message", "rasa", "record", "rest:dial",
    "tag", "transcribe", "pipeline",
})


class HookKind:
    """A jambonz webhook: ``"url"`` or ``{url, method, username, password}`` → :class:`Hook` (method GET|POST)."""

    _KEYS = ("url", "method", "username", "password")

    def json(self, v: object) -> Hook:
        """JSON string or object → Hook; an empty URL, unknown keys or a bad method raise Invalid."""
        if isinstance(v, str):
            if not v.strip():
                raise Invalid("empty URL")
            return Hook(url=v.strip())
        if not isinstance(v, dict):
            raise Invalid("a hook is a URL string or an object with a url")
        url = v.get("url")
        if not isinstance(url, str) or not url.strip():
            raise Invalid("hook object has no url string")
        extra = sorted(str(k) for k in v if k not in self._KEYS)
        if extra:
            raise Invalid(f"unknown hook properties {', '.join(extra)}")
        method = METHOD.json(v["method"]) if "method" in v else "POST"
        creds = {}
        for key in ("username", "password"):
            if key in v and not isinstance(v[key], str):
                raise Invalid(f"hook {key} is not a string")
            creds[key] = v.get(key)
        return Hook(url=url.strip(), method=method, **creds)


class BeepKind:
    """jambonz ``beep`` (boolean) → the model's beep word: true → ``onEnter``, false → ``false`` (seed)."""

    def json(self, v: object) -> str:
        """JSON boolean → ``"onEnter"`` / ``"false"``; raises Invalid otherwise."""
        return tw.BEEP_ON_ENTER if Bool().json(v) else tw.BEEP_FALSE


class LoopKind:
    """jambonz ``loop`` (number|string): a count ≥ 0, or ``"forever"`` → 0 (the model's "until interrupted")."""

    def json(self, v: object) -> int:
        """JSON count 0–1000 or ``"forever"`` → int (0 = forever); raises Invalid otherwise."""
        if isinstance(v, str) and v.strip().lower() == "forever":
            return 0
        return Int(0, 1000).json(v)


@dataclass(frozen=True)
class ObjectKind:
    """A JSON object with ``required`` string properties (jambonz ``#record`` needs ``path``, ``#listen`` ``url``)."""

    required: Tuple[str, ...]

    def json(self, v: object) -> dict:
        """JSON object with the required string properties → shallow copy; raises Invalid."""
        if not isinstance(v, dict):
            raise Invalid("not an object")
        for key in self.required:
            if not isinstance(v.get(key), str) or not v[key]:
                raise Invalid(f"missing string property {key!r}")
        return dict(v)


class TextOrList:
    """jambonz ``text``/``url`` (string|array of strings) → tuple of non-empty strings."""

    def json(self, v: object) -> Tuple[str, ...]:
        """JSON string or array of non-blank strings → tuple of stripped strings; raises Invalid."""
        items = v if isinstance(v, list) else [v]
        if not items or not all(isinstance(i, str) and i.strip() for i in items):
            raise Invalid("not a non-empty string or array of strings")
        return tuple(i.strip() for i in items)


#: Per verb: {property: (target, kind)}; target None = valid per the specification, accepted and ignored.
PROPERTIES: Mapping[str, Mapping[str, Tuple[Optional[str], Any]]] = {
    "conference": {
        "id": ("id", Text()),
        "name": ("name", Text()),
        "beep": ("beep", BeepKind()),
        "memberTag": ("participant_label", Text(warn_over=PARTICIPANT_LABEL_MAX)),
        "speakOnlyTo": ("speak_only_to", Text()),
        "startConferenceOnEnter": ("start_conference_on_enter", Bool()),
        "endConferenceOnExit": ("end_conference_on_exit", Bool()),
        "endConferenceDuration": ("end_conference_duration", Number(0)),
        "maxParticipants": ("max_participants", Int(1, MAX_PARTICIPANTS)),
        "joinMuted": ("muted", Bool()),
        "actionHook": ("action_hook", HookKind()),
        "waitHook": ("wait_hook", HookKind()),
        "statusEvents": ("status_callback_event", Events(STATUS_EVENTS, STATUS_EVENT_ALIASES)),
        "statusHook": ("status_hook", HookKind()),
        "enterHook": ("enter_hook", HookKind()),
        "record": ("record_options", ObjectKind(("path",))),
        "listen": ("listen", ObjectKind(("url",))),
        "distributeDtmf": ("distribute_dtmf", Bool()),
    },
    "say": {
        "id": (None, None), "text": ("text", TextOrList()), "instructions": (None, None),
        "stream": (None, None), "loop": ("loop", LoopKind()), "synthesizer": ("synthesizer", ObjectKind(())),
        "earlyMedia": (None, None), "disableTtsCache": (None, None), "closeStreamOnEmpty": (None, None),
    },
    "play": {
        "id": (None, None), "url": ("url", TextOrList()), "loop": ("loop", LoopKind()),
        "earlyMedia": (None, None), "seekOffset": (None, None), "timeoutSecs": (None, None),
        "actionHook": (None, None),
    },
    "pause": {"id": (None, None), "length": ("length", Number(0, 3600))},
    "hangup": {"id": (None, None), "headers": (None, None)},
    "redirect": {"id": (None, None), "actionHook": ("action_hook", HookKind()), "statusHook": (None, None)},
}
#: Cap on the Say/Play verbs one looped jambonz text/url array unrolls into.
MAX_UNROLLED = 100
REQUIRED = {"conference": "name", "say": "text", "play": "url", "pause": "length", "redirect": "actionHook"}


@dataclass
class _Walk:
    warnings: List[MarkupWarning] = field(default_factory=list)

    def warn(self, message: str, path: str) -> None:
        self.warnings.append(MarkupWarning(SCHEMA_VALIDATION_WARNING, message, path))

    def properties(self, name: str, data: Dict[str, Any], path: str) -> Optional[Dict[str, Any]]:
        table = PROPERTIES[name]
        values: Dict[str, Any] = {}
        for prop, raw in data.items():
            where = f"{path}@{prop}"
            if prop == "verb":
                continue
            if prop not in table:
                self.warn(f"unknown property {prop!r} of {name} ignored", where)
                continue
            target, kind = table[prop]
            if target is None:
                continue
            try:
                values[target] = convert(kind, raw, prop, True, lambda m: self.warn(m, where))
            except Invalid as exc:
                self.warn(f"invalid {prop}: {exc}; default used", where)
        required = REQUIRED.get(name)
        if required and values.get(table[required][0]) in (None, "", ()):
            self.warn(f"{name} needs a valid {required!r}; skipped", path)
            return None
        return values

    def verb(self, item: Any, path: str) -> List[Verb]:
        name, data = _verb_name(item)
        if name is None:
            self.warn("a verb is an object with a \"verb\" property", path)
            return []
        path = f"{path}/{name}"
        if name not in PROPERTIES:
            what = "not supported" if name in UNSUPPORTED_VERBS else "unknown"
            self.warn(f"verb {name!r} is {what}; skipped", path)
            return []
        values = self.properties(name, data, path)
        if values is None:
            return []
        return _BUILD[name](values, self.warn, path)


def _verb_name(item: Any) -> Tuple[Optional[str], Dict[str, Any]]:
    if not isinstance(item, dict):
        return None, {}
    if isinstance(item.get("verb"), str):
        return item["verb"], item
    if len(item) == 1:
        (name, data), = item.items()
        if isinstance(data, dict) and "verb" not in data:
            return str(name), data
    return None, {}


def _conference(v: Dict[str, Any], warn, path: str) -> List[Verb]:
    v.setdefault("beep", tw.BEEP_FALSE)
    v.setdefault("wait_url", "")
    if "wait_hook" in v:
        v["wait_url"], v["wait_method"] = v["wait_hook"].url, v["wait_hook"].method
    if "status_hook" in v:
        v["status_callback"], v["status_callback_method"] = v["status_hook"].url, v["status_hook"].method
    if "record_options" in v:
        v["record"] = tw.RECORD_FROM_START
    if "listen" in v:   # jambonz listen: a Listen, or dropped (warned) when its URL is unusable
        v["listen"] = parse_listen(v["listen"], lambda m: warn(m, path + "@listen"))
    return [Conference(**v)]


def _repeat(items: Tuple[str, ...], loop: int, make, warn, path: str) -> List[Verb]:
    """jambonz plays a text/url array in sequence and loops the whole list: one verb keeps its loop; a list is
    unrolled ``loop`` times (``0`` = forever → :data:`MAX_UNROLLED` verbs, warned), at most MAX_UNROLLED verbs."""
    if len(items) == 1:
        return [make(items[0], loop)]
    times = loop if loop else MAX_UNROLLED
    if loop == 0 or len(items) * times > MAX_UNROLLED:
        warn(f"looping a list of {len(items)} is unrolled to at most {MAX_UNROLLED} verbs", path)
    unrolled = [make(item, 1) for _ in range(times) for item in items]
    return unrolled[:MAX_UNROLLED]


def _say(v: Dict[str, Any], warn, path: str) -> List[Verb]:
    synth = v.pop("synthesizer", {})
    extra = {}
    if isinstance(synth.get("voice"), str) and synth["voice"].strip():
        extra["voice"] = synth["voice"].strip()
    if isinstance(synth.get("language"), str) and synth["language"].strip():
        extra["language"] = synth["language"].strip()
    return _repeat(v["text"], v.get("loop", 1), lambda t, n: Say(text=t, loop=n, **extra), warn, path)


def _play(v: Dict[str, Any], warn, path: str) -> List[Verb]:
    return _repeat(v["url"], v.get("loop", 1), lambda u, n: Play(url=u, loop=n), warn, path)


def _redirect(v: Dict[str, Any], warn, path: str) -> List[Verb]:
    hook = v["action_hook"]
    return [Redirect(url=hook.url, method=hook.method)]


_BUILD = {
    "conference": _conference,
    "say": _say,
    "play": _play,
    "pause": lambda v, warn, path: [Pause(**v)],
    "hangup": lambda v, warn, path: [Hangup()],
    "redirect": _redirect,
}


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_jambonz(body: Union[bytes, str]) -> Response:
    """A jambonz document (JSON text) → :class:`Response` (dialect ``jambonz``), warnings 12200 attached.

    Raises MarkupError(12100) when the body is not JSON (NaN/Infinity and over-deep nesting included) or its
    top level is not an array of verbs. Unknown/unsupported verbs, unknown properties and invalid values
    are 12200 warnings (skipped / default used); a verb missing its required property is skipped.
    Source: jambonz verb specification 0.1.13; jambonz conference verb (seed).
    """
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeError) as exc:
        raise MarkupError(DOCUMENT_PARSE_FAILURE, f"document is not valid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise MarkupError(DOCUMENT_PARSE_FAILURE, "a jambonz document is a JSON array of verbs")
    state = _Walk()
    verbs: List[Verb] = []
    for index, item in enumerate(doc):
        verbs.extend(state.verb(item, f"[{index}]"))
    return Response(verbs=tuple(verbs), dialect=JAMBONZ, warnings=tuple(state.warnings))
