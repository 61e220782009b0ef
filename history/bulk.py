"""Interaction appends in bulk: a run of appends in a few statements, however long it is.

``HistoryRepository.write_batch`` hands its runs of appends here. The customers of the
whole run are looked up in one query; the identities nobody holds get their customers in
one insert and their identity rows in another; the interactions go in one multi-row
insert. The result is what the same appends made one at a time would have made:

* identities that are one person get one customer: the same number twice, or one number
  on two phone-like kinds (the first of them is the identity the customer holds);
* an ``(source, idempotency_key)`` already stored, or appended earlier in the run,
  returns that interaction unchanged;
* ids are given in the order of the run, so a timeline's order does not change.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from history import customers
from history.context import Context
from history.errors import HistoryError
from history.identities import PHONE_KINDS, IdentityKind
from history.inputs import NewInteraction

# One definition of an interaction's columns and of its insert-unless-the-key-exists, shared
# with the single append.
from history.interactions import APPEND, dialect_of, interaction_columns
from history.models import CustomerRow, IdentityRow, InteractionRow

Pair = tuple[IdentityKind, str]
Ref = tuple[str, str]  # (source, idempotency_key)

#: Values per ``IN (...)`` when reading back by key.
_CHUNK = 500

_IDENTITIES = IdentityRow.metadata.tables[IdentityRow.__tablename__]
#: Identity rows, skipping one a concurrent writer has just given to its own new customer.
_ADD_IDENTITIES = {
    name: insert_for(_IDENTITIES)
    .on_conflict_do_nothing(index_elements=["value", "kind"])
    .returning(_IDENTITIES.c.kind, _IDENTITIES.c.value)
    for name, insert_for in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
#: New customers (all alike until their identities are added). Not ``sort_by_parameter_order``:
#: SQLite would get a statement per row. Any pairing of the new ids with the people is right;
#: the ids in ascending order give the one that one-at-a-time appends give.
#: On the table, not the entity: the ORM's bulk insert collects each row through the mapper
#: (a tenth of a burst's write CPU on SQLite's writing thread); the table's is one multi-row
#: statement all the same.
_CUSTOMERS = CustomerRow.metadata.tables[CustomerRow.__tablename__]
_ADD_CUSTOMERS = insert(_CUSTOMERS).returning(_CUSTOMERS.c.id)


def _person(pair: Pair) -> tuple[str, str]:
    """Pairs with the same person key resolve to one customer (see ``holder_ids``)."""
    kind, value = pair
    return ("phone", value) if kind in PHONE_KINDS else (kind.value, value)


async def create_customers(
    session: AsyncSession, ctx: Context, pairs: Collection[Pair]
) -> dict[Pair, int]:
    """A new customer for each person among ``pairs`` (normalised identities nobody holds),
    in their order; each holds the first of its identities.

    An identity a concurrent writer took meanwhile resolves to that writer's customer (the
    twin wins, as for a single append) and the customer made here for it is removed.
    """
    people: dict[tuple[str, str], list[Pair]] = {}
    for pair in pairs:
        people.setdefault(_person(pair), []).append(pair)
    if not people:
        return {}
    firsts = [group[0] for group in people.values()]
    now = ctx.now()
    made = await session.execute(
        _ADD_CUSTOMERS,
        [
            {"tags": [], "consent": {}, "custom_fields": {}, "created_at": now, "updated_at": now}
            for _ in firsts
        ],
    )
    owner = dict(zip(firsts, sorted(made.scalars()), strict=True))
    added = await session.execute(
        _ADD_IDENTITIES[dialect_of(session)],
        [
            {"customer_id": owner[pair], "kind": pair[0].value, "value": pair[1], "created_at": now}
            for pair in firsts
        ],
    )
    held = {(IdentityKind(kind), value) for kind, value in added}
    taken = [pair for pair in firsts if pair not in held]
    if taken:
        twins = await customers.holder_ids(session, taken)
        orphans = [owner[pair] for pair in taken]
        await session.execute(delete(CustomerRow).where(CustomerRow.id.in_(orphans)))
        owner.update(twins)
    return {pair: owner[people[_person(pair)][0]] for pair in pairs}


async def resolve_customers(
    session: AsyncSession, ctx: Context, run: Sequence[NewInteraction]
) -> list[int | None]:
    """The customer of each append (as ``interactions.resolve_customers``), new ones made
    in bulk."""
    pairs = [
        None
        if new.identity is None
        else ctx.identities.normalise(new.identity.kind, new.identity.value)
        for new in run
    ]
    wanted = [p for p in dict.fromkeys(pairs) if p is not None]
    holders = await customers.holder_ids(session, wanted)
    holders.update(await create_customers(session, ctx, [p for p in wanted if p not in holders]))
    known_ids: dict[int, int] = {}
    resolved: list[int | None] = []
    for new, pair in zip(run, pairs, strict=True):
        if new.customer_id is not None:
            if new.customer_id not in known_ids:
                known_ids[new.customer_id] = await customers.resolve_id(session, new.customer_id)
            resolved.append(known_ids[new.customer_id])
        else:
            resolved.append(None if pair is None else holders[pair])
    return resolved


def _ref(new: NewInteraction) -> Ref | None:
    return None if new.idempotency_key is None else (new.source, new.idempotency_key)


_INTERACTIONS = InteractionRow.metadata.tables[InteractionRow.__tablename__]


async def by_refs(session: AsyncSession, refs: Collection[Ref]) -> dict[Ref, Row[Any]]:
    """The stored interactions with these (source, idempotency_key)s."""
    wanted = set(refs)
    keys = sorted({key for _, key in wanted})
    found: dict[Ref, Row[Any]] = {}
    table = _INTERACTIONS.c
    for start in range(0, len(keys), _CHUNK):
        rows = await session.execute(
            select(*table).where(table.idempotency_key.in_(keys[start : start + _CHUNK]))
        )
        for row in rows:
            ref = (row.source, row.idempotency_key or "")
            if ref in wanted:
                found[ref] = row
    return found


async def append_run(
    session: AsyncSession, ctx: Context, run: Sequence[NewInteraction]
) -> list[InteractionRow | Row[Any]]:
    """Each append's interaction, in order: the new one, or the one its key already had."""
    if not run:
        return []
    owners = await resolve_customers(session, ctx, run)
    values: list[dict[str, Any]] = []
    refs: set[Ref] = set()
    for new, owner in zip(run, owners, strict=True):
        ref = _ref(new)
        if ref is not None:
            if ref in refs:
                continue  # a repeat within the run returns the first
            refs.add(ref)
        values.append(interaction_columns(new, owner, ctx))
    inserted = await session.execute(APPEND[dialect_of(session)], values)
    stored: dict[Ref, InteractionRow | Row[Any]] = {}
    # No key: never skipped, so there are as many as were sent; ids are given in the order of
    # the VALUES (as SQLAlchemy's own sort_by_parameter_order assumes on PostgreSQL).
    anonymous: list[Row[Any]] = []
    for new_row in inserted:
        if new_row.idempotency_key is None:
            anonymous.append(new_row)
        else:
            stored[(new_row.source, new_row.idempotency_key)] = new_row
    missing = refs - stored.keys()
    if missing:
        stored.update(await by_refs(session, missing))
    unkeyed = iter(sorted(anonymous, key=lambda row: int(row.id)))
    rows: list[InteractionRow | Row[Any]] = []
    for new in run:
        ref = _ref(new)
        row: InteractionRow | Row[Any] | None = (
            next(unkeyed, None) if ref is None else stored.get(ref)
        )
        if row is None:
            raise HistoryError("the interaction was neither inserted nor found")
        rows.append(row)
    return rows
