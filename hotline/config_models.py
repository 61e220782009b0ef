"""The typed, frozen shape of the admin-edited config files.

One model per file (``ServiceSettings`` for ``hotline.yaml``; ``ivr.yaml``'s ``IvrSettings``
lives in ``ivr.flow.models``, the ACD's files in ``acd.policy``) so that a validation error
can always be traced back to the file that caused it; ``Config`` composes them. Every model
refuses unknown keys: a typo must not silently become a default.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig, SkillsConfig
from center.recording_policy import RecordingSettings
from center.settings import WaitingConfig
from center.transcription import TranscriptionSettings
from channels.email.settings import EmailSettings
from channels.webhooks.settings import Webhooks
from history.inputs import MAX_TEXT_CHARS
from hotline.reports.settings import ReportsSettings
from ivr.flow.models import IvrSettings as IvrSettings  # ivr.yaml: modelled by the flow
from ivr.intent.config import IntentsConfig
from ivr.speech.settings import SpeechSettings

#: SQLAlchemy drivers the (asyncio) history store can use.
ASYNC_DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql+psycopg")

_DIALPLAN_NAME = re.compile(r"[A-Za-z0-9_\-+*#.]+")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_section_means_defaults(cls, data: object) -> object:
        """``ami:`` with every child commented out is YAML null: read it as "all defaults"."""
        if not isinstance(data, dict):
            return data
        return {
            key: {} if value is None and _is_section(cls, key) else value
            for key, value in data.items()
        }


def _is_section(model: type[BaseModel], key: object) -> bool:
    info = model.model_fields.get(key) if isinstance(key, str) else None
    annotation = info.annotation if info is not None else None
    return isinstance(annotation, type) and issubclass(annotation, _Settings)


def _host(value: str) -> str:
    """An IP address or a DNS name: nothing with spaces, schemes or ports glued on."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        labels = value.rstrip(".").split(".")
        if not value or not all(_HOST_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"{value!r} is neither an IP address nor a host name") from None
    return value


def _network(value: str) -> str:
    """An IP address or a CIDR block, normalised (``10.1.0.0/16``, ``::1/128``)."""
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR block") from None
        raise ValueError(f"{value!r} has host bits set; did you mean {loose}?") from None


