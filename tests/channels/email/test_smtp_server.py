"""InboundSmtpServer over real sockets on 127.0.0.1, with the stdlib's smtplib as the
sender's MTA (run in a thread: it blocks)."""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from channels.email.limits import MailLimits, MailRefused
from channels.email.message import InboundEmail
from channels.email.smtp_policy import PeerLimitSettings
from channels.email.smtp_server import InboundSmtpServer, OnMail, SmtpServerSettings
from tests.channels.email import samples
from tests.channels.email.conftest import Certificate

SUPPORT = "support@hotline.test"
CUSTOMER = "customer@example.com"
SETTINGS = SmtpServerSettings(
    accepted_recipients=(SUPPORT, "sales@hotline.test"),
    host="127.0.0.1",
    port=0,
    hostname="mx.hotline.test",
    limits=MailLimits(max_message_bytes=200_000),
)


class Mailbox:
    """The service's side: what on_mail was given, and how it answers."""

    def __init__(self) -> None:
        self.received: list[tuple[InboundEmail, bytes]] = []
        self.behaviour: list[Callable[[], Awaitable[None]]] = []  # one per call, then store

    async def on_mail(self, email: InboundEmail, raw: bytes) -> None:
        if self.behaviour:
            await self.behaviour.pop(0)()
        self.received.append((email, raw))


Serve = Callable[..., Awaitable[InboundSmtpServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[InboundSmtpServer] = []

    async def start(on_mail: OnMail, **changes: Any) -> InboundSmtpServer:
        server = InboundSmtpServer(dataclasses.replace(SETTINGS, **changes), on_mail)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close(grace_s=1.0)


def client(port: int) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", port, local_hostname="mta.example.com", timeout=10)


def send(port: int, raw: bytes, to: tuple[str, ...] = (SUPPORT,), sender: str = CUSTOMER) -> Any:
    with client(port) as smtp:
        return smtp.sendmail(sender, list(to), raw)


async def test_the_250_comes_only_after_the_callback_returned(serve: Serve) -> None:
    order: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def on_mail(email: InboundEmail, raw: bytes) -> None:
        started.set()
        await release.wait()
        order.append(f"stored {email.message_id}")

    server = await serve(on_mail)

    def deliver() -> None:
        send(server.port, samples.GMAIL_ALTERNATIVE)
        order.append("250 seen by the sender")

    delivery = asyncio.create_task(asyncio.to_thread(deliver))
    await started.wait()
    await asyncio.sleep(0.1)
    assert not delivery.done()
    release.set()
    await delivery
    assert order == ["stored <CAF=abc123+XyZ@mail.gmail.com>", "250 seen by the sender"]
    assert server.counts.accepted == 1


async def test_the_callback_gets_the_parsed_message_the_raw_bytes_and_the_envelope(
    serve: Serve,
) -> None:
    mailbox = Mailbox()
    server = await serve(mailbox.on_mail)
    await asyncio.to_thread(
        send, server.port, samples.APPLE_NESTED, (SUPPORT, "sales@hotline.test")
    )
    [(email, raw)] = mailbox.received
    assert raw == samples.APPLE_NESTED
    assert email.subject == "Contrat et photo"
    assert [a.filename for a in email.attachments] == ["contrat signé.pdf", "notes.txt"]
    assert email.envelope is not None
    assert email.envelope.peer == "127.0.0.1"
    assert email.envelope.helo == "mta.example.com"
    assert email.envelope.mail_from == CUSTOMER
    assert email.envelope.recipients == (SUPPORT, "sales@hotline.test")


async def test_a_failing_callback_gets_451_and_the_retry_is_accepted_once(serve: Serve) -> None:
    mailbox = Mailbox()

    async def database_down() -> None:
        raise ConnectionError("the history store is down")

    mailbox.behaviour.append(database_down)
    server = await serve(mailbox.on_mail)
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE)
    assert deferred.value.smtp_code == 451
    assert mailbox.received == []
    await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE)  # the MTA retries
    assert len(mailbox.received) == 1
    assert (server.counts.deferred, server.counts.accepted) == (1, 1)


async def test_a_callback_that_takes_too_long_gets_451(serve: Serve) -> None:
    mailbox = Mailbox()
    mailbox.behaviour.append(lambda: asyncio.sleep(5))
    server = await serve(mailbox.on_mail, callback_timeout_s=0.2)
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE)
    assert deferred.value.smtp_code == 451
    assert mailbox.received == []


