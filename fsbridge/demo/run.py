"""``fsbridge demo [--out DIR] [--speed N]``: the 2016 Conference Events post's Team Meeting, end to end.

One process: the customer's app (:mod:`fsbridge.demo.app`, a Twilio-style Flask app) on a local port, a
bridge (standalone engine, REST API, callback dispatcher, SQLite store) on another, and four virtual
callers — Mary, Alice, Bob and Charles — each speaking a real recorded sentence at a scripted time.
The app receives the signed status callbacks; once all four have joined it mutes everyone but Mary through
the REST API; Mary (endConferenceOnExit) hangs up and the conference ends.

Writes to DIR: ``recording.wav`` (the room's recording, record-from-start), ``heard-<name>.wav`` (what each
caller heard), ``callbacks.jsonl`` (every callback the app received, in arrival order) and
``timeline.png`` (one lane per participant: speech periods, join/leave/mute marks).
The engine runs on a simulated clock ``--speed`` times faster than real time.
Source: ../shared/seeds/twilio-conference-events-announcement.txt.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from importlib import resources
from typing import Dict, List, Tuple

from fsbridge.wire import twilio as tw

ACCOUNT_SID = "AC" + "de30" * 8
TEAM_NUMBER = "+15550107000"


@dataclass(frozen=True)
class Caller:
    """One demo caller: ``name`` (also the From and participant label), the engine time ``call_at_s`` when
    the call is placed, ``speaks_at_s`` (engine time the sentence starts; the caller is silent otherwise),
    and ``hangup_at_s`` (engine time the caller hangs up, None = stays until the room ends)."""

    name: str
    call_at_s: float
    speaks_at_s: float
    hangup_at_s: float | None = None


SCRIPT: Tuple[Caller, ...] = (
    Caller("Mary", 0.0, 9.0, hangup_at_s=24.0),   # presenter; ends the meeting on exit
    Caller("Alice", 2.0, 16.5),                   # second caller: the conference starts
    Caller("Bob", 4.0, 4.6),                      # speaks right after joining, before the mute
    Caller("Charles", 8.0, 20.0),                 # last to join; then the app mutes all but Mary
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` (default ./demo-out), ``--speed N`` (engine clock speed factor, default 8)."""
    parser.add_argument("--out", default="demo-out", help="output directory (default: demo-out)")
    parser.add_argument("--speed", type=float, default=None,
                        help="simulated clock speed, × real time (default: 8; 1 with --console)")
    parser.add_argument("--console", action="store_true",
                        help="print the web console's URL and keep serving it after the meeting (Ctrl-C ends)")
    parser.add_argument("--port", type=int, default=0, help="bridge HTTP port (default: any free port)")


def _speech(clip: str, rate: int):
    """The packaged ``clip`` (``fsbridge/demo/audio/<clip>.flac``) as int16 samples at ``rate`` Hz."""
    from fsbridge.engines.standalone.sources import load_audio

    with resources.as_file(resources.files("fsbridge.demo") / "audio" / f"{clip}.flac") as src:
        return load_audio(str(src), rate)


def level_dbfs(audio, rate: int, span: Tuple[float, float], answered_at_s: float) -> float:
    """RMS level (dBFS, −120 for digital silence) of ``audio`` (int16, heard since answer at engine time
    ``answered_at_s``) over the engine-time ``span`` (start_s, end_s)."""
    import numpy as np

    a = max(0, int((span[0] - answered_at_s) * rate))
    b = max(a, int((span[1] - answered_at_s) * rate))
    chunk = np.asarray(audio[a:b], dtype=np.float64)
    if chunk.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(chunk ** 2)))
    return max(-120.0, 20 * np.log10(rms / 32768.0)) if rms > 0 else -120.0


