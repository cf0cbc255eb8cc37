"""A strict ESL (FreeSWITCH Event Socket) message and event parser.

Why not greenswitch's ``ESLEvent.parse_data``: it URL-decodes a whole header block *before* splitting it
into lines, so a caller-controlled value such as ``Caller-Caller-ID-Name: Bob%0AUnique-ID%3A%20x`` forges
a ``Unique-ID`` header; it glues a plain event's inner body onto ``Content-Length``; it cannot read
``text/event-json`` (fsbridge DESIGN.md "Known traps"; fixtures README "Verification done").

This parser splits on ``\\n`` first and URL-decodes each *value* afterwards (fixtures README finding 7),
keeps repeated header names in order (finding 6: ``Hangup-Cause`` ×2, ``Energy-Level`` ×2, the
``Conference-*`` block ×2), reads the inner ``Content-Length`` body of plain events (BACKGROUND_JOB,
finding 4) and reads JSON events keeping duplicate keys.

Wire framing (FreeSWITCH 1.10.12, fixtures README "Transcript format"): a message is ``Name: value\\n``
lines ending in an empty line, followed by exactly ``Content-Length`` body bytes when that header exists.
This module holds the ESL framing header names (``Content-Type``, ``Content-Length``) and content types.
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import IO, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import unquote

CONTENT_TYPE = "Content-Type"
CONTENT_LENGTH = "Content-Length"

AUTH_REQUEST = "auth/request"
COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
EVENT_PLAIN = "text/event-plain"
EVENT_JSON = "text/event-json"
EVENT_XML = "text/event-xml"
DISCONNECT_NOTICE = "text/disconnect-notice"
RUDE_REJECTION = "text/rude-rejection"
LOG_DATA = "log/data"

# A header name never contains whitespace or a colon (FreeSWITCH switch_event.c serialises "name: value").
# Names are never URL-decoded, so they cannot be forged; values are decoded after the split.


class ESLParseError(ValueError):
    """Malformed ESL input (bad header line, bad Content-Length, truncated body, bad JSON)."""


Headers = Tuple[Tuple[str, str], ...]

_TRAILING_CR = re.compile(r"\r+$", re.M)
#: a whole strict header block: lines "Name: value" or "Name:" (name without colon or white space), each
#: ending in one or more newlines — one C-level match instead of a check per line
_STRICT_BLOCK = re.compile(r"(?:[^:\s]+(?:: [^\n]*|:)\n+)*")
#: a character a header name may not hold (colon or white space; FreeSWITCH switch_event.c writes "name: value")
_BAD_NAME = re.compile(r"[:\s]")


class HeaderView(Mapping):
    """Read-only mapping name → *first* value (decoded) of an :class:`ESLMessage`, decoding on access —
    what ``msg.headers`` returns (greenswitch handlers and ``leg.channel_data`` read it like a dict)."""

    __slots__ = ("_msg",)

    def __init__(self, msg: "ESLMessage"):
        self._msg = msg

    def __getitem__(self, name: str) -> str:
        value = self._msg.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """First value of ``name`` or ``default`` (decoded on access)."""
        return self._msg.get(name, default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._msg.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(n for n, _ in self._msg.header_list))

    def __len__(self) -> int:
        return len(dict.fromkeys(n for n, _ in self._msg.header_list))

    def __repr__(self) -> str:
        return repr(dict(self))


class ESLMessage:
    """One ESL message or event.

    ``header_list``: every (name, value) in wire order, values decoded (plain events) — repeated names
    kept. ``headers``: a read-only mapping name → *first* value (also what greenswitch's dispatcher reads).
    :meth:`get` is what the engine uses. A parsed message keeps its header block as the one string it
    received and finds a header only when asked (``"\\nName: "`` — a value holds no raw newline, so such a
    match is always a header line of its own), URL-decoding just that value: an event has ≈ 60 headers
    (a ``connect`` reply ≈ 190) and the engine reads ≈ 10, and splitting every line into tuples was the
    parser's top cost and its garbage (issue 21). A ``%0A`` in a value still cannot forge a header
    (finding 7): lines are found before anything is decoded.

    ``body``: the body as text ('' when none): the api/response text, the reply of a command, the inner
    body of a BACKGROUND_JOB, a disconnect notice's text. ``data``: set by the transport for greenswitch
    compatibility (Reply-Text or body). ``event``: for text/event-* outer messages, the parsed inner event
    (None with ``error`` set when the event body could not be parsed).

    ``ESLMessage(header_list=…, body=…)`` takes values already decoded; the parser builds messages with
    :meth:`from_block`.
    """

    __slots__ = ("_text", "_first", "_encoded", "_cache", "_list", "body", "data", "event", "error",
                 "__weakref__")

    def __init__(self, header_list: Iterable[Tuple[str, str]] = (), body: str = "", data: Optional[str] = None,
                 event: Optional["ESLMessage"] = None, error: Optional[str] = None):
        pairs = tuple(header_list)
        self._text: Optional[str] = None
        self._first: Optional[dict] = dict(reversed(pairs))
        self._encoded = False
        self._cache: Optional[dict] = None
        self._list: Optional[Headers] = pairs
        self.body, self.data, self.event, self.error = body, data, event, error

    @classmethod
    def from_block(cls, block: str, encoded: bool, body: str = "") -> "ESLMessage":
        """A message over a header block as received (``Name: value`` lines; ``\\r\\n`` already made
        ``\\n``); ``encoded``: the values are URL-encoded (decoded when read)."""
        msg = cls(body=body)
        msg._text = "\n" + block
        msg._first = None
        msg._list = None
        msg._encoded = encoded
        return msg

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """First value of header ``name`` (case-sensitive, as FreeSWITCH sends them) or ``default``."""
        first = self._first
        if first is not None:
            value = first.get(name)
            if value is not None and self._encoded and "%" in value:
                cache = self._cache
                decoded = cache.get(name)
                if decoded is None:
                    decoded = cache[name] = unquote(value)
                return decoded
            return default if value is None else value
        text = self._text
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        elif name in cache:
            value = cache[name]
            return default if value is None else value
        if len(cache) >= _FIND_LOOKUPS:   # read header by header (the mapping): index the block once
            self._first = _index(text)
            return self.get(name, default)
        key = "\n" + name + ":"
        value = None
        i = text.find(key)
        while i >= 0:
            j = i + len(key)
            nxt = text[j:j + 1]
            if nxt == " ":
                end = text.find("\n", j)
                value = text[j + 1:] if end < 0 else text[j + 1:end]
                break
            if nxt in ("\n", ""):
                value = ""
                break
            i = text.find(key, j)   # "Name::…" or "Name:x": not this header
        if value is not None and self._encoded and "%" in value:
            value = unquote(value)
        cache[name] = value
        return default if value is None else value

    @property
    def headers(self) -> HeaderView:
        """Name → first value, decoded on access (read-only)."""
        return HeaderView(self)

    @property
    def header_list(self) -> Headers:
        """Every (name, value) in wire order, values decoded; lines that are no ``Name: value`` with a
        well-formed name are left out."""
        if self._list is None:
            pairs = []
            for line in self._text.split("\n"):
                name, sep, value = line.partition(": ")
                if not sep:
                    if not line.endswith(":"):
                        continue
                    name, value = line[:-1], ""
                if not name or _BAD_NAME.search(name):
                    continue
                if self._encoded and "%" in value:
                    value = unquote(value)
                pairs.append((name, value))
            self._list = tuple(pairs)
        return self._list

    def get_all(self, name: str) -> List[str]:
        """Every value of header ``name`` in wire order (finding 6: some names repeat)."""
        return [v for n, v in self.header_list if n == name]

    @property
    def content_type(self) -> Optional[str]:
        """The ``Content-Type`` header (``api/response``, ``text/event-plain`` …) or None."""
        return self.get(CONTENT_TYPE)

    def __repr__(self) -> str:
        return "ESLMessage(Event-Name=%r, Content-Type=%r, body=%d chars)" % (
            self.get("Event-Name"), self.content_type, len(self.body))


#: distinct headers looked up by searching the block before it is indexed once: a search is ≈ 1 µs, building
#: the index ≈ 20 µs for 60 lines (measured: the mapping's ≈ 25 lookups of a conference event cost the same
#: either way; a channel event is read for 2–4 headers, a ``connect`` reply for a handful)
_FIND_LOOKUPS = 40


def _index(text: str) -> dict:
    """Name → first raw value of a header block (``text`` starts with ``\\n``); no tuple per line (they
    were the parser's garbage: issue 21). Names are not checked: a lookup by a well-formed name never
    matches a malformed line."""
    lines = text.split("\n")
    if ":\n" not in text and not text.endswith(":"):
        # reversed: the first of repeated names (finding 6) is assigned last and wins
        return {line[:i]: line[i + 2:] for line in reversed(lines) if (i := line.find(": ")) > 0}
    index: dict = {}
    for line in lines:   # with bare "Name:" lines (empty values)
        i = line.find(": ")
        if i > 0:
            index.setdefault(line[:i], line[i + 2:])
        elif line.endswith(":") and len(line) > 1:
            index.setdefault(line[:-1], "")
    return index


def _block(block: str, lenient: bool) -> str:
    """``block`` with ``\\r`` line ends removed; unless ``lenient``, raises :class:`ESLParseError` when a
    line is not ``Name: value`` / ``Name:`` with a name free of colons and white space."""
    if "\r" in block:
        block = _TRAILING_CR.sub("", block)
    if not lenient:
        body = block.lstrip("\n")
        if not body.endswith("\n"):
            body += "\n"
        if _STRICT_BLOCK.fullmatch(body) is None:
            for line in body.split("\n"):   # name the offending line
                if line and ": " not in line and not line.endswith(":"):
                    raise ESLParseError("not a header line: %r" % line[:80])
            raise ESLParseError("bad header name in %r" % body[:80])
    return block


def parse_event_plain(body: str) -> ESLMessage:
    """Parse a ``text/event-plain`` body: decoded headers, then — when an inner ``Content-Length`` is
    present (BACKGROUND_JOB, finding 4) — ``\\n`` and exactly that many characters of body.

    FreeSWITCH 1.10.12 fixture conference_lifecycle/events_plain: ``Job-UUID … Content-Length: 41\\n\\n+OK <uuid>\\n``.
    """
    head, sep, rest = body.partition("\n\n")
    msg = ESLMessage.from_block(_block(head, lenient=True), encoded=True)
    length = msg.get(CONTENT_LENGTH)
    if length is not None:
        try:
            n = int(length)
        except ValueError:
            raise ESLParseError("bad inner Content-Length %r" % length)
        if len(rest.encode("utf-8")) < n:
            raise ESLParseError("inner body truncated")
        msg.body = rest.encode("utf-8")[:n].decode("utf-8")
    return msg


def parse_event_json(body: str) -> ESLMessage:
    """Parse a ``text/event-json`` body (values are not URL-encoded); duplicate keys are kept in order
    (finding 6); ``_body`` becomes :attr:`ESLMessage.body`. Non-string values are str()-ed."""
    try:
        pairs = json.loads(body, object_pairs_hook=list)
    except ValueError as exc:
        raise ESLParseError("bad JSON event: %s" % exc)
    if not isinstance(pairs, list):
        raise ESLParseError("JSON event is not an object")
    headers, inner = [], ""
    for name, value in pairs:
        value = value if isinstance(value, str) else json.dumps(value)
        if name == "_body":
            inner = value
        else:
            headers.append((name, value))
    return ESLMessage(header_list=tuple(headers), body=inner)


def parse_message(raw: bytes) -> ESLMessage:
    """Parse one complete ESL message (header block, blank line, ``Content-Length`` body) held in
    ``raw`` — the same framing code as the live reader (:func:`read_message`), which must consume
    ``raw`` exactly.

    Outer headers are decoded per value too (harmless for framing headers; needed for the outbound
    ``connect`` reply, finding 27). Text/event-plain and -json bodies are parsed into ``.event``.
    Raises :class:`ESLParseError` on a malformed message, a truncated body, or bytes left over (a body
    longer than ``Content-Length`` or without one).
    """
    stream = io.BytesIO(raw)
    msg = read_message(stream)
    if msg is None:
        raise ESLParseError("no ESL message")
    if stream.read():
        raise ESLParseError("bytes after the message (body longer than Content-Length, or without one)")
    return msg


def _build(head: str) -> ESLMessage:
    return ESLMessage.from_block(_block(head, lenient=False), encoded=True)


def _content_length(msg: ESLMessage) -> Optional[int]:
    v = msg.get(CONTENT_LENGTH)
    if v is None:
        return None
    try:
        n = int(v)
    except ValueError:
        raise ESLParseError("bad Content-Length %r" % v)
    if n < 0:
        raise ESLParseError("negative Content-Length")
    return n


def _attach_body(msg: ESLMessage, body: bytes) -> None:
    text = body.decode("utf-8", errors="replace")
    msg.body = text
    ctype = msg.content_type
    try:
        if ctype == EVENT_PLAIN:
            msg.event = parse_event_plain(text)
        elif ctype == EVENT_JSON:
            msg.event = parse_event_json(text)
    except ESLParseError as exc:  # a bad event body: the message stays framed, the event is dropped
        msg.event = None
        msg.error = str(exc)


def read_message(stream: IO[bytes]) -> Optional[ESLMessage]:
    """Read exactly one ESL message from a binary file-like (``readline``/``read``); None at EOF before
    any byte of a message. Leading blank lines are skipped. Raises :class:`ESLParseError` if EOF
    interrupts a message or it is malformed."""
    lines: List[bytes] = []
    while True:
        line = stream.readline()
        if not line:
            if lines:
                raise ESLParseError("EOF inside a header block")
            return None
        if line in (b"\n", b"\r\n"):
            if not lines:
                continue
            break
        lines.append(line)
    msg = _build(b"".join(lines).decode("utf-8"))
    n = _content_length(msg)
    if n:
        chunks, got = [], 0
        while got < n:
            chunk = stream.read(n - got)
            if not chunk:
                raise ESLParseError("EOF inside a body")
            chunks.append(chunk)
            got += len(chunk)
        _attach_body(msg, b"".join(chunks))
    return msg
