"""Callback requests that survive a restart: who asked to be called back, and how it went.

A request is ``pending`` until it is due (``next_attempt_at``); the dialler (``center.
callbacks``) ``claim``\\ s it (``dialing``: queued in the ACD, ringing an agent, dialling the
customer), and each attempt ends it as ``done`` (an agent talked to the customer),
``pending`` again for a ``retry`` later, ``failed`` (attempts used up, a number that cannot
be dialled) or ``cancelled``. ``claim`` is one conditional UPDATE, so two dialler processes
on a shared store never take the same request. A process that stops while dialling leaves
``dialing`` rows behind; ``recover`` returns them to ``pending`` at the next start.

``CallbackStore`` keeps them in the history store (async SQLAlchemy, SQLite or PostgreSQL);
``InMemoryCallbackBook`` is the same book in a dict, for a service without a store and for
tests. Numbers are kept in E.164 when they are telephone numbers (the form the customer's
identities have, so an erasure finds them), as given otherwise.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from history.context import Clock, utc_now
from history.identities import IdentityNormaliser
from history.models import CallbackRow, CustomerRow
from history.store import writing_sessions

__all__ = [
    "CLOSED",
    "OPEN",
    "Callback",
    "CallbackBook",
    "CallbackStatus",
    "CallbackStore",
    "InMemoryCallbackBook",
    "NewCallback",
]

CallbackStatus = Literal["pending", "dialing", "done", "failed", "cancelled"]
PENDING: Final = "pending"
DIALING: Final = "dialing"
DONE: Final = "done"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
#: Still to be called back (the supervisor's list), and finished one way or another.
OPEN: Final = frozenset({PENDING, DIALING})
CLOSED: Final = frozenset({DONE, FAILED, CANCELLED})
_RESULT_LENGTH = 64


@dataclass(frozen=True)
class NewCallback:
    """A request as the waiting caller (or the IVR's callback step) made it."""

    call_id: str
    number: str
    queue: str
    language: str
    requested_at: dt.datetime
    #: When the call first joined the queue: the callback keeps that place.
    entry_at: dt.datetime
    attributes: Mapping[str, str] = field(default_factory=dict)
    customer_id: int | None = None


@dataclass(frozen=True)
class Callback:
    id: int
    call_id: str
    number: str
    customer_id: int | None
    queue: str
    language: str
    requested_at: dt.datetime
    entry_at: dt.datetime
    attributes: Mapping[str, str]
    status: CallbackStatus
    attempts: int
    next_attempt_at: dt.datetime
    last_result: str | None
    agent: str | None
    updated_at: dt.datetime


class CallbackBook(Protocol):
    """What the dialler needs of a book of callbacks (each call is one transaction)."""

    async def add(self, new: NewCallback) -> Callback:
        """Idempotent on ``call_id``: a second request of the same call returns the first."""
        ...

    async def get(self, call_id: str) -> Callback | None: ...

    async def due(self, now: dt.datetime, *, limit: int = 50) -> list[Callback]:
        """Pending requests whose time has come, the longest waiting first."""
        ...

    async def next_attempt_at(self) -> dt.datetime | None:
        """When the next pending request falls due (None: nothing pending)."""
        ...

    async def claim(self, callback_id: int) -> Callback | None:
        """pending -> dialing, or None when someone else claimed it (or it is not pending)."""
        ...

    async def finished(self, callback_id: int, *, agent: str, result: str) -> Callback:
        """An agent talked to the customer: done (one attempt more)."""
        ...

    async def retry(
        self, callback_id: int, *, at: dt.datetime, result: str, agent: str | None
    ) -> Callback:
        """The customer was not reached: pending again from ``at`` (one attempt more)."""
        ...

    async def failed(self, callback_id: int, *, result: str, agent: str | None = None) -> Callback:
        """Given up: attempts used up (one attempt more) or not diallable (``agent`` None,
        no attempt counted)."""
        ...

    async def release(self, callback_id: int, *, at: dt.datetime, result: str) -> Callback:
        """dialing -> pending without counting an attempt (the dialler could not try)."""
        ...

    async def cancel(self, callback_id: int) -> Callback | None:
        """An open request is withdrawn; None when it was already closed."""
        ...

    async def open(self) -> list[Callback]:
        """Pending and dialing requests, the longest waiting first."""
        ...

    async def recover(self) -> int:
        """After a stop while dialling: every ``dialing`` request is pending again."""
        ...


def _normalised(number: str, identities: IdentityNormaliser) -> str:
    return identities.caller_number(number) or number.strip()


class _Transitions(ABC):
    """How a request moves from one status to the next, the same in every book: each move is
    one ``_move`` (conditional on the status it starts from)."""

    async def claim(self, callback_id: int) -> Callback | None:
        return await self._move(callback_id, {PENDING}, status=DIALING)

    async def finished(self, callback_id: int, *, agent: str, result: str) -> Callback:
        return await self._close(callback_id, DONE, result, agent, counted=True)

    async def retry(
        self, callback_id: int, *, at: dt.datetime, result: str, agent: str | None
    ) -> Callback:
        return await self._pending_again(callback_id, at, result, counted=True, agent=agent)

    async def failed(self, callback_id: int, *, result: str, agent: str | None = None) -> Callback:
        return await self._close(callback_id, FAILED, result, agent, counted=agent is not None)

    async def release(self, callback_id: int, *, at: dt.datetime, result: str) -> Callback:
        return await self._pending_again(callback_id, at, result, counted=False)

    async def cancel(self, callback_id: int) -> Callback | None:
        return await self._move(callback_id, set(OPEN), status=CANCELLED)

    async def _pending_again(
        self, callback_id: int, at: dt.datetime, result: str, *, counted: bool, **values: object
    ) -> Callback:
        moved = await self._move(
            callback_id,
            {DIALING},
            counted=counted,
            status=PENDING,
            next_attempt_at=at,
            last_result=result[:_RESULT_LENGTH],
            **values,
        )
        return moved or await self._must(callback_id)

    async def _close(
        self, callback_id: int, status: str, result: str, agent: str | None, *, counted: bool
    ) -> Callback:
        moved = await self._move(
            callback_id,
            set(OPEN),
            counted=counted,
            status=status,
            last_result=result[:_RESULT_LENGTH],
            agent=agent,
        )
        return moved or await self._must(callback_id)

    @abstractmethod
    async def _move(
        self, callback_id: int, before: set[str], *, counted: bool = False, **values: object
    ) -> Callback | None:
        """The request with ``values`` (and one attempt more when ``counted``), or None when
        it is no longer in ``before``."""

    @abstractmethod
    async def _must(self, callback_id: int) -> Callback:
        """The request as it is (KeyError when there is none)."""


class CallbackStore(_Transitions):
    """The book in the history store."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        identities: IdentityNormaliser | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._identities = identities or IdentityNormaliser()
        self._clock = clock
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)

    async def add(self, new: NewCallback) -> Callback:
        async with self._writes() as session, session.begin():
            found = await session.scalar(
                select(CallbackRow).where(CallbackRow.call_id == new.call_id)
            )
            if found is not None:
                return _record(found)
            customer = new.customer_id
            if customer is not None and await session.get(CustomerRow, customer) is None:
                customer = None  # an id the store does not hold: the number still counts
            now = self._clock()
            row = CallbackRow(
                call_id=new.call_id,
                number=_normalised(new.number, self._identities),
                customer_id=customer,
                queue=new.queue,
                language=new.language,
                requested_at=new.requested_at,
                entry_at=new.entry_at,
                attributes=dict(new.attributes),
                status=PENDING,
                attempts=0,
                next_attempt_at=new.requested_at,
                last_result=None,
                agent=None,
                updated_at=now,
            )
            try:
                async with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # another process added the same call meanwhile
                found = await session.scalar(
                    select(CallbackRow).where(CallbackRow.call_id == new.call_id)
                )
                if found is None:
                    raise
                return _record(found)
            return _record(row)

    async def get(self, call_id: str) -> Callback | None:
        async with self._reads() as session:
            row = await session.scalar(select(CallbackRow).where(CallbackRow.call_id == call_id))
            return None if row is None else _record(row)

    async def due(self, now: dt.datetime, *, limit: int = 50) -> list[Callback]:
        async with self._reads() as session:
            rows = await session.scalars(
                select(CallbackRow)
                .where(CallbackRow.status == PENDING, CallbackRow.next_attempt_at <= now)
                .order_by(CallbackRow.entry_at, CallbackRow.id)
                .limit(limit)
            )
            return [_record(r) for r in rows]

    async def next_attempt_at(self) -> dt.datetime | None:
        async with self._reads() as session:
            earliest = await session.scalar(
                select(func.min(CallbackRow.next_attempt_at)).where(CallbackRow.status == PENDING)
            )
            return earliest  # min() keeps the column's type: an aware UTC time

    async def open(self) -> list[Callback]:
        async with self._reads() as session:
            rows = await session.scalars(
                select(CallbackRow)
                .where(CallbackRow.status.in_(sorted(OPEN)))
                .order_by(CallbackRow.entry_at, CallbackRow.id)
            )
            return [_record(r) for r in rows]

    async def recover(self) -> int:
        async with self._writes() as session, session.begin():
            result = await session.execute(
                update(CallbackRow)
                .where(CallbackRow.status == DIALING)
                .values(status=PENDING, updated_at=self._clock())
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # internals -------------------------------------------------------------------------
    async def _move(
        self, callback_id: int, before: set[str], *, counted: bool = False, **values: object
    ) -> Callback | None:
        """One conditional UPDATE: only a row still in ``before`` changes."""
        if counted:
            values["attempts"] = CallbackRow.attempts + 1
        async with self._writes() as session, session.begin():
            result = await session.execute(
                update(CallbackRow)
                .where(CallbackRow.id == callback_id, CallbackRow.status.in_(sorted(before)))
                .values(**values, updated_at=self._clock())
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                return None
            row = await session.get(CallbackRow, callback_id, populate_existing=True)
            assert row is not None
            return _record(row)

    async def _must(self, callback_id: int) -> Callback:
        async with self._reads() as session:
            row = await session.get(CallbackRow, callback_id)
            if row is None:
                raise KeyError(f"no callback {callback_id}")
            return _record(row)


def _record(row: CallbackRow) -> Callback:
    status: CallbackStatus = row.status  # type: ignore[assignment]  # the column's values
    return Callback(
        id=row.id,
        call_id=row.call_id,
        number=row.number,
        customer_id=row.customer_id,
        queue=row.queue,
        language=row.language,
        requested_at=row.requested_at,
        entry_at=row.entry_at,
        attributes=dict(row.attributes),
        status=status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_result=row.last_result,
        agent=row.agent,
        updated_at=row.updated_at,
    )


class InMemoryCallbackBook(_Transitions):
    """The same book in a dict: for a service without a history store, and tests."""

    def __init__(
        self, *, identities: IdentityNormaliser | None = None, clock: Clock = utc_now
    ) -> None:
        self._identities = identities or IdentityNormaliser()
        self._clock = clock
        self._rows: dict[int, Callback] = {}

    async def add(self, new: NewCallback) -> Callback:
        existing = await self.get(new.call_id)
        if existing is not None:
            return existing
        callback = Callback(
            id=len(self._rows) + 1,
            call_id=new.call_id,
            number=_normalised(new.number, self._identities),
            customer_id=new.customer_id,
            queue=new.queue,
            language=new.language,
            requested_at=new.requested_at,
            entry_at=new.entry_at,
            attributes=dict(new.attributes),
            status=PENDING,
            attempts=0,
            next_attempt_at=new.requested_at,
            last_result=None,
            agent=None,
            updated_at=self._clock(),
        )
        self._rows[callback.id] = callback
        return callback

    async def get(self, call_id: str) -> Callback | None:
        return next((c for c in self._rows.values() if c.call_id == call_id), None)

    async def due(self, now: dt.datetime, *, limit: int = 50) -> list[Callback]:
        due = [c for c in self._rows.values() if c.status == PENDING and c.next_attempt_at <= now]
        return sorted(due, key=lambda c: (c.entry_at, c.id))[:limit]

    async def next_attempt_at(self) -> dt.datetime | None:
        times = [c.next_attempt_at for c in self._rows.values() if c.status == PENDING]
        return min(times, default=None)

    async def open(self) -> list[Callback]:
        return sorted(
            (c for c in self._rows.values() if c.status in OPEN), key=lambda c: (c.entry_at, c.id)
        )

    async def recover(self) -> int:
        dialing = [c.id for c in self._rows.values() if c.status == DIALING]
        for callback_id in dialing:
            await self._move(callback_id, {DIALING}, status=PENDING)
        return len(dialing)

    async def _move(
        self, callback_id: int, before: set[str], *, counted: bool = False, **values: object
    ) -> Callback | None:
        current = self._rows.get(callback_id)
        if current is None or current.status not in before:
            return None
        if counted:
            values["attempts"] = current.attempts + 1
        moved = replace(current, **values, updated_at=self._clock())  # type: ignore[arg-type]
        self._rows[callback_id] = moved
        return moved

    async def _must(self, callback_id: int) -> Callback:
        return self._rows[callback_id]
