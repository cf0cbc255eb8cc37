"""Call quality from FreeSWITCH's per-channel RTP statistics (issue 22).

At hangup FreeSWITCH sets ``rtp_audio_in_*`` channel variables (switch_rtp / switch_core_media), carried on
CHANNEL_HANGUP_COMPLETE as ``variable_rtp_audio_in_*`` headers (see ../shared/fixtures/freeswitch/outbound/
*.esl.txt). :func:`quality_extras` turns those present into the engine-neutral NativeEvent ``extra`` pairs of
:data:`fsbridge.wire.insights.QUALITY_EXTRAS` (received direction: the caller's audio as FreeSWITCH got it):

=========================================  ==========================================================
``rtp_audio_in_media_packet_count``        packets received
``rtp_audio_in_flaw_total``                packets lost (FreeSWITCH counts each missing sequence number
                                           as a flaw; its MOS and quality_percentage are computed from it)
``rtp_audio_in_jitter_max_variance``       jitter max (ms; FreeSWITCH's largest interarrival jitter)
``rtp_audio_in_mos``                       MOS (FreeSWITCH's estimate, 1–4.5)
=========================================  ==========================================================

FreeSWITCH has no average jitter and no latency for a plain RTP leg (no RTCP receiver reports in the
fixtures: ``rtp_audio_rtcp_packet_count: 0``): those stay unknown (null in the summary).
"""
from __future__ import annotations

from typing import Tuple

from fsbridge.wire import insights as wi

from . import wire

RTP_IN_PACKETS = wire.VARIABLE_PREFIX + "rtp_audio_in_media_packet_count"
RTP_IN_FLAWS = wire.VARIABLE_PREFIX + "rtp_audio_in_flaw_total"
RTP_IN_JITTER_MAX = wire.VARIABLE_PREFIX + "rtp_audio_in_jitter_max_variance"
RTP_IN_MOS = wire.VARIABLE_PREFIX + "rtp_audio_in_mos"

SOURCE = "freeswitch"
_MAP = ((RTP_IN_PACKETS, wi.Q_PACKETS_RECEIVED), (RTP_IN_FLAWS, wi.Q_PACKETS_LOST),
        (RTP_IN_JITTER_MAX, wi.Q_JITTER_MAX_MS), (RTP_IN_MOS, wi.Q_MOS))


def quality_extras(ev) -> Tuple[Tuple[str, str], ...]:
    """``ev``: a parsed ESL event (``.get(header)``) → the quality ``extra`` pairs it carries (maybe none)."""
    out = []
    for header, name in _MAP:
        value = ev.get(header)
        if value is not None and value.strip():
            out.append((name, value.strip()))
    return tuple(out) + ((wi.Q_SOURCE, SOURCE),) if out else ()


__all__ = ["quality_extras"]
