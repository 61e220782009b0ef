"""ACD events read back from the persistent log, on the wall clock.

``center.persistence.to_new_event`` stores an event as its kind (``CallQueued`` ->
``call_queued``), its ``call_id`` and ``agent_id`` columns, a payload of its other fields
plus ``seq`` and ``clock`` (the run's monotonic reading), the UTC time of the record, and
the key ``<run>-<seq>``. ``logged_record`` turns such a row back into the ``EventRecord``
with times in epoch seconds: the record's time is the row's; a ``CallQueued``'s entry
time, on the run's clock in the payload, is moved by the same offset. ``None`` for a kind
this version does not know or a payload that does not fit it (an older or newer writer).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from acd.events import AcdEvent, CallQueued, EventRecord

__all__ = ["EVENT_TYPES", "LoggedRow", "kind_of", "logged_record", "record_of", "run_of"]


def kind_of(event_type: type[object]) -> str:
    """``CallQueued`` -> ``call_queued``: the event log's ``kind`` column."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_type.__name__).lower()


#: The event classes by their logged kind.
EVENT_TYPES: Mapping[str, type[AcdEvent]] = {
    kind_of(t): t for t in typing.get_args(AcdEvent) if isinstance(t, type)
}
_COLUMNS = ("call_id", "agent_id")
#: Each event class's fields, but its columns: ``(name, is a column)``.
_FIELDS: Mapping[type[AcdEvent], tuple[tuple[str, bool], ...]] = {
    t: tuple((f.name, f.name in _COLUMNS) for f in dataclasses.fields(t))
    for t in EVENT_TYPES.values()
}


def run_of(key: str) -> str:
    """The run that logged the event with ``key`` (``<run>-<seq>``)."""
    return key.rpartition("-")[0]


class LoggedRow(Protocol):
    """A row of the persistent event log as ``history.event_log`` reads it."""

    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def call_id(self) -> str | None: ...
    @property
    def agent_id(self) -> str | None: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


def record_of(row: LoggedRow) -> EventRecord | None:
    """The event record of one row of the event log; None when this version cannot read
    it (no run sequence number, an unknown kind, a field missing)."""
    seq = row.payload.get("seq")
    if not isinstance(seq, int):
        return None
    return logged_record(
        seq=seq,
        at=row.at.timestamp(),
        kind=row.kind,
        call_id=row.call_id,
        agent_id=row.agent_id,
        payload=row.payload,
    )


def logged_record(
    *,
    seq: int,
    at: float,
    kind: str,
    call_id: str | None,
    agent_id: str | None,
    payload: Mapping[str, Any],
) -> EventRecord | None:
    """The event record of one logged row; ``at`` in epoch seconds, ``seq`` the run's."""
    event_type = EVENT_TYPES.get(kind)
    if event_type is None:
        return None
    values: dict[str, Any] = {}
    for name, column in _FIELDS[event_type]:
        if column:
            values[name] = call_id if name == "call_id" else agent_id
        elif name in payload:
            values[name] = payload[name]
    try:
        event = event_type(**values)
    except TypeError:  # a field missing: not an event this version can read
        return None
    if isinstance(event, CallQueued):
        clock = payload.get("clock")
        if not isinstance(clock, int | float) or not isinstance(event.entry_time, int | float):
            return None
        event = dataclasses.replace(event, entry_time=event.entry_time + at - clock)
    return EventRecord(seq, at, event)
