"""``WebhookDispatcher``: events in, signed POSTs out, every attempt recorded, nothing lost.

``publish(event_type, data)`` makes the event's envelope, writes one delivery per interested
subscription to the store (the outbox) and returns once they are written; from then on the
event survives a crash. Each subscription has its own queue (a heap of due deliveries), so
a receiver that is down or slow only delays its own events: each receiver may always have
one POST in flight, and beyond that first one they share ``concurrency`` slots, with at most
``per_subscription`` in flight to one receiver. An attempt is a POST with a
timeout; its result is judged by ``policy.decide`` (delivered, retry after a back-off or the
receiver's ``Retry-After``, dead letter) and recorded with the delivery's new state before
the delivery is tried again or let go (the POST's slot is free meanwhile: records wait for
the store together, in one transaction).

At ``start`` the pending deliveries of the store are resumed, and every ``rescan_s`` the
store is read again for deliveries the dispatcher does not hold (a dead letter re-queued
from the command line, deliveries beyond ``memory_limit`` left in the store while a
receiver is down). Deliveries are at least once (a crash between a receiver's 2xx and its
record sends the event again) and not ordered; receivers de-duplicate by the event's ``id``
and order by its ``created_at``. One dispatcher per store.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random as random_module
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp

from channels.webhooks.batching import GroupCommit
from channels.webhooks.events import Event, make_event
from channels.webhooks.policy import Result, Verdict, decide, parse_retry_after
from channels.webhooks.settings import Subscription
from channels.webhooks.signing import SIGNATURE_HEADER, sign
from channels.webhooks.store import Attempt, DeliveryStore, NewDelivery, StoredDelivery

__all__ = [
    "ATTEMPT_HEADER",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "Clock",
    "DispatcherClosed",
    "SystemClock",
    "WebhookDispatcher",
]

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "Hotline-Event-Id"
EVENT_TYPE_HEADER = "Hotline-Event-Type"
#: 1 on the first attempt; a receiver may log it, never needs it.
ATTEMPT_HEADER = "Hotline-Delivery-Attempt"
RETRY_AFTER = "Retry-After"
CONTENT_TYPE = "Content-Type"
JSON = "application/json"
USER_AGENT = "hotline-webhooks/1"
#: Of a receiver's answer, only the status is used; this much of the body is read (so
#: that the connection can be reused) and the rest dropped.
MAX_ANSWER_BYTES = 64 * 1024
#: Waiting after a failure to record an attempt (the store is down) before trying again.
STORE_RETRY_S = 5.0


class Clock(Protocol):
    """Wall time for records and signatures; ``loop_seconds`` says how long to wait on the
    event loop for ``seconds`` of this clock (tests run a clock faster than real time)."""

    def now(self) -> datetime: ...
    def loop_seconds(self, seconds: float) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def loop_seconds(self, seconds: float) -> float:
        return seconds


class DispatcherClosed(RuntimeError):
    pass


@dataclass
class _Job:
    id: int
    event_id: str
    event_type: str
    body: bytes
    attempts: int
    round_attempts: int
    round_started_at: datetime
    due: datetime

    @classmethod
    def of(cls, row: StoredDelivery, body: bytes) -> _Job:
        due = row.next_attempt_at or row.created_at
        return cls(
            row.id, row.event_id, row.event_type, body, row.attempts, row.round_attempts,
            row.round_started_at, due,
        )  # fmt: skip


class _Queue:
    """One subscription's deliveries held in memory: due ones in a heap, plus in flight."""

    def __init__(self, subscription: Subscription, most: int) -> None:
        self.subscription = subscription
        self.heap: list[tuple[datetime, int, _Job]] = []
        #: Ids in the heap or in flight: never two attempts of one delivery at once.
        self.known: set[int] = set()
        self.wake = asyncio.Event()
        #: POSTs under way (at most ``most``); the first needs no shared slot.
        self.in_flight = 0
        self.most = most
        #: Deliveries left in the store only (memory limit reached): read back later.
        self.spilled = False
        #: One set per store read under way: ids settled meanwhile, which it must not revive.
        self.scans: list[set[int]] = []


