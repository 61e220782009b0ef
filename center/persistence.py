"""The ACD's event log in the customer history, never on a call's path.

``HistoryEventSink``: the distributor's ``EventSink``. Each record is numbered in memory
(``inner``: listeners such as the supervisor's live view see it at once) and appended to
the history store's event log through ``HistoryWriter.append_event``, in order, many to a
transaction (the writer's group commit), with no task per record (``center.history_outbox``).
The writer spools to disk when the database is down, so nothing is lost and no call waits:
``append`` only hands the record over. Keys are ``<run>-<seq>``, so a replayed write is
not logged twice.

Every call's one interaction is written by ``center.call_interactions.HistoryInteractions``
(imported from here too, as it always was).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields
from enum import Enum
from typing import Any, Protocol
from uuid import uuid4

from acd.clock import Clock
from acd.events import AcdEvent, EventRecord, InMemoryEventSink
from center.call_interactions import HistoryInteractions
from center.history_outbox import HistoryOutbox
from history.inputs import NewEvent

log = logging.getLogger(__name__)

__all__ = [
    "EventWriter",
    "HistoryEventSink",
    # center.call_interactions's, imported from here by hotline.app and bench/
    "HistoryInteractions",
    "event_kind",
    "to_new_event",
]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EventWriter(Protocol):
    """``history.writer.HistoryWriter``'s event side: the write is queued when called, and
    the future it returns is its answer (an ``async def`` will do, at a task per write)."""

    def append_event(self, new: NewEvent) -> Awaitable[object]: ...


def event_kind(event: AcdEvent) -> str:
    """``CallQueued`` -> ``call_queued``."""
    return _shape(type(event))[0]


_SHAPES: dict[type, tuple[str, tuple[str, ...]]] = {}


def _shape(kind: type) -> tuple[str, tuple[str, ...]]:
    """An event type's kind and field names, worked out once per type (every ACD event is
    a flat dataclass of scalars: reading its fields is what ``asdict``'s deep copy gave, at
    a fifth of the cost, and the kind's regex ran for every event)."""
    found = _SHAPES.get(kind)
    if found is None:
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower()
        found = _SHAPES[kind] = (name, tuple(field.name for field in fields(kind)))
    return found


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


def to_new_event(
    record: EventRecord, at: dt.datetime, run: str, key: str | None = None
) -> NewEvent:
    """``key``: the record's key in the log (default: the run's and the record's number)."""
    event = record.event
    kind, names = _shape(type(event))
    values = {name: _plain(getattr(event, name)) for name in names}
    call_id, agent_id = values.pop("call_id", None), values.pop("agent_id", None)
    payload: dict[str, Any] = {**values, "seq": record.seq, "clock": record.at}
    return NewEvent(
        kind=kind,
        call_id=call_id if isinstance(call_id, str) else None,
        agent_id=agent_id if isinstance(agent_id, str) else None,
        payload=payload,
        at=at,
        key=key or f"{run}-{record.seq}",
    )


class HistoryEventSink:
    def __init__(
        self,
        writer: EventWriter,
        *,
        inner: InMemoryEventSink | None = None,
        clock: Clock = time.monotonic,
        wall: Callable[[], dt.datetime] = _utc_now,
        run: str | None = None,
    ) -> None:
        self._writer = writer
        self.inner = inner if inner is not None else InMemoryEventSink(keep=False)
        #: The ACD's clock is monotonic; this pair turns its readings into UTC times.
        self._origin = (clock(), wall())
        self.run = run or uuid4().hex[:12]
        self._outbox = HistoryOutbox("acd-event-log")
        #: Each record's key in the history (None: the run's and the record's number). A
        #: shared ACD's nodes key a record by its place in their shared log, so the same
        #: event, logged by every node, is kept once (``AcdCluster.event_key``).
        self.keys: Callable[[EventRecord], str] | None = None

    def append(self, at: float, event: AcdEvent) -> EventRecord:
        record = self.inner.append(at, event)
        when = self._origin[1] + dt.timedelta(seconds=at - self._origin[0])
        try:
            key = None if self.keys is None else self.keys(record)
            new = to_new_event(record, when, self.run, key)
        except ValueError as error:  # oversized or malformed: kept in memory, not persisted
            log.error("ACD event %d not persisted: %s", record.seq, error)
            return record
        self._outbox.put(lambda: self._writer.append_event(new))
        return record

    async def flush(self) -> None:
        await self._outbox.flush()

    async def close(self, timeout_s: float = 2.0) -> None:
        """Wait up to ``timeout_s`` for queued writes (the writer spools what the store
        cannot take), then stop."""
        await self._outbox.close(timeout_s)