def _dialplan_name(value: str) -> str:
    if not _DIALPLAN_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a dialplan name (letters, digits, _-+*#. only)")
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        # The value is not echoed: a mistyped URL may still hold a password.
        raise ValueError("not a database URL (dialect+driver://user@host/name)") from None
    if url.drivername not in ASYNC_DATABASE_DRIVERS:
        allowed = ", ".join(ASYNC_DATABASE_DRIVERS)
        raise ValueError(f"driver {url.drivername!r} is not supported; use one of {allowed}")
    if url.get_backend_name() == "sqlite" and not url.database:
        raise ValueError("a SQLite URL needs a file path, e.g. sqlite+aiosqlite:///var/hotline.db")
    return value


Host = Annotated[str, AfterValidator(_host)]
Port = Annotated[int, Field(ge=0, le=65535)]
Network = Annotated[str, AfterValidator(_network)]
DialplanName = Annotated[str, AfterValidator(_dialplan_name)]
PositiveSeconds = Annotated[float, Field(gt=0, le=86400)]


class FastAgiLimits(_Settings):
    """Caps on what one Asterisk connection may send or take before it is dropped."""

    max_header_bytes: Annotated[int, Field(ge=1024, le=1 << 20)] = 16384
    max_line_bytes: Annotated[int, Field(ge=256, le=1 << 20)] = 8192
    header_timeout_s: PositiveSeconds = 5.0
    idle_timeout_s: PositiveSeconds = 300.0
    command_timeout_s: PositiveSeconds = 10.0
    media_timeout_s: PositiveSeconds = 600.0
    max_sessions: Annotated[int, Field(ge=1, le=100_000)] = 1000


class FastAgiSettings(_Settings):
    host: Host = "127.0.0.1"
    port: Port = 4573
    allowed_hosts: tuple[Network, ...] = ("127.0.0.1/32", "::1/128")
    limits: FastAgiLimits = FastAgiLimits()


TlsVersion = Annotated[Literal["1.2", "1.3"], BeforeValidator(lambda v: str(v))]


class AmiTlsSettings(_Settings):
    """AMI over TLS (Asterisk's ``manager.conf``: ``tlsenable=yes``, ``tlsbindport=5039``):
    set ``ami.port`` to the TLS port. Asterisk's certificate is verified against ``ca_file``
    (else the system's store) and ``server_name`` (else ``ami.host``) unless ``verify`` is
    off."""

    enabled: bool = False
    ca_file: Path | None = None
    verify: bool = True
    server_name: Host | None = None
    min_version: TlsVersion = "1.2"


class AmiSettings(_Settings):
    host: Host = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5038
    username: Annotated[str, Field(min_length=1, max_length=80)] = "hotline"
    #: Empty by default: set it in hotline.yaml or, better, in HOTLINE_AMI_SECRET.
    secret: SecretStr = SecretStr("")
    events: bool = True
    reconnect_min_s: PositiveSeconds = 0.5
    reconnect_max_s: PositiveSeconds = 30.0
    action_timeout_s: PositiveSeconds = 10.0
    tls: AmiTlsSettings = AmiTlsSettings()

    @model_validator(mode="after")
    def _backoff_grows(self) -> AmiSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must not be smaller than reconnect_min_s")
        return self


class WebLimitSettings(_Settings):
    """What one web client may hold, so the web port can never starve calls of sockets."""

    header_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    body_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    max_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    max_connections_per_address: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    #: File descriptors always kept free for FastAGI, AMI and the database.
    descriptor_reserve: Annotated[int, Field(ge=0, le=1_000_000)] = 256

    @model_validator(mode="after")
    def _per_address_within_overall(self) -> WebLimitSettings:
        if self.max_connections_per_address > self.max_connections:
            raise ValueError("max_connections_per_address must not exceed max_connections")
        return self


class TwoFactorSettings(_Settings):
    """Two-factor sign-in (TOTP codes from an authenticator app, with recovery codes):
    ``required_for`` the roles that must use it (they set it up at their next sign-in);
    every other user may turn it on for themselves."""

    required_for: tuple[Literal["agent", "supervisor", "admin", "wallboard"], ...] = ()
    #: The name authenticator apps show beside the account.
    issuer: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^:]+$")] = "hotline"
    #: The key the TOTP secrets are sealed with in the database (relative to the working
    #: directory, like ``var/hotline.db``; created, mode 0600, on first use), unless
    #: ``HOTLINE_SECRET_KEYS`` gives the keys. SECURITY.md tells how to rotate it.
    key_file: Path = Path("var/secret.keys")


class SignInSettings(_Settings):
    """The sign-in page's throttle (failed and in-flight attempts in a window)."""

    per_user_address: Annotated[int, Field(ge=1, le=1000)] = 5
    per_address: Annotated[int, Field(ge=1, le=100_000)] = 10
    #: Two-factor codes per user from every address together.
    per_user_codes: Annotated[int, Field(ge=1, le=1000)] = 5
    window_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    two_factor: TwoFactorSettings = TwoFactorSettings()


Rate = Annotated[float, Field(gt=0, le=1_000_000)]
Burst = Annotated[int, Field(ge=1, le=1_000_000)]


class ApiRateLimitSettings(_Settings):
    """Requests to ``/api/v1/`` per token and per client address: a bucket that refills at
    ``*_per_s`` and holds ``*_burst``; beyond it, 429 with Retry-After."""

    per_token_per_s: Rate = 50.0
    per_token_burst: Burst = 100
    per_address_per_s: Rate = 100.0
    per_address_burst: Burst = 200


