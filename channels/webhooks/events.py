"""The webhook payload: one JSON envelope per event, and the event types subscriptions select.

Pure: no I/O, the time is given. The body is serialised once, when the event is made, and
that exact byte string is stored, signed and sent at every attempt::

    {"id": "evt_4f0c…", "type": "task.created", "created_at": "2026-03-02T09:00:00.000000Z",
     "data": {…}}

``id`` is unique per event (the same on every attempt and every subscription): receivers
de-duplicate by it, since delivery is at least once. ``created_at`` is UTC with a ``Z``;
deliveries are not ordered, so receivers order by it.

A subscription selects event types with patterns: an exact type (``task.created``), every
type under a prefix (``task.*``), or everything (``*``). A pattern that selects no known
type is refused (a typo must not silently subscribe to nothing).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "EVENT_TYPES",
    "MAX_BODY_BYTES",
    "Event",
    "EventError",
    "EventNotJson",
    "EventTooLarge",
    "UnknownEventType",
    "make_event",
    "matches",
    "parse_event",
    "pattern_problem",
    "selects",
]

#: Every event a subscription can receive. A new kind is one line here.
EVENT_TYPES: frozenset[str] = frozenset(
    {
        "task.created",  # a contact became a task waiting for an agent
        "task.assigned",  # an agent accepted it
        "task.completed",  # the agent finished it (after wrap-up)
        "message.created",  # a message was added to a conversation (either side)
        "message.delivery",  # a message's delivery state changed (sent, delivered, read)
        "conversation.resolved",  # a conversation was closed as resolved
    }
)

#: A receiver can refuse large bodies; ours stays well under common limits (1 MB).
MAX_BODY_BYTES = 256 * 1024
ID_PREFIX = "evt_"
WILDCARD = "*"

# The envelope's keys, named once.
ID, TYPE, CREATED_AT, DATA = "id", "type", "created_at", "data"
#: ``data.customer_id`` ties a delivery to a customer (export and erasure).
CUSTOMER_ID = "customer_id"

_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


class EventError(ValueError):
    """An event that cannot be sent as given."""


class UnknownEventType(EventError):
    pass


class EventNotJson(EventError):
    pass


class EventTooLarge(EventError):
    pass


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    created_at: datetime
    data: Mapping[str, Any]
    #: The envelope as sent (UTF-8 JSON): stored, signed and posted as is.
    body: bytes

    @property
    def customer_id(self) -> int | None:
        value = self.data.get(CUSTOMER_ID)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def make_event(
    event_type: str, data: Mapping[str, Any], *, now: datetime, event_id: str | None = None
) -> Event:
    """The envelope of ``data`` as a ``event_type`` event at ``now`` (aware UTC).

    Raises ``UnknownEventType``, ``EventNotJson`` (not a JSON object with string keys, or
    NaN/infinite numbers), ``EventTooLarge`` (over ``MAX_BODY_BYTES``).
    """
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    if now.tzinfo is None:
        raise EventError("naive datetime: events carry aware UTC times")
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise EventNotJson("data must be a JSON object (a mapping with string keys)")
    created_at = now.astimezone(UTC)
    envelope = {
        ID: event_id or ID_PREFIX + uuid.uuid4().hex,
        TYPE: event_type,
        CREATED_AT: _timestamp(created_at),
        DATA: data,
    }
    try:
        text = json.dumps(envelope, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise EventNotJson(f"data is not JSON: {error}") from None
    body = text.encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise EventTooLarge(f"event body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    return Event(str(envelope[ID]), event_type, created_at, dict(data), body)


def parse_event(body: bytes) -> Event:
    """An envelope read back (a receiver's side, and the tests'); raises ``EventError``."""
    try:
        envelope = json.loads(body, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise EventNotJson(f"not a JSON body: {error}") from None
    if not isinstance(envelope, dict):
        raise EventNotJson("the envelope must be a JSON object")
    event_id, kind = envelope.get(ID), envelope.get(TYPE)
    created, data = envelope.get(CREATED_AT), envelope.get(DATA)
    if not isinstance(event_id, str) or not isinstance(kind, str):
        raise EventNotJson("id and type must be strings")
    if not isinstance(created, str) or not isinstance(data, dict):
        raise EventNotJson("created_at must be a string and data an object")
    try:
        created_at = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise EventNotJson(f"created_at {created!r} is not an ISO 8601 time") from None
    if created_at.tzinfo is None:
        raise EventNotJson("created_at has no time zone")
    return Event(event_id, kind, created_at.astimezone(UTC), data, bytes(body))


def matches(pattern: str, event_type: str) -> bool:
    """``task.*`` matches ``task.created`` (and ``task.a.b``); ``*`` matches everything."""
    if pattern == WILDCARD:
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def selects(patterns: Iterable[str], event_type: str) -> bool:
    return any(matches(pattern, event_type) for pattern in patterns)


def pattern_problem(pattern: str, known: Iterable[str] = EVENT_TYPES) -> str | None:
    """Why ``pattern`` cannot be a subscription's (None: it is fine)."""
    if pattern == WILDCARD:
        return None
    name = pattern[:-2] if pattern.endswith(".*") else pattern
    if not _NAME.fullmatch(name):
        return f"{pattern!r} is not an event type or a pattern like 'task.*'"
    types = sorted(known)
    if not any(matches(pattern, t) for t in types):
        return f"{pattern!r} selects no event type (known: {', '.join(types)})"
    return None


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _refuse_constant(name: str) -> float:
    if name in ("NaN", "Infinity", "-Infinity"):
        raise ValueError(f"{name} is not JSON")
    return math.nan  # pragma: no cover - json only calls this for the three names
