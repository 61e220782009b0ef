"""The agent's reply, sent to a local aiosmtpd sink playing the relay."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from channels.email.content import Attachment
from channels.email.limits import MailLimits
from channels.email.message import parse_email
from channels.email.sender import (
    RelaySettings,
    Reply,
    ReplyRefused,
    ReplySender,
    SenderIdentity,
    SendFailed,
    compose_reply,
    reply_subject,
)
from tests.channels.email import samples
from tests.channels.email.conftest import Certificate
from tests.ports import unused_port

IDENTITY = SenderIdentity("support@hotline.test", "Hotline Support", "mail.hotline.test")
REPLY = Reply(
    to=("ahmed@example.sa",),
    subject="RE: Re: AW: رد: الفاتورة",
    body="مرحبا أحمد،\nتم الاسترداد اليوم.\n",
    conversation_message_ids=("<first@hotline.test>", "<DB9PR01@Outlook.COM>"),
    attachments=(Attachment("receipt.pdf", "application/pdf", samples.PDF),),
)
PASSWORD = "s3cret-relay-password"


class Sink:
    """The relay: keeps what it is given and answers DATA as told."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.data_replies: list[str] = []  # the next DATA replies, then 250
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), content))
        return self.data_replies.pop(0) if self.data_replies else "250 2.0.0 Ok: queued as 4F2A"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.password == PASSWORD.encode())


async def start_sink(sink: Sink, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            sink,
            hostname="relay.test",
            loop=loop,
            tls_context=tls,
            authenticator=sink.authenticate,
            auth_required=tls is not None,
        ),
        "127.0.0.1",
        0,
    )


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Sink, int]]:
    sink = Sink()
    server = await start_sink(sink)
    yield sink, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def sender(port: int, sleeps: Sleeps | None = None, **changes: Any) -> ReplySender:
    settings = RelaySettings("127.0.0.1", port, security="none", timeout_s=5, **changes)
    return ReplySender(settings, IDENTITY, sleep=sleeps or Sleeps())


async def test_the_reply_arrives_with_its_threading_headers(relay: tuple[Sink, int]) -> None:
    sink, port = relay
    sent = await sender(port).send(REPLY)
    [(mail_from, rcpt_tos, raw)] = sink.messages
    assert (mail_from, rcpt_tos) == ("support@hotline.test", ["ahmed@example.sa"])
    assert sent.relay_reply == "2.0.0 Ok: queued as 4F2A"
    assert sent.attempts == 1
    email = parse_email(raw, MailLimits(), samples.RECEIVED_AT)  # read back as we read mail
    assert email.message_id == sent.message_id
    assert sent.message_id.endswith("@mail.hotline.test>")
    assert email.in_reply_to == ("<DB9PR01@outlook.com>",)
    assert email.references == ("<first@hotline.test>", "<DB9PR01@outlook.com>")
    assert email.subject == "Re: الفاتورة"
    assert (email.from_name, email.from_address) == ("Hotline Support", "support@hotline.test")
    assert email.body == "مرحبا أحمد،\nتم الاسترداد اليوم."
    assert [(a.filename, a.data) for a in email.attachments] == [("receipt.pdf", samples.PDF)]


async def test_a_relay_that_is_down_is_retried_with_back_off_then_fails_clearly() -> None:
    port = unused_port()  # a port where nothing listens
    sleeps = Sleeps()
    with pytest.raises(SendFailed) as failed:
        await sender(port, sleeps, attempts=4, first_backoff_s=2.0).send(REPLY)
    assert sleeps.delays == [2.0, 4.0, 8.0]
    assert not failed.value.permanent
    assert failed.value.attempts == 4
    assert failed.value.code is None
    assert "Connect call failed" in failed.value.reason
    assert "not sent after 4 attempt(s)" in str(failed.value)


async def test_a_4xx_is_retried_and_the_retry_is_the_same_message(
    relay: tuple[Sink, int],
) -> None:
    sink, port = relay
    sink.data_replies = ["451 4.3.0 Try again later"]
    sleeps = Sleeps()
    sent = await sender(port, sleeps).send(REPLY)
    assert sent.attempts == 2
    assert sleeps.delays == [2.0]
    first, second = (
        parse_email(raw, MailLimits(), samples.RECEIVED_AT) for *_, raw in sink.messages
    )
    assert first.message_id == second.message_id == sent.message_id


async def test_a_5xx_is_a_permanent_failure_at_once(relay: tuple[Sink, int]) -> None:
    sink, port = relay
    sink.data_replies = ["554 5.7.1 Message rejected as spam"]
    sleeps = Sleeps()
    with pytest.raises(SendFailed) as failed:
        await sender(port, sleeps).send(REPLY)
    assert failed.value.permanent
    assert failed.value.attempts == 1
    assert sleeps.delays == []
    assert failed.value.code == 554
    assert failed.value.reason == "554 5.7.1 Message rejected as spam"


