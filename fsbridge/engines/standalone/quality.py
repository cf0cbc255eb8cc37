"""Call quality of a standalone virtual call that sent its audio over the emulated network (issue 22):
the call's :class:`~.netem.NetEm` counters and its :class:`~.jitter.JitterBuffer`'s arrival statistics,
as the engine-neutral NativeEvent ``extra`` pairs of :data:`fsbridge.wire.insights.QUALITY_EXTRAS`, attached
to its CHANNEL_HANGUP_COMPLETE.

* packets received: packets the jitter buffer got in time (arrived − late − duplicates);
* packets lost: lost on the network + arrived too late to be played (to the listener both are gone);
* jitter avg / max: the buffer's RFC 3550 interarrival jitter estimate (ms);
* latency avg / max: arrival − send time (ms, the network's one-way delay as the bridge's clock sees it);
* MOS: the simplified ITU-T G.107 E-model (R = 93.2 − delay impairment − 2.5 × loss %, with the effective
  latency = latency + 2 × jitter + 10 ms; MOS = 1 + 0.035 R + 7·10⁻⁶ R (R − 60)(100 − R)), as commonly used
  for VoIP monitoring (it gives 4.4 for a clean path, Twilio's own "perfect" value).

A call without an emulated network has no measurement: no pairs (its summary's ``metrics`` stay null).
"""
from __future__ import annotations

from typing import Optional, Tuple

from fsbridge.wire import insights as wi


SOURCE = "standalone"


def mos(latency_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """E-model MOS (1.0–4.5) from one-way latency (ms), jitter (ms) and packet loss (%); see the module doc."""
    effective = latency_ms + 2.0 * jitter_ms + 10.0
    r = 93.2 - (effective / 40.0 if effective < 160.0 else (effective - 120.0) / 10.0)
    r -= 2.5 * loss_pct
    r = max(0.0, min(100.0, r))
    return round(max(1.0, min(4.5, 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r))), 2)


def quality_extras(network, jitter) -> Tuple[Tuple[str, str], ...]:
    """``network``: the call's NetEm (or None), ``jitter``: its JitterBuffer (or None) → extra pairs."""
    if network is None or jitter is None:
        return ()
    received = max(0, jitter.received - jitter.late - jitter.duplicates)
    lost = network.lost + jitter.late
    total = received + lost
    loss_pct = 100.0 * lost / total if total else 0.0
    latency: Optional[float] = jitter.transit_avg_ms if jitter.received else None
    pairs = [(wi.Q_PACKETS_RECEIVED, str(received)), (wi.Q_PACKETS_LOST, str(lost))]
    if latency is not None:   # jitter, latency and MOS need packets: none arrived → absent (null), not 0.00
        pairs += [(wi.Q_JITTER_AVG_MS, f"{jitter.jitter_avg_ms:.2f}"),
                  (wi.Q_JITTER_MAX_MS, f"{jitter.jitter_max_ms:.2f}"),
                  (wi.Q_LATENCY_AVG_MS, f"{latency:.2f}"), (wi.Q_LATENCY_MAX_MS, f"{jitter.transit_max_ms:.2f}"),
                  (wi.Q_MOS, f"{mos(latency, jitter.jitter_avg_ms, loss_pct):.2f}")]
    return tuple(pairs) + ((wi.Q_SOURCE, SOURCE),)


__all__ = ["mos", "quality_extras"]
