"""Both engines implement the whole engine contract of fsbridge/engines/base.py (the runtime calls it without
probing), with the same signatures, and both call legs implement CallLeg."""
import inspect

import pytest

from fsbridge.engines.base import CallLeg, Engine
from fsbridge.engines.freeswitch.engine import FreeSwitchEngine
from fsbridge.engines.freeswitch.leg import FreeSwitchCallLeg
from fsbridge.engines.standalone.engine import StandaloneEngine
from fsbridge.engines.standalone.leg import VirtualCallLeg


def _members(protocol):
    names = {n for n, v in vars(protocol).items() if not n.startswith("_") and (callable(v) or
                                                                               isinstance(v, property))}
    return names | set(getattr(protocol, "__annotations__", {}))


def _params(fn):
    return [p for p in inspect.signature(fn).parameters.values() if p.kind is not p.VAR_KEYWORD]


def test_the_contract_lists_what_the_runtime_uses():
    assert {"execute", "create_call", "originate", "set_call_handler", "now_us", "call_later", "available",
            "rate", "can_originate", "can_create_calls", "warm_up", "preload", "render_say",
            "snapshot"} <= _members(Engine)
    assert {"answer", "play", "wait_left", "leave", "hangup", "on_dtmf", "call_sid"} <= _members(CallLeg)


@pytest.mark.parametrize("engine", [StandaloneEngine, FreeSwitchEngine])
def test_each_engine_has_every_contract_method_with_its_parameters(engine):
    for name in _members(Engine):
        if name in Engine.__annotations__:
            continue   # data attributes: set per instance / class
        assert hasattr(engine, name), name
        declared, own = getattr(Engine, name), getattr(engine, name)
        if isinstance(declared, property):
            assert isinstance(own, property), name
            continue
        want = [p.name for p in _params(declared)]
        got = [p.name for p in _params(own)]
        assert got[:len(want)] == want or set(want) <= set(got), (name, want, got)
    assert isinstance(engine.can_originate, bool) and isinstance(engine.can_create_calls, bool)
    assert engine.can_originate != engine.can_create_calls


@pytest.mark.parametrize("leg", [VirtualCallLeg, FreeSwitchCallLeg])
def test_each_leg_has_every_call_leg_method(leg):
    for name in _members(CallLeg) - set(CallLeg.__annotations__):
        assert callable(getattr(leg, name, None)), name


def test_standalone_engine_instance_answers_the_contract(tmp_path):
    eng = StandaloneEngine(rate=8000)
    assert eng.available and eng.rate == 8000 and eng.can_create_calls and not eng.can_originate
    assert abs(eng.now_us() - eng.clock.epoch_us()) < 1_000_000
    from fsbridge.engines.base import NotSupported
    with pytest.raises(NotSupported):
        eng.originate("1000", "x", "CA1")
    leg = eng.create_call("CA1", "silence_stream://-1")
    assert leg.call_sid == "CA1" and leg.wait_left() == "left"   # no join pending
    path = eng.render_say("hello", "man", "en-US", str(tmp_path))
    assert path.endswith(".wav")
