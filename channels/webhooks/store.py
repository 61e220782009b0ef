"""What the dispatcher records through: the ``DeliveryStore`` protocol and its records.

A delivery is one event for one subscription. It is written (``add``) before any attempt is
made, and it stays ``pending`` until an attempt delivers it or it becomes a dead letter:
that outbox is what makes a restart lose nothing (``pending`` is read back at start). Every
attempt is recorded with the delivery's new state in one ``record`` call. Dead letters are
listed (``dead``) and re-queued (``requeue``) with a fresh round of attempts.

The durable store is ``history.webhooks.SqlDeliveryStore``, where the records both sides
pass are defined (the lowest layer that needs them); ``channels.webhooks.memory`` holds one
in memory for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from history.webhooks import (
    DEAD,
    DELIVERED,
    PENDING,
    Attempt,
    NewDelivery,
    WebhookAttempt,
    WebhookDelivery,
)

__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "STATUSES",
    "Attempt",
    "DeliveryStore",
    "NewDelivery",
    "WebhookAttempt",
    "WebhookDelivery",
]

#: A delivery's states as stores report them.
STATUSES = (PENDING, DELIVERED, DEAD)


class DeliveryStore(Protocol):
    async def add(self, deliveries: Sequence[NewDelivery]) -> Sequence[WebhookDelivery]:
        """Write new pending deliveries, due at once; returned in the order given."""
        ...

    async def record(self, attempts: Sequence[Attempt]) -> None:
        """Record attempts and the state each leaves its delivery in (one transaction)."""
        ...

    async def pending(self, subscription: str, limit: int) -> Sequence[WebhookDelivery]:
        """Pending deliveries of ``subscription``, soonest due first."""
        ...

    async def dead(
        self, subscription: str | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> Sequence[WebhookDelivery]:
        """Dead letters, newest first (``before_id`` pages on)."""
        ...

    async def requeue(self, delivery_id: int, at: datetime) -> WebhookDelivery | None:
        """A dead letter made pending again, due ``at``, with a fresh round of attempts; None
        when there is no such dead letter (or its body was erased)."""
        ...

    async def get(self, delivery_id: int) -> WebhookDelivery | None: ...

    async def attempts(self, delivery_id: int) -> Sequence[WebhookAttempt]:
        """The delivery's attempts, first first."""
        ...
