"""Draw a conference timeline PNG: one lane per participant, speech periods, join/leave/mute marks.

Input: records ``{"t": seconds (float, from any origin), "event": Twilio StatusCallbackEvent value,
"label": participant label or "" for conference events}`` in time order. Speech periods are the spans
between ``participant-speech-start`` and ``participant-speech-stop`` of a label; a span still open at the
end is closed at the last record's time. Rendered with matplotlib's Agg backend (no display needed).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Tuple

from fsbridge.wire import twilio as tw

MARKS = {  # event → (marker, colour, legend text)
    tw.PARTICIPANT_JOIN: ("^", "tab:green", "join"),
    tw.PARTICIPANT_LEAVE: ("v", "tab:red", "leave"),
    tw.PARTICIPANT_MUTE: ("x", "black", "mute"),
    tw.PARTICIPANT_UNMUTE: ("+", "black", "unmute"),
    tw.PARTICIPANT_HOLD: ("s", "tab:purple", "hold"),
    tw.PARTICIPANT_UNHOLD: ("D", "tab:purple", "unhold"),
}


def speech_spans(records: Iterable[Mapping], start: str = tw.PARTICIPANT_SPEECH_START,
                 stop: str = tw.PARTICIPANT_SPEECH_STOP) -> Dict[str, List[Tuple[float, float]]]:
    """Per label, the (start_s, end_s) spans between ``start`` and ``stop`` records (default: Twilio's
    participant-speech-start/stop; the demo also marks what each caller actually said with
    ``source-speech-start/stop``)."""
    records = list(records)
    end = records[-1]["t"] if records else 0.0
    open_at: Dict[str, float] = {}
    spans: Dict[str, List[Tuple[float, float]]] = {}
    for rec in records:
        label = rec.get("label") or ""
        if rec["event"] == start:
            open_at.setdefault(label, rec["t"])
        elif rec["event"] == stop and label in open_at:
            spans.setdefault(label, []).append((open_at.pop(label), rec["t"]))
    for label, start in open_at.items():
        spans.setdefault(label, []).append((start, end))
    return spans


def draw_timeline(records: Iterable[Mapping], path: str, title: str = "Conference timeline") -> None:
    """Write the timeline of ``records`` to ``path`` (PNG). Lanes are ordered by first appearance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = sorted(records, key=lambda r: r["t"])
    lanes: List[str] = []
    for rec in records:
        label = rec.get("label") or ""
        if label and label not in lanes:
            lanes.append(label)
    row = {label: i for i, label in enumerate(reversed(lanes))}
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.7 * max(1, len(lanes))), dpi=110)
    said = speech_spans(records, "source-speech-start", "source-speech-stop")
    for label, spans in said.items():
        if label in row:
            ax.broken_barh([(a, max(b - a, 0.05)) for a, b in spans], (row[label] - 0.38, 0.76),
                           facecolors="none", edgecolors="tab:gray", hatch="///", linewidth=0.8)
    for label, spans in speech_spans(records).items():
        if label in row:
            ax.broken_barh([(a, max(b - a, 0.05)) for a, b in spans], (row[label] - 0.3, 0.6),
                           facecolors="tab:blue", alpha=0.6, label="_speech")
    seen = set()
    for rec in records:
        event, label = rec["event"], rec.get("label") or ""
        if event in MARKS and label in row:
            marker, colour, text = MARKS[event]
            ax.plot(rec["t"], row[label], marker=marker, color=colour, markersize=9, linestyle="none",
                    label=text if text not in seen else "_nolegend_")
            seen.add(text)
        elif event in (tw.CONFERENCE_START, tw.CONFERENCE_END):
            ax.axvline(rec["t"], color="tab:gray", linestyle="--", linewidth=1)
            ax.text(rec["t"], len(lanes) - 0.4, event.split("-")[1], rotation=90, fontsize=8,
                    va="top", ha="right", color="tab:gray")
    ax.plot([], [], color="tab:blue", alpha=0.6, linewidth=8, label="speech (speaker events)")
    if said:
        ax.fill_between([], [], [], facecolor="none", edgecolor="tab:gray", hatch="///",
                        label="what the caller said")
    ax.set_yticks(range(len(lanes)), list(reversed(lanes)))
    ax.set_ylim(-0.7, max(len(lanes), 1) - 0.3)
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
