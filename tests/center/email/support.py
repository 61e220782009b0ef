"""The e-mail channel over real sockets on 127.0.0.1: customers' mail clients (smtplib) →
the service's SMTP server → the conversation desk and the one ACD → agents' replies → an
aiosmtpd sink playing the company's relay. The store is the test's (SQLite or PostgreSQL).
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from acd.build import build_acd
from acd.events import InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.conversation_routing import ConversationRouting
from center.conversations import ConversationDesk
from center.desk_events import DeskEvent
from center.email_channel import EmailChannel
from center.service import AcdService
from channels.email.limits import MailLimits
from channels.email.message import InboundEmail, parse_email
from channels.email.settings import EmailSettings
from history.attachments import AttachmentStore
from history.conversations import Conversations, MessageLimits
from history.records import Interaction, Message
from history.repository import HistoryRepository
from ivr.callers import HistoryDirectory
from tests.center.test_conversations import QUEUES, ROUTING, classify
from tests.e2e.stack import wait_until
from tests.history.conftest import Target

SUPPORT = "support@hotline.test"
DOMAIN = "mail.hotline.test"
NADIA = ("Nadia Haddad", "nadia@example.com")
OMAR = ("Omar Saleh", "omar@example.org")


class Relay:
    """The company's relay: keeps what it is given, answers DATA as told (then 250)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.data_replies: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), content))
        return self.data_replies.pop(0) if self.data_replies else "250 2.0.0 Ok: queued"

    def replies(self) -> list[InboundEmail]:
        """What the relay took, read back as the customer's mail system would."""
        now = datetime.now(UTC)
        return [parse_email(raw, MailLimits(), now) for *_, raw in self.messages]


def customer_mail(
    body: str,
    *,
    message_id: str,
    subject: str = "A question",
    sender: tuple[str, str] = NADIA,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = formataddr(sender)
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, data in attachments:
        message.add_attachment(data, "application", "pdf", filename=filename)
    return message.as_bytes(policy=policy.SMTP)  # CRLF, as on the wire


def answer_to(reply: InboundEmail, body: str, *, message_id: str, **changes: Any) -> bytes:
    """The customer's answer to an agent's reply, threaded as mail clients do."""
    assert reply.message_id is not None
    return customer_mail(
        body,
        message_id=message_id,
        subject=f"Re: {reply.subject}",
        in_reply_to=reply.message_id,
        references=(*reply.references, reply.message_id),
        **changes,
    )


def smtp_send(port: int, raw: bytes, mail_from: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mta.example.com", timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail(mail_from)
        smtp.rcpt(SUPPORT)
        code, text = smtp.data(raw)
        return code, text.decode()


@dataclass
class Rig:
    desk: ConversationDesk
    acd: AcdService
    store: Conversations
    channel: EmailChannel
    relay: Relay
    events: list[DeskEvent] = field(default_factory=list)

    async def send(self, raw: bytes, *, mail_from: str = "nadia@example.com") -> tuple[int, str]:
        """A customer's mail system delivers ``raw``: the reply to its DATA."""
        return await asyncio.to_thread(smtp_send, self.channel.port, raw, mail_from)

    async def conversation_with(self, message_id: str) -> Interaction:
        found = await self.store.conversation_of_external_id(message_id)
        assert found is not None, f"no conversation holds {message_id}"
        return found

    async def thread(self, conversation_id: int) -> tuple[Message, ...]:
        return (await self.store.thread(conversation_id)).messages

    async def settle(self) -> None:
        await self.desk.flush()

    def kinds(self, conversation_id: int) -> list[str]:
        return [e.kind for e in self.events if e.conversation_id == conversation_id]

    async def offered_to(self, agent: str, conversation_id: int) -> None:
        await wait_until(lambda: self.desk.holder(conversation_id) == agent, 5)


def email_settings(relay_port: int, **changes: Any) -> EmailSettings:
    relay = {"host": "127.0.0.1", "port": relay_port, "security": "none", "timeout_s": 5}
    relay.update(changes.pop("relay", {}))
    values: dict[str, Any] = {
        "enabled": True,
        "port": 0,
        "hostname": "mx.hotline.test",
        "accepted_recipients": [SUPPORT],
        "from_address": SUPPORT,
        "from_name": "Hotline Support",
        "message_id_domain": DOMAIN,
        "relay": relay,
    }
    values.update(changes)
    return EmailSettings.model_validate(values)


@asynccontextmanager
async def email_rig(
    target: Target,
    tmp_path: Path,
    *,
    message_limits: MessageLimits | None = None,
    relay_port: int | None = None,
    routing: ConversationRouting = ROUTING,
    **email: Any,
) -> AsyncIterator[Rig]:
    engine = target.engine()
    repository = HistoryRepository(engine, attachments=AttachmentStore(tmp_path / "files"))
    store = Conversations(repository, limits=message_limits)
    setup = build_acd(
        PriorityConfig.model_validate({}),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0},
                "capacity": {"digital": {"email": 2}},
                "agents": [
                    {"id": "tech", "skills": {"internet": 2}},
                    {"id": "cashier", "skills": {"billing": 2}},
                ],
            }
        ),
    )
    acd = AcdService(setup, sink=InMemoryEventSink())
    await acd.start()
    desk = ConversationDesk(
        store, acd, routing, directory=HistoryDirectory(repository), classify=classify
    )
    relay = Relay()
    loop = asyncio.get_running_loop()
    sink = await loop.create_server(
        lambda: SMTP(relay, hostname="relay.test", loop=loop), "127.0.0.1", 0
    )
    port = relay_port if relay_port is not None else sink.sockets[0].getsockname()[1]
    channel = EmailChannel(email_settings(port, **email), desk, store, environ={})
    rig = Rig(desk, acd, store, channel, relay)
    desk.subscribe(rig.events.append)
    await channel.start()
    try:
        yield rig
    finally:
        await channel.close(grace_s=2)
        await desk.stop()
        await acd.close()
        sink.close()
        await sink.wait_closed()
        await engine.dispose()
