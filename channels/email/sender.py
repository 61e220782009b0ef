"""The agent's reply, composed and sent by SMTP to the configured relay.

``compose_reply`` (pure) builds the message with the stdlib's ``EmailMessage``: From the
configured address, To and Cc checked, Subject "Re: ..." said once whatever the customer's
client stacked up, In-Reply-To/References from the conversation (``threading``), our own
Message-ID, the text body, attachments within the caps (a reply over them is refused before
anything is sent: ``ReplyRefused``).

``ReplySender.send`` hands it to the relay with aiosmtplib (asyncio, in the service's loop):
STARTTLS or implicit TLS as configured, a login whose password is read from the environment
variable the settings name (never from a file, never logged). A relay that is down, a
dropped connection or a 4xx reply is tried again with exponential back-off, up to
``attempts``; a 5xx reply is permanent at once. Either way the failure is ``SendFailed``
with the relay's code and text. The Message-ID is the caller's (``new_message_id``, made
before the reply is stored, so the customer's answer threads back to it) or made once before
the first attempt: a retry after a lost 250 is the same message to every receiver that
deduplicates.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Literal

import aiosmtplib

from channels.email import headers as h
from channels.email.content import Attachment, safe_filename
from channels.email.limits import MIB
from channels.email.message_ids import normalize_message_id
from channels.email.threading import new_message_id, reply_headers, validate_domain

log = logging.getLogger("channels.email.sender")

Security = Literal["starttls", "tls", "none"]
_REPLY_PREFIXES = re.compile(
    r"^(?:\s*(?:re|aw|sv|vs|antw|ref|réf|rif|odp|ynt|رد)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_SUBJECT_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
_ADDRESS = re.compile(
    r"[^\s<>()\[\]\\,;:\"@]+(?:\.[^\s<>()\[\]\\,;:\"@]+)*@[^\s<>@,;]+\.[^\s<>@,;]+"
)
_MAX_SUBJECT_CHARS = 200
_REPLY_MARK = "Re: "
_NO_SUBJECT = "(no subject)"
_PERMANENT = 500  # SMTP reply codes from here on are permanent (RFC 5321 §4.2.1)


@dataclass(frozen=True)
class RelaySettings:
    host: str
    port: int = 587
    security: Security = "starttls"  # "tls": implicit TLS (port 465); "none": a local relay
    username: str | None = None
    #: the environment variable holding the login password (read once, at construction)
    password_env: str | None = None
    ca_file: str | None = None  # a private relay's CA, trusted besides the system's
    timeout_s: float = 30.0
    attempts: int = 5
    first_backoff_s: float = 2.0
    max_backoff_s: float = 120.0
    local_hostname: str | None = None  # the EHLO name; default: the sender's domain

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout_s <= 0 or self.first_backoff_s < 0:
            raise ValueError("relay attempts must be ≥ 1, timeout > 0, back-off ≥ 0")
        if (self.username is None) != (self.password_env is None):
            raise ValueError("a relay login needs both username and password_env")


@dataclass(frozen=True)
class SenderIdentity:
    address: str  # From, and the envelope sender (bounces come back here)
    name: str = ""
    message_id_domain: str | None = None  # default: the address's domain
    max_attachment_bytes: int = 10 * MIB
    max_attachments: int = 10
    max_total_bytes: int = 20 * MIB  # all attachments together

    def __post_init__(self) -> None:
        if not _ADDRESS.fullmatch(self.address):
            raise ValueError(f"sender address {self.address!r} is not an e-mail address")
        validate_domain(self.domain)

    @property
    def domain(self) -> str:
        return self.message_id_domain or self.address.rpartition("@")[2]


@dataclass(frozen=True)
class Reply:
    to: tuple[str, ...]
    subject: str  # the conversation's subject, as the customer wrote it
    body: str
    conversation_message_ids: tuple[str, ...] = ()  # oldest first
    cc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SentReply:
    message_id: str
    relay_reply: str  # the relay's answer to the message (its queue id, usually)
    attempts: int
    #: recipients the relay refused while it took the message for the others
    refused_recipients: tuple[tuple[str, str], ...] = ()


class ReplyRefused(ValueError):
    """A reply that cannot be sent as it is (no recipient, a bad address, over a cap)."""


class SendFailed(Exception):
    """The relay did not take the reply: ``permanent`` (a 5xx, a configuration the relay
    refuses) or still failing after every attempt. ``code`` is the relay's reply code."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        attempts: int,
        code: int | None = None,
        message_id: str = "",
        details: Mapping[str, str] | None = None,
    ) -> None:
        kind = "refused" if permanent else f"not sent after {attempts} attempt(s)"
        super().__init__(f"reply {message_id} {kind}: {reason}")
        self.reason = reason
        self.permanent = permanent
        self.attempts = attempts
        self.code = code
        self.message_id = message_id
        self.details = dict(details or {})


