"""A batch's appends go in together (``history.bulk``) and leave exactly what the same appends
made one at a time leave: customers, identities, interactions, in order; idempotency keys and
updates of interactions appended earlier in the same batch behave as they do alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from history.batch import InteractionChange
from history.errors import UnknownInteraction
from history.identities import IdentityKind
from history.inputs import (
    IdentityIn,
    InteractionRef,
    InteractionUpdate,
    NewCustomer,
    NewInteraction,
    NewNote,
    Status,
)
from history.models import Base, CustomerRow, IdentityRow, InteractionRow
from history.records import Interaction
from history.repository import HistoryRepository

from .conftest import ManualClock


def append(
    key: str | None, value: str | None = None, kind: str = "phone", **fields: Any
) -> NewInteraction:
    """A voice contact from ``value`` (a number unless ``kind`` says otherwise; None: none)."""
    identity = None if value is None else IdentityIn(kind=IdentityKind(kind), value=value)
    return NewInteraction.model_validate(
        {"channel": "voice", "identity": identity, "idempotency_key": key, **fields}
    )


def update(key: str, **fields: Any) -> InteractionChange:
    target = InteractionRef(source="hotline", idempotency_key=key)
    return InteractionChange(target, InteractionUpdate.model_validate(fields))


async def wipe(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


def ranks(ids: Sequence[int]) -> dict[int | None, int | None]:
    """Ids as their order of creation: ids differ between two runs, their order must not."""
    return {None: None} | {id_: rank for rank, id_ in enumerate(sorted(ids))}


async def stored(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the appends left, ids replaced by their rank."""
    async with engine.connect() as connection:
        people = list(
            (await connection.execute(select(CustomerRow).order_by(CustomerRow.id))).all()
        )
        customer = ranks([c.id for c in people])
        identities = await connection.execute(select(IdentityRow).order_by(IdentityRow.id))
        interactions = await connection.execute(select(InteractionRow).order_by(InteractionRow.id))
        return {
            "customers": [
                (customer[c.id], c.name, c.tags, c.created_at, c.merged_into_id) for c in people
            ],
            "identities": [
                (customer[i.customer_id], i.kind, i.value, i.created_at) for i in identities
            ],
            "interactions": [
                (
                    customer[i.customer_id],
                    *(v for k, v in i._mapping.items() if k != "id" and k != "customer_id"),
                )
                for i in interactions
            ],
        }


async def returned(engine: AsyncEngine, records: Sequence[Interaction]) -> list[tuple[Any, ...]]:
    async with engine.connect() as connection:
        interaction = ranks(list((await connection.execute(select(InteractionRow.id))).scalars()))
        customer = ranks(list((await connection.execute(select(CustomerRow.id))).scalars()))
    return [
        (interaction[r.id], customer[r.customer_id], r.idempotency_key, r.queue, r.agent)
        for r in records
    ]


async def twice(
    engine: AsyncEngine,
    repository: HistoryRepository,
    writes: Callable[[int], list[NewInteraction]],
) -> tuple[Any, Any]:
    """(one at a time, in one batch): what is stored and what the appends returned.

    Each run starts from the same store: a known customer and one interaction appended
    before the batch. ``writes`` is given the known customer's id.
    """
    results = []
    for one_at_a_time in (True, False):
        await wipe(engine)
        known = await repository.create_customer(
            NewCustomer(
                name="Ann", identities=(IdentityIn(kind=IdentityKind.PHONE, value="+447700900001"),)
            )
        )
        await repository.append_interaction(
            append("before", value="+447700900001", queue="billing")
        )
        batch = writes(known.id)
        if one_at_a_time:
            records = [await repository.append_interaction(new) for new in batch]
        else:
            written = await repository.write_batch(batch)
            records = [r for r in written if isinstance(r, Interaction)]
            assert len(records) == len(batch)
        results.append((await stored(engine), await returned(engine, records)))
    return results[0], results[1]


async def test_a_batch_of_appends_stores_what_the_same_appends_one_at_a_time_store(
    engine: AsyncEngine, repository: HistoryRepository
) -> None:
    def writes(known: int) -> list[NewInteraction]:
        return [
            append("c1", value="07700 900123", queue="sales"),  # a new number
            append("c2", value="+44 7700 900001"),  # the known customer's, written otherwise
            append("c3", customer_id=known),
            append("c4"),  # caller ID withheld: anonymous
            append("c5", kind="email", value="Bo@Example.com"),
            append("c6", kind="whatsapp", value="+447700900123"),  # c1's number on WhatsApp
            append("c7", kind="sms", value="+447700900555"),
            append("before", value="+447700900001", queue="sales"),  # appended before
            append(None, value="+447700900666"),  # no key (a bulk import)
            append("c8", kind="chat", value="web-42", direction="out"),
            append(None),
            append("c9", value="07700 900123", status="resolved"),  # c1's number again
        ]

    one_at_a_time, in_one_batch = await twice(engine, repository, writes)
    assert in_one_batch == one_at_a_time
    tables, records = in_one_batch
    # Ann, c1's (phone and WhatsApp: one person), c5's, c7's, the keyless one's and c8's.
    assert len(tables["customers"]) == 6
    assert len(tables["interactions"]) == 1 + 11
    assert records[7][3] == "billing"  # the retry got the interaction appended before


