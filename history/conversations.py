"""Conversations: chats, e-mails and messaging-app threads in the history (importable alone).

A conversation is an interaction on a messaging channel (chat, e-mail, WhatsApp, SMS) with
the status every interaction has (open, resolved, postponed: change it with
``HistoryRepository.update_interaction``); its content is a thread of messages, each with
its author, time, channel and delivery state, and files kept by reference in the
attachment store (``history.attachments``)::

    repository = HistoryRepository(engine, attachments=AttachmentStore(Path("var/attachments")))
    conversations = Conversations(repository, limits=MessageLimits(max_body_chars=20_000))
    opened = await conversations.open_conversation(
        NewConversation(channel=Channel.CHAT, identity=IdentityIn(kind="chat", value="v-81"))
    )
    posted = await conversations.append_message(
        NewMessage(conversation_id=opened.conversation.id, direction="in",
                   author_kind="customer", body="Hello", external_id="client-1")
    )

Each method is one transaction and returns frozen records. Appends are idempotent by the
message's ``external_id`` (a retry returns the first message, its attachments not stored
again), delivery only moves forward, threads page by keyset. Sizes over the configured
caps are refused (``MessageTooLarge``, ``AttachmentTooLarge``) before anything is written.
Routing a conversation is not the store's job: the web API hands new conversations and
messages to a ``ConversationIntake`` when the composition root gives one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from history import convert, customers, messages
from history.attachments import (
    AttachmentData,
    AttachmentStore,
    normalise_content_type,
    sanitise_filename,
)
from history.errors import AttachmentTooLarge, HistoryError, MessageTooLarge, UnknownAttachment
from history.inputs import (
    Channel,
    DeliveryUpdate,
    IdentityIn,
    MessageContent,
    NewConversation,
    NewMessage,
)
from history.models import AttachmentRow
from history.records import Appended, Attachment, Interaction, Message, Opened, ThreadPage
from history.repository import HistoryRepository
from history.store import writing_sessions

MIB = 1024 * 1024


@dataclass(frozen=True)
class MessageLimits:
    """The configured caps (``messages`` in ``hotline.yaml``)."""

    max_body_chars: int = 100_000
    max_attachment_bytes: int = 10 * MIB
    max_message_attachment_bytes: int = 25 * MIB
    max_attachments_per_message: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Attached:
    """``add_attachment``'s answer: ``created`` is False when the message had this file
    (same content, same name) already."""

    attachment: Attachment
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivered:
    """``set_delivery``'s answer: ``changed`` is False for a report that did not move the
    state forward (a late or repeated one)."""

    message: Message
    changed: bool


class ConversationIntake(Protocol):
    """Where the API hands what it stored, for routing (the ACD's channel adapters
    implement it; the composition root passes it in). Called after the write is committed,
    once per new conversation or message (never for a retry); a failure is logged and does
    not undo the write."""

    async def conversation_opened(self, conversation: Interaction, first: Message | None) -> None:
        """A new conversation (with the message it was opened with, if any)."""

    async def message_appended(self, conversation: Interaction, message: Message) -> None:
        """A new message in a conversation that already existed. It may be the first the
        intake hears of the conversation (a request that opened it failed before its
        message was stored, and its retry continued it): treat an unknown one as new."""

    async def delivery_changed(self, conversation: Interaction, message: Message) -> None:
        """A message's delivery state moved forward."""


