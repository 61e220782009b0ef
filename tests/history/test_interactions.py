from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from history.errors import HistoryError, UnknownCustomer, UnknownInteraction
from history.identities import IdentityKind
from history.inputs import (
    Channel,
    Direction,
    IdentityIn,
    InteractionRef,
    InteractionUpdate,
    NewCustomer,
    NewInteraction,
    NewNote,
    Status,
)
from history.repository import HistoryRepository

from .conftest import ManualClock

CALLER = IdentityIn(kind=IdentityKind.PHONE, value="07700 900123")


def call(key: str, **fields: object) -> NewInteraction:
    return NewInteraction.model_validate(
        {"channel": "voice", "identity": CALLER, "idempotency_key": key, **fields}
    )


async def test_retry_with_same_idempotency_key_does_not_duplicate(
    repository: HistoryRepository,
) -> None:
    first = await repository.append_interaction(call("1795356299.17", queue="billing"))
    retry = await repository.append_interaction(call("1795356299.17", queue="sales"))
    assert retry == first
    assert retry.queue == "billing"
    assert first.customer_id is not None
    page = await repository.timeline(first.customer_id)
    assert len(page.entries) == 1


async def test_same_key_from_another_source_is_another_interaction(
    repository: HistoryRepository,
) -> None:
    voice = await repository.append_interaction(call("42"))
    chat = await repository.append_interaction(call("42", channel="chat", source="chat"))
    assert voice.id != chat.id


async def test_first_contact_from_an_unknown_number_creates_its_customer(
    repository: HistoryRepository,
) -> None:
    first = await repository.append_interaction(call("a"))
    second = await repository.append_interaction(call("b", channel="sms"))
    assert first.customer_id is not None
    assert second.customer_id == first.customer_id
    customer = await repository.find_customer("phone", "+447700900123")
    assert customer is not None
    assert customer.id == first.customer_id
    assert customer.name is None


async def test_interaction_for_an_unknown_customer_id_is_refused(
    repository: HistoryRepository,
) -> None:
    with pytest.raises(UnknownCustomer):
        await repository.append_interaction(
            NewInteraction(channel=Channel.CHAT, customer_id=2_000_000_000)
        )


async def test_withheld_caller_is_an_anonymous_contact_kept_for_kpis(
    repository: HistoryRepository,
) -> None:
    anonymous = await repository.append_interaction(
        NewInteraction(channel=Channel.VOICE, queue="sales", wait_s=12.5, idempotency_key="x")
    )
    assert anonymous.customer_id is None
    assert (await repository.get_interaction(anonymous.id)).wait_s == 12.5


async def test_interaction_moves_from_ivr_to_queue_to_agent_to_wrap_up(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    ref = InteractionRef(source="hotline", idempotency_key="1795356299.17")
    started = clock.now
    await repository.append_interaction(call(ref.idempotency_key, intent="billing"))
    await repository.update_interaction(ref, InteractionUpdate(queue="billing", priority=7))
    await repository.update_interaction(ref, InteractionUpdate(agent="agent1001", wait_s=41.0))
    clock.advance(minutes=5)
    done = await repository.update_interaction(
        ref,
        InteractionUpdate(
            ended_at=clock.now, talk_s=240.0, status=Status.RESOLVED, disposition="refund"
        ),
    )
    assert (done.intent, done.queue, done.priority, done.agent) == (
        "billing",
        "billing",
        7,
        "agent1001",
    )
    assert (done.status, done.disposition, done.wait_s, done.talk_s) == (
        Status.RESOLVED,
        "refund",
        41.0,
        240.0,
    )
    assert done.started_at == started
    assert done.ended_at == clock.now
    assert done.updated_at == clock.now
    assert done.started_at.tzinfo is UTC


async def test_update_of_an_unknown_interaction_is_a_typed_error(
    repository: HistoryRepository,
) -> None:
    with pytest.raises(UnknownInteraction):
        await repository.update_interaction(
            InteractionRef(source="hotline", idempotency_key="nope"), InteractionUpdate(agent="a")
        )


async def test_status_cannot_be_cleared(repository: HistoryRepository) -> None:
    await repository.append_interaction(call("k"))
    ref = InteractionRef(source="hotline", idempotency_key="k")
    with pytest.raises(HistoryError, match="status cannot be cleared"):
        await repository.update_interaction(ref, InteractionUpdate(status=None))


def test_csat_is_one_to_five() -> None:
    with pytest.raises(ValidationError):
        InteractionUpdate(csat=6)


def test_naive_times_and_oversized_transcripts_are_refused() -> None:
    with pytest.raises(ValidationError):
        NewInteraction(channel=Channel.VOICE, started_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError):
        NewInteraction(channel=Channel.VOICE, transcript="x" * 1_000_001)


async def test_note_on_an_interaction_by_its_writer_reference(
    repository: HistoryRepository,
) -> None:
    interaction = await repository.append_interaction(call("k1"))
    note = NewNote(
        author="agent1001",
        body="promised a callback",
        interaction=InteractionRef(source="hotline", idempotency_key="k1"),
        idempotency_key="wrap-k1",
    )
    first = await repository.add_note(note)
    again = await repository.add_note(note)
    assert first == again
    assert (first.interaction_id, first.customer_id) == (interaction.id, interaction.customer_id)
    assert interaction.customer_id is not None
    page = await repository.timeline(interaction.customer_id)
    assert [n.body for n in page.entries[0].notes] == ["promised a callback"]


async def test_note_on_the_customer_is_not_tied_to_an_interaction(
    repository: HistoryRepository,
) -> None:
    customer = await repository.create_customer(NewCustomer(name="Jane"))
    await repository.add_note(NewNote(author="sup", body="VIP from May", customer_id=customer.id))
    assert [n.body for n in await repository.customer_notes(customer.id)] == ["VIP from May"]
    with pytest.raises(HistoryError):
        await repository.add_note(NewNote(author="sup", body="orphan"))


async def test_bulk_append_skips_what_is_already_there(repository: HistoryRepository) -> None:
    await repository.append_interaction(call("b-1"))
    batch = [call(f"b-{i}", direction=Direction.OUT) for i in range(5)]
    assert await repository.append_interactions(batch) == 4
    assert await repository.append_interactions(batch) == 0
    customer = await repository.find_customer("phone", "07700900123")
    assert customer is not None
    page = await repository.timeline(customer.id, limit=10)
    assert len(page.entries) == 5


async def test_concurrent_first_contacts_from_one_new_number_make_one_customer(
    repository: HistoryRepository,
) -> None:
    async with asyncio.timeout(20):
        written = await asyncio.gather(
            *(repository.append_interaction(call(f"c{i}")) for i in range(8)),
            *(repository.append_interaction(call("same")) for _ in range(4)),
        )
    assert len({w.customer_id for w in written}) == 1
    assert len({w.id for w in written}) == 9
