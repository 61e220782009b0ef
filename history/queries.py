"""Reading the history: open issues, repeat contact, first-contact resolution, last agent
(the timeline's page: ``history.timeline``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from history import customers
from history.errors import UnknownInteraction
from history.inputs import Direction, Status
from history.models import InteractionRow, MessageRow, NoteRow, UtcDateTime
from history.records import Fcr

INTERACTION = InteractionRow.__table__.c
NOTE = NoteRow.__table__.c
MESSAGE = MessageRow.__table__.c


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(INTERACTION.started_at.desc(), INTERACTION.id.desc())


async def _of_customer(
    session: AsyncSession, customer_id: int, query: Callable[[int], Select[Any]]
) -> list[Row[Any]]:
    """Rows of ``query(customer_id)``; the id is resolved (merges, existence) only when the
    answer is empty, so the common case is one round trip."""
    rows = list((await session.execute(query(customer_id))).all())
    if not rows:
        owner = await customers.resolve_id(session, customer_id)
        if owner != customer_id:
            rows = list((await session.execute(query(owner))).all())
    return rows


async def customer_notes(session: AsyncSession, customer_id: int) -> list[Row[Any]]:
    owner = await customers.resolve_id(session, customer_id)
    found = await session.execute(
        select(*NOTE)
        .where(NOTE.customer_id == owner, NOTE.interaction_id.is_(None))
        .order_by(NOTE.created_at.desc(), NOTE.id.desc())
    )
    return list(found.all())


async def open_issues(session: AsyncSession, customer_id: int, limit: int) -> list[Row[Any]]:
    def query(owner: int) -> Select[Any]:
        open_ = (Status.OPEN.value, Status.POSTPONED.value)
        found = select(*INTERACTION).where(
            INTERACTION.customer_id == owner, INTERACTION.status.in_(open_)
        )
        return _newest_first(found).limit(limit)

    return await _of_customer(session, customer_id, query)


async def contacts_since(
    session: AsyncSession, customer_id: int, since: datetime, limit: int
) -> list[Row[Any]]:
    def query(owner: int) -> Select[Any]:
        found = select(*INTERACTION).where(
            INTERACTION.customer_id == owner, INTERACTION.started_at >= since
        )
        return _newest_first(found).limit(limit)

    return await _of_customer(session, customer_id, query)


async def last_agent(session: AsyncSession, customer_id: int) -> Row[Any] | None:
    def query(owner: int) -> Select[Any]:
        found = select(
            INTERACTION.id, INTERACTION.agent, INTERACTION.channel, INTERACTION.started_at
        ).where(INTERACTION.customer_id == owner, INTERACTION.agent.is_not(None))
        return _newest_first(found).limit(1)

    rows = await _of_customer(session, customer_id, query)
    return rows[0] if rows else None


def _verdict(
    status: str,
    started_at: datetime,
    next_inbound: datetime | None,
    window: timedelta,
    now: datetime,
) -> Fcr:
    if status != Status.RESOLVED.value:
        return Fcr.UNRESOLVED
    if next_inbound is not None and next_inbound - started_at <= window:
        return Fcr.REPEATED
    return Fcr.PENDING if now < started_at + window else Fcr.ACHIEVED


async def first_contact_resolution(
    session: AsyncSession, interaction_id: int, window: timedelta, now: datetime
) -> tuple[InteractionRow, Fcr]:
    """Resolved, and no later inbound contact of the customer on any channel in ``window``."""
    row = await session.get(InteractionRow, interaction_id)
    if row is None:
        raise UnknownInteraction(str(interaction_id))
    if row.customer_id is None:
        return row, Fcr.UNKNOWN
    later = await session.execute(
        select(InteractionRow.started_at)
        .where(
            InteractionRow.customer_id == row.customer_id,
            InteractionRow.direction == Direction.IN.value,
            tuple_(InteractionRow.started_at, InteractionRow.id)
            > tuple_(literal(row.started_at, UtcDateTime()), literal(row.id)),
        )
        .order_by(InteractionRow.started_at, InteractionRow.id)
        .limit(1)
    )
    return row, _verdict(row.status, row.started_at, later.scalar_one_or_none(), window, now)


async def fcr_counts(
    session: AsyncSession, since: datetime, until: datetime, window: timedelta, now: datetime
) -> dict[str, dict[Fcr, int]]:
    """FCR of every inbound, identified contact started in [since, until), by the channel
    of that contact (the repeat may be on any channel)."""
    next_inbound = (
        func.lead(InteractionRow.started_at, type_=UtcDateTime())
        .over(
            partition_by=InteractionRow.customer_id,
            order_by=(InteractionRow.started_at, InteractionRow.id),
        )
        .label("next_inbound")
    )
    contacts = (
        select(
            InteractionRow.started_at, InteractionRow.status, InteractionRow.channel, next_inbound
        )
        .where(
            InteractionRow.customer_id.is_not(None),
            InteractionRow.direction == Direction.IN.value,
            InteractionRow.started_at >= since,
            InteractionRow.started_at < until + window,
        )
        .subquery()
    )
    started, c = contacts.c.started_at, contacts.c
    query = select(started, c.status, c.channel, c.next_inbound).where(started < until)
    counts: dict[str, dict[Fcr, int]] = {}
    for started_at, status, channel, following in await session.execute(query):
        of_channel = counts.get(channel)
        if of_channel is None:
            of_channel = counts[channel] = dict.fromkeys(Fcr, 0)
        of_channel[_verdict(status, started_at, following, window, now)] += 1
    return counts