async def test_a_callback_refusing_the_content_gets_554_with_its_reason(serve: Serve) -> None:
    mailbox = Mailbox()

    async def blocked() -> None:
        raise MailRefused("sender blocked\r\nby policy")

    mailbox.behaviour.append(blocked)
    server = await serve(mailbox.on_mail)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE)
    assert refused.value.smtp_code == 554
    assert refused.value.smtp_error == b"5.6.0 Message refused: sender blocked by policy"


async def test_content_that_cannot_be_accepted_gets_554(serve: Serve) -> None:
    mailbox = Mailbox()
    server = await serve(mailbox.on_mail, limits=MailLimits(max_header_bytes=1000))
    raw = samples.message("From: a@example.com\nX-Junk: " + "x" * 2000)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send, server.port, raw)
    assert refused.value.smtp_code == 554
    assert b"header section of" in refused.value.smtp_error
    assert mailbox.received == []


async def test_the_size_limit_is_announced_in_ehlo(serve: Serve) -> None:
    server = await serve(Mailbox().on_mail)

    def features() -> dict[str, str]:
        with client(server.port) as smtp:
            smtp.ehlo()
            return smtp.esmtp_features

    found = await asyncio.to_thread(features)
    assert found["size"] == "200000"
    assert "auth" not in found
    assert "starttls" not in found
    assert "smtputf8" in found
    assert "8bitmime" in found


async def test_an_oversized_message_gets_552_declared_or_not(serve: Serve) -> None:
    mailbox = Mailbox()
    server = await serve(mailbox.on_mail)
    big = samples.typical(1, attachment=b"x" * 250_000)
    with pytest.raises(smtplib.SMTPSenderRefused) as declared:  # MAIL FROM ... SIZE=
        await asyncio.to_thread(send, server.port, big)
    assert declared.value.smtp_code == 552

    def undeclared() -> tuple[int, bytes]:
        with client(server.port) as smtp:
            smtp.ehlo()
            smtp.mail(CUSTOMER)
            smtp.rcpt(SUPPORT)
            return smtp.data(big)

    code, _ = await asyncio.to_thread(undeclared)
    assert code == 552
    assert mailbox.received == []


async def test_unknown_recipients_get_550_and_the_server_relays_nothing(serve: Serve) -> None:
    mailbox = Mailbox()
    server = await serve(mailbox.on_mail)
    for stranger in ("nobody@hotline.test", "victim@elsewhere.example"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE, (stranger,))
        assert refused.value.recipients[stranger][0] == 550
    refusals = await asyncio.to_thread(
        send, server.port, samples.GMAIL_ALTERNATIVE, (SUPPORT, "victim@elsewhere.example")
    )
    relay_refused = b"5.7.1 Relaying not permitted: this server receives only its own mail"
    assert refusals == {"victim@elsewhere.example": (550, relay_refused)}
    [(email, _)] = mailbox.received
    assert email.envelope is not None
    assert email.envelope.recipients == (SUPPORT,)


async def test_recipients_past_the_limit_get_452(serve: Serve) -> None:
    server = await serve(Mailbox().on_mail, max_recipients=1, accepted_recipients=("hotline.test",))
    refusals = await asyncio.to_thread(
        send, server.port, samples.GMAIL_ALTERNATIVE, (SUPPORT, "sales@hotline.test")
    )
    assert refusals["sales@hotline.test"][0] == 452


async def test_a_silent_client_is_told_421_and_disconnected(serve: Serve) -> None:
    server = await serve(Mailbox().on_mail, command_timeout_s=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        async with asyncio.timeout(10):
            greeting = await reader.readline()
            writer.write(b"EHLO slow.example.com\r\n")
            while not (await reader.readline()).startswith(b"250 "):
                pass
            timeout_reply = await reader.readline()  # the client then says nothing
            end = await reader.read()
    finally:
        writer.close()
    assert greeting.startswith(b"220 mx.hotline.test")
    assert timeout_reply == b"421 4.4.2 mx.hotline.test Timeout: closing the connection\r\n"
    assert end == b""


async def test_a_peer_over_its_connection_limit_is_told_421(serve: Serve) -> None:
    server = await serve(Mailbox().on_mail, peers=PeerLimitSettings(max_connections_per_peer=1))
    first = await asyncio.to_thread(client, server.port)
    try:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            await asyncio.to_thread(client, server.port)
        assert refused.value.smtp_code == 421
        assert b"too many connections from your address" in refused.value.smtp_error
    finally:
        await asyncio.to_thread(first.quit)
    for _ in range(50):  # the first one's end is counted when its connection is lost
        if server.peer_limits.total_connections == 0:
            break
        await asyncio.sleep(0.02)
    await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE)


