"""Rows to records: the one place ORM objects become the frozen values callers see."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row

from history.identities import IdentityKind
from history.inputs import AuthorKind, Channel, Delivery, Direction, Status
from history.models import (
    AttachmentRow,
    CustomerRow,
    ErasureRow,
    EventRow,
    IdentityRow,
    InteractionRow,
    MergeRow,
    MessageRow,
    NoteRow,
)
from history.records import (
    Attachment,
    Customer,
    Erasure,
    Event,
    Identity,
    Interaction,
    Merge,
    Message,
    Note,
)


def identity(row: IdentityRow) -> Identity:
    return Identity(kind=IdentityKind(row.kind), value=row.value, created_at=row.created_at)


def customer(row: CustomerRow) -> Customer:
    return Customer(
        id=row.id,
        name=row.name,
        tier=row.tier,
        language=row.language,
        tags=tuple(row.tags),
        consent=dict(row.consent),
        custom_fields=dict(row.custom_fields),
        identities=tuple(identity(i) for i in row.identities),
        created_at=row.created_at,
        updated_at=row.updated_at,
        erased_at=row.erased_at,
    )


def interaction(row: InteractionRow | Row[Any] | SimpleNamespace) -> Interaction:
    """(A ``SimpleNamespace``: a row as a batch's updates left it, ``history.changes``.)"""
    return Interaction(
        id=row.id,
        customer_id=row.customer_id,
        channel=Channel(row.channel),
        direction=Direction(row.direction),
        started_at=row.started_at,
        ended_at=row.ended_at,
        intent=row.intent,
        call_type=row.call_type,
        priority=row.priority,
        queue=row.queue,
        agent=row.agent,
        wait_s=row.wait_s,
        talk_s=row.talk_s,
        hold_s=row.hold_s,
        wrap_s=row.wrap_s,
        outcome=row.outcome,
        status=Status(row.status),
        disposition=row.disposition,
        recording_ref=row.recording_ref,
        transcript=row.transcript,
        csat=row.csat,
        source=row.source,
        external_id=row.external_id,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def note(row: NoteRow | Row[Any]) -> Note:
    return Note(
        id=row.id,
        customer_id=row.customer_id,
        interaction_id=row.interaction_id,
        author=row.author,
        body=row.body,
        source=row.source,
        created_at=row.created_at,
    )


def event(row: EventRow | Row[Any]) -> Event:
    return Event(
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        call_id=row.call_id,
        agent_id=row.agent_id,
        payload=dict(row.payload),
        key=row.key,
    )


def merge(row: MergeRow) -> Merge:
    return Merge(
        survivor_id=row.survivor_id,
        merged_id=row.merged_id,
        merged_at=row.merged_at,
        merged_by=row.merged_by,
        reason=row.reason,
        moved=dict(row.moved),
    )


def erasure(
    row: ErasureRow, recording_refs: tuple[str, ...] = (), attachment_refs: tuple[str, ...] = ()
) -> Erasure:
    return Erasure(
        customer_id=row.customer_id,
        erased_at=row.erased_at,
        erased_by=row.erased_by,
        reason=row.reason,
        removed=dict(row.removed),
        recording_refs=recording_refs,
        attachment_refs=attachment_refs,
    )


def attachment(row: AttachmentRow | Row[Any]) -> Attachment:
    return Attachment(
        id=row.id,
        message_id=row.message_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        storage_ref=row.storage_ref,
        created_at=row.created_at,
    )


def message(
    row: MessageRow | Row[Any], attachments: Sequence[AttachmentRow | Row[Any]] = ()
) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.interaction_id,
        channel=Channel(row.channel),
        direction=Direction(row.direction),
        author_kind=AuthorKind(row.author_kind),
        author_id=row.author_id,
        author_name=row.author_name,
        subject=row.subject,
        body=row.body,
        sent_at=row.sent_at,
        delivery=Delivery(row.delivery),
        delivery_at=row.delivery_at,
        external_id=row.external_id,
        in_reply_to=row.in_reply_to,
        references=row.references,
        attachments=tuple(attachment(a) for a in attachments),
        created_at=row.created_at,
    )
