"""The webhook envelope, and the event types a subscription's patterns select."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels.webhooks.events import (
    EVENT_TYPES,
    MAX_BODY_BYTES,
    EventError,
    EventNotJson,
    EventTooLarge,
    UnknownEventType,
    make_event,
    matches,
    parse_event,
    pattern_problem,
    selects,
)

NOW = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)


def test_the_envelope_has_id_type_created_at_and_data_as_json() -> None:
    event = make_event("task.created", {"task_id": "t-1", "channel": "chat"}, now=NOW)

    assert json.loads(event.body) == {
        "id": event.id,
        "type": "task.created",
        "created_at": "2026-03-02T09:00:00.123456Z",
        "data": {"task_id": "t-1", "channel": "chat"},
    }
    assert event.id.startswith("evt_")


def test_every_event_has_its_own_id() -> None:
    ids = {make_event("message.created", {}, now=NOW).id for _ in range(1000)}

    assert len(ids) == 1000


def test_created_at_is_utc_whatever_zone_the_clock_gives() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))

    assert make_event("task.completed", {}, now=paris).created_at == NOW
    with pytest.raises(EventError, match="naive"):
        make_event("task.completed", {}, now=NOW.replace(tzinfo=None))


def test_text_is_sent_as_utf8_not_escaped() -> None:
    event = make_event("message.created", {"text": "مرحبا 👋"}, now=NOW)

    assert "مرحبا 👋".encode() in event.body


def test_a_receiver_reads_back_what_was_sent() -> None:
    sent = make_event("conversation.resolved", {"conversation_id": 7}, now=NOW)

    got = parse_event(sent.body)

    assert (got.id, got.type, got.created_at, dict(got.data)) == (
        sent.id,
        "conversation.resolved",
        NOW,
        {"conversation_id": 7},
    )


def test_the_customer_is_known_from_data_customer_id() -> None:
    assert make_event("task.created", {"customer_id": 42}, now=NOW).customer_id == 42
    assert make_event("task.created", {"customer_id": "42"}, now=NOW).customer_id is None
    assert make_event("task.created", {"customer_id": True}, now=NOW).customer_id is None
    assert make_event("task.created", {}, now=NOW).customer_id is None


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType, match=r"task\.exploded"):
        make_event("task.exploded", {}, now=NOW)


@pytest.mark.parametrize(
    "data",
    [
        {"when": datetime(2026, 1, 1, tzinfo=UTC)},
        {"ratio": float("nan")},
        {1: "not a string key"},
        ["not", "an", "object"],
    ],
)
def test_data_that_is_not_a_json_object_is_refused(data: object) -> None:
    with pytest.raises(EventNotJson):
        make_event("task.created", data, now=NOW)  # type: ignore[arg-type]


def test_an_event_over_the_size_limit_is_refused() -> None:
    with pytest.raises(EventTooLarge, match=str(MAX_BODY_BYTES)):
        make_event("message.created", {"text": "x" * MAX_BODY_BYTES}, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id": 1, "type": "task.created", "created_at": "2026-03-02T09:00:00Z", "data": {}}',
        b'{"id": "e", "type": "t", "created_at": "yesterday", "data": {}}',
        b'{"id": "e", "type": "t", "created_at": "2026-03-02T09:00:00", "data": {}}',
        b'{"id": "e", "type": "t", "created_at": "2026-03-02T09:00:00Z", "data": NaN}',
        b"\xff\xfe",
    ],
)
def test_a_malformed_envelope_is_refused_when_read(body: bytes) -> None:
    with pytest.raises(EventNotJson):
        parse_event(body)


def test_patterns_select_one_type_a_family_or_everything() -> None:
    assert matches("task.created", "task.created")
    assert not matches("task.created", "task.completed")
    assert matches("task.*", "task.completed")
    assert not matches("task.*", "taskforce.created")
    assert not matches("task.*", "message.created")
    assert all(matches("*", kind) for kind in EVENT_TYPES)
    assert selects(["message.*", "conversation.resolved"], "conversation.resolved")
    assert not selects(["message.*"], "conversation.resolved")


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("task.*", None),
        ("*", None),
        ("conversation.resolved", None),
        ("tasks.*", "selects no event type"),
        ("task.craeted", "selects no event type"),
        ("Task.Created", "is not an event type"),
        ("task.**", "is not an event type"),
        ("", "is not an event type"),
    ],
)
def test_a_pattern_that_selects_nothing_is_a_problem(pattern: str, problem: str | None) -> None:
    found = pattern_problem(pattern)

    assert (found is None) if problem is None else (found is not None and problem in found)