def reply_subject(subject: str) -> str:
    """``Re: `` once before the subject, whatever prefixes the thread piled up."""
    subject = " ".join(_SUBJECT_CONTROLS.sub(" ", subject).split())
    subject = _REPLY_PREFIXES.sub("", subject).strip() or _NO_SUBJECT
    return (_REPLY_MARK + subject)[:_MAX_SUBJECT_CHARS]


def _checked_addresses(addresses: tuple[str, ...]) -> list[str]:
    for address in addresses:
        if not _ADDRESS.fullmatch(address):
            raise ReplyRefused(f"{address!r} is not an e-mail address")
    return list(dict.fromkeys(addresses))


def compose_reply(
    reply: Reply, identity: SenderIdentity, *, message_id: str, date: datetime
) -> EmailMessage:
    """The reply as a message (see the module's doc); ``ReplyRefused`` when it cannot be."""
    to = _checked_addresses(reply.to)
    cc = [address for address in _checked_addresses(reply.cc) if address not in to]
    if not to:
        raise ReplyRefused("a reply needs a recipient")
    _check_attachments(reply.attachments, identity)
    message = EmailMessage()
    message[h.FROM] = formataddr((identity.name, identity.address))
    message[h.TO] = ", ".join(to)
    if cc:
        message[h.CC] = ", ".join(cc)
    message[h.SUBJECT] = reply_subject(reply.subject)
    message[h.DATE] = format_datetime(date.astimezone(UTC))
    message[h.MESSAGE_ID] = message_id
    for name, value in reply_headers(reply.conversation_message_ids).as_dict().items():
        message[name] = value
    message.set_content(reply.body.replace("\r\n", "\n"))
    for index, attachment in enumerate(reply.attachments, 1):
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        filename = safe_filename(attachment.filename, attachment.content_type, index)
        message.add_attachment(attachment.data, maintype, subtype, filename=filename)
    return message


def _check_attachments(attachments: tuple[Attachment, ...], identity: SenderIdentity) -> None:
    if len(attachments) > identity.max_attachments:
        raise ReplyRefused(f"{len(attachments)} attachments, over the limit of "
                           f"{identity.max_attachments}")  # fmt: skip
    for attachment in attachments:
        if attachment.size > identity.max_attachment_bytes:
            raise ReplyRefused(f"attachment {attachment.filename!r} of {attachment.size} bytes "
                               f"is over the limit of {identity.max_attachment_bytes}")  # fmt: skip
    total = sum(attachment.size for attachment in attachments)
    if total > identity.max_total_bytes:
        raise ReplyRefused(f"attachments of {total} bytes in all, over the limit of "
                           f"{identity.max_total_bytes}")  # fmt: skip


