"""fsbridge settings: a TOML file (``tomllib``) overlaid by ``FSBRIDGE_*`` environment variables, then by
command-line flags (``fsbridge serve``). docs/runtime.md documents every key with an example.

File layout::

    [server]   host, port, public_base_url
    [storage]  database_url, audio_dir, recordings_dir
    [engine]   type = "standalone" | "freeswitch", rate (Hz), clock = "realtime" | "fast" | speed factor
    [freeswitch] esl_host, esl_port, esl_password, outbound_host, outbound_port
    [http]     fetch_timeout (s), connect_timeout (s), confirm_timeout (s), max_body_bytes (REST request
               bodies; larger ones get 413 before they are read; default 1 MiB)
    [egress]   allow = ["127.0.0.0/8", …], deny = [...]: networks outgoing HTTP may / may not reach
               (fsbridge.egress; default: loopback, private, link-local, metadata denied)
    [media]    dirs = ["/srv/audio"]: where REST ``file:`` callees of virtual calls may live;
               cache_max_mb: bound of the downloaded-audio cache (LRU; default 512)
    [freeswitch] allow_stock_password = true: accept the stock ESL password ClueCon (refused otherwise)
    [retention] months = 13 (conference log retention, as Twilio; 0 keeps everything), purge_interval (s)
    [export]   dir = "exports": where Bulk Export day files are written (issue 22)
    [[accounts]] sid, auth_token, telnyx_private_key, jambonz_secret, telnyx_api_key,
                 insights_webhook_url (Insights Event Stream webhooks, CloudEvents; issue 22),
                 api_keys = [{sid = "SK…", secret = "…"}]   (Twilio API keys: Basic ``SK…:secret``)
    [[numbers]]  number, account, voice_url, voice_method, dialect = "twiml" | "texml" | "jambonz"
    [cluster]  node, secret, api_host, api_port, api_url, sip_address, sip_profile, sip_auth,
               heartbeat_interval, failure_timeout, placement, region, [cluster.regions]
               (fsbridge.config_cluster; none = one node, as before)

Environment: ``FSBRIDGE_CONFIG`` (file), ``FSBRIDGE_HOST``, ``FSBRIDGE_PORT``, ``FSBRIDGE_PUBLIC_URL``,
``FSBRIDGE_DATABASE_URL``, ``FSBRIDGE_AUDIO_DIR``, ``FSBRIDGE_RECORDINGS_DIR``, ``FSBRIDGE_ENGINE``,
``FSBRIDGE_CLOCK``, ``FSBRIDGE_ESL`` (host:port), ``FSBRIDGE_ESL_PASSWORD``, ``FSBRIDGE_ACCOUNT_SID`` +
``FSBRIDGE_AUTH_TOKEN`` (one more account), ``FSBRIDGE_NUMBERS`` (``NUMBER=URL[;NUMBER=URL…]``, TwiML, POST,
first account), ``FSBRIDGE_FETCH_TIMEOUT``, ``FSBRIDGE_EGRESS_ALLOW`` (comma-separated networks),
``FSBRIDGE_CLUSTER_NODE`` / ``FSBRIDGE_CLUSTER_SECRET`` / ``FSBRIDGE_CLUSTER_SIP_AUTH`` (the ``[cluster]``
node name, shared secret and SIP-move credentials).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from typing import Dict, List, Mapping, Optional, Tuple

from fsbridge import config_cluster
from fsbridge.config_cluster import ClusterSettings
from fsbridge.egress import allow_from_env
from fsbridge.wire import DIALECTS, TWIML  # noqa: F401  (DIALECTS re-exported: the dialect ids live in fsbridge.wire)

STOCK_ESL_PASSWORD = "ClueCon"


class ConfigError(ValueError):
    """A setting that cannot be used (message names the key)."""


@dataclass(frozen=True)
class Account:
    """An account like a Twilio account: ``sid`` (``AC…``), ``auth_token`` (Basic auth password, Twilio request
    signing key), optional Telnyx Ed25519 private key (PEM or base64 seed), jambonz webhook secret, and
    Telnyx API key (``Authorization: Bearer`` on the /v2/texml routes)."""

    sid: str
    auth_token: str
    telnyx_private_key: Optional[str] = None
    jambonz_secret: Optional[str] = None
    telnyx_api_key: Optional[str] = None
    api_keys: Mapping[str, str] = field(default_factory=dict)   # Twilio API keys: {SK… sid: secret}
    insights_webhook_url: Optional[str] = None   # Insights Event Stream sink (issue 22); None: no events


@dataclass(frozen=True)
class Number:
    """A phone number like a Twilio IncomingPhoneNumber: calls to ``number`` fetch ``voice_url`` with
    ``voice_method`` in ``dialect``'s request format, as account ``account`` (AccountSid)."""

    number: str
    account: str
    voice_url: str
    voice_method: str = "POST"
    dialect: str = TWIML


