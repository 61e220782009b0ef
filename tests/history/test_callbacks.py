"""The callback book in the history store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncEngine

from history.callbacks import CallbackStore, NewCallback
from history.identities import IdentityKind
from history.inputs import IdentityIn, NewCustomer
from history.repository import HistoryRepository

from .conftest import ManualClock, Target

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def new(call_id: str, *, number: str = "01632 960123", waited_s: float = 60) -> NewCallback:
    return NewCallback(
        call_id=call_id,
        number=number,
        queue="support",
        language="en",
        requested_at=T0,
        entry_at=T0 - dt.timedelta(seconds=waited_s),
        attributes={"intent": "setup_help"},
    )


async def test_a_request_is_kept_once_per_call_with_its_number_in_e164(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    store = CallbackStore(engine, clock=clock)
    first = await store.add(new("1795356299.1"))
    again = await store.add(new("1795356299.1", number="+441632960999"))

    assert again == first
    assert (first.number, first.status, first.attempts, first.next_attempt_at) == (
        "+441632960123",
        "pending",
        0,
        T0,
    )
    assert first.entry_at == T0 - dt.timedelta(seconds=60)
    assert [c.call_id for c in await store.open()] == ["1795356299.1"]


async def test_due_requests_come_longest_waiting_first_and_only_once_claimed(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    store = CallbackStore(engine, clock=clock)
    await store.add(new("short", waited_s=10))
    await store.add(new("long", waited_s=300))

    assert await store.due(T0 - dt.timedelta(seconds=1)) == []
    due = await store.due(T0)
    assert [c.call_id for c in due] == ["long", "short"]
    assert await store.next_attempt_at() == T0

    claimed = await store.claim(due[0].id)
    assert claimed is not None
    assert claimed.status == "dialing"
    assert await store.claim(due[0].id) is None
    assert [c.call_id for c in await store.due(T0)] == ["short"]


async def test_two_diallers_never_claim_the_same_request(
    target: Target, clock: ManualClock
) -> None:
    engines = [target.engine(), target.engine()]
    try:
        stores = [CallbackStore(e, clock=clock) for e in engines]
        added = [await stores[0].add(new(f"race-{n}")) for n in range(5)]
        claims = await asyncio.gather(*(store.claim(c.id) for c in added for store in stores))
        won = [c.call_id for c in claims if c is not None]
        assert sorted(won) == sorted(c.call_id for c in added)  # each exactly once
    finally:
        for engine in engines:
            await engine.dispose()


async def test_an_unanswered_attempt_comes_back_later_and_an_answered_one_is_done(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    store = CallbackStore(engine, clock=clock)
    callback = await store.add(new("1795356299.2"))
    await store.claim(callback.id)
    later = T0 + dt.timedelta(minutes=5)

    retried = await store.retry(callback.id, at=later, result="customer busy", agent="1001")
    assert (retried.status, retried.attempts, retried.next_attempt_at) == ("pending", 1, later)
    assert (retried.last_result, retried.agent) == ("customer busy", "1001")
    assert await store.due(T0) == []
    assert await store.next_attempt_at() == later

    await store.claim(callback.id)
    done = await store.finished(callback.id, agent="1002", result="answered")
    assert (done.status, done.attempts, done.agent) == ("done", 2, "1002")
    assert await store.open() == []
    assert await store.next_attempt_at() is None


async def test_failed_counts_the_last_attempt_and_cancel_closes_an_open_request(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    store = CallbackStore(engine, clock=clock)
    tried, undiallable, withdrawn = [
        await store.add(new(call_id)) for call_id in ("tried", "undiallable", "withdrawn")
    ]
    await store.claim(tried.id)
    failed = await store.failed(tried.id, result="customer no answer", agent="1001")
    assert (failed.status, failed.attempts) == ("failed", 1)
    given_up = await store.failed(undiallable.id, result="number cannot be dialled")
    assert (given_up.status, given_up.attempts) == ("failed", 0)

    cancelled = await store.cancel(withdrawn.id)
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    assert await store.cancel(withdrawn.id) is None  # already closed


async def test_a_restart_puts_requests_being_dialled_back_in_line(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    store = CallbackStore(engine, clock=clock)
    callback = await store.add(new("1795356299.3"))
    await store.claim(callback.id)

    restarted = CallbackStore(engine, clock=clock)
    assert await restarted.recover() == 1
    (back,) = await restarted.due(T0)
    assert (back.call_id, back.status, back.attempts) == ("1795356299.3", "pending", 0)
    released = await restarted.release(
        (await restarted.claim(back.id) or back).id, at=T0, result="AMI unavailable"
    )
    assert (released.status, released.attempts) == ("pending", 0)


async def test_erasure_removes_the_customers_callbacks_and_export_lists_them(
    repository: HistoryRepository, engine: AsyncEngine, clock: ManualClock
) -> None:
    jane = await repository.create_customer(
        NewCustomer(
            name="Jane", identities=(IdentityIn(kind=IdentityKind.PHONE, value="01632 960123"),)
        )
    )
    other = await repository.create_customer(NewCustomer(name="Other"))
    store = CallbackStore(engine, clock=clock)
    await store.add(new("by-number"))  # no customer id: the IVR did not know her
    await store.add(
        NewCallback("by-id", "+441632960777", "billing", "en", T0, T0, customer_id=jane.id)
    )
    await store.add(
        NewCallback("someone-else", "+441632960888", "billing", "en", T0, T0, customer_id=other.id)
    )

    export = await repository.export_customer(jane.id)
    assert sorted(c["call_id"] for c in export["callbacks"]) == ["by-id", "by-number"]

    erasure = await repository.erase_customer(jane.id, by="dpo", reason="art. 17")
    assert erasure.removed["callbacks"] == 2
    assert [c.call_id for c in await store.open()] == ["someone-else"]
    assert (await repository.export_customer(jane.id))["callbacks"] == []
