"""Shared pieces of the cluster tests (issue #18): a fresh PostgreSQL database per test on the session's
throw-away server (:func:`fresh_database`), ``fsbridge serve`` nodes with a ``[cluster]`` section as
subprocesses (:class:`Node`, :func:`start_cluster`), and the tenant's app (:class:`ClusterApp`)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import gevent
import requests
from flask import Flask, Response, request

from fsbridge.local import CallbackLog, HttpApp

AC = "AC" + "8" * 32
TOKEN = "cluster-token"
NUMBER = "+15550008000"
SECRET = "cluster-secret-" + "s" * 20
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = "start end join leave mute"


def fresh_database(pg_url: str):
    """Create a database of its own on ``pg_url``'s server; returns (its URL, drop())."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    name = "fsbc_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return url, drop


class ClusterApp:
    """The tenant's app: /voice puts every caller (label = From) into the room named by ``self.room`` with
    status callbacks (/cb, form + idempotency token), recording callbacks (/rec) and a Dial action
    (/action, recorded; answers Hangup)."""

    def __init__(self):
        self.status = CallbackLog()
        self.recordings = CallbackLog()
        self.actions = CallbackLog()
        self.room = "ClusterRoom"
        app = Flask("cluster-app")

        @app.post("/voice")
        def voice():
            who = request.form.get("From", "")
            return Response(f'<Response><Dial action="/action"><Conference beep="false" participantLabel="{who}" '
                            f'record="record-from-start" recordingStatusCallback="/rec" statusCallback="/cb" '
                            f'statusCallbackEvent="{EVENTS}">{self.room}</Conference></Dial></Response>',
                            mimetype="text/xml")

        @app.post("/cb")
        def cb():
            self.status.add(dict(request.form.to_dict(),
                                 _token=request.headers.get("I-Twilio-Idempotency-Token", "")))
            return Response("", status=204)

        @app.post("/rec")
        def rec():
            self.recordings.add(request.form.to_dict())
            return Response("", status=204)

        @app.post("/action")
        def action():
            self.actions.add(request.form.to_dict())
            return Response("<Response><Hangup/></Response>", mimetype="text/xml")

        self.http = HttpApp(app).start()


def node_config(work, name: str, db_url: str, app_url: str, timeout: float = 3.0) -> str:
    """Write ``work/<name>.toml``: a standalone node (realtime clock) of the cluster on ``db_url``."""
    os.makedirs(work / name, exist_ok=True)
    path = work / f"{name}.toml"
    path.write_text(f"""
[server]
host = "127.0.0.1"
port = 0
[storage]
database_url = "{db_url}"
audio_dir = "{work / name}/audio"
recordings_dir = "{work / name}/recordings"
[engine]
type = "standalone"
clock = "realtime"
[http]
fetch_timeout = 5
[[accounts]]
sid = "{AC}"
auth_token = "{TOKEN}"
[[numbers]]
number = "{NUMBER}"
voice_url = "{app_url}/voice"
[cluster]
node = "{name}"
api_host = "127.0.0.1"
api_port = 0
heartbeat_interval = 0.25
failure_timeout = {timeout}
placement = "first-call"
""")
    return str(path)


class Node:
    """``fsbridge serve`` for one node (config ``cfg``), the secret in the environment; :meth:`ready` reads
    the address it prints."""

    def __init__(self, name: str, cfg: str, work):
        self.name, self.cfg, self.work = name, cfg, work
        self.log_path = work / f"{name}.log"   # a file, not a pipe: a full pipe would stall the node
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "fsbridge", "serve", "--config", cfg],
                                         stdout=subprocess.PIPE, stderr=log, cwd=REPO,
                                         env=dict(os.environ, FSBRIDGE_CLUSTER_SECRET=SECRET))
        self.url = None

    def ready(self) -> "Node":
        """Wait for ``fsbridge serving on URL``."""
        with gevent.Timeout(60, AssertionError(f"node {self.name} did not report its address")):
            line = self.proc.stdout.readline().decode()
        if not line.startswith("fsbridge serving on http://127.0.0.1:"):
            self.proc.kill()
            raise AssertionError(f"{self.name}: {line!r} {self.log()[-3000:]}")
        self.url = line.split()[-1]
        return self

    def api(self, path: str, data=None, method: str = None):
        """A REST request to this node (Basic auth); ``path`` below /2010-04-01/Accounts/AC…/."""
        url = f"{self.url}/2010-04-01/Accounts/{AC}/{path}"
        return requests.request(method or ("POST" if data is not None else "GET"), url, data=data,
                                auth=(AC, TOKEN), timeout=15)

    def call(self, caller: str, hz: int) -> str:
        """A virtual caller ``caller`` playing a ``hz`` tone dials the number at this node; its CallSid."""
        resp = self.api("Calls.json", {"To": NUMBER, "From": caller, "Media": f"tone:{hz}"})
        assert resp.status_code == 201, resp.text
        return resp.json()["sid"]

    def log(self) -> str:
        """What the node logged so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL (a crash)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=30)

    def stop(self) -> int:
        """SIGTERM; the exit status."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        with gevent.Timeout(30, AssertionError(f"node {self.name} did not exit after SIGTERM")):
            self.proc.communicate()
        return self.proc.returncode


def start_cluster(work, db_url: str, app_url: str, n: int = 3, timeout: float = 3.0):
    """Start ``n`` nodes n1…nN together (they create the tables under an advisory lock) and wait until all
    serve."""
    nodes = [Node(f"n{i}", node_config(work, f"n{i}", db_url, app_url, timeout), work) for i in range(1, n + 1)]
    return [node.ready() for node in nodes]


def names(items):
    """The StatusCallbackEvent of each callback."""
    return [c["StatusCallbackEvent"] for c in items]


def deduplicated(items):
    """Callbacks with repeats of one idempotency token removed (at-least-once delivery); asserts a repeat
    carries the same form."""
    seen, out = {}, []
    for c in items:
        token = c["_token"]
        if token in seen:
            assert seen[token] == c, f"same token, different callback: {seen[token]} / {c}"
            continue
        seen[token] = c
        out.append(c)
    return out