def _wait_engine_time(clock, t_s: float, timeout_s: float = 60.0) -> None:
    """Block the calling greenlet until the engine clock (a :class:`~fsbridge.engines.standalone.timers.TimerClock`)
    reads ``t_s`` seconds: an engine-time timer wakes it. Raises TimeoutError after ``timeout_s`` wall
    seconds."""
    import gevent.event

    if clock.now_s >= t_s:
        return
    reached = gevent.event.Event()
    clock.call_later(t_s - clock.now_s, reached.set)
    if not reached.wait(timeout_s):
        raise TimeoutError(f"engine clock stuck before {t_s:.1f} s")


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns 0 on success, 1 if the meeting did not play out as the post describes."""
    from gevent import monkey

    monkey.patch_all()
    import logging

    import gevent.event
    import numpy as np
    import soundfile as sf

    from fsbridge.config import Number
    from fsbridge.demo.app import create_demo_app
    from fsbridge.demo.timeline import draw_timeline
    from fsbridge.engines.standalone.sources import QueueSource, frame_len
    from fsbridge.local import HttpApp, heard_audio, start_bridge

    if args.speed is None:
        args.speed = 1.0 if getattr(args, "console", False) else 8.0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from fsbridge import redact
    redact.install()
    out = os.path.abspath(args.out)
    work = os.path.join(out, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    token = secrets.token_hex(16)
    wall0 = time.monotonic()

    received: List[Dict[str, str]] = []
    ended = gevent.event.Event()
    muted = gevent.event.Event()
    cb_file = open(os.path.join(out, "callbacks.jsonl"), "w")
    server_box = {}

    def on_callback(params: Dict[str, str]) -> None:
        received.append(params)
        cb_file.write(json.dumps(params, sort_keys=True) + "\n")
        cb_file.flush()
        clock = server_box["server"].bridge.engine.clock
        who = params.get(tw.PARTICIPANT_LABEL, "")
        print(f"  [{clock.now_s:5.1f} s] #{params.get(tw.SEQUENCE_NUMBER, '?'):>2} "
              f"{params.get(tw.STATUS_CALLBACK_EVENT, ''):<26} {who}"
              + (f"  ({params[tw.REASON_CONFERENCE_ENDED]})" if params.get(tw.REASON_CONFERENCE_ENDED) else ""),
              flush=True)
        if params.get(tw.STATUS_CALLBACK_EVENT) == tw.CONFERENCE_END:
            ended.set()

    app = HttpApp(create_demo_app(rest_base=lambda: server_box["server"].base_url, account_sid=ACCOUNT_SID,
                                  auth_token=token, on_callback=on_callback,
                                  on_mute_done=muted.set)).start()
    server = start_bridge(work, accounts={ACCOUNT_SID: token},
                          numbers=[Number(TEAM_NUMBER, ACCOUNT_SID, app.url + "/voice/team")],
                          clock=str(args.speed), port=getattr(args, "port", 0) or 0)
    server_box["server"] = server
    bridge = server.bridge
    clock = bridge.engine.clock
    timeline: List[Dict] = []
    t0_us = bridge.now_us() - int(clock.now_s * 1e6)   # engine time 0 as epoch µs
    calls: Dict[str, str] = {}
    answered: Dict[str, float] = {}

    def on_event(event) -> None:
        t = (event.timestamp.timestamp() * 1e6 - t0_us) / 1e6
        label = event.participant.label if event.participant else ""
        timeline.append({"t": t, "event": event.name, "label": label or ""})

    bridge.listeners.append(on_event)
    print(f"fsbridge demo — Team Meeting on the standalone engine ({args.speed:g}× real time)")
    print(f"  app {app.url}   bridge {server.base_url}   output {out}")
    if getattr(args, "console", False):
        from fsbridge.demo.browse import announce
        announce(server.base_url, ACCOUNT_SID, token)
    spoken: Dict[str, Tuple[float, float]] = {}
    rate = bridge.engine.rate
    mouths = {c.name: QueueSource(frame_len(rate), name=c.name) for c in SCRIPT}
    speech = {c.name: _speech(c.name.lower(), rate) for c in SCRIPT}
    # Who does what when, in engine time: dial, speak; callers talk whether or not anyone hears them.
    agenda = sorted([(c.call_at_s, "dial", c) for c in SCRIPT] + [(c.speaks_at_s, "speak", c) for c in SCRIPT],
                    key=lambda item: item[0])
    try:
        for at_s, action, caller in agenda:
            _wait_engine_time(clock, at_s)
            if action == "speak":
                mouths[caller.name].push(speech[caller.name])
                spoken[caller.name] = (clock.now_s, clock.now_s + len(speech[caller.name]) / rate)
                print(f"  [{clock.now_s:5.1f} s] {caller.name} speaks", flush=True)
                continue
            hangup = None if caller.hangup_at_s is None else caller.hangup_at_s - caller.call_at_s
            rec = bridge.place_call(ACCOUNT_SID, caller.name, TEAM_NUMBER, mouths[caller.name],
                                    hangup_after_s=hangup)
            calls[caller.name] = rec.call_sid
            answered[caller.name] = clock.now_s
            print(f"  [{clock.now_s:5.1f} s] {caller.name} dials {TEAM_NUMBER} ({rec.call_sid})", flush=True)
        if not bridge.wait_calls(timeout=120):
            print("error: calls did not finish in time", file=sys.stderr)
            return 1
        ended.wait(timeout=30)
        server.dispatcher.wait_idle(timeout=30)
        heard = {name: heard_audio(server, sid) for name, sid in calls.items()}
        if getattr(args, "console", False):
            from fsbridge.demo.browse import announce, serve_until_interrupted
            announce(server.base_url, ACCOUNT_SID, token)
            serve_until_interrupted()
    finally:
        server.stop()
        app.stop()
        cb_file.close()

    for name, audio in heard.items():
        sf.write(os.path.join(out, f"heard-{name.lower()}.wav"), np.asarray(audio, dtype=np.int16), rate)
    recordings = sorted(f for f in os.listdir(os.path.join(work, "recordings")) if f.endswith(".wav"))
    rec_len = 0.0
    if recordings:
        shutil.copy(os.path.join(work, "recordings", recordings[0]), os.path.join(out, "recording.wav"))
        rec_len = sf.info(os.path.join(out, "recording.wav")).duration
    for name, (a, b) in spoken.items():
        timeline.append({"t": a, "event": "source-speech-start", "label": name})
        timeline.append({"t": b, "event": "source-speech-stop", "label": name})
    draw_timeline(timeline, os.path.join(out, "timeline.png"), title="Team Meeting (fsbridge demo)")

    facts = {
        "Mary heard muted Alice": level_dbfs(heard["Mary"], rate, spoken["Alice"], answered["Mary"]),
        "Mary heard muted Charles": level_dbfs(heard["Mary"], rate, spoken["Charles"], answered["Mary"]),
        "Alice heard Mary": level_dbfs(heard["Alice"], rate, spoken["Mary"], answered["Alice"]),
    }
    for what, level in facts.items():
        print(f"  {what}: {level:6.1f} dBFS")
    events = [p.get(tw.STATUS_CALLBACK_EVENT) for p in received]
    end = next((p for p in received if p.get(tw.STATUS_CALLBACK_EVENT) == tw.CONFERENCE_END), {})
    print(f"  {len(received)} callbacks; conference ended: {end.get(tw.REASON_CONFERENCE_ENDED, 'no')}; "
          f"recording {rec_len:.1f} s; wall time {time.monotonic() - wall0:.1f} s")
    print(f"  wrote {out}/recording.wav, heard-*.wav, callbacks.jsonl, timeline.png")
    ok = (events.count(tw.PARTICIPANT_JOIN) == 4 and events.count(tw.CONFERENCE_START) == 1
          and end.get(tw.REASON_CONFERENCE_ENDED) == tw.ECOE_LEFT
          and events.count(tw.PARTICIPANT_MUTE) == 3 and rec_len > 0
          and facts["Mary heard muted Alice"] < -60 and facts["Mary heard muted Charles"] < -60
          and facts["Alice heard Mary"] > -40)
    if not ok:
        print("error: the meeting did not play out as expected", file=sys.stderr)
    return 0 if ok else 1