class WebTlsSettings(_Settings):
    """HTTPS: the certificate chain and its key (PEM files; relative paths are relative to
    the config directory). With them the pages, the API and the probes are served over TLS
    only, cookies are ``Secure`` and every answer carries ``Strict-Transport-Security``."""

    cert_file: Path | None = None
    key_file: Path | None = None
    min_version: TlsVersion = "1.2"
    #: The HSTS header's max-age (0: no header).
    hsts_max_age_s: Annotated[int, Field(ge=0, le=63_072_000)] = 31_536_000

    @model_validator(mode="after")
    def _both_files(self) -> WebTlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both cert_file and key_file (or neither: plain HTTP)")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class WebSettings(_Settings):
    host: Host = "127.0.0.1"
    port: Port = 8080
    tls: WebTlsSettings = WebTlsSettings()
    limits: WebLimitSettings = WebLimitSettings()
    sign_in: SignInSettings = SignInSettings()
    api_rate_limits: ApiRateLimitSettings = ApiRateLimitSettings()


class DatabaseSettings(_Settings):
    url: Annotated[str, AfterValidator(_database_url)] = "sqlite+aiosqlite:///var/hotline.db"
    #: Where history writes wait, on disk, while the database is unreachable.
    spool: Path = Path("var/history-spool.jsonl")
    #: Where conversations' attachments are kept (content-addressed files, not in the
    #: database); chat and e-mail modules sharing the store must share this directory.
    attachments: Path = Path("var/attachments")

    def __repr_args__(self) -> Iterator[tuple[str | None, object]]:
        """A server URL may carry a password: keep it out of reprs and logs."""
        yield "url", self.display_url

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file (relative to the working directory), or None for servers/memory."""
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)


_MIB = 1024 * 1024


class MessagesSettings(_Settings):
    """Caps on conversations' messages (chat, e-mail, WhatsApp, SMS) and attachments."""

    max_body_chars: Annotated[int, Field(ge=1, le=MAX_TEXT_CHARS)] = 100_000
    max_attachment_bytes: Annotated[int, Field(ge=1, le=1024 * _MIB)] = 10 * _MIB
    max_message_attachment_bytes: Annotated[int, Field(ge=1, le=4096 * _MIB)] = 25 * _MIB
    max_attachments_per_message: Annotated[int, Field(ge=0, le=1000)] = 20

    @model_validator(mode="after")
    def _message_holds_a_file(self) -> MessagesSettings:
        if self.max_message_attachment_bytes < self.max_attachment_bytes:
            raise ValueError(
                "max_message_attachment_bytes must not be smaller than max_attachment_bytes"
            )
        return self


