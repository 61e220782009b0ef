"""Webhook deliveries in the history store, on SQLite and PostgreSQL: the outbox, the record
of every attempt, dead letters, and the dispatcher resuming a stopped one's work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.webhooks import store as protocol
from channels.webhooks.delivery import WebhookDispatcher
from channels.webhooks.events import make_event
from channels.webhooks.store import Attempt, DeliveryStore, NewDelivery
from history import models
from history import webhooks as sql
from history.identities import IdentityKind
from history.inputs import IdentityIn, NewCustomer
from history.repository import HistoryRepository
from history.webhooks import DEAD, DELIVERED, PENDING, SqlDeliveryStore
from tests.channels.webhooks.support import Answer, FastClock, Receiver, eventually, subscription

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def new(event_id: str, subscription: str = "crm", *, customer_id: int | None = None) -> NewDelivery:
    event = make_event("task.created", {"customer_id": customer_id}, now=T0, event_id=event_id)
    return NewDelivery(event_id, event.type, subscription, event.body, T0, customer_id)


def attempt(
    delivery_id: int,
    number: int = 1,
    *,
    status: int | None = 200,
    retry_in_s: float | None = None,
    reason: str = "",
) -> Attempt:
    at = T0 + timedelta(seconds=number)
    return Attempt(
        delivery_id=delivery_id,
        number=number,
        at=at,
        duration_ms=12.5,
        status_code=status,
        error=None if status else "ClientConnectorError: refused",
        retry_at=None if retry_in_s is None else at + timedelta(seconds=retry_in_s),
        delivered=status is not None and status < 300,
        reason=reason or (f"HTTP {status}" if status else "refused"),
    )


async def delivery_id(engine: AsyncEngine, event_id: str) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(models.WebhookDeliveryRow.id).where(
                models.WebhookDeliveryRow.event_id == event_id
            )
        )
    assert found is not None
    return found


@pytest.fixture
def store(engine: AsyncEngine) -> SqlDeliveryStore:
    return SqlDeliveryStore(engine)


def test_the_sql_store_is_a_delivery_store_and_speaks_its_words(engine: AsyncEngine) -> None:
    conforming: DeliveryStore = SqlDeliveryStore(engine)  # checked by mypy

    assert conforming is not None
    assert (sql.PENDING, sql.DELIVERED, sql.DEAD) == protocol.STATUSES == models.WEBHOOK_STATUSES


async def test_added_deliveries_are_pending_due_at_once_in_the_order_given(
    store: SqlDeliveryStore,
) -> None:
    added = await store.add([new("evt_a"), new("evt_a", "sms"), new("evt_b")])

    assert [(d.event_id, d.subscription) for d in added] == [
        ("evt_a", "crm"),
        ("evt_a", "sms"),
        ("evt_b", "crm"),
    ]
    assert len({d.id for d in added}) == 3
    pending = await store.pending("crm", 10)
    assert [d.event_id for d in pending] == ["evt_a", "evt_b"]
    assert all(d.status == PENDING and d.next_attempt_at == T0 for d in pending)
    assert pending[0].body == added[0].body
    assert pending[0].body is not None
    assert b'"type":"task.created"' in pending[0].body


async def test_the_same_event_is_never_queued_twice_for_one_subscription(
    store: SqlDeliveryStore,
) -> None:
    await store.add([new("evt_a")])

    with pytest.raises(IntegrityError):
        await store.add([new("evt_a")])


async def test_every_attempt_is_recorded_and_a_retry_is_due_later(
    store: SqlDeliveryStore,
) -> None:
    [a, b] = await store.add([new("evt_a"), new("evt_b")])

    await store.record(
        [attempt(a.id, status=503, retry_in_s=60), attempt(b.id, status=None, retry_in_s=1)]
    )

    assert [d.event_id for d in await store.pending("crm", 10)] == ["evt_b", "evt_a"]
    row = await store.get(a.id)
    assert row is not None
    assert (row.status, row.attempts, row.round_attempts, row.last_result) == (
        PENDING,
        1,
        1,
        "HTTP 503",
    )
    assert row.next_attempt_at == T0 + timedelta(seconds=61)
    [first] = await store.attempts(a.id)
    assert (first.number, first.status_code, first.duration_ms, first.at) == (
        1,
        503,
        12.5,
        T0 + timedelta(seconds=1),
    )
    [refused] = await store.attempts(b.id)
    assert (refused.status_code, refused.error) == (None, "ClientConnectorError: refused")


async def test_a_delivered_event_drops_its_body_and_keeps_its_record(
    store: SqlDeliveryStore,
) -> None:
    [a] = await store.add([new("evt_a")])

    await store.record([attempt(a.id, 1, status=500, retry_in_s=1)])
    await store.record([attempt(a.id, 2, status=204)])

    row = await store.get(a.id)
    assert row is not None
    assert (row.status, row.body, row.attempts, row.next_attempt_at) == (DELIVERED, None, 2, None)
    assert row.finished_at == T0 + timedelta(seconds=2)
    assert [x.status_code for x in await store.attempts(a.id)] == [500, 204]
    assert await store.pending("crm", 10) == []


async def test_dead_letters_are_listed_newest_first_and_requeued_with_a_fresh_round(
    store: SqlDeliveryStore,
) -> None:
    a, b, c = await store.add([new("evt_a"), new("evt_b", "sms"), new("evt_c")])
    reason = "HTTP 410: refused"
    await store.record([attempt(d.id, status=410, reason=reason) for d in (a, b, c)])

    assert [d.event_id for d in await store.dead()] == ["evt_c", "evt_b", "evt_a"]
    assert [d.event_id for d in await store.dead("crm")] == ["evt_c", "evt_a"]
    assert [d.event_id for d in await store.dead(limit=1, before_id=c.id)] == ["evt_b"]
    dead = await store.get(a.id)
    assert dead is not None
    assert (dead.status, dead.last_result) == (DEAD, reason)
    assert dead.body is not None

    later = T0 + timedelta(hours=1)
    again = await store.requeue(a.id, later)

    assert again is not None
    assert (again.status, again.attempts, again.round_attempts) == (PENDING, 1, 0)
    assert (again.round_started_at, again.next_attempt_at, again.finished_at) == (
        later,
        later,
        None,
    )
    assert [d.event_id for d in await store.pending("crm", 10)] == ["evt_a"]
    assert await store.requeue(a.id, later) is None  # pending, not dead
    assert await store.requeue(9999, later) is None


async def test_purging_forgets_old_delivered_events_only(store: SqlDeliveryStore) -> None:
    a, b, c = await store.add([new("evt_a"), new("evt_b"), new("evt_c")])
    await store.record([attempt(a.id, status=200), attempt(b.id, status=410)])

    assert await store.purge_delivered(T0 + timedelta(days=1)) == 1

    assert await store.get(a.id) is None
    assert await store.attempts(a.id) == []
    assert await store.get(b.id) is not None
    assert await store.get(c.id) is not None
    assert await store.counts() == {("crm", DEAD): 1, ("crm", PENDING): 1}


async def test_a_customers_webhook_events_are_exported_and_erased(
    engine: AsyncEngine, store: SqlDeliveryStore, repository: HistoryRepository
) -> None:
    phone = IdentityIn(kind=IdentityKind.PHONE, value="+441632960123")
    jane = await repository.create_customer(NewCustomer(name="Jane", identities=(phone,)))
    a, b, _ = await store.add(
        [new("evt_a", customer_id=jane.id), new("evt_b", customer_id=jane.id), new("evt_c")]
    )
    await store.record([attempt(a.id, status=410)])

    export = await repository.export_customer(jane.id)
    assert [(w["event_id"], w["status"]) for w in export["webhooks"]] == [
        ("evt_a", DEAD),
        ("evt_b", PENDING),
    ]
    assert export["webhooks"][0]["event"]["data"] == {"customer_id": jane.id}

    erasure = await repository.erase_customer(jane.id, by="dpo", reason="art. 17")

    assert erasure.removed["webhook_payloads"] == 2
    for delivery_id in (a.id, b.id):
        row = await store.get(delivery_id)
        assert row is not None
        assert (row.status, row.body) == (DEAD, None)
        assert await store.requeue(delivery_id, T0) is None
    assert [d.event_id for d in await store.pending("crm", 10)] == ["evt_c"]  # not hers
    # An attempt already under way when the customer was erased changes nothing.
    await store.record([attempt(b.id, status=500, retry_in_s=1)])
    row = await store.get(b.id)
    assert row is not None
    assert (row.status, row.body) == (DEAD, None)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver(FastClock()).start()
    yield receiver
    receiver.open.set()
    await receiver.stop()


async def test_a_dispatcher_stopped_mid_delivery_loses_nothing(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.open.clear()  # reads the requests, never answers
    clock = receiver.clock
    hooks = [
        subscription("crm", receiver.url, events=("task.*",)),
        subscription("sms", receiver.url),
    ]
    first = WebhookDispatcher(SqlDeliveryStore(engine), hooks, clock=clock)
    await first.start()
    events = [await first.publish("task.created", {"n": n}) for n in range(4)]
    await eventually(lambda: len(receiver.requests) == 8, what="eight requests in flight")
    await first.close()

    receiver.open.set()
    second = WebhookDispatcher(SqlDeliveryStore(engine), hooks, clock=clock)
    await second.start()
    try:
        await second.wait_idle()
    finally:
        await second.close()

    assert {e.id for e in events} == set(receiver.ids())
    assert all(count >= 2 for count in receiver.ids().values())  # one per subscription
    counts = await SqlDeliveryStore(engine).counts()
    assert counts == {("crm", DELIVERED): 4, ("sms", DELIVERED): 4}


async def test_a_receiver_down_then_up_gets_each_event_once_and_every_try_is_recorded(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    await receiver.stop()
    store = SqlDeliveryStore(engine)
    dispatcher = WebhookDispatcher(
        store, [subscription("crm", receiver.url, max_attempts=20)], clock=receiver.clock
    )
    await dispatcher.start()
    try:
        event = await dispatcher.publish("message.created", {"text": "hello"})
        await eventually(lambda: dispatcher.attempted >= 2, what="two refused attempts")
        await receiver.start()
        await dispatcher.wait_idle()
    finally:
        await dispatcher.close()

    assert receiver.ids() == {event.id: 1}
    tries = await store.attempts(await delivery_id(engine, event.id))
    assert [t.number for t in tries] == list(range(1, len(tries) + 1))
    assert tries[-1].status_code == 200
    assert all(t.error for t in tries[:-1])


async def test_a_dead_letter_requeued_from_the_store_reaches_a_running_dispatcher(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    receiver.default = Answer(503)
    store = SqlDeliveryStore(engine)
    dispatcher = WebhookDispatcher(
        store, [subscription("crm", receiver.url, max_attempts=2)], clock=receiver.clock, rescan_s=2
    )
    await dispatcher.start()
    try:
        event = await dispatcher.publish("task.completed", {"task_id": "t-1"})
        await dispatcher.wait_idle()
        [dead] = await store.dead()
        receiver.default = Answer(200)
        assert await SqlDeliveryStore(engine).requeue(dead.id, receiver.clock.now()) is not None
        await eventually(lambda: receiver.ids() == {event.id: 1}, what="the re-queued event")
        await dispatcher.wait_idle()  # the receiver has answered; the record follows
    finally:
        await dispatcher.close()
    assert [a.number for a in await store.attempts(dead.id)] == [1, 2, 3]
