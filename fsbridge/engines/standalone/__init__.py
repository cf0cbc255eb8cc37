"""fsbridge.engines.standalone: conferences without FreeSWITCH (numpy N−1 mixer, FreeSWITCH-style talk
detection, jitter buffers, tones, hold music, recording). See docs/standalone.md.

Main entry points: :class:`StandaloneEngine` (the Engine), :class:`VirtualCallLeg` (the CallLeg it
creates with ``create_call``), :class:`Clock` (real or simulated time), :func:`render_say` (espeak-ng),
:class:`TalkDebouncer` (engine-agnostic talk-event debouncing, also used by the FreeSWITCH engine).
"""
from .clock import Clock, RealClock, SimClock
from .engine import StandaloneEngine, VirtualCallLeg
from .jitter import JitterBuffer
from .media import render_say
from .netem import NetEm
from .sources import QueueSource
from .talk import FsTalkDetector, TalkDebouncer, TalkDetectorBank, TalkEvent

__all__ = ["Clock", "RealClock", "SimClock", "StandaloneEngine", "VirtualCallLeg", "JitterBuffer", "NetEm",
           "QueueSource", "render_say", "FsTalkDetector", "TalkDebouncer", "TalkDetectorBank", "TalkEvent"]
