"""Customers and their identities: lookup, creation, change, and merging two into one."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from history.context import Context
from history.errors import IdentityConflict, InvalidMerge, UnknownCustomer
from history.identities import PHONE_KINDS, IdentityKind
from history.inputs import CustomerUpdate, IdentityIn, NewCustomer
from history.models import CustomerRow, IdentityRow, InteractionRow, MergeRow, NoteRow

#: A merged customer's id resolves through at most this many merges (a cycle is a bug).
_MAX_MERGE_HOPS = 64


async def load(session: AsyncSession, customer_id: int) -> CustomerRow:
    """The customer with its identities, following merges to the surviving customer."""
    for _ in range(_MAX_MERGE_HOPS):
        row = await session.get(
            CustomerRow,
            customer_id,
            options=[selectinload(CustomerRow.identities)],
            populate_existing=True,
        )
        if row is None:
            raise UnknownCustomer(customer_id)
        if row.merged_into_id is None:
            return row
        customer_id = row.merged_into_id
    raise UnknownCustomer(customer_id)


async def resolve_id(session: AsyncSession | AsyncConnection, customer_id: int) -> int:
    """The id that now holds this customer's history (itself, or the survivor of merges).

    Cheaper than :func:`load` (no identities) for queries that only need the id.
    """
    for _ in range(_MAX_MERGE_HOPS):
        found = await session.execute(
            select(CustomerRow.merged_into_id).where(CustomerRow.id == customer_id)
        )
        merged_into = found.one_or_none()
        if merged_into is None:
            raise UnknownCustomer(customer_id)
        if merged_into[0] is None:
            return customer_id
        customer_id = merged_into[0]
    raise UnknownCustomer(customer_id)


async def holder_of(session: AsyncSession, kind: IdentityKind, value: str) -> IdentityRow | None:
    """The identity row for an already normalised (kind, value)."""
    found = await session.execute(
        select(IdentityRow).where(IdentityRow.kind == kind.value, IdentityRow.value == value)
    )
    return found.scalar_one_or_none()


async def holder_ids(
    session: AsyncSession, pairs: Collection[tuple[IdentityKind, str]]
) -> dict[tuple[IdentityKind, str], int]:
    """Who holds each normalised (kind, value): exact kind first, and a number also finds
    its holder on another phone-like kind.

    Someone who called from +44... and later writes from WhatsApp on the same number is the
    same person: the chat agent should see the call. (Identities always belong to a live
    customer: a merge moves them to the survivor.)
    """
    exact: dict[tuple[str, str], int] = {}
    by_number: dict[str, int] = {}
    values = sorted({value for _, value in pairs})
    for start in range(0, len(values), 500):
        found = await session.execute(
            select(IdentityRow.kind, IdentityRow.value, IdentityRow.customer_id)
            .where(IdentityRow.value.in_(values[start : start + 500]))
            .order_by(IdentityRow.id)
        )
        for kind, value, customer_id in found:
            exact[(kind, value)] = customer_id
            if kind in PHONE_KINDS:
                by_number.setdefault(value, customer_id)
    held: dict[tuple[IdentityKind, str], int] = {}
    for kind, value in pairs:
        holder = exact.get((kind.value, value))
        if holder is None and kind in PHONE_KINDS:
            holder = by_number.get(value)
        if holder is not None:
            held[(kind, value)] = holder
    return held


async def find_normalised(
    session: AsyncSession, kind: IdentityKind, value: str
) -> CustomerRow | None:
    holders = await holder_ids(session, [(kind, value)])
    holder = holders.get((kind, value))
    return None if holder is None else await load(session, holder)


async def find(
    session: AsyncSession, ctx: Context, kind: IdentityKind | str, value: str
) -> CustomerRow | None:
    normal_kind, normal_value = ctx.identities.normalise(kind, value)
    return await find_normalised(session, normal_kind, normal_value)


async def create(session: AsyncSession, ctx: Context, new: NewCustomer) -> CustomerRow:
    pairs = _normalised(ctx, new.identities)
    for kind, value in pairs:
        holder = await holder_of(session, kind, value)
        if holder is not None:
            raise IdentityConflict(kind, value, holder.customer_id)
    now = ctx.now()
    row = CustomerRow(
        name=new.name,
        tier=new.tier,
        language=new.language,
        tags=list(new.tags),
        consent=dict(new.consent),
        custom_fields=dict(new.custom_fields),
        created_at=now,
        updated_at=now,
    )
    row.identities = [IdentityRow(kind=k.value, value=v, created_at=now) for k, v in pairs]
    try:
        # The savepoint first: begin_nested() flushes what is pending outside of it.
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        await _raise_conflict(session, pairs)
        raise
    return row


async def create_for_identity(
    session: AsyncSession, ctx: Context, kind: IdentityKind, value: str
) -> CustomerRow:
    """A new customer known only by one (normalised) identity; a concurrent twin wins."""
    try:
        return await create(
            session, ctx, NewCustomer(identities=(IdentityIn(kind=kind, value=value),))
        )
    except IdentityConflict as conflict:
        return await load(session, conflict.customer_id)


async def update_fields(
    session: AsyncSession, ctx: Context, customer_id: int, change: CustomerUpdate
) -> CustomerRow:
    row = await load(session, customer_id)
    for name in change.model_fields_set:
        value = getattr(change, name)
        if name == "tags":
            value = list(value or ())
        elif name in ("consent", "custom_fields"):
            value = dict(value or {})
        setattr(row, name, value)
    row.updated_at = ctx.now()
    await session.flush()
    return row


async def add_identity(
    session: AsyncSession, ctx: Context, customer_id: int, identity: IdentityIn
) -> CustomerRow:
    row = await load(session, customer_id)
    ((kind, value),) = _normalised(ctx, (identity,))
    holder = await holder_of(session, kind, value)
    if holder is not None:
        if holder.customer_id == row.id:
            return row
        raise IdentityConflict(kind, value, holder.customer_id)
    try:
        # The savepoint first: begin_nested() flushes what is pending outside of it.
        async with session.begin_nested():
            session.add(
                IdentityRow(customer_id=row.id, kind=kind.value, value=value, created_at=ctx.now())
            )
            await session.flush()
    except IntegrityError:
        await _raise_conflict(session, [(kind, value)])
        raise
    return await load(session, row.id)


async def merge(
    session: AsyncSession, ctx: Context, survivor_id: int, merged_id: int, by: str, reason: str
) -> MergeRow:
    """Everything of ``merged`` moves to ``survivor``; ``merged`` stays as a forwarding stub."""
    survivor = await load(session, survivor_id)
    merged = await load(session, merged_id)
    if survivor.id == merged.id:
        raise InvalidMerge(f"customers {survivor_id} and {merged_id} are already one customer")
    for row in (survivor, merged):
        if row.erased_at is not None:
            raise InvalidMerge(f"customer {row.id} was erased; its data cannot be merged")
    moved: dict[str, int] = {}
    for table, name in (
        (IdentityRow, "identities"),
        (InteractionRow, "interactions"),
        (NoteRow, "notes"),
    ):
        result = await session.execute(
            update(table)
            .where(table.customer_id == merged.id)
            .values(customer_id=survivor.id)
            .execution_options(synchronize_session=False)
        )
        moved[name] = int(getattr(result, "rowcount", 0) or 0)
    await session.execute(
        update(CustomerRow)
        .where(CustomerRow.merged_into_id == merged.id)
        .values(merged_into_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    now = ctx.now()
    survivor.name = survivor.name or merged.name
    survivor.tier = survivor.tier or merged.tier
    survivor.language = survivor.language or merged.language
    survivor.tags = survivor.tags + [t for t in merged.tags if t not in survivor.tags]
    survivor.consent = _merged_consent(survivor.consent, merged.consent)
    survivor.custom_fields = {**merged.custom_fields, **survivor.custom_fields}
    survivor.updated_at = now
    merged.merged_into_id = survivor.id
    merged.name, merged.tags, merged.consent, merged.custom_fields = None, [], {}, {}
    merged.updated_at = now
    record = MergeRow(
        survivor_id=survivor.id,
        merged_id=merged.id,
        merged_at=now,
        merged_by=by,
        reason=reason,
        moved=moved,
    )
    session.add(record)
    await session.flush()
    return record


def _merged_consent(kept: dict[str, bool], other: dict[str, bool]) -> dict[str, bool]:
    """A refusal given on either record stands: consent is only kept where both agree."""
    return {key: kept.get(key, True) and other.get(key, True) for key in {*kept, *other}}


def _normalised(ctx: Context, identities: tuple[IdentityIn, ...]) -> list[tuple[IdentityKind, str]]:
    pairs: list[tuple[IdentityKind, str]] = []
    for identity in identities:
        pair = ctx.identities.normalise(identity.kind, identity.value)
        if pair not in pairs:
            pairs.append(pair)
    return pairs


async def _raise_conflict(session: AsyncSession, pairs: list[tuple[IdentityKind, str]]) -> None:
    for kind, value in pairs:
        holder = await holder_of(session, kind, value)
        if holder is not None:
            raise IdentityConflict(kind, value, holder.customer_id)
