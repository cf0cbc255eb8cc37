"""Twilio CreateParticipant (Participants resource, create) as one attribute table that builds the markup model.

Each row of :data:`PARAMS` says, for one body parameter: its wire name, its validator (an
:mod:`fsbridge.api.params` helper, raising the 400 / 21xxx :class:`~fsbridge.api.errors.ApiError` Twilio
returns) and the model field it sets — ``conference.<field>`` on :class:`fsbridge.markup.model.Conference`,
``dial.<field>`` on :class:`fsbridge.markup.model.Dial`, or nothing (a call option: ``Timeout`` is the ring
time, the rest are accepted and documented in docs/rest.md). :func:`parse` validates a body once and
:meth:`CreateParticipant.dial` builds the typed ``<Dial><Conference>`` the dialled call runs — no untyped
detour: ``ConferenceControl.add_participant`` takes that Dial (and the ring ``Timeout``). The snake_case option
dict of every given parameter stays available as :attr:`CreateParticipant.options`.

Rules beyond one field (Twilio Participants resource): ``Coaching=true`` needs ``CallSidToCoach`` (400) and
then coaches it; ``ConferenceRecord`` ``true``/``record-from-start`` records from the start, ``false``/
``do-not-record`` does not. ``ConferenceRecordingStatusCallbackMethod`` is validated and not applied (as
before this table replaced the untyped options → Conference conversion).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from werkzeug.datastructures import MultiDict

from fsbridge.api import params
from fsbridge.api.errors import FROM_MISSING, TO_MISSING, invalid
from fsbridge.markup.model import Conference, Dial
from fsbridge.wire import twilio as tw
from fsbridge.wire.serialize import TRUE, snake_case

Parser = Callable[[MultiDict, str], Any]


def _enum(allowed) -> Parser:
    return lambda src, name: params.choice(src, name, allowed)


def _words(allowed) -> Parser:
    return lambda src, name: params.words(src, name, allowed)


def _int(lo=None, hi=None) -> Parser:
    return lambda src, name: params.integer(src, name, lo, hi)


def _text(max_len: int = 4000) -> Parser:
    return lambda src, name: params.text(src, name, max_len)


def _sid(prefix) -> Parser:
    return lambda src, name: params.sid(src, name, prefix)


def _record_mode(value: str) -> str:
    return tw.RECORD_FROM_START if value in (TRUE, tw.RECORD_FROM_START) else tw.DO_NOT_RECORD


@dataclass(frozen=True)
class Param:
    """One CreateParticipant parameter: ``wire`` name, ``parse`` validator, ``target`` model field
    (``"conference.<field>"`` / ``"dial.<field>"``; ``""`` = call option only), ``convert`` applied to the
    parsed value before it is set on the model."""

    wire: str
    parse: Parser
    target: str = ""
    convert: Optional[Callable[[Any], Any]] = None

    @property
    def key(self) -> str:
        """The snake_case option name (``ConferenceStatusCallbackEvent`` → ``conference_status_callback_event``)."""
        return snake_case(self.wire)


C, D = "conference.", "dial."
#: Twilio CreateParticipant body parameters, specification order (From/To are handled by :func:`parse`).
PARAMS: Tuple[Param, ...] = (
    Param("StatusCallback", params.url),
    Param("StatusCallbackMethod", params.method),
    Param(tw.STATUS_CALLBACK_EVENT, _words(tw.CALL_EVENTS)),
    Param("Label", _text(128), C + "participant_label"),
    Param("Timeout", _int(5, 600)),
    Param("Record", params.boolean),
    Param(tw.MUTED, params.boolean, C + "muted"),
    Param("Beep", _enum(tw.BEEP), C + "beep"),
    Param(tw.START_CONFERENCE_ON_ENTER, params.boolean, C + "start_conference_on_enter"),
    Param(tw.END_CONFERENCE_ON_EXIT, params.boolean, C + "end_conference_on_exit"),
    Param(tw.WAIT_URL, params.url, C + "wait_url"),
    Param(tw.WAIT_METHOD, params.method, C + "wait_method"),
    Param("EarlyMedia", params.boolean),
    Param("MaxParticipants", _int(2, 250), C + "max_participants"),
    Param("ConferenceRecord", _enum(tw.CONFERENCE_RECORD), C + "record", _record_mode),
    Param("ConferenceTrim", _enum(tw.TRIM), C + "trim"),
    Param("ConferenceStatusCallback", params.url, C + "status_callback"),
    Param("ConferenceStatusCallbackMethod", params.method, C + "status_callback_method"),
    Param("ConferenceStatusCallbackEvent", _words(tw.CONFERENCE_EVENTS), C + "status_callback_event", tuple),
    Param(tw.RECORDING_CHANNELS, _enum(tw.RECORDING_CHANNELS_VALUES)),
    Param("RecordingStatusCallback", params.url),
    Param("RecordingStatusCallbackMethod", params.method),
    Param("SipAuthUsername", _text()),
    Param("SipAuthPassword", _text()),
    Param("Region", _text(), C + "region"),
    Param("ConferenceRecordingStatusCallback", params.url, C + "recording_status_callback"),
    Param("ConferenceRecordingStatusCallbackMethod", params.method),
    Param("RecordingStatusCallbackEvent", _words(tw.RECORDING_EVENTS)),
    Param("ConferenceRecordingStatusCallbackEvent", _words(tw.RECORDING_EVENTS),
          C + "recording_status_callback_event", tuple),
    Param(tw.COACHING, params.boolean),
    Param(tw.CALL_SID_TO_COACH, _sid("CA")),
    Param("JitterBufferSize", _enum(tw.JITTER), C + "jitter_buffer_size"),
    Param("Byoc", _sid("BY")),
    Param("CallerId", _text()),
    Param("CallReason", _text(255)),
    Param("RecordingTrack", _enum(tw.RECORDING_TRACK)),
    Param("TimeLimit", _int(1, 86400), D + "time_limit"),
    Param("MachineDetection", _enum(tw.MACHINE_DETECTION)),
    Param("MachineDetectionTimeout", _int(3, 59)),
    Param("MachineDetectionSpeechThreshold", _int(1000, 6000)),
    Param("MachineDetectionSpeechEndThreshold", _int(500, 5000)),
    Param("MachineDetectionSilenceTimeout", _int(2000, 10000)),
    Param("AmdStatusCallback", params.url),
    Param("AmdStatusCallbackMethod", params.method),
    Param("Trim", _enum(tw.TRIM)),
    Param("CallToken", _text()),
    Param("ClientNotificationUrl", params.url),
    Param("CallerDisplayName", _text()),
)
del C, D


@dataclass(frozen=True)
class CreateParticipant:
    """A validated CreateParticipant body.

    ``from_``/``to``: the call's From and To. ``options``: every given parameter, snake_case key → parsed
    value (event lists as lists). ``conference``/``dial_fields``: keyword arguments for the model classes (only
    the fields the body set; the model's defaults — Twilio's — fill the rest).
    """

    from_: str
    to: str
    options: Dict[str, Any] = field(default_factory=dict)
    conference: Dict[str, Any] = field(default_factory=dict)
    dial_fields: Dict[str, Any] = field(default_factory=dict)

    def conference_noun(self, name: str) -> Conference:
        """The ``<Conference>`` noun for the room called ``name``."""
        return Conference(name=name, **self.conference)

    def dial(self, name: str) -> Dial:
        """The ``<Dial><Conference>name</Conference></Dial>`` the dialled call runs (``TimeLimit`` → time_limit)."""
        return Dial(conference=self.conference_noun(name), **self.dial_fields)


def parse(form: MultiDict) -> CreateParticipant:
    """Validate a CreateParticipant body (To, then From, then each parameter in :data:`PARAMS` order, then the
    coaching rule) → :class:`CreateParticipant`. Raises ApiError 400: 21201 To missing / bad value,
    21213 From missing, 21205 bad URL."""
    from_, to = params.text(form, tw.FROM), params.text(form, tw.TO)
    if not to:
        raise invalid(f"Required parameter {tw.TO} is missing", TO_MISSING)
    if not from_:
        raise invalid(f"Required parameter {tw.FROM} is missing", FROM_MISSING)
    options: Dict[str, Any] = {}
    models: Dict[str, Dict[str, Any]] = {"conference": {}, "dial": {}}
    for p in PARAMS:
        value = p.parse(form, p.wire)
        if value is None:
            continue
        options[p.key] = value
        if p.target:
            model, _, attr = p.target.partition(".")
            models[model][attr] = p.convert(value) if p.convert else value
    if options.get("coaching"):
        if not options.get("call_sid_to_coach"):
            raise invalid(f"{tw.COACHING}=true requires {tw.CALL_SID_TO_COACH}")
        models["conference"]["coach"] = options["call_sid_to_coach"]
    return CreateParticipant(from_=from_, to=to, options=options, conference=models["conference"],
                             dial_fields=models["dial"])
