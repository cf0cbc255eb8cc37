"""Request-header parsing for the API's WSGI server (gevent ``pywsgi``), without the ``email`` package.

pywsgi reads a request's headers with ``http.client.parse_headers``, which hands the lines to the ``email``
package's feed parser: ≈ 6 % of the bridge's CPU per REST participant update on the FreeSWITCH path, more than
the participant's SQL read (issue 21, bench/README.md § REST). :class:`RequestHeaders` reads the same lines
with the same limits (RFC 9112 § 5 field lines; at most 100 fields of at most 64 KiB each, as
``http.client``) and offers what pywsgi's ``WSGIHandler`` uses of its ``MessageClass``: ``status``,
``get``/``getheader``, ``typeheader``, ``headers`` (the raw ``name: value\\r\\n`` lines it turns into the
environ's ``HTTP_*`` keys) and ``del``.

A malformed field line (no colon, an empty name, white space before the colon, a continuation line
first) sets ``status`` — pywsgi then answers 400 — where the ``email`` parser silently ended the header block
and took the rest as the body. Obsolete line folding (RFC 9112 § 5.2) is unfolded into one space.
"""
from __future__ import annotations

from http.client import HTTPException
from typing import Dict, Iterator, List, Optional, Tuple

MAX_LINE = 65536     #: bytes per field line (``http.client._MAXLINE``)
MAX_FIELDS = 100     #: field lines per request (``http.client._MAXHEADERS``)
_END = (b"\r\n", b"\n", b"")


class RequestHeaders:
    """The header block of one request read from ``fp`` (a binary file with ``readline(limit)``).

    ``status`` is '' when the block is well-formed, else a short reason (pywsgi answers 400). Raises
    :class:`http.client.HTTPException` beyond :data:`MAX_FIELDS` lines (pywsgi answers 400), as
    ``http.client.parse_headers`` does."""

    __slots__ = ("status", "_fields", "_first")

    def __init__(self, fp=None, *_ignored):
        self.status = ""
        self._fields: List[Tuple[str, str]] = []
        self._first: Dict[str, str] = {}
        if fp is not None:
            self._read(fp)

    def _read(self, fp) -> None:
        fields, count = self._fields, 0
        while True:
            line = fp.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                self.status = "Line too long"
                break
            if line in _END:
                break
            count += 1
            if count > MAX_FIELDS:
                raise HTTPException("got more than %d headers" % MAX_FIELDS)
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t"):   # obs-fold: continues the previous field's value
                if not fields:
                    self.status = "Invalid header folding"
                    break
                name, value = fields[-1]
                fields[-1] = (name, (value + " " + text.strip()).strip())
                continue
            name, sep, value = text.partition(":")
            if not sep or not name or name != name.rstrip(" \t"):
                self.status = "Invalid header line"
                break
            fields.append((name, value.strip(" \t")))
        first = self._first
        for name, value in fields:
            first.setdefault(name.lower(), value)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first field called ``name`` (case-insensitive), else ``default``."""
        return self._first.get(name.lower(), default)

    getheader = get

    @property
    def typeheader(self) -> Optional[str]:
        """Content-Type, or None."""
        return self._first.get("content-type")

    @property
    def headers(self) -> Iterator[str]:
        """Each field as a ``name: value\\r\\n`` line, in order (what pywsgi's environ builder reads)."""
        for name, value in self._fields:
            yield "%s: %s\r\n" % (name, value)

    def __delitem__(self, name: str) -> None:
        low = name.lower()
        self._fields = [(n, v) for n, v in self._fields if n.lower() != low]
        self._first.pop(low, None)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._first


__all__ = ["MAX_FIELDS", "MAX_LINE", "RequestHeaders"]
