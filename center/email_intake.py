"""Customers' e-mail into the conversation desk: the SMTP server's ``on_mail``.

For each message the SMTP server received (``InboundEmail``, within its limits):

1. the sender is the address a reply goes to (``center.email_message``), the customer whose
   e-mail identity it is (a stranger becomes a new customer, as on every channel);
2. its conversation is the one holding a message whose Message-ID it names: its own (a
   duplicate delivery), In-Reply-To, then References newest first, in one query restricted to
   that customer's e-mail conversations, so a forged References header cannot thread a
   message into somebody else's; none, and a new conversation is opened for it (an e-mail
   thread is a conversation: a new message that replies to nothing is a new one, even while
   the customer has another open, as mail desks do);
3. a person's message goes to ``ConversationDesk.customer_wrote``: stored (with its files and
   a note of what was left out), then routed as a task unless its conversation already has
   one; automatic mail (auto-replies, bounces, lists, our own address) is stored in its
   conversation as a ``system`` message and never routed, and a conversation opened for one
   is closed at once (resolved, disposition ``automatic mail``): hotline sends nothing to a
   machine, so no mail loop can start here;
4. ``on_mail`` returns once the message is stored: the SMTP server's 250 means it is durable.
   A failure (the database down) raises, and the sender is told 451 and tries again later;
   every step is idempotent (the conversation by a key made from the sender and the
   Message-ID, the message by its Message-ID), so the retry finishes what was begun and
   stores nothing twice. A message the store cannot take as it is (a value out of bounds)
   is refused (554).

The work for one message runs as a task of its own: the SMTP server's callback deadline
ends only the wait (451), never a write half-way; a second delivery of the same message
while the first is being taken waits for it rather than racing it. At most ``max_storing``
messages are stored at once, the others waiting in turn: fifty senders at once would
otherwise queue on SQLite's write lock past its busy timeout (451s, and the desk's own
background writes lost), while a few at a time keep the store as busy as it can be.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pydantic import ValidationError

from center.conversations import ConversationDesk
from center.email_message import StoredEmail, stored_email
from channels.email.limits import MailRefused
from channels.email.message import InboundEmail
from history.conversations import Conversations
from history.errors import ConversationConflict, InvalidAttachment, TooLarge
from history.identities import IdentityKind
from history.inputs import (
    AuthorKind,
    Channel,
    Direction,
    IdentityIn,
    InteractionUpdate,
    NewConversation,
    NewMessage,
    Status,
)
from history.records import Interaction

log = logging.getLogger(__name__)

__all__ = ["AUTOMATIC_DISPOSITION", "EMAIL_SOURCE", "EmailIntake", "IntakeCounts"]

#: The interaction source of conversations the e-mail channel opens.
EMAIL_SOURCE = "email"
#: How a conversation opened by automatic mail is closed.
AUTOMATIC_DISPOSITION = "automatic mail"
#: Messages stored at once; the others wait their turn in the loop (a store writes one at a
#: time anyway: SQLite's writers queue on its lock, and give up after its busy timeout).
MAX_STORING = 2


@dataclass
class IntakeCounts:
    """What the intake did since it started, for the service's metrics."""

    taken: int = 0  # messages from people handed to the desk (repeated deliveries included)
    automatic: int = 0  # automatic messages kept, not routed (repeated deliveries not)


