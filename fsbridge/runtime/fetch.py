"""The one HTTP client of the call runtime: fetch an app's markup (voice URL, Dial action, Redirect, waitUrl,
jambonz hooks) and download audio for ``<Play>``.

Requests are signed as the dialect's platform signs them (Twilio ``X-Twilio-Signature`` over the exact URL +
sorted POST parameters; Telnyx Ed25519 headers; jambonz ``Jambonz-Signature``) through
:mod:`fsbridge.callbacks.signing`. Failures become :class:`FetchError` with Twilio's error codes
(Twilio error dictionary): 11100 invalid URL, 11200 HTTP retrieval failure (non-2xx status, timeout, broken
read), 11205 HTTP connection failure, 11750 response body too large (markup > 64 KB).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import urlencode, urljoin, urlsplit

import gevent
import urllib3
from requests.utils import requote_uri

from fsbridge import egress as _egress
from fsbridge.callbacks import signing
from fsbridge.wire import JAMBONZ, TWIML

log = logging.getLogger("fsbridge.runtime.fetch")

INVALID_URL = 11100
HTTP_RETRIEVAL_FAILURE = 11200
HTTP_CONNECTION_FAILURE = 11205
RESPONSE_TOO_LARGE = 11750

MAX_MARKUP_BYTES = 64 * 1024
MAX_MEDIA_BYTES = 50 * 1024 * 1024
USER_AGENT = "TwilioProxy/1.1 (fsbridge)"


class FetchError(Exception):
    """A request to the app that gave no usable answer. ``code``: Twilio error code (int); ``message``: text;
    ``url``: the URL requested; ``status``: the HTTP status when there was one."""

    def __init__(self, code: int, message: str, url: str = "", status: Optional[int] = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.url = url
        self.status = status


@dataclass(frozen=True)
class Fetched:
    """One answer: the final ``url`` (after redirects), HTTP ``status``, ``content_type`` (lowercase, no
    parameters) and the ``body`` bytes."""

    url: str
    status: int
    content_type: str
    body: bytes

    @property
    def is_audio(self) -> bool:
        """True for an audio answer (``audio/*``): a waitUrl/Play URL that returned the file itself."""
        return self.content_type.startswith("audio/")


@dataclass(frozen=True)
class Credentials:
    """How to sign requests of one account: Twilio AuthToken, Telnyx Ed25519 private key (object, PEM or base64
    seed) and jambonz webhook secret; each optional (no signature header when absent)."""

    auth_token: Optional[str] = None
    telnyx_private_key: object = None
    jambonz_secret: Optional[str] = None


class Fetcher:
    """HTTP fetches with timeouts (seconds): ``timeout_s`` read timeout (Twilio waits 15 s for a voice URL),
    ``connect_timeout_s`` connect timeout. Greenlet safe: one urllib3 pool manager per Fetcher, so voice
    fetches reuse kept-alive connections (a join storm no longer opens a TCP connection per caller); it
    keeps no cookies, so nothing one app sets travels with another's fetch.
    ``egress``: the :class:`fsbridge.egress.EgressPolicy` every connection and redirect hop obeys (default:
    :meth:`fsbridge.egress.EgressPolicy.default`); assigning a new policy rebuilds the pooled session."""

    def __init__(self, *, timeout_s: float = 15.0, connect_timeout_s: float = 5.0,
                 egress: Optional[_egress.EgressPolicy] = None):
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.egress = egress if egress is not None else _egress.EgressPolicy.default()

    @property
    def egress(self) -> _egress.EgressPolicy:
        """The egress policy in force (set it to replace the pooled session's connections)."""
        return self._egress

    @egress.setter
    def egress(self, policy: _egress.EgressPolicy) -> None:
        self._egress = policy
        self._pool = _pooled_manager(policy)

    # -- markup -------------------------------------------------------------------------------------------------
    def fetch_markup(self, url: str, method: str = "POST", params=None, *, dialect: str = TWIML,
                     credentials: Credentials = Credentials(), username: Optional[str] = None,
                     password: Optional[str] = None, max_bytes: int = MAX_MARKUP_BYTES) -> Fetched:
        """Request ``url`` with ``params`` as a voice webhook of ``dialect`` and return the answer.

        ``params``: dict of form fields (twiml/texml; a query string for GET) or a JSON-ready object (jambonz:
        POST body / GET query of its top-level keys). Raises :class:`FetchError`.
        """
        method = (method or "POST").upper()
        if method not in ("GET", "POST"):
            method = "POST"
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError(INVALID_URL, f"invalid URL {url!r}", url)
        headers = {"User-Agent": USER_AGENT}
        data = None
        params = params or {}
        signed_params = None
        if dialect == JAMBONZ:
            if method == "GET":
                url = _with_query(url, {k: _scalar(v) for k, v in params.items()})
            else:
                data = json.dumps(params, separators=(",", ":")).encode("utf-8")
                headers["Content-Type"] = "application/json"
        elif method == "GET":
            url = _with_query(url, params)
        else:
            data = urlencode(params).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            signed_params = params
        headers.update(signing.webhook_headers(
            dialect, url=url, body=data or b"", params=signed_params, timestamp=int(time.time()),
            auth_token=credentials.auth_token, telnyx_key=credentials.telnyx_private_key,
            jambonz_secret=credentials.jambonz_secret))
        auth = (username, password or "") if username else None
        return self._request(method, url, data, headers, auth, max_bytes)

    # -- media --------------------------------------------------------------------------------------------------
    def fetch_media(self, url: str, *, max_bytes: int = MAX_MEDIA_BYTES) -> Fetched:
        """GET an audio file (``<Play>`` URL, waitUrl audio). Raises :class:`FetchError`."""
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError(INVALID_URL, f"invalid URL {url!r}", url)
        return self._request("GET", url, None, {"User-Agent": USER_AGENT}, None, max_bytes)

    def _request(self, method, url, data, headers, auth, max_bytes) -> Fetched:
        """One fetch on the pooled urllib3 manager (no ``requests`` session layer: its per-request merging
        of settings cost ≈ 0.4 ms of CPU per voice fetch, issue 21). Redirects are urllib3's (``PoolManager``:
        at most :data:`MAX_REDIRECTS` hops; 303 becomes a GET without body, 301/302/307/308 keep method and
        body as RFC 9110 allows; Authorization and Cookie dropped when the origin changes), every hop's
        connection checked by the egress policy. The whole exchange, redirects included, ends within
        ``connect_timeout_s + timeout_s`` (a 3xx body trickled byte by byte is drained by urllib3 before it
        follows the redirect: no per-read timeout bounds that). Raises :class:`FetchError`."""
        budget = gevent.Timeout(self.connect_timeout_s + self.timeout_s)
        budget.start()
        try:
            return self._exchange(method, url, data, headers, auth, max_bytes)
        except gevent.Timeout as exc:
            if exc is not budget:
                raise
            raise FetchError(HTTP_RETRIEVAL_FAILURE, "no complete answer within %g s"
                             % (self.connect_timeout_s + self.timeout_s), url) from None
        finally:
            budget.cancel()

    def _exchange(self, method, url, data, headers, auth, max_bytes) -> Fetched:
        headers = dict(_DEFAULT_HEADERS, **headers)
        if auth is not None:
            headers["Authorization"] = urllib3.util.make_headers(basic_auth="%s:%s" % auth)["authorization"]
        timeout = urllib3.Timeout(connect=self.connect_timeout_s, read=self.timeout_s)
        try:
            try:
                resp = self._pool.urlopen(method, url, body=data, headers=headers, retries=_REDIRECTS_ONLY,
                                          timeout=timeout, preload_content=False)
            except _egress.EgressDenied as exc:
                log.warning("fetch %s: %s", url, exc)
                raise FetchError(HTTP_CONNECTION_FAILURE, f"connection failure: {exc}", url) from None
            except urllib3.exceptions.MaxRetryError as exc:   # redirects exhausted, or a failure never retried
                if isinstance(exc.reason, urllib3.exceptions.ResponseError):
                    raise FetchError(HTTP_RETRIEVAL_FAILURE,
                                     f"request failed: exceeded {MAX_REDIRECTS} redirects", url) from None
                raise _exchange_failure(exc.reason or exc, url, self.timeout_s) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _exchange_failure(exc, url, self.timeout_s) from None
            url = _final_url(url, resp)
            try:
                chunks = []
                size = 0
                deadline = time.monotonic() + self.timeout_s
                for chunk in resp.stream(16384, decode_content=True):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(RESPONSE_TOO_LARGE,
                                         f"response body larger than {max_bytes} bytes", url, resp.status)
                    if time.monotonic() > deadline:
                        raise FetchError(HTTP_RETRIEVAL_FAILURE, "timed out reading the response", url,
                                         resp.status)
                body = b"".join(chunks)
            except BaseException:
                resp.close()   # a half-read body: the connection is not reusable
                raise
            resp.release_conn()
        except FetchError:
            raise
        except urllib3.exceptions.ReadTimeoutError as exc:   # while reading the body
            raise FetchError(HTTP_RETRIEVAL_FAILURE, f"timeout: {exc}", url) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:   # broken body (reset, bad chunking, decoding)
            raise FetchError(HTTP_RETRIEVAL_FAILURE, f"request failed: {exc}", url) from None
        if not 200 <= resp.status < 300:
            raise FetchError(HTTP_RETRIEVAL_FAILURE, f"HTTP {resp.status} from {url}", url, resp.status)
        ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return Fetched(url=url, status=resp.status, content_type=ctype, body=body)


MAX_REDIRECTS = 10   # redirect hops followed per fetch (as requests' default was)
# no retry of any failure (a voice fetch fails over to the fallback URL instead); redirects followed, and an
# exhausted count raised as MaxRetryError; Authorization/Cookie dropped on another origin (urllib3's default)
_REDIRECTS_ONLY = urllib3.Retry(total=None, connect=False, read=False, status=False, other=False,
                                redirect=MAX_REDIRECTS, raise_on_redirect=True)
_DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*", "Connection": "keep-alive"}


def _final_url(url: str, resp) -> str:
    """The URL the answer ``resp`` came from: ``url`` after the redirects urllib3 followed (its retry
    history records each hop's request URL and raw Location)."""
    history = resp.retries.history if resp.retries is not None else ()
    if history and history[-1].redirect_location:
        return urljoin(history[-1].url, history[-1].redirect_location)
    return url


def _exchange_failure(exc: BaseException, url: str, timeout_s: float) -> FetchError:
    """The FetchError of a request that got no answer, with the codes the ``requests`` path gave: 11200 for
    a read timeout or a malformed URL, 11205 for anything else (refused, unresolvable, timed-out connect,
    connection closed or reset before the answer, TLS failure)."""
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return FetchError(HTTP_CONNECTION_FAILURE, f"connect timeout: {exc}", url)
    if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return FetchError(HTTP_RETRIEVAL_FAILURE, f"timeout after {timeout_s:g} s: {exc}", url)
    if isinstance(exc, (urllib3.exceptions.LocationValueError, urllib3.exceptions.LocationParseError)):
        return FetchError(HTTP_RETRIEVAL_FAILURE, f"request failed: {exc}", url)
    return FetchError(HTTP_CONNECTION_FAILURE, f"connection failure: {exc}", url)


def _pooled_manager(policy: _egress.EgressPolicy) -> urllib3.PoolManager:
    """A keep-alive pool manager (up to 64 idle connections per host, so a storm of concurrent fetches to
    one app server keeps its connections) whose every connection obeys ``policy``
    (:func:`fsbridge.egress.pool_manager`). It keeps no cookies (urllib3 has no cookie jar), so nothing one
    app sets travels with another's fetch. HTTPS is verified against certifi's CA bundle, as ``requests``
    verified it."""
    import certifi
    return _egress.pool_manager(policy, num_pools=16, maxsize=64, cert_reqs="CERT_REQUIRED",
                                ca_certs=certifi.where())


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _with_query(url: str, params: Mapping) -> str:
    if not params:
        return url
    sep = "&" if urlsplit(url).query else "?"
    return url + sep + urlencode(params)