async def test_a_peer_over_its_message_rate_is_told_450(serve: Serve) -> None:
    server = await serve(
        Mailbox().on_mail, peers=PeerLimitSettings(max_messages_per_peer_per_minute=1)
    )
    await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE)
    with pytest.raises(smtplib.SMTPSenderRefused) as limited:
        await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE)
    assert limited.value.smtp_code == 450


async def test_auth_is_not_offered(serve: Serve) -> None:
    server = await serve(Mailbox().on_mail)

    def auth() -> tuple[int, bytes]:
        with client(server.port) as smtp:
            smtp.ehlo()
            return smtp.docmd("AUTH", "PLAIN AGFAAGI=")

    assert (await asyncio.to_thread(auth))[0] == 502


async def test_a_bounce_from_the_null_sender_is_received_and_marked_automatic(
    serve: Serve,
) -> None:
    mailbox = Mailbox()
    server = await serve(mailbox.on_mail)
    await asyncio.to_thread(send, server.port, samples.GMAIL_ALTERNATIVE, (SUPPORT,), "<>")
    [(email, _)] = mailbox.received
    assert email.envelope is not None
    assert email.envelope.mail_from == ""
    assert email.automatic


async def test_raw_8bit_addresses_reach_the_callback_as_valid_text(serve: Serve) -> None:
    mailbox = Mailbox()
    server = await serve(mailbox.on_mail, accepted_recipients=("hotline.test",))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    replies = []
    try:
        async with asyncio.timeout(10):
            await reader.readline()  # the greeting
            for command in (
                b"EHLO mta.example.com",
                b"MAIL FROM:<caf\xe9@example.com> SMTPUTF8",
                b"RCPT TO:<caf\xc3\xa9@hotline.test>",
                b"DATA",
                samples.GMAIL_ALTERNATIVE + b".",
                b"QUIT",
            ):
                writer.write(command + b"\r\n")
                while (line := await reader.readline())[3:4] == b"-":
                    pass
                replies.append(line[:3])
    finally:
        writer.close()
    assert replies == [b"250", b"250", b"250", b"354", b"250", b"221"]
    [(email, _)] = mailbox.received
    assert email.envelope is not None
    assert email.envelope.mail_from == "café@example.com"  # Latin-1 byte read as Windows-1252
    assert email.envelope.recipients == ("café@hotline.test",)


async def test_a_large_message_is_parsed_off_the_loop_and_delivered(serve: Serve) -> None:
    mailbox = Mailbox()
    server = await serve(mailbox.on_mail, inline_parse_bytes=1024)
    raw = samples.typical(3)
    await asyncio.to_thread(send, server.port, raw)
    [(email, received)] = mailbox.received
    assert received == raw
    assert email.attachments[0].filename == "invoice-3.pdf"


async def test_starttls_is_offered_with_a_certificate(
    serve: Serve, certificate: Certificate
) -> None:
    mailbox = Mailbox()
    server = await serve(
        mailbox.on_mail, tls_cert_file=certificate.cert_file, tls_key_file=certificate.key_file
    )

    def deliver_over_tls() -> None:
        context = ssl.create_default_context(cafile=certificate.cert_file)
        with client(server.port) as smtp:
            smtp.starttls(context=context)
            smtp.sendmail(CUSTOMER, [SUPPORT], samples.OUTLOOK_ARABIC)

    await asyncio.to_thread(deliver_over_tls)
    [(email, _)] = mailbox.received
    assert email.body == "مرحبا، ما زلت أنتظر الاسترداد."


async def test_closing_lets_a_delivery_in_progress_finish(serve: Serve) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    stored: list[str] = []

    async def on_mail(email: InboundEmail, raw: bytes) -> None:
        started.set()
        await release.wait()
        stored.append(email.subject)

    server = await serve(on_mail)

    def deliver() -> dict[str, tuple[int, bytes]]:
        smtp = client(server.port)
        try:
            return smtp.sendmail(CUSTOMER, [SUPPORT], samples.HTML_ONLY)  # raises unless 250
        finally:
            smtp.close()  # no QUIT: the server is going away

    delivery = asyncio.create_task(asyncio.to_thread(deliver))
    await started.wait()
    closing = asyncio.create_task(server.close(grace_s=5))
    await asyncio.sleep(0.05)
    release.set()
    await closing
    assert await delivery == {}  # the sender got its 250
    assert stored == ["Order 991"]
    with pytest.raises(ConnectionRefusedError):
        await asyncio.to_thread(client, server.port)


def test_settings_refuse_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="not an address or a domain"):
        SmtpServerSettings(accepted_recipients=("nonsense",))
    with pytest.raises(ValueError, match="both tls_cert_file and tls_key_file"):
        SmtpServerSettings(accepted_recipients=(SUPPORT,), tls_cert_file="cert.pem")
