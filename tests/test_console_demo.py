"""``fsbridge demo --console`` (a subprocess, as a user runs it): prints the console's URL and credentials,
plays the meeting, then keeps serving so the finished conference can be browsed — its timeline, status
callbacks and recording — until SIGINT (exit 0)."""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import gevent
import requests


def _line(proc, pattern, timeout=120):
    """The first stdout line matching ``pattern`` (a regex), read cooperatively within ``timeout`` s."""
    with gevent.Timeout(timeout, AssertionError(f"no line matching {pattern!r}")):
        while True:
            line = proc.stdout.readline()
            assert line, f"demo exited ({proc.poll()}) before {pattern!r}"
            m = re.search(pattern, line)
            if m:
                return m


def test_demo_console_stays_browsable(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "fsbridge", "demo", "--console", "--speed", "16",
                             "--out", str(tmp_path / "demo")], stdout=subprocess.PIPE, text=True)
    try:
        m = _line(proc, r"console (http://\S+)/console/\s+\(user (AC\w+), password (\w+)\)")
        base, auth = m.group(1), (m.group(2), m.group(3))
        assert requests.get(base + "/console/", timeout=10).status_code == 401
        _line(proc, r"Ctrl-C to stop")                       # the meeting is over; still serving
        page = requests.get(base + "/console/", auth=auth, timeout=10)
        assert page.status_code == 200 and "TeamMeeting" in page.text
        sid = re.search(r'href="/console/conferences/(CF\w+)"', page.text).group(1)
        conf = requests.get(f"{base}/console/conferences/{sid}", auth=auth, timeout=10).text
        assert "participant-with-end-conference-on-exit-left" in conf and "delivered" in conf
        assert re.search(r'<audio controls preload="none" src="[^"]+/Recordings/RE\w+\.wav"', conf)
        wav = re.search(r'src="([^"]+\.wav)"', conf).group(1)
        audio = requests.get(base + wav, auth=auth, timeout=10)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        tl = requests.get(f"{base}/console/conferences/{sid}/timeline.json", auth=auth, timeout=10).json()
        assert sorted(p["label"] for p in tl["participants"]) == ["Alice", "Bob", "Charles", "Mary"]
        assert sum(e["event"] == "participant-mute" for e in tl["events"]) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        proc.stdout.close()