async def test_two_appends_for_one_new_number_in_a_batch_make_one_customer(
    engine: AsyncEngine, repository: HistoryRepository
) -> None:
    first, second = await repository.write_batch(
        [append("a", value="07700 900777"), append("b", value="+447700900777")]
    )
    assert isinstance(first, Interaction)
    assert isinstance(second, Interaction)
    assert first.customer_id == second.customer_id is not None
    customer = await repository.find_customer("phone", "+447700900777")
    assert customer is not None
    assert customer.id == first.customer_id
    assert len(customer.identities) == 1
    async with engine.connect() as connection:
        assert (
            await connection.execute(select(func.count()).select_from(CustomerRow))
        ).scalar_one() == 1


async def test_an_update_in_the_batch_of_its_append_applies_after_it(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    written = await repository.write_batch(
        [
            append("k1", value="+447700900101", queue="support"),
            append("k2", value="+447700900102"),
            update("k1", agent="a1", wait_s=3.0),
            append("k3", value="+447700900103"),
            update("k2", queue="billing"),
            update("k1", status=Status.RESOLVED, talk_s=60.0),
        ]
    )
    k1, k2, answered, k3, moved, resolved = written
    assert isinstance(k1, Interaction)
    assert k1.agent is None
    assert isinstance(answered, Interaction)
    assert (answered.id, answered.agent) == (k1.id, "a1")
    assert isinstance(resolved, Interaction)
    assert (resolved.agent, resolved.wait_s, resolved.status, resolved.talk_s) == (
        "a1",
        3.0,
        Status.RESOLVED,
        60.0,
    )
    assert isinstance(moved, Interaction)
    assert moved.queue == "billing"
    assert isinstance(k2, Interaction)
    assert isinstance(k3, Interaction)
    assert k1.id < k2.id < k3.id  # ids in the batch's order
    stored = await repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key="k1")
    )
    assert stored == resolved


async def test_an_update_before_its_append_in_a_batch_is_refused_as_alone(
    repository: HistoryRepository,
) -> None:
    with pytest.raises(UnknownInteraction):
        await repository.write_batch(
            [
                append("x0", value="+447700900200"),
                update("x1", agent="a1"),
                append("x1", value="+447700900201"),
            ]
        )
    assert await repository.find_customer("phone", "+447700900200") is None  # rolled back


async def test_a_key_repeated_in_a_batch_returns_the_first_interaction(
    engine: AsyncEngine, repository: HistoryRepository
) -> None:
    first, retry, other_source = await repository.write_batch(
        [
            append("dup", value="+447700900301", queue="billing"),
            append("dup", value="+447700900301", queue="sales"),
            append("dup", value="+447700900301", source="chat", channel="chat"),
        ]
    )
    assert retry == first
    assert isinstance(first, Interaction)
    assert first.queue == "billing"
    assert isinstance(other_source, Interaction)
    assert other_source.id != first.id
    async with engine.connect() as connection:
        count = select(func.count()).select_from(InteractionRow)
        assert (await connection.execute(count)).scalar_one() == 2


async def test_a_repeat_after_an_update_in_the_batch_returns_the_updated_interaction(
    repository: HistoryRepository,
) -> None:
    """As one at a time: the retry comes after the update, so it finds the row updated."""
    first, updated, retry = await repository.write_batch(
        [
            append("r", value="+447700900401"),
            update("r", agent="a7"),
            append("r", value="+447700900401"),
        ]
    )
    assert isinstance(first, Interaction)
    assert first.agent is None
    assert retry == updated
    assert isinstance(retry, Interaction)
    assert retry.agent == "a7"


async def test_a_note_on_an_interaction_appended_in_the_batch_finds_it(
    repository: HistoryRepository,
) -> None:
    ref = InteractionRef(source="hotline", idempotency_key="n1")
    appended, note = await repository.write_batch(
        [
            append("n1", value="+447700900501"),
            NewNote(author="a1", body="called back", interaction=ref),
        ]
    )
    assert isinstance(appended, Interaction)
    assert note.interaction_id == appended.id  # type: ignore[union-attr]


class Statements:
    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._execute)

    def _execute(self, *_args: Any) -> None:
        self.count += 1


async def test_a_run_of_appends_takes_the_same_statements_however_long(
    engine: AsyncEngine, repository: HistoryRepository
) -> None:
    statements = Statements(engine)

    async def cost(calls: range) -> int:
        before = statements.count
        await repository.write_batch([append(f"s{i}", value=f"+4477009{i:05d}") for i in calls])
        return statements.count - before

    # BEGIN, look the numbers up, add customers, identities, interactions, COMMIT.
    assert await cost(range(0, 10)) == await cost(range(100, 400)) <= 6


async def test_concurrent_batches_for_one_new_number_make_one_customer(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    writers = [HistoryRepository(engine, clock=clock) for _ in range(6)]
    async with asyncio.timeout(20):
        batches: list[Awaitable[Any]] = [
            w.write_batch([append(f"w{n}.{i}", value="+447700900999") for i in range(3)])
            for n, w in enumerate(writers)
        ]
        written = [r for batch in await asyncio.gather(*batches) for r in batch]
    assert len({r.customer_id for r in written}) == 1
    async with engine.connect() as connection:
        customers = (
            await connection.execute(select(func.count()).select_from(CustomerRow))
        ).scalar_one()
    assert customers == 1  # the customers made for the losing twins are gone
