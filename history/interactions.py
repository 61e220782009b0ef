"""Writing contacts: append (idempotent), update as the contact moves on, and agents' notes.

An interaction whose identity nobody holds yet creates a customer for that identity. The
contact happened and the next one from the same number, address or handle must find it:
refusing would lose exactly the history a repeat caller needs, and a wrong split is repaired
later by merging. An unknown ``customer_id``, on the other hand, is refused: it is a
caller's bug, not a new person. No customer at all (caller ID withheld) is an anonymous
contact, kept for the KPIs and in no timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from history import customers
from history.context import Context
from history.errors import HistoryError, UnknownInteraction
from history.inputs import InteractionRef, InteractionUpdate, NewInteraction, NewNote
from history.models import InteractionRow, NoteRow


async def resolve_customers(
    session: AsyncSession, ctx: Context, batch: Sequence[NewInteraction]
) -> list[int | None]:
    """The customer of each interaction; identities nobody holds get a new customer."""
    pairs = [
        None
        if new.identity is None
        else ctx.identities.normalise(new.identity.kind, new.identity.value)
        for new in batch
    ]
    holders = await customers.holder_ids(session, {p for p in pairs if p is not None})
    resolved: list[int | None] = []
    known_ids: dict[int, int] = {}
    for new, pair in zip(batch, pairs, strict=True):
        if new.customer_id is not None:
            if new.customer_id not in known_ids:
                known_ids[new.customer_id] = await customers.resolve_id(session, new.customer_id)
            resolved.append(known_ids[new.customer_id])
        elif pair is None:
            resolved.append(None)
        else:
            if pair not in holders:
                row = await customers.create_for_identity(session, ctx, *pair)
                holders[pair] = row.id
            resolved.append(holders[pair])
    return resolved


async def by_ref(session: AsyncSession, ref: InteractionRef) -> InteractionRow | None:
    found = await session.execute(
        select(InteractionRow).where(
            InteractionRow.source == ref.source,
            InteractionRow.idempotency_key == ref.idempotency_key,
        )
    )
    return found.scalar_one_or_none()


async def get(session: AsyncSession, target: int | InteractionRef) -> InteractionRow:
    if isinstance(target, InteractionRef):
        row = await by_ref(session, target)
        if row is None:
            raise UnknownInteraction(f"{target.source}/{target.idempotency_key}")
        return row
    found = await session.get(InteractionRow, target)
    if found is None:
        raise UnknownInteraction(str(target))
    return found


def interaction_columns(
    new: NewInteraction, customer_id: int | None, ctx: Context
) -> dict[str, Any]:
    now = ctx.now()
    values = new.model_dump(exclude={"customer_id", "identity"})
    for name in ("channel", "direction", "status"):
        values[name] = values[name].value
    values.update(
        customer_id=customer_id,
        started_at=new.started_at or now,
        created_at=now,
        updated_at=now,
    )
    return values


_TABLE = InteractionRow.metadata.tables[InteractionRow.__tablename__]
#: Insert-unless-the-(source, key)-exists, built once per dialect (compiled once, cached).
_UPSERTS = {
    "postgresql": postgresql.insert(_TABLE).on_conflict_do_nothing(
        index_elements=["source", "idempotency_key"]
    ),
    "sqlite": sqlite.insert(_TABLE).on_conflict_do_nothing(
        index_elements=["source", "idempotency_key"]
    ),
}
APPEND = {name: upsert.returning(*_TABLE.c) for name, upsert in _UPSERTS.items()}
_APPEND_MANY = {name: upsert.returning(_TABLE.c.id) for name, upsert in _UPSERTS.items()}


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def append(
    session: AsyncSession, ctx: Context, new: NewInteraction
) -> tuple[InteractionRow | Row[Any], bool]:
    """The interaction and whether this call created it (False: a retry found it).

    One statement in the common case: the insert skips a (source, key) that exists, and
    only then is the existing row read.
    """
    (customer_id,) = await resolve_customers(session, ctx, [new])
    values = interaction_columns(new, customer_id, ctx)
    created = (await session.execute(APPEND[dialect_of(session)], values)).one_or_none()
    if created is not None:
        return created, True
    ref = new.ref
    existing = None if ref is None else await by_ref(session, ref)
    if existing is None:
        raise HistoryError("the interaction was neither inserted nor found")
    return existing, False


async def append_many(session: AsyncSession, ctx: Context, batch: Sequence[NewInteraction]) -> int:
    """Bulk import in one statement; rows whose (source, key) exists are skipped.

    Returns how many rows were inserted.
    """
    if not batch:
        return 0
    owners = await resolve_customers(session, ctx, batch)
    rows = [interaction_columns(new, owner, ctx) for new, owner in zip(batch, owners, strict=True)]
    result = await session.execute(_APPEND_MANY[dialect_of(session)], rows)
    return len(result.all())


async def update(
    session: AsyncSession, ctx: Context, target: int | InteractionRef, change: InteractionUpdate
) -> InteractionRow:
    row = await get(session, target)
    try:
        values = change.changes()
    except ValueError as error:
        raise HistoryError(str(error)) from None
    for name, value in values.items():
        setattr(row, name, value.value if name == "status" else value)
    row.updated_at = ctx.now()
    await session.flush()
    return row


async def add_note(session: AsyncSession, ctx: Context, new: NewNote) -> NoteRow:
    key = new.idempotency_key
    if key is not None and (existing := await _note_by_key(session, new.source, key)) is not None:
        return existing
    interaction: InteractionRow | None = None
    if new.interaction is not None:
        interaction = await get(session, new.interaction)
    elif new.interaction_id is not None:
        interaction = await get(session, new.interaction_id)
    if interaction is not None:
        customer_id = interaction.customer_id
    elif new.customer_id is not None:
        customer_id = await customers.resolve_id(session, new.customer_id)
    else:
        raise HistoryError("a note belongs to an interaction or a customer; neither was given")
    row = NoteRow(
        customer_id=customer_id,
        interaction_id=None if interaction is None else interaction.id,
        author=new.author,
        body=new.body,
        source=new.source,
        idempotency_key=key,
        created_at=ctx.now(),
    )
    try:
        # The savepoint first: begin_nested() flushes what is pending outside of it.
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        if key is not None and (existing := await _note_by_key(session, new.source, key)):
            return existing
        raise
    return row


async def _note_by_key(session: AsyncSession, source: str, key: str) -> NoteRow | None:
    found = await session.execute(
        select(NoteRow).where(NoteRow.source == source, NoteRow.idempotency_key == key)
    )
    return found.scalar_one_or_none()
