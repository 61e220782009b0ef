"""Webhook deliveries in the history store: the outbox, every attempt, the dead letters.

``SqlDeliveryStore`` is the durable store of ``channels.webhooks`` (it satisfies that
package's ``DeliveryStore`` protocol structurally: the history layer imports nothing above
it). A delivery is one event for one subscription: ``pending`` from the moment it is added
until an attempt delivers it (``delivered``: the body is dropped, the record of the attempts
kept) or gives up (``dead``: kept whole, to be re-queued). ``record`` writes a batch of
attempts and the states they leave in one transaction; a late record for a delivery that
is no longer pending (erased meanwhile) changes nothing but the attempt log.

``export_customer`` and ``erase_customer`` are the privacy module's: an event whose
``data.customer_id`` names the customer is theirs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from history.models import WebhookAttemptRow, WebhookDeliveryRow
from history.store import writing_sessions

__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "SqlDeliveryStore",
    "WebhookAttempt",
    "WebhookDelivery",
    "erase_customer",
    "export_customer",
]

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"
ERASED: Final = "erased: the customer's personal data was removed"
_RESULT_CHARS = 500
_ERROR_CHARS = 300


class NewWebhookDelivery(Protocol):
    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def subscription(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def customer_id(self) -> int | None: ...


class WebhookAttemptResult(Protocol):
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
    @property
    def retry_at(self) -> datetime | None: ...
    @property
    def delivered(self) -> bool: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class WebhookDelivery:
    id: int
    event_id: str
    event_type: str
    subscription: str
    customer_id: int | None
    body: bytes | None
    status: str
    created_at: datetime
    attempts: int
    round_attempts: int
    round_started_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_result: str | None


@dataclass(frozen=True)
class WebhookAttempt:
    delivery_id: int
    number: int
    at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None


def _delivery(row: WebhookDeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        subscription=row.subscription,
        customer_id=row.customer_id,
        body=None if row.body is None else row.body.encode("utf-8"),
        status=row.status,
        created_at=row.created_at,
        attempts=row.attempts,
        round_attempts=row.round_attempts,
        round_started_at=row.round_started_at,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        last_result=row.last_result,
    )


#: One attempt's effect on its delivery, executed for a batch at once (executemany).
_SETTLE = (
    update(WebhookDeliveryRow)
    .where(WebhookDeliveryRow.id == bindparam("delivery"))
    .where(WebhookDeliveryRow.status == PENDING)
    .values(
        status=bindparam("new_status"),
        attempts=WebhookDeliveryRow.attempts + 1,
        round_attempts=WebhookDeliveryRow.round_attempts + 1,
        next_attempt_at=bindparam("next_at"),
        finished_at=bindparam("finished"),
        last_result=bindparam("result"),
    )
)
_SETTLE_DELIVERED = _SETTLE.values(body=None)


class SqlDeliveryStore:
    """``channels.webhooks.store.DeliveryStore`` on the history store (SQLite, PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)

    async def add(self, deliveries: Sequence[NewWebhookDelivery]) -> list[WebhookDelivery]:
        if not deliveries:
            return []
        values = [
            {
                "event_id": new.event_id,
                "event_type": new.event_type,
                "subscription": new.subscription,
                "customer_id": new.customer_id,
                "body": new.body.decode("utf-8"),
                "status": PENDING,
                "created_at": new.created_at,
                "attempts": 0,
                "round_attempts": 0,
                "round_started_at": new.created_at,
                "next_attempt_at": new.created_at,
            }
            for new in deliveries
        ]
        async with self._writes.begin() as session:
            ids = (
                await session.scalars(
                    insert(WebhookDeliveryRow).returning(
                        WebhookDeliveryRow.id, sort_by_parameter_order=True
                    ),
                    values,
                )
            ).all()
        return [
            WebhookDelivery(
                id=id_,
                event_id=new.event_id,
                event_type=new.event_type,
                subscription=new.subscription,
                customer_id=new.customer_id,
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
            for id_, new in zip(ids, deliveries, strict=True)
        ]

    async def record(self, attempts: Sequence[WebhookAttemptResult]) -> None:
        if not attempts:
            return
        delivered: list[dict[str, object]] = []
        others: list[dict[str, object]] = []
        for attempt in attempts:
            status = PENDING if attempt.retry_at else DELIVERED if attempt.delivered else DEAD
            params = {
                "delivery": attempt.delivery_id,
                "new_status": status,
                "next_at": attempt.retry_at,
                "finished": None if status == PENDING else attempt.at,
                "result": attempt.reason[:_RESULT_CHARS],
            }
            (delivered if status == DELIVERED else others).append(params)
        async with self._writes.begin() as session:
            await session.execute(
                insert(WebhookAttemptRow),
                [
                    {
                        "delivery_id": a.delivery_id,
                        "number": a.number,
                        "at": a.at,
                        "duration_ms": a.duration_ms,
                        "status_code": a.status_code,
                        "error": None if a.error is None else a.error[:_ERROR_CHARS],
                    }
                    for a in attempts
                ],
            )
            connection = await session.connection()
            if delivered:
                await connection.execute(_SETTLE_DELIVERED, delivered)
            if others:
                await connection.execute(_SETTLE, others)

    async def pending(self, subscription: str, limit: int) -> list[WebhookDelivery]:
        query = (
            select(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.subscription == subscription)
            .where(WebhookDeliveryRow.status == PENDING)
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(limit)
        )
        async with self._reads() as session:
            return [_delivery(row) for row in await session.scalars(query)]

    async def dead(
        self, subscription: str | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> list[WebhookDelivery]:
        query = select(WebhookDeliveryRow).where(WebhookDeliveryRow.status == DEAD)
        if subscription is not None:
            query = query.where(WebhookDeliveryRow.subscription == subscription)
        if before_id is not None:
            query = query.where(WebhookDeliveryRow.id < before_id)
        query = query.order_by(WebhookDeliveryRow.id.desc()).limit(limit)
        async with self._reads() as session:
            return [_delivery(row) for row in await session.scalars(query)]

    async def requeue(self, delivery_id: int, at: datetime) -> WebhookDelivery | None:
        async with self._writes.begin() as session:
            row = await session.get(WebhookDeliveryRow, delivery_id)
            if row is None or row.status != DEAD or row.body is None:
                return None
            row.status, row.next_attempt_at, row.finished_at = PENDING, at, None
            row.round_attempts, row.round_started_at = 0, at
            await session.flush()
            return _delivery(row)

    async def get(self, delivery_id: int) -> WebhookDelivery | None:
        async with self._reads() as session:
            row = await session.get(WebhookDeliveryRow, delivery_id)
            return None if row is None else _delivery(row)

    async def attempts(self, delivery_id: int) -> list[WebhookAttempt]:
        query = (
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_id == delivery_id)
            .order_by(WebhookAttemptRow.number, WebhookAttemptRow.id)
        )
        async with self._reads() as session:
            return [
                WebhookAttempt(
                    row.delivery_id, row.number, row.at, row.duration_ms, row.status_code, row.error
                )
                for row in await session.scalars(query)
            ]

    async def counts(self) -> dict[tuple[str, str], int]:
        """(subscription, status) -> deliveries: for the command line and health pages."""
        query = select(
            WebhookDeliveryRow.subscription, WebhookDeliveryRow.status, func.count()
        ).group_by(WebhookDeliveryRow.subscription, WebhookDeliveryRow.status)
        async with self._reads() as session:
            return {(name, status): count for name, status, count in await session.execute(query)}

    async def purge_delivered(self, before: datetime) -> int:
        """Forget deliveries delivered before ``before``, attempts and all; returns how many."""
        old = select(WebhookDeliveryRow.id).where(
            WebhookDeliveryRow.status == DELIVERED, WebhookDeliveryRow.finished_at < before
        )
        async with self._writes.begin() as session:
            await session.execute(
                delete(WebhookAttemptRow)
                .where(WebhookAttemptRow.delivery_id.in_(old))
                .execution_options(synchronize_session=False)
            )
            result = await session.execute(
                delete(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.id.in_(old))
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)


async def export_customer(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """The customer's webhook deliveries as plain JSON values (bodies still held, parsed)."""
    rows = await session.scalars(
        select(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.customer_id == customer_id)
        .order_by(WebhookDeliveryRow.id)
    )
    return [
        {
            "id": row.id,
            "event_id": row.event_id,
            "event_type": row.event_type,
            "subscription": row.subscription,
            "status": row.status,
            "created_at": row.created_at.isoformat(),
            "attempts": row.attempts,
            "event": None if row.body is None else json.loads(row.body),
        }
        for row in rows
    ]


async def erase_customer(session: AsyncSession, customer_id: int, now: datetime) -> int:
    """Drop the bodies of the customer's deliveries (a pending one becomes a dead letter
    that cannot be re-queued); returns how many bodies were dropped."""
    result = await session.execute(
        update(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.customer_id == customer_id)
        .where(WebhookDeliveryRow.body.is_not(None))
        .values(
            body=None,
            status=DEAD,
            next_attempt_at=None,
            finished_at=func.coalesce(WebhookDeliveryRow.finished_at, now),
            last_result=ERASED,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