@dataclass(frozen=True)
class Settings:
    """Everything ``fsbridge serve`` needs. Durations in seconds; ``port`` 0 = pick a free port."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: Optional[str] = None
    database_url: str = "sqlite:///fsbridge.sqlite"
    audio_dir: str = "audio"
    recordings_dir: str = "recordings"
    exports_dir: str = "exports"           # Bulk Export day files (issue 22)
    engine: str = "standalone"
    rate: int = 16000
    clock: str = "realtime"
    capture_heard: bool = False   # standalone: keep what each call heard (in-process demo/tests read it)
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    esl_password: str = STOCK_ESL_PASSWORD
    outbound_host: str = "127.0.0.1"
    outbound_port: int = 8084
    fetch_timeout: float = 15.0
    connect_timeout: float = 5.0
    confirm_timeout: float = 5.0
    accounts: Dict[str, Account] = field(default_factory=dict)
    numbers: Dict[str, Number] = field(default_factory=dict)
    egress_allow: Tuple[str, ...] = ()     # networks outgoing HTTP may reach although denied by default
    egress_deny: Tuple[str, ...] = ()      # networks it never reaches
    max_body_bytes: int = 1024 * 1024      # REST request bodies above this: 413 before reading
    media_dirs: Tuple[str, ...] = ()       # REST file: callees of virtual calls only under these
    audio_cache_max_bytes: int = 512 * 1024 * 1024
    esl_allow_stock_password: bool = False
    retention_months: int = 13             # conference log retention (Twilio: 13 months); 0 keeps everything
    retention_interval: float = 3600.0     # seconds between retention purges
    cluster: Optional[ClusterSettings] = None   # [cluster] (issue 18); None = one node
    cluster_table: Optional[Mapping] = field(default=None, repr=False, compare=False)   # [cluster] as read

    def base_url(self, bound_port: Optional[int] = None) -> str:
        """The public base URL (``public_base_url`` or ``http://host:port``; ``bound_port`` for port 0)."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{bound_port if bound_port is not None else self.port}"

    def auth_tokens(self) -> Dict[str, str]:
        """AccountSid → AuthToken."""
        return {sid: a.auth_token for sid, a in self.accounts.items()}

    def api_keys(self) -> Dict[str, tuple]:
        """Twilio API key sid (``SK…``) → (AccountSid, secret): Basic ``SK…:secret`` authenticates as the
        account (Twilio's ``Client(api_key_sid, api_key_secret, account_sid)``); callbacks stay signed with
        the AuthToken."""
        return {key: (sid, secret) for sid, a in self.accounts.items() for key, secret in a.api_keys.items()}

    def number(self, number: str) -> Optional[Number]:
        """The configured number ``number`` (exact, or ignoring a leading ``+``/spaces), else None."""
        if number in self.numbers:
            return self.numbers[number]
        norm = _norm_number(number)
        for key, value in self.numbers.items():
            if _norm_number(key) == norm:
                return value
        return None


def _norm_number(number: str) -> str:
    return "".join(ch for ch in (number or "") if ch not in " +-()").lower()


def _parse_accounts(items) -> Dict[str, Account]:
    out: Dict[str, Account] = {}
    for i, item in enumerate(items or []):
        try:
            acc = Account(sid=str(item["sid"]), auth_token=str(item["auth_token"]),
                          telnyx_private_key=item.get("telnyx_private_key"),
                          jambonz_secret=item.get("jambonz_secret"),
                          telnyx_api_key=item.get("telnyx_api_key"),
                          api_keys=_parse_api_keys(item.get("api_keys"), i),
                          insights_webhook_url=item.get("insights_webhook_url"))
        except KeyError as exc:
            raise ConfigError(f"accounts[{i}]: missing {exc.args[0]}") from None
        out[acc.sid] = acc
    return out


def _parse_api_keys(items, i: int) -> Dict[str, str]:
    """``api_keys = [{sid = "SK…", secret = "…"}]`` of account ``i`` → {sid: secret}; ConfigError if malformed."""
    out: Dict[str, str] = {}
    for j, key in enumerate(items or []):
        if not isinstance(key, Mapping) or not str(key.get("sid", "")).startswith("SK") or not key.get("secret"):
            raise ConfigError(f"accounts[{i}].api_keys[{j}]: needs sid = \"SK…\" and a secret")
        out[str(key["sid"])] = str(key["secret"])
    return out


def _parse_numbers(items, accounts: Mapping[str, Account]) -> Dict[str, Number]:
    out: Dict[str, Number] = {}
    default_account = next(iter(accounts), "")
    for i, item in enumerate(items or []):
        try:
            num = Number(number=str(item["number"]), account=str(item.get("account") or default_account),
                         voice_url=str(item["voice_url"]),
                         voice_method=str(item.get("voice_method", "POST")).upper(),
                         dialect=str(item.get("dialect", TWIML)).lower())
        except KeyError as exc:
            raise ConfigError(f"numbers[{i}]: missing {exc.args[0]}") from None
        if num.dialect not in DIALECTS:
            raise ConfigError(f"numbers[{i}].dialect must be one of {', '.join(DIALECTS)}")
        out[num.number] = num
    return out


def _strings(value, key: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key} must be a list of strings")
    return tuple(str(v) for v in value)


def from_mapping(data: Mapping) -> Settings:
    """Settings from a parsed TOML document (the layout in this module's docstring)."""
    server = data.get("server", {})
    storage = data.get("storage", {})
    engine = data.get("engine", {})
    fs = data.get("freeswitch", {})
    http = data.get("http", {})
    egress = data.get("egress", {})
    media = data.get("media", {})
    retention = data.get("retention", {})
    accounts = _parse_accounts(data.get("accounts"))
    numbers = _parse_numbers(data.get("numbers"), accounts)
    s = Settings()
    kw = dict(
        host=server.get("host", s.host), port=int(server.get("port", s.port)),
        public_base_url=server.get("public_base_url", s.public_base_url),
        database_url=storage.get("database_url", s.database_url),
        audio_dir=storage.get("audio_dir", s.audio_dir),
        recordings_dir=storage.get("recordings_dir", s.recordings_dir),
        exports_dir=str(data.get("export", {}).get("dir", s.exports_dir)),
        engine=engine.get("type", s.engine), rate=int(engine.get("rate", s.rate)),
        clock=str(engine.get("clock", s.clock)),
        esl_host=fs.get("esl_host", s.esl_host), esl_port=int(fs.get("esl_port", s.esl_port)),
        esl_password=fs.get("esl_password", s.esl_password),
        outbound_host=fs.get("outbound_host", s.outbound_host),
        outbound_port=int(fs.get("outbound_port", s.outbound_port)),
        fetch_timeout=float(http.get("fetch_timeout", s.fetch_timeout)),
        connect_timeout=float(http.get("connect_timeout", s.connect_timeout)),
        confirm_timeout=float(http.get("confirm_timeout", s.confirm_timeout)),
        accounts=accounts, numbers=numbers,
        egress_allow=_strings(egress.get("allow"), "egress.allow"),
        egress_deny=_strings(egress.get("deny"), "egress.deny"),
        max_body_bytes=int(http.get("max_body_bytes", s.max_body_bytes)),
        media_dirs=_strings(media.get("dirs"), "media.dirs"),
        audio_cache_max_bytes=int(float(media.get("cache_max_mb", s.audio_cache_max_bytes / 2 ** 20)) * 2 ** 20),
        esl_allow_stock_password=bool(fs.get("allow_stock_password", False)),
        retention_months=int(retention.get("months", s.retention_months)),
        retention_interval=float(retention.get("purge_interval", s.retention_interval)),
        cluster_table=data.get("cluster"), cluster=_cluster(data.get("cluster"), os.environ),
    )
    return validate(Settings(**kw))


def _cluster(table, env) -> Optional[ClusterSettings]:
    try:
        return config_cluster.parse(table, env)
    except config_cluster.ClusterConfigError as exc:
        raise ConfigError(str(exc)) from None


def validate(s: Settings) -> Settings:
    """Check enumerations and ranges; raises :class:`ConfigError`."""
    if s.engine not in ("standalone", "freeswitch"):
        raise ConfigError("engine.type must be standalone or freeswitch")
    try:
        clock_speed(s.clock)
    except ValueError:
        raise ConfigError("engine.clock must be realtime, fast or a speed factor like 10") from None
    if not 0 <= s.port <= 65535:
        raise ConfigError("server.port must be 0..65535")
    for num in s.numbers.values():
        if num.account not in s.accounts:
            raise ConfigError(f"number {num.number}: unknown account {num.account!r}")
    from fsbridge.egress import EgressPolicy
    try:
        EgressPolicy(s.egress_allow, s.egress_deny)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if s.retention_months < 0 or s.retention_interval <= 0:
        raise ConfigError("retention.months must be >= 0 and retention.purge_interval > 0")
    if s.max_body_bytes < 1024:
        raise ConfigError("http.max_body_bytes must be at least 1024")
    return s


def check_esl_password(s: Settings) -> None:
    """Refuse to start the FreeSWITCH engine with the stock ESL password ``ClueCon`` unless the operator opted
    in (``[freeswitch] allow_stock_password = true`` / ``FSBRIDGE_ESL_ALLOW_STOCK_PASSWORD=1``): anyone who
    reaches the event socket with it controls FreeSWITCH. Raises :class:`ConfigError`. Checked when the engine
    is built, after file, environment and flags are merged (the password usually comes from the environment)."""
    if s.engine == "freeswitch" and s.esl_password == STOCK_ESL_PASSWORD and not s.esl_allow_stock_password:
        raise ConfigError("freeswitch.esl_password is the stock password ClueCon: set your own in FreeSWITCH's "
                          "event_socket.conf.xml and here (FSBRIDGE_ESL_PASSWORD), or opt in with "
                          "freeswitch.allow_stock_password = true (FSBRIDGE_ESL_ALLOW_STOCK_PASSWORD=1)")


def clock_speed(clock: str):
    """``engine.clock`` → standalone Clock speed: ``realtime`` → 1.0, ``fast`` → None (as fast as possible),
    a number N (e.g. ``"10"``) → N× real time. Raises ValueError."""
    value = str(clock).strip().lower()
    if value == "realtime":
        return 1.0
    if value == "fast":
        return None
    speed = float(value.rstrip("x"))
    if speed <= 0:
        raise ValueError(clock)
    return speed


def esl_address(value: str, source: str = "FSBRIDGE_ESL") -> tuple:
    """``"HOST:PORT"`` (or ``":PORT"``, host 127.0.0.1) → ``(host, port)``, the FreeSWITCH event socket of
    ``FSBRIDGE_ESL`` / ``fsbridge serve --esl``. Raises :class:`ConfigError` naming ``source``."""
    host, _, port = str(value).rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ConfigError(f"{source}: bad HOST:PORT {value!r}") from None


def load_file(path: str) -> Settings:
    """Settings from a TOML file (raises :class:`ConfigError` on a missing file or bad TOML)."""
    try:
        with open(path, "rb") as fh:
            return from_mapping(tomllib.load(fh))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def apply_env(s: Settings, env: Mapping[str, str]) -> Settings:
    """Overlay ``FSBRIDGE_*`` variables (see module docstring) on ``s``."""
    kw = {}
    simple = {"FSBRIDGE_HOST": ("host", str), "FSBRIDGE_PORT": ("port", int),
              "FSBRIDGE_PUBLIC_URL": ("public_base_url", str), "FSBRIDGE_DATABASE_URL": ("database_url", str),
              "FSBRIDGE_AUDIO_DIR": ("audio_dir", str), "FSBRIDGE_RECORDINGS_DIR": ("recordings_dir", str),
              "FSBRIDGE_ENGINE": ("engine", str), "FSBRIDGE_CLOCK": ("clock", str),
              "FSBRIDGE_ESL_PASSWORD": ("esl_password", str), "FSBRIDGE_FETCH_TIMEOUT": ("fetch_timeout", float)}
    for var, (key, conv) in simple.items():
        if env.get(var):
            try:
                kw[key] = conv(env[var])
            except ValueError:
                raise ConfigError(f"{var}: bad value {env[var]!r}") from None
    if env.get("FSBRIDGE_ESL"):
        kw["esl_host"], kw["esl_port"] = esl_address(env["FSBRIDGE_ESL"])
    accounts = dict(s.accounts)
    if env.get("FSBRIDGE_ACCOUNT_SID") and env.get("FSBRIDGE_AUTH_TOKEN"):
        sid = env["FSBRIDGE_ACCOUNT_SID"]
        accounts[sid] = Account(sid=sid, auth_token=env["FSBRIDGE_AUTH_TOKEN"])
    if env.get("FSBRIDGE_ESL_ALLOW_STOCK_PASSWORD", "").lower() in ("1", "true", "yes"):
        kw["esl_allow_stock_password"] = True
    egress_allow = allow_from_env(env)
    if egress_allow:
        kw["egress_allow"] = egress_allow
    if env.get("FSBRIDGE_CLUSTER_NODE") or env.get("FSBRIDGE_CLUSTER_SECRET"):
        kw["cluster"] = _cluster(s.cluster_table, env)
    numbers = dict(s.numbers)
    if env.get("FSBRIDGE_NUMBERS"):
        default_account = next(iter(accounts), "")
        for item in env["FSBRIDGE_NUMBERS"].split(";"):
            if not item.strip():
                continue
            number, _, url = item.partition("=")
            numbers[number.strip()] = Number(number=number.strip(), account=default_account, voice_url=url.strip())
    return validate(replace(s, accounts=accounts, numbers=numbers, **kw))


def load(path: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Settings:
    """File (``path`` or ``$FSBRIDGE_CONFIG``, optional) then environment (``env``, default ``os.environ``)."""
    env = os.environ if env is None else env
    path = path or env.get("FSBRIDGE_CONFIG")
    base = load_file(path) if path else Settings()
    return apply_env(base, env)
