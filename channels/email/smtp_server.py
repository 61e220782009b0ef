"""The inbound SMTP server: customers' mail for the contact center's addresses, received in
the service's own asyncio loop.

aiosmtpd's ``SMTP`` is an asyncio protocol; the server is ``loop.create_server`` with it, not
aiosmtpd's ``Controller`` (which starts a second event loop in a thread): the callback then
runs in the service's loop beside the ACD and the history writer, with no cross-thread hand-
off, and it starts, stops and is cancelled with the service.

**Nothing accepted is lost.** The reply to DATA is ``250`` only after ``on_mail(email, raw)``
returned: the caller makes the message durable before it returns. A callback that raises
(or overruns ``callback_timeout_s``) gets ``451``: the sender keeps the message and tries
again later, as SMTP senders do for days. A message that cannot be accepted at all (over the
size or header limits) or that the callback refuses with ``MailRefused`` gets ``554`` with
the reason, so the sender's own system tells the customer. The same bytes may therefore
arrive twice (a 250 lost with the connection): the caller deduplicates by Message-ID
(``threading.thread_keys`` puts a message's own id first for that).

**Only for our addresses.** It receives for the configured addresses and domains, refuses
every other recipient at RCPT (550), and forwards nothing anywhere: it cannot be used as a
relay, so it needs no AUTH (it offers none; AUTH is answered 502). It is the destination
of a public MX or of the company's own mail system forwarding to it.

**Bounded.** SIZE is advertised in EHLO and enforced (552 at MAIL ``SIZE=`` and during
DATA); connections overall and per peer, messages per peer per minute (``smtp_policy``),
recipients per message (452), the time between commands, for DATA and for the callback are
capped; a silent client gets ``421`` and is disconnected. Messages larger than
``inline_parse_bytes`` are parsed in a worker thread so a 25 MB message does not hold up
the loop. STARTTLS is offered when a certificate is configured (never required: a
sender's MTA that cannot do TLS still delivers).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.charsets import repair
from channels.email.limits import MailLimits, MailRefused
from channels.email.message import InboundEmail, SmtpEnvelope, parse_email
from channels.email.smtp_policy import (
    AcceptedRecipients,
    PeerLimits,
    PeerLimitSettings,
    Recipient,
    peer_key,
)

log = logging.getLogger("channels.email.smtp")

#: What the service does with a received message; it returns once the message is durable.
#: ``MailRefused`` refuses it (554); any other exception defers it (451).
OnMail = Callable[[InboundEmail, bytes], Awaitable[None]]

# -- the replies this server writes (RFC 5321 codes, RFC 3463 enhanced codes in the text) ---
REPLY_ACCEPTED = "250 2.0.0 OK: message accepted"
REPLY_SENDER_OK = "250 2.1.0 OK"
REPLY_RECIPIENT_OK = "250 2.1.5 OK"
REPLY_DEFERRED = "451 4.3.0 Temporary failure: please try again later"
REPLY_RATE = "450 4.7.1 Too many messages from your address: please try again later"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_UNKNOWN_MAILBOX = "550 5.1.1 No such mailbox here"
REPLY_NO_RELAY = "550 5.7.1 Relaying not permitted: this server receives only its own mail"
REPLY_REFUSED = "554 5.6.0 Message refused:"  # + the reason
REPLY_NO_AUTH = "502 5.5.1 AUTH not offered: this server receives only its own mail"
REPLY_TOO_MANY_CONNECTIONS = "421 4.7.0 {host} {reason}: please try again later"
REPLY_TIMEOUT = "421 4.4.2 {host} Timeout: closing the connection"
REPLY_SHUTDOWN = "421 4.3.2 {host} Shutting down: please try again later"
_AUTH_KEYWORD = "250-AUTH"
_NULL_SENDER = "<>"
_GREETING_IDENT = "hotline ESMTP"
_REPLY_TEXT_UNSAFE = re.compile(r"[^\x20-\x7e]+")
_MAX_REPLY_TEXT = 300
_MAX_HELO_CHARS = 255
_PARSERS_OFF_LOOP = 2  # parses of large messages at once in worker threads
_COMMAND_SIZE_DEFAULT = 512  # aiosmtpd's own (RFC 5321 §4.5.3.1.4)


@dataclass(frozen=True)
class SmtpServerSettings:
    #: addresses ("support@example.com") and domains ("example.com") mail is received for
    accepted_recipients: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 2525  # 25 in production (an MX), behind a port map or with the capability
    hostname: str = "localhost"  # the name in the greeting and in EHLO
    limits: MailLimits = field(default_factory=MailLimits)
    peers: PeerLimitSettings = field(default_factory=PeerLimitSettings)
    max_recipients: int = 50
    command_timeout_s: float = 60.0  # idle time between commands
    data_timeout_s: float = 300.0  # the whole DATA transfer
    callback_timeout_s: float = 60.0  # on_mail, after which the sender is told 451
    max_line_bytes: int = 8192  # lenient on long lines (RFC: 1000) like Postfix; mailers do it
    inline_parse_bytes: int = 256 * 1024  # larger messages are parsed off the loop
    tls_cert_file: str | None = None  # with tls_key_file: STARTTLS is offered
    tls_key_file: str | None = None

    def __post_init__(self) -> None:
        AcceptedRecipients.parse(self.accepted_recipients)  # ValueError when unusable
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("STARTTLS needs both tls_cert_file and tls_key_file")
        if min(self.command_timeout_s, self.data_timeout_s, self.callback_timeout_s) <= 0:
            raise ValueError("SMTP timeouts must be positive")
        if self.max_recipients < 1 or self.max_line_bytes < 1001:
            raise ValueError("max_recipients must be ≥ 1 and max_line_bytes ≥ 1001 (RFC 5321)")


@dataclass
class SmtpCounts:
    """What the server did since it started, for the service's metrics."""

    accepted: int = 0
    deferred: int = 0  # 451: the callback failed; the sender will try again
    refused: int = 0  # 554
    recipients_refused: int = 0  # 550
    connections_refused: int = 0  # 421 at connect: over a connection limit
    rate_limited: int = 0  # 450 at MAIL


