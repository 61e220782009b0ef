"""Conversations in the store: opening one, its messages, their delivery and attachments.

A conversation is an interaction on a messaging channel; its messages page by keyset over
``(interaction_id, id)`` (a message written meanwhile never shifts a page), and an e-mail
finds the conversation it replies to by the Message-IDs it names (``external_id``'s own
index). Functions take the caller's session: ``history.conversations`` owns transactions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from history import customers, interactions
from history.context import Context
from history.errors import (
    ConversationConflict,
    HistoryError,
    NotAConversation,
    UnknownInteraction,
    UnknownMessage,
)
from history.inputs import (
    MESSAGING_CHANNELS,
    Channel,
    Delivery,
    DeliveryUpdate,
    NewConversation,
    NewMessage,
    Status,
)
from history.models import AttachmentRow, CustomerRow, InteractionRow, MessageRow

MAX_PAGE = 500
#: An e-mail's References may name many messages; only this many (the newest) are looked up.
MAX_THREAD_IDS = 100
_FORWARD = (Delivery.QUEUED, Delivery.SENT, Delivery.DELIVERED, Delivery.READ)

# Core rows, not ORM objects: a thread page is 50 of them (the timeline does the same).
MESSAGE = MessageRow.__table__.c
ATTACHMENT = AttachmentRow.__table__.c
INTERACTION = InteractionRow.__table__.c
_MESSAGES = MessageRow.metadata.tables[MessageRow.__tablename__]
#: Insert-unless-the-(conversation, external id)-exists, one statement, per dialect.
_APPEND = {
    name: dialect.insert(_MESSAGES)
    .on_conflict_do_nothing(index_elements=["interaction_id", "external_id"])
    .returning(*_MESSAGES.c)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def moves_forward(current: Delivery, reported: Delivery) -> bool:
    """Whether a delivery report changes the state: only forward (a late "delivered" after
    "read" changes nothing), ``failed`` from any state but itself, nothing after it."""
    if current is Delivery.FAILED:
        return False
    if reported is Delivery.FAILED:
        return True
    return _FORWARD.index(reported) > _FORWARD.index(current)


async def conversation(session: AsyncSession, conversation_id: int) -> Row[Any]:
    """The interaction, which must be on a messaging channel."""
    query = select(*INTERACTION).where(INTERACTION.id == conversation_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise UnknownInteraction(str(conversation_id))
    if Channel(row.channel) not in MESSAGING_CHANNELS:
        raise NotAConversation(conversation_id, row.channel)
    return row


async def find_open(session: AsyncSession, customer_id: int, channel: Channel) -> Row[Any] | None:
    """The customer's newest conversation on ``channel`` still open or postponed."""
    found = await session.execute(
        select(*INTERACTION)
        .where(
            INTERACTION.customer_id == customer_id,
            INTERACTION.channel == channel.value,
            INTERACTION.status.in_((Status.OPEN.value, Status.POSTPONED.value)),
        )
        .order_by(INTERACTION.started_at.desc(), INTERACTION.id.desc())
        .limit(1)
    )
    return found.first()


async def unfinished(session: AsyncSession, limit: int) -> Sequence[Row[Any]]:
    """Open conversations whose last contact has no outcome yet (a task was waiting or with
    an agent when the service stopped), oldest first."""
    found = await session.execute(
        select(*INTERACTION)
        .where(
            INTERACTION.channel.in_([c.value for c in MESSAGING_CHANNELS]),
            INTERACTION.status == Status.OPEN.value,
            INTERACTION.outcome.is_(None),
            INTERACTION.ended_at.is_(None),
        )
        .order_by(INTERACTION.started_at, INTERACTION.id)
        .limit(limit)
    )
    return found.all()


async def open_conversation(
    session: AsyncSession, ctx: Context, new: NewConversation
) -> tuple[InteractionRow | Row[Any], bool]:
    """The conversation and whether this call opened it (False: continued, or a retry)."""
    ref = new.as_interaction().ref
    if ref is not None and (existing := await interactions.by_ref(session, ref)) is not None:
        await _same_conversation(session, ctx, existing, new)
        return existing, False
    if not new.reuse:
        return await interactions.append(session, ctx, new.as_interaction())
    (owner,) = await interactions.resolve_customers(session, ctx, [new.as_interaction()])
    assert owner is not None  # the input requires a customer or an identity
    # Two first messages of one customer at once open one conversation, not two: the
    # customer's row is the lock (SQLite's writers are serialised already).
    await session.execute(select(CustomerRow.id).where(CustomerRow.id == owner).with_for_update())
    if (found := await find_open(session, owner, new.channel)) is not None:
        return found, False
    opened = new.as_interaction().model_copy(update={"customer_id": owner, "identity": None})
    return await interactions.append(session, ctx, opened)


async def _same_conversation(
    session: AsyncSession,
    ctx: Context,
    existing: InteractionRow | Row[Any],
    new: NewConversation,
) -> None:
    """A retry must name the conversation its key opened: same channel, same customer."""
    if existing.channel == new.channel.value and existing.customer_id is not None:
        owner = await customers.resolve_id(session, existing.customer_id)
        if new.customer_id is not None:
            if await customers.resolve_id(session, new.customer_id) == owner:
                return
        elif new.identity is not None:
            pair = ctx.identities.normalise(new.identity.kind, new.identity.value)
            holders = await customers.holder_ids(session, [pair])
            if holders.get(pair) == owner:
                return
    raise ConversationConflict(
        f"idempotency key {new.idempotency_key!r} opened conversation {existing.id}, of"
        " another customer or channel: a new conversation needs a new key"
    )


