"""The ACD event log: append-only, ordered by ``seq``, each event written once by its key.

KPIs and replays read it in ``seq`` order. On PostgreSQL ``seq`` comes from a sequence, so
with several concurrent writers a commit can become visible after a higher ``seq``;
readers that tail the log should re-read a short overlap rather than trust gaps.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from copy import deepcopy
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from history import convert
from history.context import Context
from history.inputs import NewEvent
from history.models import EventRow
from history.records import Event

MAX_READ = 10_000


def _columns(ctx: Context, new: NewEvent) -> dict[str, Any]:
    return {
        "at": new.at or ctx.now(),
        "kind": new.kind,
        "call_id": new.call_id,
        "agent_id": new.agent_id,
        "payload": new.payload,
        "key": new.key,
    }


async def _by_key(session: AsyncSession, key: str) -> EventRow | None:
    found = await session.execute(select(EventRow).where(EventRow.key == key))
    return found.scalar_one_or_none()


async def append(session: AsyncSession, ctx: Context, new: NewEvent) -> EventRow:
    if (existing := await _by_key(session, new.key)) is not None:
        return existing
    row = EventRow(**_columns(ctx, new))
    try:
        # The savepoint first: begin_nested() flushes what is pending outside of it.
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        if (existing := await _by_key(session, new.key)) is not None:
            return existing
        raise
    return row


_TABLE = EventRow.metadata.tables[EventRow.__tablename__]
#: On the table, not the entity: the ORM's bulk insert splits the rows into a statement per
#: run of rows with the same non-null columns (events alternate, so runs of one or two),
#: while every row here has every column and goes in one multi-row statement.
_UPSERTS = {
    name: insert_for(_TABLE).on_conflict_do_nothing(index_elements=["key"])
    for name, insert_for in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_APPEND_MANY = {name: upsert.returning(_TABLE.c.seq) for name, upsert in _UPSERTS.items()}
_APPEND_KEYS = {
    name: upsert.returning(_TABLE.c.key, _TABLE.c.seq) for name, upsert in _UPSERTS.items()
}


async def append_many(session: AsyncSession, ctx: Context, batch: Sequence[NewEvent]) -> int:
    if not batch:
        return 0
    statement = _APPEND_MANY[session.get_bind().dialect.name]
    result = await session.execute(statement, [_columns(ctx, new) for new in batch])
    return len(result.all())


async def append_many_records(
    session: AsyncSession, ctx: Context, batch: Sequence[NewEvent]
) -> dict[str, Event]:
    """The events in one insert, each event's record by key: the new one, or the one its key
    had already (those are read back: a replay's). Only the new rows' ``seq`` comes back from
    the store; the rest of their records is what was written (as the store gives it back:
    the time in UTC, the payload a copy), not decoded again from the rows."""
    if not batch:
        return {}
    statement = _APPEND_KEYS[session.get_bind().dialect.name]
    written = [_columns(ctx, new) for new in batch]
    seqs: dict[str, int] = {key: seq for key, seq in await session.execute(statement, written)}
    records: dict[str, Event] = {}
    for values in written:
        key = values["key"]
        seq = seqs.get(key)
        if seq is not None and key not in records:  # a key twice in the batch: the first
            records[key] = Event(
                seq=seq,
                at=values["at"].astimezone(UTC),
                kind=values["kind"],
                call_id=values["call_id"],
                agent_id=values["agent_id"],
                payload=_detached(values["payload"]),
                key=key,
            )
    missing = list(
        dict.fromkeys(values["key"] for values in written if values["key"] not in records)
    )
    if missing:
        found = await session.execute(select(*_TABLE.c).where(_TABLE.c.key.in_(missing)))
        records.update((row.key, convert.event(row)) for row in found)
    return records


def _detached(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the record's own (nested values copied: the writer's input is not)."""
    return {k: deepcopy(v) if isinstance(v, (dict, list)) else v for k, v in payload.items()}


async def read(
    session: AsyncSession,
    *,
    after_seq: int,
    limit: int,
    call_id: str | None,
    kinds: Collection[str] | None,
) -> list[EventRow]:
    query = select(EventRow).where(EventRow.seq > after_seq)
    if call_id is not None:
        query = query.where(EventRow.call_id == call_id)
    if kinds:
        query = query.where(EventRow.kind.in_(list(kinds)))
    query = query.order_by(EventRow.seq).limit(max(1, min(limit, MAX_READ)))
    return list((await session.execute(query)).scalars())
