"""Agents' replies out by e-mail: the conversation desk's outlet for the ``email`` channel.

The desk stores the agent's message (``queued``) with a Message-ID made beforehand with the
configured domain (``new_message_id``, registered with the outlet), so the customer's answer,
which names it in In-Reply-To and References, threads back into the conversation. The outlet
then builds the reply from the conversation: To the address the customer's latest message
asked replies to go to (else their e-mail identity), Subject "Re: " and the thread's subject,
In-Reply-To and References from the thread's Message-IDs, the message's files, and hands it to
``ReplySender``, which tries the relay again on a transient failure (the relay down, a 4xx)
with back-off and gives up at once on a permanent one (5xx).

**Sent or failed, and how long the agent waits.** The outlet waits for the relay up to
``wait_s`` (a few seconds): in the usual case the relay answers in milliseconds, and the
agent's message is marked ``sent`` (the relay took it) or ``failed`` (refused, or a reply
that cannot be sent: no address, files over the caps) truthfully before the agent's request
returns. When the relay has not answered by then (it is down and the sender is backing off),
the send goes on in the background and the outlet returns, so no request waits minutes: the
desk marks the message ``sent`` ("handed to the e-mail channel"), and if every attempt then
fails it is marked ``failed`` (delivery moves forward only, and ``failed`` may follow
``sent``) and the desk's subscribers are told, as they are of any delivery change. The same
happens when the agent's request is cancelled while waiting. The message is kept either way:
nothing an agent wrote is lost, and a failed one can be sent again.

``close`` lets background sends finish for a grace period; those still trying are then
stopped and marked failed (the relay may not have taken them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from center.email_message import address_of, is_synthetic
from channels.email.content import Attachment
from channels.email.message_ids import normalize_message_id
from channels.email.sender import Reply, ReplyRefused, ReplySender, SendFailed, SentReply
from history.conversations import Conversations
from history.errors import InvalidIdentity
from history.identities import IdentityKind, normalise_email
from history.inputs import AuthorKind, Delivery, DeliveryUpdate, Direction
from history.records import Interaction, Message

log = logging.getLogger(__name__)

__all__ = ["EmailOutlet", "Report"]

#: Told when a delivery state changed after the agent's request returned
#: (``ConversationDesk.delivery_changed``).
Report = Callable[[Interaction, Message], Awaitable[None]]
#: The newest messages of a thread read to build a reply (its headers keep at most 20 ids).
THREAD_MESSAGES = 100


@dataclass
class _Sending:
    conversation: Interaction
    message: Message
    #: the agent's request stopped waiting: the send records its own outcome
    detached: bool = False


class EmailOutlet:
    def __init__(
        self,
        conversations: Conversations,
        sender: ReplySender,
        *,
        wait_s: float = 5.0,
        report: Report | None = None,
    ) -> None:
        self._store = conversations
        self._sender = sender
        self._wait_s = wait_s
        self._report = report
        self._sending: dict[asyncio.Task[SentReply | Exception], _Sending] = {}

    def new_message_id(self) -> str:
        """The Message-ID of an agent's next reply (the configured domain)."""
        return self._sender.new_message_id()

    async def __call__(self, conversation: Interaction, message: Message) -> None:
        """Send the agent's ``message``; returns when the relay took it (or the wait is over,
        see the module's doc), raises when it was refused or cannot be sent."""
        reply = await self.reply_for(conversation, message)
        message_id = message.external_id
        if message_id is None or normalize_message_id(message_id) != message_id:
            message_id = None  # a new one: the customer's answer threads by References then
            log.warning("message %s has no Message-ID of ours; one is made to send it", message.id)
        sending = _Sending(conversation, message)
        task = asyncio.get_running_loop().create_task(
            self._send(reply, message_id, sending), name=f"email-reply-{message.id}"
        )
        self._sending[task] = sending
        task.add_done_callback(self._sent)
        try:
            async with asyncio.timeout(self._wait_s):
                outcome = await asyncio.shield(task)
        except TimeoutError:
            if not task.done():
                sending.detached = True
                log.warning(
                    "reply %s: the relay has not taken it within %.0f s; still trying",
                    message.id,
                    self._wait_s,
                )
                return
            outcome = task.result()
        except asyncio.CancelledError:
            sending.detached = True
            raise
        if isinstance(outcome, Exception):
            raise outcome

    async def reply_for(self, conversation: Interaction, message: Message) -> Reply:
        """The e-mail an agent's message becomes (``ReplyRefused`` when it cannot be one)."""
        page = await self._store.thread(conversation.id, limit=THREAD_MESSAGES)
        # the thread as the customer saw it: no automatic mail, no reply that never left
        earlier = [
            m
            for m in page.messages
            if m.id < message.id
            and m.author_kind is not AuthorKind.SYSTEM
            and m.delivery is not Delivery.FAILED
        ]
        from_customer = [
            m
            for m in earlier
            if m.direction is Direction.IN and m.author_kind is AuthorKind.CUSTOMER
        ]
        address = next(
            (a for m in reversed(from_customer) if (a := address_of(m.author_name)) is not None),
            None,
        ) or await self._identity_address(conversation)
        if address is None:
            raise ReplyRefused(f"conversation {conversation.id} has no address to reply to")
        subject = message.subject or next((m.subject for m in reversed(earlier) if m.subject), "")
        ids = tuple(
            m.external_id
            for m in earlier
            if m.external_id and "@" in m.external_id and not is_synthetic(m.external_id)
        )
        files = []
        for attached in message.attachments:
            found, data = await self._store.read_attachment(
                conversation.id, message.id, attached.id
            )
            files.append(Attachment(found.filename, found.content_type, data))
        return Reply(
            to=(address,),
            subject=subject,
            body=message.body,
            conversation_message_ids=ids,
            attachments=tuple(files),
        )

    async def close(self, grace_s: float = 10.0) -> None:
        """See the module's doc."""
        pending = list(self._sending)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace_s)
        stopped = [self._sending[task] for task in late if task in self._sending]
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for sending in stopped:
            log.error("reply %s not sent: the service stopped", sending.message.id)
            await self._record(sending, Delivery.FAILED)

    async def _identity_address(self, conversation: Interaction) -> str | None:
        if conversation.customer_id is None:
            return None
        customer = await self._store.repository.get_customer(conversation.customer_id)
        for identity in customer.identities:
            if identity.kind is IdentityKind.EMAIL:
                try:
                    return normalise_email(identity.value)
                except InvalidIdentity:
                    continue
        return None

    async def _send(
        self, reply: Reply, message_id: str | None, sending: _Sending
    ) -> SentReply | Exception:
        """The relay's answer, as a value: nobody may be waiting for this task any more."""
        outcome: SentReply | Exception
        try:
            outcome = await self._sender.send(reply, message_id=message_id)
        except (SendFailed, ReplyRefused) as failure:
            outcome = failure
        except Exception as error:  # any fault of the send: the reply failed
            log.exception("reply %s: sending failed", sending.message.id)
            outcome = error
        if sending.detached:
            state = Delivery.FAILED if isinstance(outcome, Exception) else Delivery.SENT
            await self._record(sending, state)
        return outcome

    def _sent(self, task: asyncio.Task[SentReply | Exception]) -> None:
        self._sending.pop(task, None)

    async def _record(self, sending: _Sending, state: Delivery) -> None:
        """A delivery state reached after the agent's request returned: stored and told."""
        conversation, message = sending.conversation, sending.message
        try:
            done = await self._store.set_delivery(
                conversation.id, message.id, DeliveryUpdate(delivery=state)
            )
            if done.changed and self._report is not None:
                await self._report(conversation, done.message)
        except Exception:
            log.exception("reply %s: delivery %s not recorded", message.id, state.value)
