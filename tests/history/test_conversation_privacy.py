"""A customer's conversations under the rights of access and erasure: messages and
attachments are exported, and erased everywhere they land (rows and files)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from history.attachments import AttachmentData, AttachmentStore
from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import (
    AuthorKind,
    Channel,
    Delivery,
    Direction,
    IdentityIn,
    NewConversation,
    NewMessage,
)
from history.models import AttachmentRow, MessageRow
from history.repository import HistoryRepository

from .conftest import ManualClock

JANE_SECRETS = (
    "Jane",
    "jane@example.com",
    "my card ends 4242",
    "Order 7731",
    "<jane-1@mail.example>",
    "passport.png",
    "jane-cv",
)
BOB = IdentityIn(kind=IdentityKind.CHAT, value="bob")
SHARED = AttachmentData("terms.pdf", "application/pdf", b"%PDF our terms, sent to everyone")
PASSPORT = AttachmentData("passport.png", "image/png", b"\x89PNG jane's passport scan")


async def _jane_writes(conversations: Conversations) -> tuple[int, int]:
    mail = await conversations.open_conversation(
        NewConversation(
            channel=Channel.EMAIL,
            identity=IdentityIn(kind=IdentityKind.EMAIL, value="jane@example.com"),
        )
    )
    talk = mail.conversation.id
    posted = await conversations.append_message(
        NewMessage(
            conversation_id=talk,
            direction=Direction.IN,
            author_kind=AuthorKind.CUSTOMER,
            author_id="jane@example.com",
            author_name="Jane Doe",
            subject="Order 7731",
            body="Hello, my card ends 4242",
            external_id="<jane-1@mail.example>",
        ),
        [PASSPORT, SHARED],
    )
    await conversations.append_message(
        NewMessage(
            conversation_id=talk,
            direction=Direction.OUT,
            author_kind=AuthorKind.AGENT,
            author_id="a1001",
            author_name="Sam",
            body="Thanks Jane, about Order 7731",
            in_reply_to="<jane-1@mail.example>",
            references="<jane-1@mail.example>",
        )
    )
    assert mail.conversation.customer_id is not None
    return mail.conversation.customer_id, posted.message.id


async def _bob_writes(conversations: Conversations) -> int:
    chat = await conversations.open_conversation(
        NewConversation(channel=Channel.CHAT, identity=BOB)
    )
    posted = await conversations.append_message(
        NewMessage(
            conversation_id=chat.conversation.id,
            direction=Direction.OUT,
            author_kind=AuthorKind.AGENT,
            body="our terms",
        ),
        [SHARED],
    )
    return posted.message.id


async def _all_rows(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        rows = [
            dict(row._mapping)
            for table in (MessageRow.__table__, AttachmentRow.__table__)
            for row in await connection.execute(select(table))
        ]
    return repr(rows)


def _files(root: Path) -> set[bytes]:
    return {p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_the_export_holds_every_message_and_its_attachments(
    conversations: Conversations,
) -> None:
    jane, first = await _jane_writes(conversations)
    export = await conversations.repository.export_customer(jane)
    assert json.loads(json.dumps(export)) == export
    messages: list[dict[str, Any]] = export["messages"]
    assert [m["body"] for m in messages] == [
        "Hello, my card ends 4242",
        "Thanks Jane, about Order 7731",
    ]
    assert messages[0]["id"] == first
    assert messages[0]["subject"] == "Order 7731"
    attachments = messages[0]["attachments"]
    assert [(a["filename"], a["size"]) for a in attachments] == [
        ("passport.png", len(PASSPORT.data)),
        ("terms.pdf", len(SHARED.data)),
    ]
    assert all(a["storage_ref"] == "sha256:" + a["sha256"] for a in attachments)


async def test_erasure_leaves_nothing_of_the_customer_in_messages_attachments_or_files(
    conversations: Conversations,
    attachment_store: AttachmentStore,
    engine: AsyncEngine,
    clock: ManualClock,
) -> None:
    jane, _ = await _jane_writes(conversations)
    bob_message = await _bob_writes(conversations)
    assert PASSPORT.data in _files(attachment_store.root)
    erasure = await conversations.repository.erase_customer(jane, by="dpo", reason="art. 17")

    assert erasure.removed["messages"] == 2
    assert erasure.removed["attachments"] == 2
    assert erasure.removed["attachment_files"] == 1  # the shared file is Bob's too
    assert len(erasure.attachment_refs) == 1
    stored = await _all_rows(engine)
    for secret in JANE_SECRETS:
        assert secret not in stored, secret
    assert _files(attachment_store.root) == {SHARED.data}
    # Bob's copy of the shared file still reads.
    bob = await conversations.find_open_conversation(Channel.CHAT, identity=BOB)
    assert bob is not None
    (terms,) = (await conversations.get_message(bob.id, bob_message)).attachments
    _, data = await conversations.read_attachment(bob.id, bob_message, terms.id)
    assert data == SHARED.data
    # What the KPIs count stays: when, which way, who answered, delivery.
    export = await conversations.repository.export_customer(jane)
    kept = [
        (m["direction"], m["author_kind"], m["author_id"], m["delivery"], m["body"])
        for m in export["messages"]
    ]
    assert kept == [
        ("in", AuthorKind.CUSTOMER.value, None, Delivery.DELIVERED.value, ""),
        ("out", AuthorKind.AGENT.value, "a1001", Delivery.QUEUED.value, ""),
    ]
    assert all(m["sent_at"] == clock.now.isoformat() for m in export["messages"])
    for secret in JANE_SECRETS:
        assert secret not in json.dumps(export), secret


async def test_without_an_attachment_store_erasure_names_the_files_to_delete(
    conversations: Conversations, attachment_store: AttachmentStore, engine: AsyncEngine
) -> None:
    jane, _ = await _jane_writes(conversations)
    bare = HistoryRepository(engine)  # a module that opened the store without its files
    erasure = await bare.erase_customer(jane, by="dpo", reason="request")
    assert set(erasure.attachment_refs) == {_ref(PASSPORT), _ref(SHARED)}
    assert len(_files(attachment_store.root)) == 2  # the caller's to delete
    for ref in erasure.attachment_refs:
        assert await attachment_store.delete(ref)
    assert _files(attachment_store.root) == set()


def _ref(file: AttachmentData) -> str:
    return "sha256:" + hashlib.sha256(file.data).hexdigest()