def _reply_text(reason: str) -> str:
    return _REPLY_TEXT_UNSAFE.sub(" ", reason).strip()[:_MAX_REPLY_TEXT]


def _peer_ip(session: Session) -> str:
    peer: Any = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"


class _Handler:
    """aiosmtpd's hooks: the server's decisions at each command."""

    def __init__(self, server: InboundSmtpServer) -> None:
        self._server = server

    async def handle_EHLO(
        self, smtp: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [line for line in responses if not line.startswith(_AUTH_KEYWORD)]

    async def handle_MAIL(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        server = self._server
        if not server.peer_limits.take_message(peer_key(_peer_ip(session))):
            server.counts.rate_limited += 1
            return REPLY_RATE
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return REPLY_SENDER_OK

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        server = self._server
        if len(envelope.rcpt_tos) >= server.settings.max_recipients:
            return REPLY_TOO_MANY_RECIPIENTS
        decision = server.recipients.decide(address)
        if decision is not Recipient.ACCEPTED:
            server.counts.recipients_refused += 1
            log.info("SMTP from %s: recipient refused (%s)", _peer_ip(session), decision.value)
            if decision is Recipient.UNKNOWN_MAILBOX:
                return REPLY_UNKNOWN_MAILBOX
            return REPLY_NO_RELAY
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return REPLY_RECIPIENT_OK

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        server = self._server
        if isinstance(smtp, _SmtpSession):  # no idle timeout while the callback works
            smtp.hold_for(server.settings.callback_timeout_s + server.settings.data_timeout_s)
        helo = _reply_text(session.host_name or "")[:_MAX_HELO_CHARS]
        mail_from = envelope.mail_from or ""
        arrival = SmtpEnvelope(  # SMTPUTF8 addresses may hold raw bytes: made valid text
            peer=_peer_ip(session),
            helo=helo,
            mail_from="" if mail_from == _NULL_SENDER else repair(mail_from),
            recipients=tuple(repair(address) for address in envelope.rcpt_tos),
        )
        return await server.deliver(envelope.original_content or b"", arrival)


class _SmtpSession(SMTP):
    """One SMTP connection: aiosmtpd's protocol, plus the connection limits at connect, a
    421 before a timeout closes it, and a DATA deadline of its own."""

    def __init__(self, server: InboundSmtpServer, **kwargs: Any) -> None:
        # per instance: aiosmtpd's class-level dict is shared by every connection and grows
        # by 26 bytes at every EHLO
        self.command_size_limits = collections.defaultdict(lambda: _COMMAND_SIZE_DEFAULT)
        self.line_length_limit = server.settings.max_line_bytes
        super().__init__(server.handler, **kwargs)
        self._server = server
        self._peer: str | None = None  # set once admitted
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and self._peer is None:  # not the STARTTLS one
            peername = transport.get_extra_info("peername")
            peer = peer_key(str(peername[0]) if peername else "?")
            reason = self._server.admit(peer, self)
            if reason is not None:
                self._refused = True
                host = self._server.settings.hostname
                reply = REPLY_TOO_MANY_CONNECTIONS.format(host=host, reason=reason)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(f"{reply}\r\n".encode())
                transport.close()
                return
            self._peer = peer
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._peer is not None:
            self._server.release(self._peer, self)
            self._peer = None
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(REPLY_NO_AUTH)

    async def smtp_DATA(self, arg: str) -> None:
        self.hold_for(self._server.settings.data_timeout_s)
        await super().smtp_DATA(arg)
        self.hold_for(None)

    def hold_for(self, seconds: float | None) -> None:
        """The next deadline: ``seconds`` from now, or the command timeout for None."""
        if self.transport is not None:
            self._reset_timeout(seconds)

    def _timeout_cb(self) -> None:
        log.info("SMTP from %s: no command for %.0f s; closing", self._peer, self._timeout_duration)
        self.say_and_close(REPLY_TIMEOUT)

    def say_and_close(self, reply: str) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(f"{reply.format(host=self._server.settings.hostname)}\r\n".encode())
            transport.close()

    @property
    def handler_task(self) -> asyncio.Task[None] | None:
        return self._handler_coroutine


def _utc_now() -> datetime:
    return datetime.now(UTC)


class InboundSmtpServer:
    """See the module's doc. ``start()`` listens; ``close()`` stops listening, lets
    deliveries in progress finish (up to ``grace_s``), then closes every connection."""

    def __init__(
        self,
        settings: SmtpServerSettings,
        on_mail: OnMail,
        *,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.port = settings.port
        self.recipients = AcceptedRecipients.parse(settings.accepted_recipients)
        self.peer_limits = PeerLimits(settings.peers, monotonic)
        self.counts = SmtpCounts()
        self.handler = _Handler(self)
        self._on_mail = on_mail
        self._clock = clock
        self._tls = _tls_context(settings)
        self._server: asyncio.Server | None = None
        self._sessions: set[_SmtpSession] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._parse_slots = asyncio.Semaphore(_PARSERS_OFF_LOOP)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self._new_session(loop), self.settings.host, self.settings.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("SMTP server listening on %s:%d for %s", self.settings.host, self.port,
                 ", ".join(self.settings.accepted_recipients))  # fmt: skip

    def _new_session(self, loop: asyncio.AbstractEventLoop) -> _SmtpSession:
        return _SmtpSession(
            self,
            data_size_limit=self.settings.limits.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.settings.hostname,
            ident=_GREETING_IDENT,
            tls_context=self._tls,
            require_starttls=False,
            timeout=self.settings.command_timeout_s,
            auth_required=False,
            loop=loop,
        )

    async def close(self, grace_s: float = 10.0) -> None:
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._idle.wait()
        tasks = [s.handler_task for s in self._sessions if s.handler_task is not None]
        for session in list(self._sessions):
            session.say_and_close(REPLY_SHUTDOWN)
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- used by the sessions ------------------------------------------------------------------

    def admit(self, peer: str, session: _SmtpSession) -> str | None:
        reason = self.peer_limits.admit(peer)
        if reason is None:
            self._sessions.add(session)
        else:
            self.counts.connections_refused += 1
            log.warning("SMTP connection from %s refused: %s", peer, reason)
        return reason

    def release(self, peer: str, session: _SmtpSession) -> None:
        self.peer_limits.release(peer)
        self._sessions.discard(session)

    async def deliver(self, raw: bytes, arrival: SmtpEnvelope) -> str:
        """The reply to a message's DATA: parse, hand over, answer (see the module's doc)."""
        self._in_flight += 1
        self._idle.clear()
        try:
            return await self._deliver(raw, arrival)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _deliver(self, raw: bytes, arrival: SmtpEnvelope) -> str:
        try:
            email = await self._parse(raw, arrival)
            async with asyncio.timeout(self.settings.callback_timeout_s):
                await self._on_mail(email, raw)
        except MailRefused as refused:
            self.counts.refused += 1
            log.info("SMTP from %s: message refused: %s", arrival.peer, refused.reason)
            return f"{REPLY_REFUSED} {_reply_text(refused.reason)}"
        except TimeoutError:
            self.counts.deferred += 1
            log.warning("SMTP from %s: the message was not taken within %.0f s; deferred (451)",
                        arrival.peer, self.settings.callback_timeout_s)  # fmt: skip
            return REPLY_DEFERRED
        except Exception:
            self.counts.deferred += 1
            log.exception("SMTP from %s: the message could not be taken; deferred (451)",
                          arrival.peer)  # fmt: skip
            return REPLY_DEFERRED
        self.counts.accepted += 1
        return REPLY_ACCEPTED

    async def _parse(self, raw: bytes, arrival: SmtpEnvelope) -> InboundEmail:
        limits, received_at = self.settings.limits, self._clock()
        if len(raw) <= self.settings.inline_parse_bytes:
            return parse_email(raw, limits, received_at, arrival)
        async with self._parse_slots:
            return await asyncio.to_thread(parse_email, raw, limits, received_at, arrival)


def _tls_context(settings: SmtpServerSettings) -> ssl.SSLContext | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context
