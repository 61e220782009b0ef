"""The dispatcher against real receivers on 127.0.0.1, its store in memory (the durable
store's turn is tests/history/test_webhooks.py). Back-offs are seconds on a clock that runs
200 times faster than real time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest

from channels.webhooks.delivery import WebhookDispatcher
from channels.webhooks.events import UnknownEventType
from channels.webhooks.memory import MemoryDeliveryStore
from channels.webhooks.settings import Subscription
from channels.webhooks.store import DEAD, DELIVERED, PENDING, Attempt

from .support import Answer, FastClock, Receiver, eventually, subscription


@pytest.fixture
def clock() -> FastClock:
    return FastClock()


@pytest.fixture
async def receiver(clock: FastClock) -> AsyncIterator[Receiver]:
    receiver = await Receiver(clock).start()
    yield receiver
    receiver.open.set()
    await receiver.stop()


@pytest.fixture
def store() -> MemoryDeliveryStore:
    return MemoryDeliveryStore()


class Dispatchers:
    """Dispatchers made by a test, all closed at its end."""

    def __init__(self, store: MemoryDeliveryStore, clock: FastClock) -> None:
        self.store, self.clock = store, clock
        self.made: list[WebhookDispatcher] = []

    async def start(
        self, subscriptions: Sequence[Subscription], **options: object
    ) -> WebhookDispatcher:
        dispatcher = WebhookDispatcher(
            self.store,
            subscriptions,
            clock=self.clock,
            random=lambda: 0.0,  # no jitter: the back-off is exactly 1, 2, 4, 8 s
            **options,  # type: ignore[arg-type]
        )
        self.made.append(dispatcher)
        await dispatcher.start()
        return dispatcher


@pytest.fixture
async def dispatchers(store: MemoryDeliveryStore, clock: FastClock) -> AsyncIterator[Dispatchers]:
    made = Dispatchers(store, clock)
    yield made
    for dispatcher in made.made:
        await dispatcher.close()


async def statuses(store: MemoryDeliveryStore, ids: Sequence[int]) -> list[str]:
    return [row.status for row in [await store.get(i) for i in ids] if row is not None]


async def test_an_event_reaches_its_receiver_signed_once_and_recorded(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    dispatcher = await dispatchers.start([subscription("crm", receiver.url, events=("task.*",))])

    event = await dispatcher.publish("task.created", {"task_id": "t-1", "channel": "chat"})
    await dispatcher.wait_idle()

    [got] = receiver.delivered
    assert (got.event.id, got.event.type, dict(got.event.data), got.attempt) == (
        event.id,
        "task.created",
        {"task_id": "t-1", "channel": "chat"},
        1,
    )
    assert got.signature_ok
    assert got.headers_ok
    row = await store.get(1)
    assert row is not None
    assert (row.status, row.attempts, row.body) == (DELIVERED, 1, None)
    [attempt] = await store.attempts(row.id)
    assert (attempt.status_code, attempt.error, attempt.number) == (200, None, 1)
    assert attempt.duration_ms > 0


async def test_only_subscribed_event_types_are_stored_and_sent(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    dispatcher = await dispatchers.start(
        [subscription("crm", receiver.url, events=("task.*", "conversation.resolved"))]
    )

    await dispatcher.publish("message.created", {"text": "hello"})
    resolved = await dispatcher.publish("conversation.resolved", {"conversation_id": 7})
    await dispatcher.wait_idle()

    assert [r.event.id for r in receiver.delivered] == [resolved.id]
    assert store.calls[0] == ("add", 1)


async def test_an_event_that_cannot_be_sent_is_refused_and_nothing_is_stored(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    dispatcher = await dispatchers.start([subscription("crm", receiver.url)])

    with pytest.raises(UnknownEventType):
        await dispatcher.publish("task.exploded", {})

    assert store.calls == []


async def test_a_receiver_that_is_down_gets_the_event_once_when_it_is_back(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    await receiver.stop()  # connection refused on its port
    dispatcher = await dispatchers.start([subscription("crm", receiver.url, max_attempts=12)])
    event = await dispatcher.publish("task.created", {"task_id": "t-1"})
    await eventually(lambda: dispatcher.attempted >= 3, what="three refused attempts")

    await receiver.start()
    await dispatcher.wait_idle()

    assert receiver.ids() == {event.id: 1}
    attempts = await store.attempts(1)
    assert all(a.status_code is None and a.error for a in attempts[:-1])
    assert "connect" in (attempts[0].error or "").lower()
    assert attempts[-1].status_code == 200
    assert await statuses(store, [1]) == [DELIVERED]


async def test_server_errors_are_retried_with_a_growing_back_off_until_delivered(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    receiver.script.extend([Answer(500), Answer(503)])
    dispatcher = await dispatchers.start([subscription("crm", receiver.url)])

    event = await dispatcher.publish("task.assigned", {"task_id": "t-1", "agent": "alice"})
    await dispatcher.wait_idle()

    attempts = await store.attempts(1)
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert [r.attempt for r in receiver.requests] == [1, 2, 3]
    first_gap = attempts[1].at - attempts[0].at
    second_gap = attempts[2].at - attempts[1].at
    assert first_gap >= timedelta(seconds=1)
    assert second_gap >= timedelta(seconds=2)
    assert receiver.ids() == {event.id: 1}


async def test_too_many_requests_waits_as_long_as_retry_after_says(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    receiver.script.append(Answer(429, {"Retry-After": "30"}))
    dispatcher = await dispatchers.start([subscription("crm", receiver.url)])

    await dispatcher.publish("message.created", {"text": "hi"})
    await dispatcher.wait_idle()

    first, second = await store.attempts(1)
    assert (first.status_code, second.status_code) == (429, 200)
    assert second.at - first.at >= timedelta(seconds=30)  # not the 1 s back-off


async def test_gone_is_a_dead_letter_at_once(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    receiver.default = Answer(410)
    dispatcher = await dispatchers.start([subscription("crm", receiver.url)])

    event = await dispatcher.publish("task.completed", {"task_id": "t-1"})
    await dispatcher.wait_idle()

    [dead] = await store.dead()
    assert (dead.event_id, dead.status, dead.attempts) == (event.id, DEAD, 1)
    assert dead.last_result is not None
    assert "410" in dead.last_result
    assert len(receiver.requests) == 1
    assert dispatcher.dead_lettered == 1


async def test_a_redirect_is_not_followed_and_is_a_dead_letter(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    receiver.default = Answer(301, {"Location": "http://127.0.0.1:9/elsewhere"})
    dispatcher = await dispatchers.start([subscription("crm", receiver.url)])

    await dispatcher.publish("task.completed", {"task_id": "t-1"})
    await dispatcher.wait_idle()

    [dead] = await store.dead()
    assert dead.last_result is not None
    assert "redirects are not followed" in dead.last_result


async def test_after_max_attempts_a_dead_letter_that_a_requeue_delivers(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    receiver.default = Answer(503)
    dispatcher = await dispatchers.start([subscription("crm", receiver.url, max_attempts=3)])
    event = await dispatcher.publish("task.created", {"task_id": "t-1"})
    await dispatcher.wait_idle()

    [dead] = await store.dead()
    assert (dead.attempts, dead.round_attempts) == (3, 3)
    assert dead.last_result is not None
    assert "gave up after 3 attempts" in dead.last_result
    assert receiver.delivered == []

    receiver.default = Answer(200)
    assert await dispatcher.requeue(dead.id)
    await dispatcher.wait_idle()

    assert receiver.ids() == {event.id: 1}
    assert [a.number for a in await store.attempts(dead.id)] == [1, 2, 3, 4]
    assert await statuses(store, [dead.id]) == [DELIVERED]
    assert not await dispatcher.requeue(dead.id)  # delivered: nothing to re-queue


async def test_an_event_older_than_max_age_is_not_retried_again(
    receiver: Receiver, store: MemoryDeliveryStore
) -> None:
    receiver.default = Answer(500)
    # A slower clock: here each POST's own duration must stay small beside the back-off.
    dispatchers = Dispatchers(store, FastClock(speed=20))
    dispatcher = await dispatchers.start(
        [subscription("crm", receiver.url, max_attempts=50, max_age_s=6.0)]
    )
    try:
        await dispatcher.publish("task.created", {"task_id": "t-1"})
        await dispatcher.wait_idle()
    finally:
        await dispatcher.close()

    [dead] = await store.dead()
    assert dead.attempts == 3  # at 0, 1, 3 s; the next (7 s) would be past 6 s
    assert dead.last_result is not None
    assert "older than 6 s" in dead.last_result


async def test_a_receiver_that_does_not_answer_in_time_is_tried_again(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    receiver.script.append(Answer(200, delay_s=5.0))
    dispatcher = await dispatchers.start([subscription("crm", receiver.url, timeout_s=0.2)])

    await dispatcher.publish("task.created", {"task_id": "t-1"})
    await dispatcher.wait_idle()

    first, second = await store.attempts(1)
    assert (first.status_code, first.error) == (None, "no answer within 0.2 s")
    assert second.status_code == 200


async def test_a_hanging_receiver_does_not_hold_up_another_subscription(
    clock: FastClock, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    slow, fast = await Receiver(clock).start(), await Receiver(clock).start()
    slow.open.clear()
    try:
        dispatcher = await dispatchers.start(
            [subscription("slow", slow.url), subscription("fast", fast.url)], concurrency=4
        )
        events = [await dispatcher.publish("message.created", {"n": n}) for n in range(12)]
        await eventually(lambda: len(fast.delivered) == 12, what="the fast receiver's events")
        assert set(fast.ids()) == {e.id for e in events}
        assert slow.delivered == []
    finally:
        slow.open.set()
        await slow.stop()
        await fast.stop()


async def test_deliveries_in_flight_are_bounded(
    receiver: Receiver, dispatchers: Dispatchers
) -> None:
    receiver.default = Answer(200, delay_s=0.02)
    dispatcher = await dispatchers.start(
        [subscription("crm", receiver.url)], concurrency=3, per_subscription=3
    )

    for n in range(20):
        await dispatcher.publish("message.delivery", {"n": n, "state": "read"})
    await dispatcher.wait_idle()

    assert len(receiver.delivered) == 20
    assert receiver.most_in_flight == 3


async def test_closing_mid_delivery_loses_nothing_a_new_dispatcher_delivers_it(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    receiver.open.clear()  # the receiver reads requests and never answers
    first = await dispatchers.start([subscription("crm", receiver.url)])
    events = [await first.publish("task.created", {"n": n}) for n in range(3)]
    await eventually(lambda: len(receiver.requests) == 3, what="three requests in flight")

    await first.close()
    assert await statuses(store, [1, 2, 3]) == [PENDING] * 3
    receiver.open.set()
    second = await dispatchers.start([subscription("crm", receiver.url)])
    await second.wait_idle()

    assert {e.id for e in events} <= set(receiver.ids())
    assert await statuses(store, [1, 2, 3]) == [DELIVERED] * 3


async def test_deliveries_beyond_the_memory_limit_wait_in_the_store_and_all_arrive(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    await receiver.stop()
    dispatcher = await dispatchers.start(
        [subscription("crm", receiver.url, max_attempts=50)], memory_limit=4
    )
    events = [await dispatcher.publish("message.created", {"n": n}) for n in range(10)]
    assert len(await store.pending("crm", 100)) == 10

    await receiver.start()
    await dispatcher.wait_idle()

    assert receiver.ids() == {e.id: 1 for e in events}


async def test_a_dead_letter_requeued_in_the_store_by_someone_else_is_picked_up(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore, clock: FastClock
) -> None:
    receiver.default = Answer(404)
    dispatcher = await dispatchers.start([subscription("crm", receiver.url)], rescan_s=2.0)
    event = await dispatcher.publish("task.created", {"task_id": "t-1"})
    await dispatcher.wait_idle()
    receiver.default = Answer(200)

    assert await store.requeue(1, clock.now()) is not None  # as `hotline webhooks retry 1`
    await eventually(lambda: receiver.ids() == {event.id: 1}, what="the re-queued event")


class FlakyStore(MemoryDeliveryStore):
    """Fails to record the first ``failures`` batches, as a database that is down."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def record(self, attempts: Sequence[Attempt]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database unreachable")
        await super().record(attempts)


