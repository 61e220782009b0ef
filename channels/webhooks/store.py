"""What the dispatcher records through: the ``DeliveryStore`` protocol and its records.

A delivery is one event for one subscription. It is written (``add``) before any attempt is
made, and it stays ``pending`` until an attempt delivers it or it becomes a dead letter:
that outbox is what makes a restart lose nothing (``pending`` is read back at start). Every
attempt is recorded with the delivery's new state in one ``record`` call. Dead letters are
listed (``dead``) and re-queued (``requeue``) with a fresh round of attempts.

The durable store is ``history.webhooks.SqlDeliveryStore`` (it satisfies this protocol
structurally: the history layer imports nothing of ours); ``channels.webhooks.memory`` holds
one in memory for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "STATUSES",
    "Attempt",
    "Delivery",
    "DeliveryStore",
    "NewDelivery",
    "StoredAttempt",
    "StoredDelivery",
]

#: A delivery's states as stores report them (``history.webhooks`` keeps the same words).
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
STATUSES = (PENDING, DELIVERED, DEAD)


@dataclass(frozen=True)
class NewDelivery:
    """One event for one subscription, as the outbox takes it."""

    event_id: str
    event_type: str
    subscription: str
    body: bytes
    created_at: datetime
    #: ``data.customer_id``: the delivery is part of that customer's export and erasure.
    customer_id: int | None


@dataclass(frozen=True)
class Attempt:
    """One attempt and the delivery's state after it."""

    delivery_id: int
    #: 1, 2, … over the delivery's life (a re-queued dead letter continues the count).
    number: int
    at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    #: Set: pending again, due then. Else delivered when ``delivered``, dead otherwise.
    retry_at: datetime | None
    delivered: bool
    #: Why it was dead-lettered or retried (``HTTP 503: gave up after 12 attempts``).
    reason: str


class StoredDelivery(Protocol):
    """A delivery as a store hands it back."""

    @property
    def id(self) -> int: ...
    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def subscription(self) -> str: ...
    #: None once delivered (the body is not kept) or erased.
    @property
    def body(self) -> bytes | None: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    #: Attempts over the delivery's life.
    @property
    def attempts(self) -> int: ...
    #: Attempts since the delivery was made or last re-queued, and when that was: what the
    #: subscription's ``max_attempts`` and ``max_age_s`` are counted against.
    @property
    def round_attempts(self) -> int: ...
    @property
    def round_started_at(self) -> datetime: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def last_result(self) -> str | None: ...


class StoredAttempt(Protocol):
    @property
    def delivery_id(self) -> int: ...
    @property
    def number(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True)
class Delivery:
    """A ``StoredDelivery`` as plain data (the memory store's)."""

    id: int
    event_id: str
    event_type: str
    subscription: str
    body: bytes | None
    status: str
    created_at: datetime
    attempts: int
    round_attempts: int
    round_started_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_result: str | None


class DeliveryStore(Protocol):
    async def add(self, deliveries: Sequence[NewDelivery]) -> Sequence[StoredDelivery]:
        """Write new pending deliveries, due at once; returned in the order given."""
        ...

    async def record(self, attempts: Sequence[Attempt]) -> None:
        """Record attempts and the state each leaves its delivery in (one transaction)."""
        ...

    async def pending(self, subscription: str, limit: int) -> Sequence[StoredDelivery]:
        """Pending deliveries of ``subscription``, soonest due first."""
        ...

    async def dead(
        self, subscription: str | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> Sequence[StoredDelivery]:
        """Dead letters, newest first (``before_id`` pages on)."""
        ...

    async def requeue(self, delivery_id: int, at: datetime) -> StoredDelivery | None:
        """A dead letter made pending again, due ``at``, with a fresh round of attempts; None
        when there is no such dead letter (or its body was erased)."""
        ...

    async def get(self, delivery_id: int) -> StoredDelivery | None: ...

    async def attempts(self, delivery_id: int) -> Sequence[StoredAttempt]:
        """The delivery's attempts, first first."""
        ...
