"""fsbridge.engines.freeswitch: the FreeSWITCH engine (mod_conference over ESL via greenswitch).

``FreeSwitchEngine`` (engine.py) implements :class:`fsbridge.engines.base.Engine`; ``OutboundServer`` /
``FreeSwitchCallLeg`` (outbound.py) serve calls handed over by ``socket 127.0.0.1:8084 async full``.
See docs/freeswitch.md.
"""
from fsbridge.engines.freeswitch.engine import FreeSwitchEngine, OriginateJob
from fsbridge.engines.freeswitch.outbound import FreeSwitchCallLeg, OutboundServer

__all__ = ["FreeSwitchEngine", "OriginateJob", "FreeSwitchCallLeg", "OutboundServer"]
