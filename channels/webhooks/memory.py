"""A ``DeliveryStore`` in memory: for tests and benches. It loses everything with the
process, so a service uses ``history.webhooks.SqlDeliveryStore``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from channels.webhooks.store import (
    DEAD,
    DELIVERED,
    PENDING,
    Attempt,
    Delivery,
    NewDelivery,
)

__all__ = ["MemoryDeliveryStore"]


class MemoryDeliveryStore:
    def __init__(self) -> None:
        self._deliveries: dict[int, Delivery] = {}
        self._attempts: dict[int, list[Attempt]] = {}
        self._keys: set[tuple[str, str]] = set()
        #: Every call, for tests that look at how the dispatcher batches.
        self.calls: list[tuple[str, int]] = []

    async def add(self, deliveries: Sequence[NewDelivery]) -> list[Delivery]:
        self.calls.append(("add", len(deliveries)))
        added = []
        for new in deliveries:
            key = (new.event_id, new.subscription)
            if key in self._keys:
                raise ValueError(f"event {new.event_id} is already queued for {new.subscription}")
            self._keys.add(key)
            row = Delivery(
                id=len(self._deliveries) + 1,
                event_id=new.event_id,
                event_type=new.event_type,
                subscription=new.subscription,
                body=new.body,
                status=PENDING,
                created_at=new.created_at,
                attempts=0,
                round_attempts=0,
                round_started_at=new.created_at,
                next_attempt_at=new.created_at,
                finished_at=None,
                last_result=None,
            )
            self._deliveries[row.id] = row
            self._attempts[row.id] = []
            added.append(row)
        return added

    async def record(self, attempts: Sequence[Attempt]) -> None:
        self.calls.append(("record", len(attempts)))
        for attempt in attempts:
            row = self._deliveries[attempt.delivery_id]
            self._attempts[row.id].append(attempt)
            status = PENDING if attempt.retry_at else DELIVERED if attempt.delivered else DEAD
            self._deliveries[row.id] = replace(
                row,
                status=status,
                body=None if status == DELIVERED else row.body,
                attempts=row.attempts + 1,
                round_attempts=row.round_attempts + 1,
                next_attempt_at=attempt.retry_at,
                finished_at=None if status == PENDING else attempt.at,
                last_result=attempt.reason,
            )

    async def pending(self, subscription: str, limit: int) -> list[Delivery]:
        rows = [
            row
            for row in self._deliveries.values()
            if row.status == PENDING and row.subscription == subscription
        ]
        rows.sort(key=lambda row: (row.next_attempt_at or row.created_at, row.id))
        return rows[:limit]

    async def dead(
        self, subscription: str | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> list[Delivery]:
        rows = [
            row
            for row in sorted(self._deliveries.values(), key=lambda row: -row.id)
            if row.status == DEAD
            and (subscription is None or row.subscription == subscription)
            and (before_id is None or row.id < before_id)
        ]
        return rows[:limit]

    async def requeue(self, delivery_id: int, at: datetime) -> Delivery | None:
        row = self._deliveries.get(delivery_id)
        if row is None or row.status != DEAD or row.body is None:
            return None
        row = replace(
            row,
            status=PENDING,
            round_attempts=0,
            round_started_at=at,
            next_attempt_at=at,
            finished_at=None,
        )
        self._deliveries[delivery_id] = row
        return row

    async def get(self, delivery_id: int) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    async def attempts(self, delivery_id: int) -> list[Attempt]:
        return list(self._attempts.get(delivery_id, []))
