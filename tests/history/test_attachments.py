"""Attachments: files by reference in a content-addressed store on disk, within caps."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from history.attachments import AttachmentData, AttachmentStore, sanitise_filename
from history.conversations import Conversations
from history.errors import AttachmentMissing, AttachmentTooLarge, InvalidAttachment
from history.identities import IdentityKind
from history.inputs import AuthorKind, Channel, Direction, IdentityIn, NewConversation, NewMessage
from history.models import AttachmentRow

from .conftest import TEST_LIMITS

PHOTO = AttachmentData("photo.jpg", "image/jpeg", b"\xff\xd8 a small photo")
INVOICE = AttachmentData("invoice.pdf", "application/pdf; name=invoice.pdf", b"%PDF-1.7 bill")


async def _message(conversations: Conversations, **fields: object) -> tuple[int, int]:
    opened = await conversations.open_conversation(
        NewConversation(
            channel=Channel.WHATSAPP,
            identity=IdentityIn(kind=IdentityKind.WHATSAPP, value="+441632960123"),
        )
    )
    new = NewMessage.model_validate(
        {
            "conversation_id": opened.conversation.id,
            "direction": "in",
            "author_kind": "customer",
            **fields,
        }
    )
    posted = await conversations.append_message(new)
    return opened.conversation.id, posted.message.id


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\jane\\scan.pdf", "scan.pdf"),
        ("..hidden", "hidden"),
        ("in\u202efdp.exe", "infdp.exe"),  # no right-to-left override disguising the type
        ("tab\tand\nnew line.txt", "tab and new line.txt"),
        ('a<b>c:"d|e?*.txt', "abcde.txt"),
        ("CON.txt", "_CON.txt"),
        ("", "attachment"),
        ("...", "attachment"),
        ("rapport d'été.docx", "rapport d'été.docx"),
    ],
)
def test_filenames_are_sanitised_for_display_and_download(given: str, kept: str) -> None:
    assert sanitise_filename(given) == kept


def test_a_long_filename_is_cut_to_255_bytes_keeping_its_extension() -> None:
    name = sanitise_filename("é" * 300 + ".pdf")
    assert len(name.encode()) <= 255
    assert name.endswith(".pdf")


async def test_a_reference_never_leaves_the_store(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "attachments")
    for ref in ("../../etc/passwd", "sha256:../../../etc/passwd", "sha256:" + "A" * 64, "x"):
        with pytest.raises(InvalidAttachment):
            await store.read(ref)
        with pytest.raises(InvalidAttachment):
            await store.delete(ref)


async def test_files_are_kept_once_by_content_private_and_outside_the_database(
    conversations: Conversations, attachment_store: AttachmentStore
) -> None:
    talk, first = await _message(conversations, body="see attached")
    added = await conversations.add_attachment(talk, first, PHOTO)
    assert added.created
    attachment = added.attachment
    digest = hashlib.sha256(PHOTO.data).hexdigest()
    assert (attachment.filename, attachment.content_type, attachment.size, attachment.sha256) == (
        "photo.jpg",
        "image/jpeg",
        len(PHOTO.data),
        digest,
    )
    assert attachment.storage_ref == f"sha256:{digest}"
    (path,) = files_under(attachment_store.root)
    assert path == attachment_store.root / digest[:2] / digest
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The same photo in another message: another attachment, the same file.
    _, second = await _message(conversations, body="again")
    await conversations.add_attachment(talk, second, PHOTO)
    assert files_under(attachment_store.root) == [path]
    found, data = await conversations.read_attachment(talk, first, attachment.id)
    assert (found, data) == (attachment, PHOTO.data)


async def test_the_same_upload_twice_is_one_attachment(conversations: Conversations) -> None:
    talk, message = await _message(conversations)
    first = await conversations.add_attachment(talk, message, PHOTO)
    again = await conversations.add_attachment(talk, message, PHOTO)
    assert (again.created, again.attachment) == (False, first.attachment)


async def test_a_message_appended_with_files_keeps_them_and_a_retry_stores_none_again(
    conversations: Conversations, attachment_store: AttachmentStore
) -> None:
    talk, _ = await _message(conversations)
    new = NewMessage(
        conversation_id=talk,
        direction=Direction.IN,
        author_kind=AuthorKind.CUSTOMER,
        external_id="wamid.1",
    )
    posted = await conversations.append_message(new, [PHOTO, INVOICE])
    assert [(a.filename, a.content_type) for a in posted.message.attachments] == [
        ("photo.jpg", "image/jpeg"),
        ("invoice.pdf", "application/pdf"),
    ]
    retry = await conversations.append_message(new, [PHOTO, INVOICE])
    assert (retry.created, retry.message) == (False, posted.message)
    assert len(files_under(attachment_store.root)) == 2
    page = await conversations.thread(talk)
    assert page.messages[-1].attachments == posted.message.attachments


async def test_caps_per_file_per_message_and_in_number_are_refused_with_the_limit(
    conversations: Conversations, attachment_store: AttachmentStore
) -> None:
    talk, message = await _message(conversations)
    big = AttachmentData("big.bin", "application/octet-stream", b"x" * 1001)
    with pytest.raises(AttachmentTooLarge, match=r"'big\.bin' is 1001 bytes; at most 1000"):
        await conversations.add_attachment(talk, message, big)
    half = [
        AttachmentData(f"{n}.bin", "application/octet-stream", bytes([n]) * 600) for n in (1, 2, 3)
    ]
    await conversations.add_attachment(talk, message, half[0])
    await conversations.add_attachment(talk, message, half[1])
    with pytest.raises(AttachmentTooLarge, match="1800 bytes; at most 1500"):
        await conversations.add_attachment(talk, message, half[2])
    tiny = [AttachmentData(f"t{n}", "text/plain", bytes([n])) for n in range(4)]
    new = NewMessage(conversation_id=talk, direction=Direction.IN, author_kind=AuthorKind.CUSTOMER)
    with pytest.raises(AttachmentTooLarge, match="4 files; at most 3"):
        await conversations.append_message(new, tiny)
    assert len(files_under(attachment_store.root)) == 2  # nothing of the refused ones
    assert TEST_LIMITS.max_attachments_per_message == 3


async def test_a_bad_content_type_is_refused(conversations: Conversations) -> None:
    talk, message = await _message(conversations)
    with pytest.raises(InvalidAttachment, match="not type/subtype"):
        await conversations.add_attachment(
            talk, message, AttachmentData("a.txt", "text/html<script>", b"x")
        )


async def test_a_file_changed_or_lost_on_disk_is_reported_not_served(
    conversations: Conversations, attachment_store: AttachmentStore
) -> None:
    talk, message = await _message(conversations)
    attachment = (await conversations.add_attachment(talk, message, PHOTO)).attachment
    path = attachment_store.path_of(attachment.storage_ref)
    path.write_bytes(b"tampered")
    with pytest.raises(AttachmentMissing, match="hash no longer matches"):
        await conversations.read_attachment(talk, message, attachment.id)
    path.unlink()
    with pytest.raises(AttachmentMissing, match="not in the attachment store"):
        await conversations.read_attachment(talk, message, attachment.id)


async def test_files_no_attachment_refers_to_are_swept(
    conversations: Conversations, attachment_store: AttachmentStore
) -> None:
    talk, message = await _message(conversations)
    kept = (await conversations.add_attachment(talk, message, PHOTO)).attachment
    orphan = await attachment_store.put(b"from a transaction that failed")
    old = attachment_store.path_of(orphan.storage_ref)
    os.utime(old, (0, 0))
    os.utime(attachment_store.path_of(kept.storage_ref), (0, 0))
    assert await conversations.sweep_attachments(older_than_s=60) == 1
    assert not old.exists()
    assert attachment_store.path_of(kept.storage_ref).exists()


async def test_nothing_is_left_by_a_refused_append(
    conversations: Conversations, attachment_store: AttachmentStore
) -> None:
    talk, _ = await _message(conversations)
    new = NewMessage(
        conversation_id=talk, direction=Direction.IN, author_kind=AuthorKind.CUSTOMER, body="files"
    )
    with pytest.raises(InvalidAttachment):
        await conversations.append_message(new, [PHOTO, AttachmentData("x", "bad type", b"y")])
    async with conversations.repository.engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(AttachmentRow))).scalar()
    assert count == 0
    assert files_under(attachment_store.root) == []
    assert [m.body for m in (await conversations.thread(talk)).messages] == [""]
