"""Who is calling: HTTP Basic ``AccountSid:AuthToken`` or ``SK…:secret`` (a Twilio API key) or ``Authorization: Bearer <key>`` (Telnyx).

Credentials are compared with :func:`hmac.compare_digest`; an unknown AccountSid is compared against a dummy
token so the timing does not reveal which accounts exist. Accounts namespace conferences: a caller
authenticated as account A asking for a path under account B gets 20404 (as if B's resources did not exist);
missing or wrong credentials get 401 / 20003.
"""
from __future__ import annotations

import hmac
from typing import Mapping, Optional, Tuple

from flask import request

from fsbridge.api.errors import not_found, unauthenticated

_DUMMY = "x" * 32


def basic_account(accounts: Mapping[str, str], api_keys: Optional[Mapping[str, Tuple[str, str]]] = None) -> str:
    """The AccountSid authenticated by the request's Basic credentials; raises 20003 (401) otherwise.

    ``accounts``: ``{AccountSid: AuthToken}``; ``api_keys``: ``{SK… key sid: (AccountSid, secret)}`` — a key
    authenticates as its account, as Twilio's API keys do (``Client(key_sid, key_secret, account_sid)``)."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise unauthenticated()
    if api_keys and auth.username in api_keys:
        account, secret = api_keys[auth.username]
        if not hmac.compare_digest(secret.encode(), (auth.password or "").encode()):
            raise unauthenticated()
        return account
    expected = accounts.get(auth.username)
    ok = hmac.compare_digest((expected or _DUMMY).encode(), (auth.password or "").encode())
    if expected is None or not ok:
        raise unauthenticated()
    return auth.username


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
