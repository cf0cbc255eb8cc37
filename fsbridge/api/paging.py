"""Twilio list paging: the ``PageSize`` / ``Page`` / ``PageToken`` parameters in, Twilio's page envelope out.

Envelope (Twilio ListConferenceResponse etc.): ``first_page_uri``, ``next_page_uri`` (null on the last page),
``previous_page_uri`` (null on page 0), ``page`` (0-based), ``page_size``, ``start`` (index of the first item),
``end`` (index of the last item; = start on an empty page), ``uri`` (this page), plus the items under the list
key (``conferences`` / ``participants`` / ``recordings``). All URIs are relative, as Twilio's.

``next_page_uri`` carries a keyset ``PageToken`` (``PA`` + base64url of "<date_created µs>|<id>") so following
pages stay stable while rows are added; without a token, ``Page`` × ``PageSize`` is an offset
(``previous_page_uri`` uses that form). Defaults: PageSize 50, range 1..1000 (spec).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from fsbridge.api.errors import invalid
from fsbridge.api.params import integer
from fsbridge.store.rows import PageKey, PageRequest, PageResult
from fsbridge.wire.twilio import PAGE, PAGE_SIZE, PAGE_TOKEN

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_PAGE = 10 ** 9          # Page × PageSize stays far inside SQLite's 64-bit OFFSET (was: OverflowError, 500)


@dataclass(frozen=True)
class Paging:
    """The parsed paging request: ``page`` number, ``page_size``, and the store's :class:`PageRequest`."""

    page: int
    page_size: int
    request: PageRequest


def encode_token(key: PageKey) -> str:
    """Keyset position → PageToken string."""
    at, ident = key
    micros = int(at.astimezone(timezone.utc).timestamp() * 1_000_000)
    raw = f"{micros}|{ident}".encode()
    return "PA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> PageKey:
    """PageToken string → keyset position; 400 (21201) when malformed."""
    try:
        if not token.startswith("PA"):
            raise ValueError(token)
        body = token[2:]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        micros, ident = raw.split("|", 1)
        return datetime.fromtimestamp(int(micros) / 1_000_000, tz=timezone.utc), ident
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        raise invalid(f"Invalid {PAGE_TOKEN}: {token[:100]!r}") from None


def parse(args: MultiDict) -> Paging:
    """Read PageSize / Page / PageToken from the query string."""
    size = integer(args, PAGE_SIZE, 1, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    page = integer(args, PAGE, 0, MAX_PAGE) or 0
    token = args.get(PAGE_TOKEN)
    after = decode_token(token) if token else None
    return Paging(page=page, page_size=size, request=PageRequest(limit=size, offset=page * size, after=after))


def envelope(path: str, filters: Dict[str, Any], paging: Paging, result: PageResult, key: str,
             render: Callable[[Any], dict]) -> dict:
    """The Twilio page JSON for ``result``. ``path``: the list's relative path; ``filters``: the query
    parameters to repeat in every page URI (already in wire names, values as strings)."""

    def uri(page: int, token: Optional[str] = None) -> str:
        q: List = [(k, v) for k, v in filters.items() if v is not None]
        q += [(PAGE_SIZE, paging.page_size), (PAGE, page)]
        if token:
            q.append((PAGE_TOKEN, token))
        return f"{path}?{urlencode(q)}"

    start = paging.page * paging.page_size
    items = [render(x) for x in result.items]
    current_token = encode_token(paging.request.after) if paging.request.after else None
    return {
        key: items,
        "first_page_uri": uri(0),
        "next_page_uri": uri(paging.page + 1, encode_token(result.last_key))
        if result.has_more and result.last_key else None,
        "previous_page_uri": uri(paging.page - 1) if paging.page > 0 else None,
        "page": paging.page,
        "page_size": paging.page_size,
        "start": start,
        "end": start + max(len(items) - 1, 0),
        "uri": uri(paging.page, current_token),
    }
