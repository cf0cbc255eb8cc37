"""Who is calling: HTTP Basic ``AccountSid:AuthToken`` or ``SK…:secret`` (a Twilio API key) or ``Authorization: Bearer <key>`` (Telnyx).

Credentials are compared with :func:`hmac.compare_digest`; an unknown AccountSid is compared against a dummy
token so the timing does not reveal which accounts exist. Accounts namespace conferences: a caller
authenticated as account A asking for a path under account B gets 20404 (as if B's resources did not exist);
missing or wrong credentials get 401 / 20003.
"""
from __future__ import annotations

import hmac
from typing import Dict, Mapping, Optional, Tuple

from flask import request
from werkzeug.datastructures import Authorization

from fsbridge.api.errors import not_found, unauthenticated

_DUMMY = "x" * 32

# Authorization header → (scheme, username, password), as werkzeug parses it. A client sends the same header on
# every request; the parse (base64, split) is memoized — only the parse: the credentials are still compared on
# every request. Only a header that authenticated is kept (its length is bounded by the configured secrets), so
# a stranger's junk headers neither grow the map nor evict a client's entry; at most _PARSED_MAX (cleared when
# full: rotating keys).
_PARSED: Dict[str, Tuple[str, str, str]] = {}
_PARSED_MAX = 1024


def _credentials(header: Optional[str]) -> Optional[Tuple[str, str, str]]:
    """``header`` (the raw Authorization value) → ``(scheme, username, password)`` (scheme lower-case,
    ``""`` for a missing part) as werkzeug's ``Authorization.from_header`` parses it; None when absent or
    unparsable. Reads :data:`_PARSED`, never writes it (:func:`_remember` does, once the header authenticated)."""
    if not header:
        return None
    got = _PARSED.get(header)
    if got is None:
        auth = Authorization.from_header(header)
        if auth is None:
            return None
        got = (auth.type, auth.username or "", auth.password or "")
    return got


def _remember(header: str, parsed: Tuple[str, str, str]) -> None:
    """Memoize the parse of ``header``, which has just authenticated."""
    if header not in _PARSED:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[header] = parsed


def basic_account(accounts: Mapping[str, str], api_keys: Optional[Mapping[str, Tuple[str, str]]] = None) -> str:
    """The AccountSid authenticated by the request's Basic credentials; raises 20003 (401) otherwise.

    ``accounts``: ``{AccountSid: AuthToken}``; ``api_keys``: ``{SK… key sid: (AccountSid, secret)}`` — a key
    authenticates as its account, as Twilio's API keys do (``Client(key_sid, key_secret, account_sid)``)."""
    header = request.headers.get("Authorization")
    auth = _credentials(header)
    if auth is None or auth[0] != "basic" or not auth[1]:
        raise unauthenticated()
    _, username, password = auth
    if api_keys and username in api_keys:
        account, secret = api_keys[username]
        if not hmac.compare_digest(secret.encode(), password.encode()):
            raise unauthenticated()
    else:
        expected = accounts.get(username)
        ok = hmac.compare_digest((expected or _DUMMY).encode(), password.encode())
        if expected is None or not ok:
            raise unauthenticated()
        account = username
    _remember(header, auth)
    return account


def bearer_account(keys: Mapping[str, str]) -> str:
    """The account id a Telnyx API key (``Authorization: Bearer <key>``) belongs to; raises 401 otherwise.

    ``keys``: ``{api_key: account_sid}``. Every configured key is compared (constant time per key)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated()
    token = token.strip().encode()
    found: Optional[str] = None
    for key, account in keys.items():
        if hmac.compare_digest(key.encode(), token):
            found = account
    if found is None:
        raise unauthenticated()
    return found


def require_same_account(authenticated: str, path_account: str) -> None:
    """A path under another account than the caller's is answered 20404 (never revealed)."""
    if not hmac.compare_digest(authenticated.encode(), (path_account or "").encode()):
        raise not_found()