async def by_external_id(
    session: AsyncSession, conversation_id: int, external_id: str
) -> Row[Any] | None:
    found = await session.execute(
        select(*MESSAGE).where(
            MESSAGE.interaction_id == conversation_id, MESSAGE.external_id == external_id
        )
    )
    return found.first()


async def append(
    session: AsyncSession, ctx: Context, owner: Row[Any], new: NewMessage
) -> tuple[Row[Any], bool]:
    """The message and whether this call stored it (False: a retry found it by id).

    One statement in the common case: the insert skips an external id the conversation
    holds already (a retry, or a concurrent twin), and only then is that message read.
    """
    key = new.external_id
    now = ctx.now()
    values = dict(
        interaction_id=owner.id,
        channel=(new.channel or Channel(owner.channel)).value,
        direction=new.direction.value,
        author_kind=new.author_kind.value,
        author_id=new.author_id,
        author_name=new.author_name,
        subject=new.subject,
        body=new.body,
        sent_at=new.sent_at or now,
        delivery=new.initial_delivery.value,
        delivery_at=now,
        external_id=key,
        in_reply_to=new.in_reply_to,
        references=new.references,
        created_at=now,
    )
    created = (await session.execute(_APPEND[interactions.dialect_of(session)], values)).first()
    if created is not None:
        return created, True
    existing = None if key is None else await by_external_id(session, owner.id, key)
    if existing is None:
        raise HistoryError("the message was neither inserted nor found")
    return existing, False


async def message(
    session: AsyncSession, conversation_id: int, message_id: int, *, lock: bool = False
) -> Row[Any]:
    query = select(*MESSAGE).where(
        MESSAGE.id == message_id, MESSAGE.interaction_id == conversation_id
    )
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        await conversation(session, conversation_id)  # an unknown conversation says so
        raise UnknownMessage(message_id, conversation_id)
    return row


async def set_delivery(
    session: AsyncSession,
    ctx: Context,
    conversation_id: int,
    message_id: int,
    report: DeliveryUpdate,
) -> tuple[Row[Any], bool]:
    """Apply a delivery report if it moves the state forward; whether it did."""
    row = await message(session, conversation_id, message_id, lock=True)
    if not moves_forward(Delivery(row.delivery), report.delivery):
        return row, False
    changed = await session.execute(
        update(MessageRow)
        .where(MESSAGE.id == row.id)
        .values(delivery=report.delivery.value, delivery_at=report.at or ctx.now())
        .returning(*MESSAGE)
    )
    return changed.one(), True


async def page(
    session: AsyncSession,
    conversation_id: int,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
) -> tuple[list[Row[Any]], int | None, int | None]:
    """Messages oldest first, and the cursors (``older``, ``newer``) around them. Neither
    ``before`` nor ``after``: the newest ``limit`` messages."""
    limit = max(1, min(limit, MAX_PAGE))
    of = select(*MESSAGE).where(MESSAGE.interaction_id == conversation_id)
    # One row more than the page says whether the thread goes on that way; the other way
    # is known (the newest page has nothing newer) or one indexed probe away.
    if after is not None:
        found = await session.execute(
            of.where(MessageRow.id > after).order_by(MessageRow.id).limit(limit + 1)
        )
        rows = list(found.all())
        more_newer, rows = len(rows) > limit, rows[:limit]
        if not rows:
            return rows, None, None
        more_older = await _exists(session, conversation_id, MessageRow.id < rows[0].id)
    else:
        if before is not None:
            of = of.where(MessageRow.id < before)
        found = await session.execute(of.order_by(MessageRow.id.desc()).limit(limit + 1))
        rows = list(found.all())
        more_older, rows = len(rows) > limit, rows[:limit][::-1]
        if not rows:
            return rows, None, None
        more_newer = before is not None and await _exists(
            session, conversation_id, MessageRow.id > rows[-1].id
        )
    return rows, rows[0].id if more_older else None, rows[-1].id if more_newer else None


async def _exists(session: AsyncSession, conversation_id: int, where: Any) -> bool:
    query = select(MessageRow.id).where(MessageRow.interaction_id == conversation_id, where)
    return (await session.execute(query.limit(1))).first() is not None


async def attachments_of(
    session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    held: dict[int, list[Row[Any]]] = defaultdict(list)
    ids = sorted(set(message_ids))
    for start in range(0, len(ids), 500):
        found = await session.execute(
            select(*ATTACHMENT)
            .where(ATTACHMENT.message_id.in_(ids[start : start + 500]))
            .order_by(ATTACHMENT.id)
        )
        for row in found:
            held[row.message_id].append(row)
    return held


async def conversation_of(
    session: AsyncSession,
    external_ids: Sequence[str],
    *,
    customer_id: int | None = None,
    channel: Channel | None = None,
) -> Row[Any] | None:
    """The conversation holding a message with one of ``external_ids``, the first of them
    that matches winning (give In-Reply-To first, then References newest first)."""
    wanted = [i for i in dict.fromkeys(external_ids) if 0 < len(i) <= 255][:MAX_THREAD_IDS]
    if not wanted:
        return None
    query = (
        select(MessageRow.external_id, MessageRow.interaction_id)
        .join(InteractionRow, InteractionRow.id == MessageRow.interaction_id)
        .where(MessageRow.external_id.in_(wanted))
        .order_by(MessageRow.id.desc())
    )
    if customer_id is not None:
        owner = await customers.resolve_id(session, customer_id)
        query = query.where(InteractionRow.customer_id == owner)
    if channel is not None:
        query = query.where(InteractionRow.channel == channel.value)
    holders: dict[str | None, int] = {}
    for external_id, interaction_id in await session.execute(query):
        holders.setdefault(external_id, interaction_id)
    for external_id in wanted:
        if external_id in holders:
            return await conversation(session, holders[external_id])
    return None
