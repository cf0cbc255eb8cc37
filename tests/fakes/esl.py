"""The fixture format (tests/fixtures/freeswitch/README.md) and FreeSWITCH ESL wire pieces the fakes send:
transcripts, recorded events, plain events, replies, disconnect notices."""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional, Tuple
from urllib.parse import quote

import gevent.event

from fsbridge.engines.freeswitch import esl_parse


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "freeswitch"

REC = re.compile(rb"(<<< freeswitch|>>> client) t=\+(\d+\.\d{3})s len=(\d+)\n")
CLOSE = re.compile(rb"=== close (freeswitch|client) t=\+(\d+\.\d{3})s\n")


def read_command(file) -> Optional[str]:
    """The next client command from a binary file-like: its lines up to a blank line (without it), or
    None at EOF. Leading blank lines are skipped (ESL commands end with an empty line)."""
    lines = []
    while True:
        line = file.readline()
        if not line:
            return None
        if line in (b"\n", b"\r\n"):
            if lines:
                return b"".join(lines).decode().rstrip("\n")
            continue
        lines.append(line)


def read_transcript(path) -> List[Tuple[str, float, bytes]]:
    """Records of a ``*.esl.txt`` file: ``("fs"|"client"|"close-freeswitch"|"close-client", t, bytes)``.
    Strict: asserts the framing of the fixture README ("Strict reader")."""
    data, pos, out = Path(path).read_bytes(), 0, []
    while data.startswith(b"#", pos):
        pos = data.index(b"\n", pos) + 1
    while pos < len(data):
        m = REC.match(data, pos)
        if m:
            n, s = int(m.group(3)), m.end()
            assert data[s + n:s + n + 1] == b"\n", "bad separator at %d" % (s + n)
            out.append(("fs" if m.group(1)[0] == ord("<") else "client", float(m.group(2)), data[s:s + n]))
            pos = s + n + 1
            continue
        m = CLOSE.match(data, pos)
        assert m, "garbage at %d" % pos
        out.append(("close-" + m.group(1).decode(), float(m.group(2)), b""))
        pos = m.end()
    return out


def fixture(rel: str) -> Path:
    """Path of a copied fixture (tests/fixtures/freeswitch/<rel>)."""
    return FIXTURES / rel


def recorded_events(rel: str) -> List[bytes]:
    """Raw ``text/event-plain`` messages FreeSWITCH sent in a transcript, in order."""
    return [b for d, _, b in read_transcript(fixture(rel)) if d == "fs" and b"Content-Type: text/event-plain" in b]


# ------------------------------------------------------------------------------------ encoding
def _enc(value: str) -> str:
    return quote(str(value), safe="/,()*!-_.~+")


def plain_event(pairs, body: Optional[str] = None) -> bytes:
    """Render a ``text/event-plain`` message (values URL-encoded like FreeSWITCH; inner Content-Length
    when ``body`` is given — BACKGROUND_JOB)."""
    inner = "".join("%s: %s\n" % (k, _enc(v)) for k, v in pairs)
    if body is not None:
        inner += "Content-Length: %d\n\n%s" % (len(body.encode()), body)
    else:
        inner += "\n"
    raw = inner.encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(raw) + raw


def reply(text: str, extra=()) -> bytes:
    """A ``command/reply`` message."""
    head = "Content-Type: command/reply\nReply-Text: %s\n" % text
    for k, v in extra:
        head += "%s: %s\n" % (k, v)
    return (head + "\n").encode()


def api_response(body: str) -> bytes:
    """An ``api/response`` message."""
    raw = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(raw) + raw


DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def disconnect_notice(disposition: Optional[str] = None, body: str = DISCONNECT_BODY) -> bytes:
    """``text/disconnect-notice`` (finding 5/30)."""
    head = "Content-Type: text/disconnect-notice\n"
    if disposition:
        head += "Content-Disposition: %s\n" % disposition
    raw = body.encode()
    return (head + "Content-Length: %d\n\n" % len(raw)).encode() + raw


def _template(rel: str, action: str) -> List[Tuple[str, str]]:
    for raw in recorded_events(rel):
        msg = esl_parse.parse_message(raw)
        if msg.event.get("Action") == action:
            return list(msg.event.header_list)
    raise LookupError(action)


def _set(pairs, name, value):
    out, done = [], False
    for k, v in pairs:
        if k == name and not done:
            out.append((k, str(value)))
            done = True
        elif k == name:
            continue
        else:
            out.append((k, v))
    if not done:
        out.append((name, str(value)))
    return out


_TS = [1795312400000000]


def _now_us() -> int:
    _TS[0] += 20000
    return _TS[0]