def _origin(value: str) -> str:
    """A web origin as browsers send it: ``https://shop.example.com`` (a port if not the
    default), no path, no trailing slash; lower-cased."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin (https://host or https://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{value!r}: an origin has no path, query or user, only scheme://host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    host = _host(parts.hostname.lower()) if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


Origin = Annotated[str, AfterValidator(_origin)]


class ChatRateLimit(_Settings):
    """Messages one visitor's connection may send: ``burst`` at once, then
    ``messages_per_minute`` (a token bucket); more are refused, not stored."""

    messages_per_minute: Annotated[int, Field(ge=1, le=6000)] = 30
    burst: Annotated[int, Field(ge=1, le=1000)] = 10


class ChatSettings(_Settings):
    """The web chat: the widget businesses embed (``/chat/widget``, ``/chat/loader.js``)
    and its WebSocket (``/chat/ws``)."""

    enabled: bool = False
    #: Sites that may embed the widget (CSP frame-ancestors) and open its WebSocket
    #: (Origin checked); the service's own origin always may.
    allowed_origins: tuple[Origin, ...] = ()
    max_message_chars: Annotated[int, Field(ge=1, le=MAX_TEXT_CHARS)] = 4000
    rate_limit: ChatRateLimit = ChatRateLimit()
    #: A visitor whose page dropped (network, closed tab) and is not back within this
    #: has left the chat: a waiting chat is abandoned, an accepted one closed for the agent.
    reconnect_grace_s: Annotated[float, Field(ge=0, le=86400)] = 60.0
    #: Visitors' sockets open at once; more are refused (503).
    max_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000


class FallbackSettings(_Settings):
    """Where a call goes when the service cannot handle it (Asterisk's own Queue())."""

    context: DialplanName = "hotline-fallback"
    extension: DialplanName = "s"
    priority: Annotated[int, Field(ge=1)] = 1


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class LoggingSettings(_Settings):
    level: Annotated[LogLevel, BeforeValidator(_upper)] = "INFO"
    #: Mask phone numbers in log lines, keeping the last 4 digits.
    mask_phone_numbers: bool = True


class PrivacySettings(_Settings):
    """How long the access log (who read which customer's data) is kept."""

    access_log_retention_days: Annotated[float, Field(gt=0, le=36500)] = 365.0


def _redis_url(value: str | None) -> str | None:
    if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        # The value is not echoed: it may hold a password.
        raise ValueError("not a Redis URL (redis://host:6379/0, rediss://... or unix://...)")
    return value


_SYSTEM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _system_name(value: str) -> str:
    if not _SYSTEM_NAME.fullmatch(value):
        raise ValueError(
            "a peer Asterisk's systemname (asterisk.conf, HOTLINE_SYSTEM_NAME): letters, "
            "digits, _ and -, up to 64"
        )
    return value


def _trunk_endpoint(value: str) -> str:
    if not _ENDPOINT_NAME.fullmatch(value):
        raise ValueError(
            "the PJSIP endpoint (pjsip.conf section, e.g. peer-asterisk-b) trunking to that "
            "peer: letters, digits, _ . and -, up to 64 (it goes inside a dial string)"
        )
    return value


#: An Asterisk's ``systemname`` (asterisk.conf), as ``CoreSettings`` tells it.
SystemName = Annotated[str, AfterValidator(_system_name)]
#: A PJSIP endpoint's name (pjsip.conf section), safe inside a dial string.
TrunkEndpoint = Annotated[str, AfterValidator(_trunk_endpoint)]


class ClusterConfig(_Settings):
    """``hotline.yaml`` ``cluster:``: several nodes sharing one ACD (``center.acd_cluster``).
    No ``redis_url``: this process's ACD is its own (the default)."""

    redis_url: Annotated[str | None, AfterValidator(_redis_url)] = None
    #: this node's name in the cluster (its log records and heartbeat)
    node_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "node1"
    #: the leader's lease: a dead leader is replaced within about 4/3 of it
    lease_s: Annotated[float, Field(ge=0.3, le=30)] = 1.0
    #: a node silent this long is lost: its calls leave the shared ACD
    node_ttl_s: Annotated[float, Field(ge=1, le=300)] = 3.0
    snapshot_every: Annotated[int, Field(ge=100, le=1_000_000)] = 20000
    #: Agents' phones on any Asterisk of the cluster (``center.phone_locations``): per peer
    #: Asterisk (its asterisk.conf ``systemname``), the PJSIP endpoint of this node's
    #: Asterisk that trunks to it. A phone registered on a peer is dialled
    #: ``PJSIP/<endpoint>@<trunk>``. This node's own system may be listed too (one file for
    #: every node): it is never dialled through a trunk.
    peers: dict[SystemName, TrunkEndpoint] = Field(default_factory=dict)

    def __repr_args__(self) -> Iterator[tuple[str | None, object]]:
        """The URL may carry a password: keep it out of reprs and logs."""
        yield "redis_url", None if self.redis_url is None else "<set>"
        yield "node_id", self.node_id


class ServiceSettings(_Settings):
    """``hotline.yaml``: the service itself (sockets, credentials, store, fallback, logs)."""

    fastagi: FastAgiSettings = FastAgiSettings()
    ami: AmiSettings = AmiSettings()
    web: WebSettings = WebSettings()
    database: DatabaseSettings = DatabaseSettings()
    messages: MessagesSettings = MessagesSettings()
    fallback: FallbackSettings = FallbackSettings()
    logging: LoggingSettings = LoggingSettings()
    #: Receivers of task and message events (``channels.webhooks``).
    webhooks: Webhooks = ()
    #: Customers' e-mail in by SMTP, agents' replies out through a relay (``channels.email``).
    email: EmailSettings = EmailSettings()
    chat: ChatSettings = ChatSettings()
    privacy: PrivacySettings = PrivacySettings()
    #: Call recording with consent (``center.recording_policy``).
    recording: RecordingSettings = RecordingSettings()
    #: Recorded calls transcribed after the call, phrases spotted (``center.transcription``).
    transcription: TranscriptionSettings = TranscriptionSettings()
    #: The daily report by e-mail (``hotline.reports``).
    reports: ReportsSettings = ReportsSettings()
    #: Several nodes sharing one ACD on Redis (off: one node).
    cluster: ClusterConfig = ClusterConfig()

    @model_validator(mode="after")
    def _a_cluster_shares_its_history(self) -> ServiceSettings:
        if self.cluster.redis_url is not None and self.database.url.startswith("sqlite"):
            raise ValueError(
                "cluster.redis_url is set: the nodes share one history, so database.url "
                "must be PostgreSQL (postgresql+asyncpg://...), not a SQLite file of each node"
            )
        return self

    @model_validator(mode="after")
    def _peers_need_the_cluster(self) -> ServiceSettings:
        if self.cluster.peers and self.cluster.redis_url is None:
            raise ValueError(
                "cluster.peers is set but cluster.redis_url is not: where agents' phones are "
                "registered is shared between the nodes through the cluster's Redis"
            )
        return self

    @model_validator(mode="after")
    def _chat_within_the_store_caps(self) -> ServiceSettings:
        if self.chat.max_message_chars > self.messages.max_body_chars:
            raise ValueError(
                "chat.max_message_chars must not exceed messages.max_body_chars"
                f" ({self.messages.max_body_chars})"
            )
        return self

    @model_validator(mode="after")
    def _daily_report_has_a_relay(self) -> ServiceSettings:
        if self.reports.daily.enabled and (
            self.email.relay.host is None or self.email.from_address is None
        ):
            raise ValueError(
                "reports.daily is enabled: it is sent through email.relay.host, "
                "from email.from_address (set both)"
            )
        return self


class Config(ServiceSettings):
    """Everything the service runs on: ``hotline.yaml`` sections at the top, one field per
    other file (see ``hotline.config.CONFIG_FILES``)."""

    ivr: IvrSettings = IvrSettings()
    speech: SpeechSettings = SpeechSettings()
    intents: IntentsConfig = IntentsConfig()
    waiting: WaitingConfig = WaitingConfig()
    priority: PriorityConfig = PriorityConfig()
    skills: SkillsConfig = SkillsConfig()
    queues: QueuesConfig = QueuesConfig()
    agents: AgentsConfig = AgentsConfig()


#: ``hotline.yaml``'s file paths that are relative to the config directory.
SERVICE_RELATIVE_PATHS = (
    ("web", "tls", "cert_file"),
    ("web", "tls", "key_file"),
    ("ami", "tls", "ca_file"),
)


def anchor_service_paths(data: MutableMapping[str, object], directory: Path) -> None:
    """The TLS files written as relative paths, as the same paths under ``directory``."""
    for keys in SERVICE_RELATIVE_PATHS:
        node: object = data
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, MutableMapping) else None
        if isinstance(node, MutableMapping):
            value = node.get(keys[-1])
            if isinstance(value, str) and value and not Path(value).is_absolute():
                node[keys[-1]] = os.path.normpath(directory / value)


def check_service_files(settings: ServiceSettings) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """The TLS files exist, are readable and are what they claim (``check-config``)."""
    from hotline.tls import check_ca_file, check_server_files

    tls = settings.web.tls
    if tls.cert_file is not None and tls.key_file is not None:
        for key, reason in check_server_files(tls.cert_file, tls.key_file, tls.min_version):
            yield ("web", "tls", key), reason
    ami = settings.ami.tls
    if ami.enabled and ami.ca_file is not None:
        for reason in check_ca_file(ami.ca_file):
            yield ("ami", "tls", "ca_file"), reason
