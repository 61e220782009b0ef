"""The ``email:`` section of ``hotline.yaml``: the SMTP server customers' mail arrives at, and
the relay agents' replies leave through. Validated into frozen objects; ``server_settings``,
``relay_settings`` and ``sender_identity`` turn it into the wire edge's settings, and
``password_problems`` says whether the relay's password is where the file says it is.

.. code-block:: yaml

    email:
      enabled: true
      host: 0.0.0.0                     # where the SMTP server listens (an MX, or a forward)
      port: 2525
      hostname: mx.example.com          # its name in the greeting
      accepted_recipients: [support@example.com, help.example.com]
      from_address: support@example.com # the agents' replies come from here
      from_name: Example Support
      message_id_domain: example.com    # <...@example.com> in replies' Message-IDs
      relay:
        host: smtp.example.com
        port: 587
        security: starttls              # starttls | tls (port 465) | none (a local relay)
        username: hotline
        password_env: HOTLINE_SMTP_PASSWORD

The password is read from the environment variable ``password_env`` names, never from the
file, and never appears in logs, reprs or errors.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from channels.email.limits import KIB, MIB, MailLimits
from channels.email.sender import RelaySettings, SenderIdentity
from channels.email.smtp_policy import AcceptedRecipients, PeerLimitSettings
from channels.email.smtp_server import SmtpServerSettings
from channels.email.threading import validate_domain

__all__ = [
    "EmailLimits",
    "EmailSettings",
    "RelaySection",
    "password_problems",
    "relay_settings",
    "sender_identity",
    "server_settings",
]

_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _host(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        labels = value.rstrip(".").split(".")
        if not value or not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"{value!r} is neither an IP address nor a host name") from None
    return value


def _variable(value: str) -> str:
    if not _VARIABLE.fullmatch(value):
        raise ValueError(  # not echoed: it may be the password itself, written here by mistake
            "not an environment variable name (A-Z 0-9 _): "
            "password_env names the variable that holds the password, not the password"
        )
    return value


def _domain(value: str) -> str:
    return validate_domain(value)


def _recipients(value: tuple[str, ...]) -> tuple[str, ...]:
    if value:
        AcceptedRecipients.parse(value)  # ValueError names the entry
    return value


def _address(value: str) -> str:
    SenderIdentity(address=value)  # ValueError: not an address, or its domain is no name
    return value


Host = Annotated[str, AfterValidator(_host)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: object) -> object:
        """``email:`` with every child commented out is YAML null: all defaults."""
        return {} if data is None else data


class EmailLimits(_Section):
    """What one message and one sending server may be (``MailLimits``, ``PeerLimitSettings``).
    Attachments over the ``messages`` caps are left out too, and noted on the message."""

    max_message_bytes: Annotated[int, Field(ge=64 * KIB, le=1024 * MIB)] = 25 * MIB
    max_attachment_bytes: Annotated[int, Field(ge=1, le=1024 * MIB)] = 15 * MIB
    max_attachments: Annotated[int, Field(ge=1, le=1000)] = 30
    max_recipients: Annotated[int, Field(ge=1, le=1000)] = 50
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 500
    max_connections_per_peer: Annotated[int, Field(ge=1, le=100_000)] = 20
    max_messages_per_peer_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 120
    command_timeout_s: Seconds = 60.0
    data_timeout_s: Seconds = 300.0


class RelaySection(_Section):
    """The mail server agents' replies are handed to (the company's submission server)."""

    host: Host | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    password_env: Annotated[str, AfterValidator(_variable)] | None = None
    ca_file: str | None = None
    timeout_s: Seconds = 30.0
    #: a reply the relay did not take (down, 4xx) is tried again, up to ``attempts`` in all,
    #: after a back-off doubling from ``first_backoff_s`` up to ``max_backoff_s``
    attempts: Annotated[int, Field(ge=1, le=20)] = 5
    first_backoff_s: Annotated[float, Field(ge=0, le=3600)] = 2.0
    max_backoff_s: Annotated[float, Field(ge=0, le=86400)] = 120.0

    @model_validator(mode="after")
    def _login(self) -> RelaySection:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("a relay login needs both username and password_env")
        if self.username is not None and self.security == "none":
            raise ValueError(
                "a relay login over security: none would send the password in clear; "
                "use starttls or tls"
            )
        return self


class EmailSettings(_Section):
    enabled: bool = False
    host: Host = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 2525
    hostname: Host = "localhost"
    #: addresses (support@example.com) and whole domains (example.com) mail is taken for
    accepted_recipients: Annotated[tuple[str, ...], AfterValidator(_recipients)] = ()
    from_address: Annotated[str, AfterValidator(_address)] | None = None
    from_name: Annotated[str, Field(max_length=200)] = ""
    message_id_domain: Annotated[str, AfterValidator(_domain)] | None = None
    #: how long an agent's request waits for the relay before the reply goes on trying in
    #: the background (then marked sent at once, and failed later if it never goes)
    reply_wait_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    limits: EmailLimits = EmailLimits()
    relay: RelaySection = RelaySection()

    @model_validator(mode="after")
    def _usable(self) -> EmailSettings:
        if self.from_address is not None:
            sender_identity(self)  # the address with the Message-ID domain
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("STARTTLS needs both tls_cert_file and tls_key_file")
        if self.enabled:
            missing = [
                name
                for name, value in (
                    ("accepted_recipients", self.accepted_recipients),
                    ("from_address", self.from_address),
                    ("relay.host", self.relay.host),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"email is enabled but {', '.join(missing)} is not set")
        return self


def server_settings(settings: EmailSettings) -> SmtpServerSettings:
    limits = settings.limits
    return SmtpServerSettings(
        accepted_recipients=settings.accepted_recipients,
        host=settings.host,
        port=settings.port,
        hostname=settings.hostname,
        limits=MailLimits(
            max_message_bytes=limits.max_message_bytes,
            max_attachment_bytes=limits.max_attachment_bytes,
            max_attachments=limits.max_attachments,
        ),
        peers=PeerLimitSettings(
            max_connections=limits.max_connections,
            max_connections_per_peer=limits.max_connections_per_peer,
            max_messages_per_peer_per_minute=limits.max_messages_per_peer_per_minute,
        ),
        max_recipients=limits.max_recipients,
        command_timeout_s=limits.command_timeout_s,
        data_timeout_s=limits.data_timeout_s,
        tls_cert_file=settings.tls_cert_file,
        tls_key_file=settings.tls_key_file,
    )


def relay_settings(settings: EmailSettings) -> RelaySettings:
    relay = settings.relay
    if relay.host is None:
        raise ValueError("email.relay.host is not set")
    return RelaySettings(
        host=relay.host,
        port=relay.port,
        security=relay.security,
        username=relay.username,
        password_env=relay.password_env,
        ca_file=relay.ca_file,
        timeout_s=relay.timeout_s,
        attempts=relay.attempts,
        first_backoff_s=relay.first_backoff_s,
        max_backoff_s=relay.max_backoff_s,
    )


def sender_identity(settings: EmailSettings) -> SenderIdentity:
    if settings.from_address is None:
        raise ValueError("email.from_address is not set")
    return SenderIdentity(
        address=settings.from_address,
        name=settings.from_name,
        message_id_domain=settings.message_id_domain,
    )


def password_problems(settings: EmailSettings, environ: Mapping[str, str]) -> list[str]:
    """What stops the relay login: its password variable unset or empty (the variable is
    named, its value never)."""
    variable = settings.relay.password_env
    if not settings.enabled or variable is None or environ.get(variable):
        return []
    return [f"email.relay.password_env: the environment variable {variable} is not set"]