async def test_every_recipient_refused_permanently_is_a_permanent_failure() -> None:
    class Refusing(Sink):
        async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                              address: str, options: list[str]) -> str:  # fmt: skip
            return "550 5.1.1 No such user"

    server = await start_sink(Refusing())
    try:
        with pytest.raises(SendFailed) as failed:
            await sender(server.sockets[0].getsockname()[1]).send(REPLY)
    finally:
        server.close()
    assert failed.value.permanent
    assert failed.value.code == 550
    assert failed.value.details == {"ahmed@example.sa": "550 5.1.1 No such user"}


async def test_starttls_and_login_with_the_password_from_the_environment(
    certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate.cert_file, certificate.key_file)
    server = await start_sink(sink, tls)
    port = server.sockets[0].getsockname()[1]
    settings = RelaySettings("127.0.0.1", port, username="hotline", password_env="RELAY_PW",
                             ca_file=certificate.cert_file, timeout_s=5)  # fmt: skip
    caplog.set_level(logging.DEBUG)
    try:
        reply_sender = ReplySender(settings, IDENTITY, environ={"RELAY_PW": PASSWORD})
        sent = await reply_sender.send(REPLY)
    finally:
        server.close()
    assert sink.logins == [(b"hotline", PASSWORD.encode())]
    assert len(sink.messages) == 1
    assert sent.attempts == 1
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(reply_sender)


async def test_a_relay_certificate_that_does_not_verify_is_permanent(
    certificate: Certificate,
) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate.cert_file, certificate.key_file)
    server = await start_sink(Sink(), tls)
    port = server.sockets[0].getsockname()[1]
    settings = RelaySettings("127.0.0.1", port, timeout_s=5)  # the system CAs only
    sleeps = Sleeps()
    try:
        with pytest.raises(SendFailed) as failed:
            await ReplySender(settings, IDENTITY, sleep=sleeps).send(REPLY)
    finally:
        server.close()
    assert failed.value.permanent
    assert sleeps.delays == []
    assert "certificate verify failed" in failed.value.reason


def test_a_missing_password_variable_is_a_configuration_error() -> None:
    settings = RelaySettings("relay.example", username="hotline", password_env="NOT_SET_HERE")
    with pytest.raises(ValueError, match="NOT_SET_HERE is not set"):
        ReplySender(settings, IDENTITY, environ={})


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Invoice", "Re: Invoice"),
        ("Re: Invoice", "Re: Invoice"),
        ("RE: re: AW: Sv: Invoice", "Re: Invoice"),
        ("Re[3]: Invoice", "Re: Invoice"),
        ("Re : Facture", "Re: Facture"),
        ("رد: الفاتورة", "Re: الفاتورة"),
        ("Fwd: Invoice", "Re: Fwd: Invoice"),
        ("", "Re: (no subject)"),
        ("Line\r\nBcc: victim@example.com", "Re: Line Bcc: victim@example.com"),
        ("x" * 500, "Re: " + "x" * 196),
    ],
)
def test_the_subject_says_re_once_and_stays_one_line(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(to=(), subject="s", body="b"), "needs a recipient"),
        (Reply(to=("a@b.com\r\nBcc: x@y.com",), subject="s", body="b"), "is not an e-mail"),
        (Reply(to=("not-an-address",), subject="s", body="b"), "is not an e-mail"),
        (
            Reply(("a@b.com",), "s", "b", attachments=(Attachment("x", "a/b", b"x" * 101),)),
            "attachment 'x' of 101 bytes is over the limit of 100",
        ),
        (
            Reply(("a@b.com",), "s", "b", attachments=(Attachment("x", "a/b", b"x"),) * 3),
            "3 attachments, over the limit of 2",
        ),
        (
            Reply(("a@b.com",), "s", "b", attachments=(Attachment("x", "a/b", b"x" * 80),) * 2),
            "attachments of 160 bytes in all, over the limit of 150",
        ),
    ],
)
def test_a_reply_that_cannot_be_sent_is_refused_before_sending(reply: Reply, reason: str) -> None:
    identity = SenderIdentity("support@hotline.test", max_attachment_bytes=100,
                              max_attachments=2, max_total_bytes=150)  # fmt: skip
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ReplyRefused, match=reason):
        compose_reply(reply, identity, message_id="<x@hotline.test>", date=now)


def test_a_new_conversation_has_no_threading_headers_and_cc_is_kept() -> None:
    reply = Reply(("a@example.com",), "Hello", "text", cc=("b@example.com", "a@example.com"))
    message = compose_reply(reply, IDENTITY, message_id="<m@hotline.test>",
                            date=datetime(2026, 3, 2, tzinfo=UTC))  # fmt: skip
    assert message["In-Reply-To"] is None
    assert message["References"] is None
    assert message["Cc"] == "b@example.com"
    assert message["Date"] == "Mon, 02 Mar 2026 00:00:00 +0000"
