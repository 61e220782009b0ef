"""Reading a span of the ACD event log in order, in batches: what a restart rebuilds from.

``events_since`` streams the events logged at or after ``since`` (the KPIs' local
midnight), in ``seq`` order, ``batch`` rows per query, each batch its own short read (no
transaction held open across the whole day, none left open while the caller folds a
batch). It finds the first ``seq`` of the span through the index on ``at``, then pages by
``seq`` (the primary key): a day is read in ``rows / batch`` range scans, however long the
log behind it. Rows are read as plain columns, not ORM objects (a third of the cost at a
day's 750,000 events).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from history.models import EventRow
from history.records import Event

__all__ = ["BATCH", "events_since"]

BATCH = 5000


async def events_since(
    engine: AsyncEngine,
    since: datetime,
    *,
    kinds: Collection[str] | None = None,
    batch: int = BATCH,
    after_seq: int = 0,
    until: datetime | None = None,
) -> AsyncIterator[list[Event]]:
    """Batches of the events at or after ``since`` (and after ``after_seq``; before
    ``until`` if given: a closed day), in ``seq`` order; ``kinds``: only those kinds.
    Database errors propagate to the reader."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    size = max(1, batch)
    span = [EventRow.at >= since] + ([] if until is None else [EventRow.at < until])
    async with sessions() as session:
        first = await session.scalar(select(func.min(EventRow.seq)).where(*span))
    if first is None:
        return
    cursor = max(after_seq, first - 1)
    columns = (
        EventRow.seq,
        EventRow.at,
        EventRow.kind,
        EventRow.call_id,
        EventRow.agent_id,
        EventRow.payload,
        EventRow.key,
    )
    while True:
        query = select(*columns).where(EventRow.seq > cursor, *span)
        if kinds:
            query = query.where(EventRow.kind.in_(list(kinds)))
        query = query.order_by(EventRow.seq).limit(size)
        async with sessions() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return
        yield [
            Event(
                seq=seq,
                at=at,
                kind=kind,
                call_id=call_id,
                agent_id=agent_id,
                payload=payload,
                key=key,
            )
            for seq, at, kind, call_id, agent_id, payload, key in rows
        ]
        if len(rows) < size:
            return
        cursor = rows[-1].seq