class WebhookDispatcher:
    """Construct, ``await start()``, ``await publish(...)`` at will, ``await close()``.

    ``store``: a ``DeliveryStore`` (``history.webhooks.SqlDeliveryStore(engine)``);
    ``subscriptions``: from ``channels.webhooks.settings.subscriptions(config.webhooks,
    os.environ)``. ``clock`` and ``random`` are injected for tests.
    """

    def __init__(
        self,
        store: DeliveryStore,
        subscriptions: Iterable[Subscription],
        *,
        concurrency: int = 16,
        per_subscription: int = 8,
        memory_limit: int = 10_000,
        rescan_s: float = 30.0,
        clock: Clock | None = None,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        if concurrency < 1 or per_subscription < 1 or memory_limit < 1 or rescan_s <= 0:
            raise ValueError("concurrency, per_subscription, memory_limit, rescan_s: positive")
        self._store = store
        self._queues = {s.name: _Queue(s, per_subscription) for s in subscriptions}
        self._shared_free = concurrency
        self._concurrency = concurrency
        self._memory_limit = memory_limit
        self._rescan_s = rescan_s
        self._clock: Clock = clock or SystemClock()
        self._random = random
        self._adds: GroupCommit[NewDelivery, StoredDelivery] = GroupCommit(store.add)
        self._records: GroupCommit[Attempt, None] = GroupCommit(self._record)
        self._tasks: set[asyncio.Task[None]] = set()
        self._flights: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = self._closed = False
        self._sequence = itertools.count()
        #: Counters since start: attempts made, deliveries delivered and dead-lettered.
        self.attempted = self.delivered = self.dead_lettered = 0

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(queue.subscription for queue in self._queues.values())

    async def start(self) -> None:
        """Resume the store's pending deliveries and start delivering."""
        if self._started:
            raise RuntimeError("the dispatcher is already started")
        self._started = True
        # Each receiver's first POST plus the shared slots.
        limit = self._concurrency + len(self._queues)
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        )
        for queue in self._queues.values():
            await self._load(queue)
            self._spawn(self._tasks, self._schedule(queue), f"webhooks-{queue.subscription.name}")
        self._spawn(self._tasks, self._rescan(), "webhooks-rescan")

    async def publish(self, event_type: str, data: Mapping[str, Any]) -> Event:
        """Make the event and write its deliveries; returns when they are stored.

        Raises ``events.EventError`` for an event that cannot be sent (unknown type, not JSON,
        too large), ``DispatcherClosed``, or what the store raised (nothing was queued then).
        """
        if self._closed:
            raise DispatcherClosed("the webhook dispatcher is closed")
        event = make_event(event_type, data, now=self._clock.now())
        targets = [q for q in self._queues.values() if q.subscription.wants(event_type)]
        if not targets:
            return event
        stored = await self._adds.submit(
            [
                NewDelivery(
                    event_id=event.id,
                    event_type=event.type,
                    subscription=queue.subscription.name,
                    body=event.body,
                    created_at=event.created_at,
                    customer_id=event.customer_id,
                )
                for queue in targets
            ]
        )
        for queue, row in zip(targets, stored, strict=True):
            self._offer(queue, _Job.of(row, event.body))
        return event

    async def requeue(self, delivery_id: int) -> bool:
        """Give a dead letter a fresh round of attempts, starting now; False when there is no
        such dead letter (or its body was erased)."""
        row = await self._store.requeue(delivery_id, self._clock.now())
        if row is None or row.body is None:
            return False
        queue = self._queues.get(row.subscription)
        if queue is None:
            log.warning(
                "webhooks: delivery %d re-queued for %r, which is not configured: it waits",
                delivery_id,
                row.subscription,
            )
        elif not self._closed:
            self._offer(queue, _Job.of(row, row.body))
        return True

    async def wait_idle(self) -> None:
        """Until nothing is pending in memory or in the store's overflow (tests, benches)."""
        await self._idle.wait()

    async def close(self, *, drain_s: float = 0.0) -> None:
        """Stop. POSTs in flight get ``drain_s`` to finish and be recorded; what is left
        stays pending in the store for the next start."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self._flights and drain_s > 0:
            await asyncio.wait(self._flights, timeout=self._clock.loop_seconds(drain_s))
        for task in self._flights:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._flights, return_exceptions=True)
        await self._adds.close()
        await self._records.close()
        if self._session is not None:
            await self._session.close()

    # -- scheduling ----------------------------------------------------------------------

    def _spawn(self, into: set[asyncio.Task[None]], work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        into.add(task)
        task.add_done_callback(into.discard)

    def _offer(self, queue: _Queue, job: _Job) -> None:
        if job.id in queue.known:
            return
        if len(queue.known) >= self._memory_limit:
            queue.spilled = True  # it stays in the store; read back when there is room
            self._idle.clear()
            return
        queue.known.add(job.id)
        self._push(queue, job)

    def _push(self, queue: _Queue, job: _Job) -> None:
        heapq.heappush(queue.heap, (job.due, next(self._sequence), job))
        self._idle.clear()
        queue.wake.set()

    def _settle(self, queue: _Queue, job_id: int) -> None:
        queue.known.discard(job_id)
        for scan in queue.scans:
            scan.add(job_id)
        if not any(q.known or q.spilled for q in self._queues.values()):
            self._idle.set()

    async def _schedule(self, queue: _Queue) -> None:
        """Start each due delivery when it may be; sleep until the next is due or a POST
        ends."""
        while True:
            queue.wake.clear()
            while queue.heap and queue.heap[0][0] <= self._clock.now():
                shared = queue.in_flight > 0
                if queue.in_flight >= queue.most or (shared and not self._shared_free):
                    break  # woken when one of ours, or a shared slot, is free
                _, _, job = heapq.heappop(queue.heap)
                self._shared_free -= shared
                queue.in_flight += 1
                work = self._attempt(queue, job, shared)
                self._spawn(self._flights, work, f"webhook-{job.id}")
            if queue.spilled and len(queue.known) <= self._memory_limit // 2:
                try:
                    await self._load(queue)
                except Exception as error:  # noqa: BLE001 - the store is behind a protocol
                    log.warning("webhooks: cannot read pending deliveries: %s", _short(error))
                    await asyncio.sleep(self._clock.loop_seconds(STORE_RETRY_S))
                continue
            timeout = None
            if queue.heap and queue.heap[0][0] > self._clock.now():
                ahead = (queue.heap[0][0] - self._clock.now()).total_seconds()
                timeout = self._clock.loop_seconds(max(ahead, 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.wake.wait(), timeout)

    async def _load(self, queue: _Queue) -> None:
        """Take the store's pending deliveries this dispatcher does not hold."""
        scan: set[int] = set()
        queue.scans.append(scan)
        try:
            rows = await self._store.pending(queue.subscription.name, self._memory_limit)
        finally:
            queue.scans.remove(scan)
        queue.spilled = False
        for row in rows:
            if row.id not in scan and row.body is not None:
                self._offer(queue, _Job.of(row, row.body))
        if len(rows) >= self._memory_limit:
            queue.spilled = True
        if not any(q.known or q.spilled for q in self._queues.values()):
            self._idle.set()

    async def _rescan(self) -> None:
        while True:
            await asyncio.sleep(self._clock.loop_seconds(self._rescan_s))
            for queue in self._queues.values():
                try:
                    await self._load(queue)
                except Exception as error:  # noqa: BLE001 - the store is behind a protocol
                    log.warning("webhooks: cannot read pending deliveries: %s", _short(error))

    # -- one attempt ---------------------------------------------------------------------

    async def _attempt(self, queue: _Queue, job: _Job, shared: bool) -> None:
        """POST, then record. The slot is freed as soon as the POST is over, so that the
        next POSTs go while records wait for the store (and are written together)."""
        try:
            at = self._clock.now()
            started = time.perf_counter()
            result = await self._post(queue.subscription, job, at)
            duration_ms = (time.perf_counter() - started) * 1000.0
        finally:
            queue.in_flight -= 1
            queue.wake.set()
            if shared:
                self._shared_free += 1
                for other in self._queues.values():
                    if other.heap:
                        other.wake.set()
        self.attempted += 1
        await self._conclude(queue, job, at, result, duration_ms)

    async def _conclude(
        self, queue: _Queue, job: _Job, at: datetime, result: Result, duration_ms: float
    ) -> None:
        subscription = queue.subscription
        now = self._clock.now()
        decision = decide(
            result,
            attempts=job.round_attempts + 1,
            age_s=(now - job.round_started_at).total_seconds(),
            limits=subscription.limits,
            random=self._random(),
        )
        retry_at = now + timedelta(seconds=decision.delay_s)
        attempt = Attempt(
            delivery_id=job.id,
            number=job.attempts + 1,
            at=at,
            duration_ms=duration_ms,
            status_code=result.status,
            error=result.error,
            retry_at=retry_at if decision.verdict is Verdict.RETRY else None,
            delivered=decision.verdict is Verdict.DELIVERED,
            reason=decision.reason,
        )
        try:
            await self._records.submit([attempt])
        except Exception as error:  # noqa: BLE001 - the store is behind a protocol
            # Still pending in the store: tried again (maybe delivered twice: at least once).
            log.warning(
                "webhooks: cannot record an attempt of delivery %d: %s", job.id, _short(error)
            )
            job.due = now + timedelta(seconds=STORE_RETRY_S)
            self._push(queue, job)
            return
        if decision.verdict is Verdict.RETRY:
            job.attempts, job.round_attempts, job.due = (
                job.attempts + 1, job.round_attempts + 1, retry_at,
            )  # fmt: skip
            log.debug("webhook %s: delivery %d: %s", subscription.name, job.id, decision.reason)
            self._push(queue, job)
            return
        if decision.verdict is Verdict.DELIVERED:
            self.delivered += 1
        else:
            self.dead_lettered += 1
            log.warning(
                "webhook %s: delivery %d (event %s, %s) is a dead letter: %s",
                subscription.name, job.id, job.event_id, job.event_type, decision.reason,
            )  # fmt: skip
        self._settle(queue, job.id)

    async def _post(self, subscription: Subscription, job: _Job, at: datetime) -> Result:
        assert self._session is not None, "start() first"
        headers = {
            CONTENT_TYPE: JSON,
            aiohttp.hdrs.USER_AGENT: USER_AGENT,
            SIGNATURE_HEADER: sign(job.body, subscription.secrets, int(at.timestamp())),
            EVENT_ID_HEADER: job.event_id,
            EVENT_TYPE_HEADER: job.event_type,
            ATTEMPT_HEADER: str(job.attempts + 1),
        }
        timeout = aiohttp.ClientTimeout(total=subscription.timeout_s)
        try:
            async with self._session.post(
                subscription.url,
                data=job.body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                await response.content.read(MAX_ANSWER_BYTES)
                retry_after = parse_retry_after(response.headers.get(RETRY_AFTER), at)
                return Result(response.status, retry_after_s=retry_after)
        except TimeoutError:
            return Result(None, f"no answer within {subscription.timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as error:
            return Result(None, _short(error))

    async def _record(self, attempts: list[Attempt]) -> Sequence[None]:
        await self._store.record(attempts)
        return [None] * len(attempts)


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:300]
