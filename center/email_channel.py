"""The e-mail channel, live: the SMTP server customers' mail arrives at, into the conversation
desk (``EmailIntake``), and agents' replies out through the relay (``EmailOutlet``, the desk's
outlet for ``email``). Built from ``hotline.yaml``'s ``email:`` section by the composition
root when it is enabled; ``start`` listens, ``close`` stops taking mail, lets messages being
stored and replies being sent finish, and stops.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from center.conversations import ConversationDesk
from center.email_intake import EmailIntake
from center.email_outlet import EmailOutlet
from channels.email.sender import ReplySender
from channels.email.settings import (
    EmailSettings,
    relay_settings,
    sender_identity,
    server_settings,
)
from channels.email.smtp_policy import AcceptedRecipients
from channels.email.smtp_server import InboundSmtpServer
from history.conversations import Conversations
from history.inputs import Channel

log = logging.getLogger(__name__)

__all__ = ["EmailChannel"]


class EmailChannel:
    def __init__(
        self,
        settings: EmailSettings,
        desk: ConversationDesk,
        conversations: Conversations,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``ValueError`` when the relay's password variable is not set."""
        identity = sender_identity(settings)
        self.sender = ReplySender(
            relay_settings(settings), identity, environ=os.environ if environ is None else environ
        )
        self.outlet = EmailOutlet(
            conversations, self.sender, wait_s=settings.reply_wait_s, report=desk.delivery_changed
        )
        # mail from our own addresses is a loop (our reply come back): kept, never routed
        ours = AcceptedRecipients.parse(settings.accepted_recipients).addresses
        self.intake = EmailIntake(
            desk, conversations, own_addresses=frozenset({identity.address.lower(), *ours})
        )
        self.server = InboundSmtpServer(server_settings(settings), self.intake.on_mail)
        desk.register_outlet(
            Channel.EMAIL.value, self.outlet, message_ids=self.outlet.new_message_id
        )

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.server.start()

    async def close(self, grace_s: float = 10.0) -> None:
        await self.server.close(grace_s)
        await self.intake.close(grace_s)
        await self.outlet.close(grace_s)
