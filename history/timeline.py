"""A customer's timeline, a page at a time: the read behind every screen-pop, kept cheap.

The page pages by keyset (``started_at, id`` below the last one seen) over the
``(customer_id, started_at, id)`` index: page 20 costs what page 1 costs, and an interaction
written meanwhile never shifts a page (OFFSET would repeat or skip rows). A page is one
query: each row says whether it has notes and, for a conversation, how many messages and
which is the last (index probes on ``notes(interaction_id)`` and ``messages(interaction_id,
id)``), so the notes and the last messages (with their attachments) are read only for a page
that has some, each in one more query, never one per row.

What it costs is Python, not the database (the bare query takes ~1 ms on a million rows), so:
the statements are built once, here, with bound parameters (SQLAlchemy's cache compiles each
once per dialect; nothing is built, labelled or coerced per page); they run on a plain
connection, not an ORM session; and the rows become records by position, with the enums
looked up in a dict, not through a record per column by name.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Row,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from history import convert, customers
from history.errors import InvalidCursor
from history.inputs import AuthorKind, Channel, Delivery, Direction, Status
from history.models import (
    MESSAGING_CHANNELS,
    AttachmentRow,
    InteractionRow,
    MessageRow,
    NoteRow,
    UtcDateTime,
)
from history.records import (
    Attachment,
    ConversationSummary,
    Interaction,
    Message,
    Note,
    TimelineEntry,
    TimelinePage,
)

MAX_PAGE = 500


def encode_cursor(started_at: datetime, interaction_id: int) -> str:
    raw = json.dumps([started_at.isoformat(), interaction_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, interaction_id = json.loads(raw)
        moment = datetime.fromisoformat(started)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor() from None
    if not isinstance(interaction_id, int) or moment.tzinfo is None:
        raise InvalidCursor()
    return moment, interaction_id


INTERACTION = InteractionRow.__table__.c
NOTE = NoteRow.__table__.c
MESSAGE = MessageRow.__table__.c
ATTACHMENT = AttachmentRow.__table__.c

#: The messaging channels written into the statement (a list bound as parameters would be
#: expanded into the SQL again at every execution).
_CONVERSATION = INTERACTION.channel.in_([literal_column(f"'{c}'") for c in MESSAGING_CHANNELS])
#: Per row of a page: has it notes; a conversation's message count and last message.
_PAGE_COLUMNS = (
    *INTERACTION,
    exists().where(NOTE.interaction_id == INTERACTION.id).label("has_notes"),
    case(
        (
            _CONVERSATION,
            select(func.count()).where(MESSAGE.interaction_id == INTERACTION.id).scalar_subquery(),
        ),
        else_=0,
    ).label("message_count"),
    case(
        (
            _CONVERSATION,
            select(func.max(MESSAGE.id))
            .where(MESSAGE.interaction_id == INTERACTION.id)
            .scalar_subquery(),
        ),
        else_=None,
    ).label("last_message_id"),
)
_INTERACTION_FIELDS = tuple(column.key for column in INTERACTION)
_CHANNEL = _INTERACTION_FIELDS.index("channel")
_HAS_NOTES, _MESSAGE_COUNT, _LAST_MESSAGE = range(len(INTERACTION), len(INTERACTION) + 3)


def _page_query(*, after: bool, some_channels: bool) -> Any:
    query = select(*_PAGE_COLUMNS).where(INTERACTION.customer_id == bindparam("owner"))
    if some_channels:
        query = query.where(INTERACTION.channel.in_(bindparam("channels", expanding=True)))
    if after:
        query = query.where(
            tuple_(INTERACTION.started_at, INTERACTION.id)
            < tuple_(
                bindparam("before_at", type_=UtcDateTime()),
                bindparam("before_id", type_=Integer()),
            )
        )
    return query.order_by(INTERACTION.started_at.desc(), INTERACTION.id.desc()).limit(
        bindparam("rows", type_=Integer())
    )


#: The page's query by (after a cursor, some channels only): built once.
_PAGES = {
    (after, some): _page_query(after=after, some_channels=some)
    for after in (False, True)
    for some in (False, True)
}
_NOTES = (
    select(*NOTE)
    .where(NOTE.interaction_id.in_(bindparam("ids", expanding=True)))
    .order_by(NOTE.created_at, NOTE.id)
)
#: The last messages with their attachments, in one query (a message without any: one row
#: of NULL attachment columns).
_ATTACHMENT_COLUMNS = tuple(column.label(f"attachment_{column.key}") for column in ATTACHMENT)
_LAST_MESSAGES = (
    select(*MESSAGE, *_ATTACHMENT_COLUMNS)
    .outerjoin(AttachmentRow.__table__, ATTACHMENT.message_id == MESSAGE.id)
    .where(MESSAGE.id.in_(bindparam("ids", expanding=True)))
    .order_by(MESSAGE.id, ATTACHMENT.id)
)

_CHANNELS = {c.value: c for c in Channel}
_DIRECTIONS = {d.value: d for d in Direction}
_STATUSES = {s.value: s for s in Status}
_AUTHOR_KINDS = {a.value: a for a in AuthorKind}
_DELIVERIES = {d.value: d for d in Delivery}
_MESSAGING = frozenset(MESSAGING_CHANNELS)


async def page(
    connection: AsyncConnection,
    customer_id: int,
    *,
    limit: int,
    cursor: str | None,
    channels: Collection[Channel] | None,
) -> TimelinePage:
    """Every channel's interactions with their notes, newest first, ``limit`` per page
    (``UnknownCustomer`` for no such customer; a merged customer's is the survivor's)."""
    limit = max(1, min(limit, MAX_PAGE))
    parameters: dict[str, Any] = {"owner": customer_id, "rows": limit + 1}
    if cursor is not None:
        parameters["before_at"], parameters["before_id"] = decode_cursor(cursor)
    if channels:
        parameters["channels"] = [c.value for c in channels]
    query = _PAGES[(cursor is not None, bool(channels))]
    rows = (await connection.execute(query, parameters)).all()
    if not rows:  # the id is resolved (merges, existence) only when the answer is empty
        owner = await customers.resolve_id(connection, customer_id)
        if owner != customer_id:
            parameters["owner"] = owner
            rows = (await connection.execute(query, parameters)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    noted = [r.id for r in rows if r[_HAS_NOTES]]
    notes = await _notes(connection, noted) if noted else {}
    lasts = [r[_LAST_MESSAGE] for r in rows if r[_LAST_MESSAGE] is not None]
    last_messages = await _last_messages(connection, lasts) if lasts else {}
    entries = []
    for row in rows:
        interaction = _interaction(row)
        conversation = None
        if row[_CHANNEL] in _MESSAGING:
            last = row[_LAST_MESSAGE]
            conversation = ConversationSummary(
                message_count=row[_MESSAGE_COUNT],
                last_message=None if last is None else last_messages[last],
            )
        entries.append(
            TimelineEntry(
                interaction=interaction,
                notes=notes.get(interaction.id, ()),
                conversation=conversation,
            )
        )
    next_cursor = None
    if more:
        last = entries[-1].interaction
        next_cursor = encode_cursor(last.started_at, last.id)
    return TimelinePage(entries=tuple(entries), next_cursor=next_cursor)


def _interaction(row: Row[Any] | Sequence[Any]) -> Interaction:
    (
        id_,
        customer_id,
        channel,
        direction,
        started_at,
        ended_at,
        intent,
        call_type,
        priority,
        queue,
        agent,
        wait_s,
        talk_s,
        hold_s,
        wrap_s,
        outcome,
        status,
        disposition,
        recording_ref,
        transcript,
        csat,
        source,
        external_id,
        idempotency_key,
        created_at,
        updated_at,
    ) = row[: len(_INTERACTION_FIELDS)]
    return Interaction(
        id=id_,
        customer_id=customer_id,
        channel=_CHANNELS[channel],
        direction=_DIRECTIONS[direction],
        started_at=started_at,
        ended_at=ended_at,
        intent=intent,
        call_type=call_type,
        priority=priority,
        queue=queue,
        agent=agent,
        wait_s=wait_s,
        talk_s=talk_s,
        hold_s=hold_s,
        wrap_s=wrap_s,
        outcome=outcome,
        status=_STATUSES[status],
        disposition=disposition,
        recording_ref=recording_ref,
        transcript=transcript,
        csat=csat,
        source=source,
        external_id=external_id,
        idempotency_key=idempotency_key,
        created_at=created_at,
        updated_at=updated_at,
    )


async def _notes(connection: AsyncConnection, ids: list[int]) -> dict[int, tuple[Note, ...]]:
    found: dict[int, list[Note]] = defaultdict(list)
    for row in await connection.execute(_NOTES, {"ids": ids}):
        found[row.interaction_id].append(convert.note(row))
    return {interaction_id: tuple(notes) for interaction_id, notes in found.items()}


async def _last_messages(connection: AsyncConnection, ids: list[int]) -> dict[int, Message]:
    rows: dict[int, Row[Any]] = {}
    held: dict[int, list[Attachment]] = defaultdict(list)
    for row in await connection.execute(_LAST_MESSAGES, {"ids": ids}):
        rows.setdefault(row.id, row)
        if row.attachment_id is not None:
            held[row.id].append(
                Attachment(
                    id=row.attachment_id,
                    message_id=row.attachment_message_id,
                    filename=row.attachment_filename,
                    content_type=row.attachment_content_type,
                    size=row.attachment_size,
                    sha256=row.attachment_sha256,
                    storage_ref=row.attachment_storage_ref,
                    created_at=row.attachment_created_at,
                )
            )
    return {
        message_id: Message(
            id=row.id,
            conversation_id=row.interaction_id,
            channel=_CHANNELS[row.channel],
            direction=_DIRECTIONS[row.direction],
            author_kind=_AUTHOR_KINDS[row.author_kind],
            author_id=row.author_id,
            author_name=row.author_name,
            subject=row.subject,
            body=row.body,
            sent_at=row.sent_at,
            delivery=_DELIVERIES[row.delivery],
            delivery_at=row.delivery_at,
            external_id=row.external_id,
            in_reply_to=row.in_reply_to,
            references=row.references,
            attachments=tuple(held.get(message_id, ())),
            created_at=row.created_at,
        )
        for message_id, row in rows.items()
    }