class Conversations:
    def __init__(self, repository: HistoryRepository, *, limits: MessageLimits | None = None):
        self.repository = repository
        self.context = repository.context
        self.limits = limits or MessageLimits()
        self._reads = async_sessionmaker(repository.engine, expire_on_commit=False)
        self._writes = writing_sessions(repository.engine)

    @property
    def attachments(self) -> AttachmentStore:
        store = self.repository.attachments
        if store is None:
            raise HistoryError("no attachment store is configured: files cannot be kept")
        return store

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._reads() as session:
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._writes() as session, session.begin():
            yield session

    # conversations

    async def open_conversation(self, new: NewConversation) -> Opened:
        """Open one, or continue the customer's open one on the channel (``reuse``)."""
        async with self._write() as session:
            row, created = await messages.open_conversation(session, self.context, new)
            return Opened(conversation=convert.interaction(row), created=created)

    async def find_open_conversation(
        self,
        channel: Channel,
        *,
        identity: IdentityIn | None = None,
        customer_id: int | None = None,
    ) -> Interaction | None:
        """The newest conversation on ``channel`` still open or postponed of the customer
        holding ``identity`` (or ``customer_id``)."""
        async with self._read() as session:
            if identity is not None:
                holder = await customers.find(session, self.context, identity.kind, identity.value)
                owner = None if holder is None else holder.id
            elif customer_id is not None:
                owner = await customers.resolve_id(session, customer_id)
            else:
                raise HistoryError("find_open_conversation needs an identity or a customer_id")
            row = None if owner is None else await messages.find_open(session, owner, channel)
            return None if row is None else convert.interaction(row)

    async def unfinished(self, *, limit: int = 10_000) -> list[Interaction]:
        """Open conversations with no outcome yet, oldest first: those a stopped service
        had queued or given to an agent, to route again at the next start."""
        async with self._read() as session:
            return [convert.interaction(row) for row in await messages.unfinished(session, limit)]

    async def get_conversation(self, conversation_id: int) -> Interaction:
        async with self._read() as session:
            return convert.interaction(await messages.conversation(session, conversation_id))

    async def conversation_of_external_id(
        self,
        external_ids: str | Sequence[str],
        *,
        customer_id: int | None = None,
        channel: Channel | None = None,
    ) -> Interaction | None:
        """The conversation holding a message with one of these ids (an e-mail's
        In-Reply-To first, then its References newest first: the first that matches wins).
        Pass the sender's ``customer_id``: a forged References header then cannot thread a
        message into somebody else's conversation."""
        wanted = [external_ids] if isinstance(external_ids, str) else list(external_ids)
        async with self._read() as session:
            row = await messages.conversation_of(
                session, wanted, customer_id=customer_id, channel=channel
            )
            return None if row is None else convert.interaction(row)

    # messages

    async def append_message(
        self, new: NewMessage, attachments: Sequence[AttachmentData] = ()
    ) -> Appended:
        """Store a message and its files. A retry (same ``external_id`` in the conversation)
        returns the first message as it stands, and stores no file again."""
        self.check_message(new, attachments)
        if attachments:
            self.attachments  # noqa: B018 (refuse before writing when there is no store)
        async with self._write() as session:
            owner = await messages.conversation(session, new.conversation_id)
            row, created = await messages.append(session, self.context, owner, new)
            if created:
                for file in attachments:
                    await self._attach(session, row, file)
            # A new message without files has none to read back.
            held = await messages.attachments_of(
                session, [row.id] if attachments or not created else []
            )
            return Appended(message=convert.message(row, held.get(row.id, ())), created=created)

    def check_message(
        self, content: MessageContent, attachments: Sequence[AttachmentData] = ()
    ) -> None:
        """Refuse a message over the caps (``append_message`` does; a caller that writes
        something else first, such as opening its conversation, can ask beforehand)."""
        if len(content.body) > self.limits.max_body_chars:
            raise MessageTooLarge(
                "the message body", len(content.body), self.limits.max_body_chars, "characters"
            )
        self._check_files(attachments, held=())

    async def get_message(self, conversation_id: int, message_id: int) -> Message:
        async with self._read() as session:
            row = await messages.message(session, conversation_id, message_id)
            held = await messages.attachments_of(session, [row.id])
            return convert.message(row, held[row.id])

    async def set_delivery(
        self, conversation_id: int, message_id: int, report: DeliveryUpdate
    ) -> Delivered:
        """Apply a delivery report; one that would move the state back changes nothing."""
        async with self._write() as session:
            row, changed = await messages.set_delivery(
                session, self.context, conversation_id, message_id, report
            )
            held = await messages.attachments_of(session, [row.id])
            return Delivered(message=convert.message(row, held[row.id]), changed=changed)

    async def thread(
        self,
        conversation_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
    ) -> ThreadPage:
        """A page of the thread, oldest first: the newest ``limit`` messages, or those just
        before ``before`` or just after ``after`` (message ids)."""
        if before is not None and after is not None:
            raise HistoryError("page a thread with before or after, not both")
        async with self._read() as session:
            owner = await messages.conversation(session, conversation_id)
            rows, older, newer = await messages.page(
                session, conversation_id, limit=limit, before=before, after=after
            )
            held = await messages.attachments_of(session, [r.id for r in rows])
            return ThreadPage(
                conversation=convert.interaction(owner),
                messages=tuple(convert.message(r, held.get(r.id, ())) for r in rows),
                older=older,
                newer=newer,
            )

    # attachments

    async def add_attachment(
        self, conversation_id: int, message_id: int, file: AttachmentData
    ) -> Attached:
        """Attach a file to a message, within the caps. The same file (content and name)
        again is not stored twice: its attachment is returned."""
        name, digest = sanitise_filename(file.filename), await _sha256(file.data)
        async with self._write() as session:
            row = await messages.message(session, conversation_id, message_id, lock=True)
            held = (await messages.attachments_of(session, [row.id])).get(row.id, [])
            for existing in held:
                if (existing.sha256, existing.filename) == (digest, name):
                    return Attached(attachment=convert.attachment(existing), created=False)
            self._check_files([file], held=held)
            attached = await self._attach(session, row, file)
            return Attached(attachment=convert.attachment(attached), created=True)

    async def get_attachment(
        self, conversation_id: int, message_id: int, attachment_id: int
    ) -> Attachment:
        async with self._read() as session:
            return convert.attachment(
                await self._attachment(session, conversation_id, message_id, attachment_id)
            )

    async def read_attachment(
        self, conversation_id: int, message_id: int, attachment_id: int
    ) -> tuple[Attachment, bytes]:
        """The attachment and its bytes (checked against their hash)."""
        found = await self.get_attachment(conversation_id, message_id, attachment_id)
        return found, await self.attachments.read(found.storage_ref)

    async def sweep_attachments(self, *, older_than_s: float = 3600.0) -> int:
        """Delete files no attachment refers to (left by a write whose transaction failed),
        if older than ``older_than_s`` (younger ones may be committed any moment)."""
        store = self.attachments
        stored = await store.stored(older_than_s=older_than_s)
        deleted = 0
        for start in range(0, len(stored), 500):
            chunk = stored[start : start + 500]
            async with self._read() as session:
                found = await session.execute(
                    select(AttachmentRow.storage_ref).where(AttachmentRow.storage_ref.in_(chunk))
                )
                referenced = set(found.scalars())
            for ref in chunk:
                if ref not in referenced and await store.delete(ref):
                    deleted += 1
        return deleted

    def _check_files(self, files: Sequence[AttachmentData], held: Sequence[Row[Any]]) -> None:
        for file in files:
            normalise_content_type(file.content_type)  # refused before anything is written
        limits = self.limits
        count = len(held) + len(files)
        if count > limits.max_attachments_per_message:
            raise AttachmentTooLarge(
                "the message's attachments", count, limits.max_attachments_per_message, "files"
            )
        for file in files:
            if len(file.data) > limits.max_attachment_bytes:
                name = sanitise_filename(file.filename)
                raise AttachmentTooLarge(
                    f"attachment {name!r}", len(file.data), limits.max_attachment_bytes, "bytes"
                )
        total = sum(a.size for a in held) + sum(len(f.data) for f in files)
        if total > limits.max_message_attachment_bytes:
            raise AttachmentTooLarge(
                "the message's attachments", total, limits.max_message_attachment_bytes, "bytes"
            )

    async def _attach(
        self, session: AsyncSession, message: Row[Any], file: AttachmentData
    ) -> AttachmentRow:
        name, kind = sanitise_filename(file.filename), normalise_content_type(file.content_type)
        stored = await self.attachments.put(file.data)
        row = AttachmentRow(
            message_id=message.id,
            filename=name,
            content_type=kind,
            size=stored.size,
            sha256=stored.sha256,
            storage_ref=stored.storage_ref,
            created_at=self.context.now(),
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:  # the same file twice in one message: kept once
            found = await session.execute(
                select(AttachmentRow).where(
                    AttachmentRow.message_id == message.id,
                    AttachmentRow.sha256 == stored.sha256,
                    AttachmentRow.filename == name,
                )
            )
            return found.scalar_one()
        return row

    async def _attachment(
        self, session: AsyncSession, conversation_id: int, message_id: int, attachment_id: int
    ) -> AttachmentRow:
        await messages.message(session, conversation_id, message_id)
        found = await session.execute(
            select(AttachmentRow).where(
                AttachmentRow.id == attachment_id, AttachmentRow.message_id == message_id
            )
        )
        row = found.scalar()
        if row is None:
            raise UnknownAttachment(attachment_id, message_id)
        return row


async def _sha256(data: bytes) -> str:
    return await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