class EmailIntake:
    def __init__(
        self,
        desk: ConversationDesk,
        conversations: Conversations,
        *,
        own_addresses: frozenset[str] = frozenset(),
        max_storing: int = MAX_STORING,
    ) -> None:
        self._desk = desk
        self._store = conversations
        self._own = frozenset(address.lower() for address in own_addresses)
        self._taking: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_storing)
        self.counts = IntakeCounts()

    @property
    def in_progress(self) -> int:
        """Messages being taken now (their senders waiting, or told 451 already)."""
        return len(self._taking)

    async def on_mail(self, email: InboundEmail, raw: bytes) -> None:
        """The SMTP server's callback (see the module's doc)."""
        stored = stored_email(email, raw, self._store.limits, own_addresses=self._own)
        key = stored.open_key
        task = self._taking.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._take(stored), name="email-take")
            self._taking[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:  # the SMTP deadline: the sender is told 451
            task.add_done_callback(_said_if_failed)
            raise

    async def close(self, grace_s: float = 10.0) -> None:
        """Let messages being taken finish (``grace_s`` at most), then cancel the rest: their
        senders were not told 250 and will send them again."""
        pending = list(self._taking.values())
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        if self._taking.get(key) is task:
            del self._taking[key]
        if not task.cancelled():
            task.exception()  # retrieved: the callers that awaited it were told

    async def _take(self, stored: StoredEmail) -> None:
        async with self._slots:
            await self._take_now(stored)

    async def _take_now(self, stored: StoredEmail) -> None:
        identity = IdentityIn(kind=IdentityKind.EMAIL, value=stored.identity)
        try:
            conversation = await self._thread(stored)
            if conversation is None:
                conversation = await self._open(stored, identity)
            if stored.automatic:
                await self._keep_automatic(conversation, stored)
            else:
                await self._hand_over(conversation, stored)
        except (ValidationError, TooLarge, InvalidAttachment, ConversationConflict) as error:
            # the same message would fail again: refused (554), the sender's system says why
            log.warning("e-mail %s refused: %s", stored.external_id, _first_line(error))
            raise MailRefused(f"the message cannot be stored: {_first_line(error)}") from error

    async def _thread(self, stored: StoredEmail) -> Interaction | None:
        """The sender's e-mail conversation this message is in or replies to."""
        repository = self._store.repository
        customer = await repository.find_customer(IdentityKind.EMAIL, stored.identity)
        if customer is None:  # a stranger has no conversation yet
            return None
        return await self._store.conversation_of_external_id(
            stored.thread_keys, customer_id=customer.id, channel=Channel.EMAIL
        )

    async def _open(self, stored: StoredEmail, identity: IdentityIn) -> Interaction:
        opened = await self._store.open_conversation(
            NewConversation(
                channel=Channel.EMAIL,
                identity=identity,
                reuse=False,
                source=EMAIL_SOURCE,
                idempotency_key=stored.open_key,
            )
        )
        return opened.conversation

    async def _hand_over(self, conversation: Interaction, stored: StoredEmail) -> None:
        await self._desk.customer_wrote(
            Channel.EMAIL.value,
            stored.body,
            conversation_id=conversation.id,
            author_name=stored.author_name,
            subject=stored.subject,
            external_id=stored.external_id,
            in_reply_to=stored.in_reply_to,
            references=stored.references,
            attachments=stored.attachments,
        )
        self.counts.taken += 1

    async def _keep_automatic(self, conversation: Interaction, stored: StoredEmail) -> None:
        appended = await self._store.append_message(
            NewMessage(
                conversation_id=conversation.id,
                direction=Direction.IN,
                author_kind=AuthorKind.SYSTEM,
                author_name=stored.author_name,
                body=stored.body,
                subject=stored.subject,
                external_id=stored.external_id,
                in_reply_to=stored.in_reply_to,
                references=stored.references,
            ),
            attachments=stored.attachments,
        )
        if appended.created:
            self.counts.automatic += 1
            log.info("automatic e-mail kept in conversation %s, not routed", conversation.id)
            await self._desk.message_appended(conversation, appended.message)  # shown, not routed
        opened_for_it = conversation.idempotency_key == stored.open_key
        if opened_for_it and conversation.status is Status.OPEN:
            await self._store.repository.update_interaction(
                conversation.id,
                InteractionUpdate(status=Status.RESOLVED, disposition=AUTOMATIC_DISPOSITION),
            )


def _said_if_failed(task: asyncio.Task[None]) -> None:
    """A message whose sender stopped waiting: its failure is logged here (or nowhere)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("e-mail taken after its sender was told 451 failed: %s", _first_line(error))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
