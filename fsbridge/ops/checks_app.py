"""doctor checks of the apps fsbridge talks to: each number's voice URL, fetched through the runtime's own
:class:`~fsbridge.runtime.fetch.Fetcher` (same timeouts, signing and size limit as a real call) and parsed
with :func:`fsbridge.markup.parse` in the number's dialect; every configured URL checked against the
egress policy.

The probe request is a first voice request of an inbound call from ``doctor`` to the number, with a CallSid
of zeros (``CA000…``) so an app's log shows it for what it is.
"""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from fsbridge.callbacks import signing
from fsbridge.egress import EgressDenied, EgressPolicy
from fsbridge.markup import parse
from fsbridge.markup.errors import MarkupError
from fsbridge.runtime.fetch import Credentials, Fetcher, FetchError
from fsbridge.runtime.params import CallInfo, voice_params
from fsbridge.wire import JAMBONZ, TEXML, TWIML

PROBE_CALL_SID = "CA" + "0" * 32
#: dialect → (the account's key that signs its requests, the header the signature travels in)
SIGNATURE = {TWIML: ("auth_token", signing.TWILIO_SIGNATURE_HEADER),
             TEXML: ("telnyx_private_key", signing.TELNYX_SIGNATURE_HEADER),
             JAMBONZ: ("jambonz_secret", signing.JAMBONZ_SIGNATURE_HEADER)}


def egress_refusal(url: str, policy: EgressPolicy) -> Optional[str]:
    """Why ``policy`` (:mod:`fsbridge.egress`, the policy every outgoing request of the bridge obeys) refuses
    ``url``, None when allowed: the host is resolved once and every address checked, as a request would."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        policy.resolve(parts.hostname, port)
    except EgressDenied as exc:
        return str(exc)
    except (OSError, ValueError) as exc:
        return f"{parts.hostname} does not resolve ({exc})"
    return None


def run(ctx) -> None:
    """One ``voice URL <number>`` check per number, and ``egress`` for all configured URLs."""
    s = ctx.settings
    if not s.numbers:
        ctx.add("numbers", False, "no [[numbers]] configured: calls to 7200-7299 have no app",
                "add [[numbers]] entries (number, voice_url, dialect) to the config")
    policy = EgressPolicy.from_settings(s)   # the policy `fsbridge serve` applies
    fetcher = Fetcher(timeout_s=min(s.fetch_timeout, ctx.timeout * 3), connect_timeout_s=ctx.timeout,
                      egress=policy)
    urls = []
    for number in s.numbers.values():
        urls.append(number.voice_url)
        check_voice_url(ctx, fetcher, number)
    if s.public_base_url:
        urls.append(s.public_base_url)
    refused = [(u, why) for u in urls if (why := egress_refusal(u, policy))]
    ctx.add("egress", not refused,
            "; ".join(f"{u}: {why}" for u, why in refused) if refused else f"{len(urls)} configured URL(s) allowed",
            "allow the apps' networks in [egress] allow (e.g. [\"127.0.0.0/8\"]; docs/security.md) or point the "
            "URLs elsewhere")


def check_voice_url(ctx, fetcher: Fetcher, number) -> None:
    """Fetch ``number.voice_url`` as a call's first request (signed as the account signs) and parse it."""
    name = f"voice URL {number.number}"
    account = ctx.settings.accounts.get(number.account)
    creds = Credentials(auth_token=getattr(account, "auth_token", None),
                        telnyx_private_key=getattr(account, "telnyx_private_key", None),
                        jambonz_secret=getattr(account, "jambonz_secret", None))
    key, header = SIGNATURE.get(number.dialect, SIGNATURE[TWIML])
    signed = bool(getattr(account, key, None))
    params = voice_params(number.dialect, CallInfo(PROBE_CALL_SID, number.account, "doctor", number.number))
    where = f"{number.voice_method} {number.voice_url}"
    try:
        got = fetcher.fetch_markup(number.voice_url, number.voice_method, params, dialect=number.dialect,
                                   credentials=creds)
    except FetchError as exc:
        ctx.add(name, False, f"{where}: {exc.code} {exc.message}",
                "start the app or fix voice_url (the call gets Twilio's 'application error' until it answers)")
        return
    try:
        doc = parse(got.body, number.dialect, got.content_type)
    except MarkupError as exc:
        ctx.add(name, False, f"{where}: HTTP {got.status}, {number.dialect} markup error {exc}",
                f"make the app answer valid {number.dialect} (check it with fsbridge parse --dialect {number.dialect})")
        return
    verbs = [type(v).__name__ for v in getattr(doc, "verbs", [])]
    sig = f"signed ({header})" if signed else f"unsigned (no {key} for account {number.account or '?'})"
    ctx.add(name, signed, f"{where}: HTTP {got.status}, {len(verbs)} verb(s) {', '.join(verbs[:4])}; {sig}",
            f"set {key} of account {number.account!r} so the app can verify requests")