async def test_an_attempt_that_cannot_be_recorded_is_made_again_not_lost(
    receiver: Receiver, clock: FastClock
) -> None:
    store = FlakyStore(failures=1)
    dispatcher = WebhookDispatcher(store, [subscription("crm", receiver.url)], clock=clock)
    await dispatcher.start()
    try:
        event = await dispatcher.publish("task.created", {"task_id": "t-1"})
        await dispatcher.wait_idle()
    finally:
        await dispatcher.close()

    assert receiver.ids() == {event.id: 2}  # at least once: the receiver de-duplicates by id
    assert await statuses(store, [1]) == [DELIVERED]


async def test_publishing_after_close_is_refused(
    receiver: Receiver, dispatchers: Dispatchers
) -> None:
    dispatcher = await dispatchers.start([subscription("crm", receiver.url)])
    await dispatcher.close()

    with pytest.raises(RuntimeError, match="closed"):
        await dispatcher.publish("task.created", {})


async def test_concurrent_publishers_share_store_writes(
    receiver: Receiver, dispatchers: Dispatchers, store: MemoryDeliveryStore
) -> None:
    dispatcher = await dispatchers.start(
        [subscription("crm", receiver.url), subscription("sms", receiver.url)]
    )

    events = await asyncio.gather(
        *(dispatcher.publish("message.created", {"n": n}) for n in range(50))
    )
    await dispatcher.wait_idle()

    assert receiver.ids() == {e.id: 2 for e in events}  # one per subscription
    adds = [size for call, size in store.calls if call == "add"]
    assert sum(adds) == 100
    assert len(adds) < 50