class ReplySender:
    def __init__(
        self,
        relay: RelaySettings,
        identity: SenderIdentity,
        *,
        environ: Mapping[str, str] = os.environ,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.relay = relay
        self.identity = identity
        self._password: str | None = None
        if relay.password_env is not None:
            password = environ.get(relay.password_env)
            if not password:
                raise ValueError(f"the relay password variable {relay.password_env} is not set")
            self._password = password
        self._tls = _client_tls_context(relay)
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:  # the password is not part of it
        return f"ReplySender({self.relay.host}:{self.relay.port}, from {self.identity.address})"

    def new_message_id(self) -> str:
        """A Message-ID for a reply, with the configured domain: made before the reply is
        stored, so the customer's answer threads back to it."""
        return new_message_id(self.identity.domain, now=time.time())

    async def send(self, reply: Reply, *, message_id: str | None = None) -> SentReply:
        """Sends ``reply`` with ``message_id`` (a new one when None); ``ReplyRefused`` before
        trying when it cannot be sent, else ``SendFailed`` when the relay did not take it."""
        if message_id is None:
            message_id = self.new_message_id()
        elif normalize_message_id(message_id) != message_id:
            raise ReplyRefused(f"{message_id!r} is not a canonical <local@domain> Message-ID")
        message = compose_reply(reply, self.identity, message_id=message_id, date=self._clock())
        return await self._deliver(message, message_id)

    async def send_message(self, message: EmailMessage) -> SentReply:
        """A message composed elsewhere (a report: its To, Subject and parts), sent From the
        configured identity with a new Message-ID and Date, with the same retries as a
        reply; ``ReplyRefused`` when it names no valid recipient, ``SendFailed`` as
        ``send``."""
        _checked_addresses(tuple(a.strip() for a in str(message.get(h.TO, "")).split(",") if a))
        if not message.get(h.TO):
            raise ReplyRefused("a message needs a recipient")
        message_id = self.new_message_id()
        for name in (h.FROM, h.MESSAGE_ID, h.DATE):
            del message[name]
        message[h.FROM] = formataddr((self.identity.name, self.identity.address))
        message[h.DATE] = format_datetime(self._clock().astimezone(UTC))
        message[h.MESSAGE_ID] = message_id
        return await self._deliver(message, message_id)

    async def _deliver(self, message: EmailMessage, message_id: str) -> SentReply:
        relay = self.relay
        failure = SendFailed("not tried", permanent=False, attempts=0, message_id=message_id)
        for attempt in range(1, relay.attempts + 1):
            try:
                errors, answer = await self._send_once(message)
            except (aiosmtplib.SMTPException, OSError) as exc:
                failure = _failure(exc, attempt, message_id)
                if failure.permanent or attempt == relay.attempts:
                    break
                delay = min(relay.max_backoff_s, relay.first_backoff_s * 2 ** (attempt - 1))
                log.warning("reply %s: relay %s:%d attempt %d failed (%s); again in %.0f s",
                            message_id, relay.host, relay.port, attempt, failure.reason,
                            delay)  # fmt: skip
                await self._sleep(delay)
                continue
            refused = tuple((rcpt, str(r)) for rcpt, r in errors.items())
            log.info("reply %s sent through %s:%d (%s)", message_id, relay.host, relay.port, answer)
            return SentReply(message_id, answer, attempt, refused)
        log.error("%s", failure)
        raise failure

    async def _send_once(
        self, message: EmailMessage
    ) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        relay = self.relay
        client = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            username=relay.username,
            password=self._password,
            local_hostname=relay.local_hostname or self.identity.domain,
            timeout=relay.timeout_s,
            use_tls=relay.security == "tls",
            start_tls=relay.security == "starttls",
            tls_context=self._tls,
        )
        async with client:
            return await client.send_message(message, sender=self.identity.address)


def _failure(exc: Exception, attempt: int, message_id: str) -> SendFailed:
    """What a failed attempt means: a reply code ≥ 500, a relay certificate that does not
    verify or a relay without STARTTLS are permanent; the rest may pass."""
    code: int | None = None
    details: dict[str, str] = {}
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        details = {r.recipient: f"{r.code} {r.message}" for r in exc.recipients}
        code = max((r.code for r in exc.recipients), default=None)
        lowest = min((r.code for r in exc.recipients), default=0)
        permanent = lowest >= _PERMANENT
        reason = "every recipient refused: " + "; ".join(f"{k} ({v})" for k, v in details.items())
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        code, permanent, reason = exc.code, exc.code >= _PERMANENT, f"{exc.code} {exc.message}"
    else:
        verify = ssl.SSLCertVerificationError
        permanent = isinstance(exc, aiosmtplib.SMTPNotSupported | verify) or isinstance(
            exc.__cause__, verify
        )
        reason = f"{type(exc).__name__}: {exc}"
    return SendFailed(reason, permanent=permanent, attempts=attempt, code=code,
                      message_id=message_id, details=details)  # fmt: skip


def _client_tls_context(relay: RelaySettings) -> ssl.SSLContext | None:
    if relay.security == "none":
        return None
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if relay.ca_file is not None:
        context.load_verify_locations(cafile=relay.ca_file)
    return context
