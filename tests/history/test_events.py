from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import JsonValue, ValidationError

from history.inputs import MAX_PAYLOAD_BYTES, NewEvent, _json_bound
from history.records import Event
from history.repository import HistoryRepository


async def test_event_log_is_ordered_by_a_monotonic_sequence(repository: HistoryRepository) -> None:
    written = [
        await repository.append_event(NewEvent(kind=kind, call_id="c1", agent_id="a1"))
        for kind in ("queued", "offered", "answered")
    ]
    assert [e.seq for e in written] == sorted(e.seq for e in written)
    logged = await repository.events(call_id="c1")
    assert [e.kind for e in logged] == ["queued", "offered", "answered"]
    assert [e.kind for e in await repository.events(after_seq=written[0].seq)] == [
        "offered",
        "answered",
    ]


async def test_an_event_replayed_with_its_key_is_logged_once(
    repository: HistoryRepository,
) -> None:
    event = NewEvent(
        kind="offered", call_id="c1", payload={"why": {"skill": "billing", "score": 0.8}}
    )
    first = await repository.append_event(event)
    again = await repository.append_event(event)
    assert first == again
    assert first.payload["why"] == {"skill": "billing", "score": 0.8}
    assert await repository.append_events([event, NewEvent(kind="answered", call_id="c1")]) == 1
    assert len(await repository.events()) == 2


async def test_events_can_be_read_by_kind(repository: HistoryRepository) -> None:
    await repository.append_events(
        [NewEvent(kind=k) for k in ("agent_ready", "queued", "agent_ready")]
    )
    assert len(await repository.events(kinds=["agent_ready"])) == 2


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "\x00\x01\x1f",  # control characters: \u0000 each
        '"\\/\b\f\n\r\t',
        "é" * 10,
        "\U0001f600" * 10,  # outside the BMP: a surrogate pair escaped, 12 bytes a character
        "\ud800",
    ],
)
@pytest.mark.parametrize(
    "number", [0, -1, 2**63, -(2**200), 1.5, -1.7976931348623157e308, 2.2250738585072014e-308]
)
def test_a_flat_payloads_size_bound_is_never_below_its_json(value: str, number: float) -> None:
    payload = {value: value, "n": number, "yes": True, "none": None, "empty": ""}
    bound = _json_bound(payload)
    assert bound is not None
    assert bound >= len(json.dumps(payload, separators=(",", ":")).encode())


def test_a_payload_over_the_limit_is_refused_flat_or_nested() -> None:
    flat: dict[str, JsonValue] = {"text": "x" * MAX_PAYLOAD_BYTES}
    with pytest.raises(ValidationError, match="bytes of JSON"):
        NewEvent(kind="call_queued", payload=flat)
    nested: dict[str, JsonValue] = {"parts": [{"text": "x" * 1000} for _ in range(70)]}
    assert _json_bound(nested) is None
    with pytest.raises(ValidationError, match="bytes of JSON"):
        NewEvent(kind="call_queued", payload=nested)
    # Just under the limit, though the bound is far above it: encoded, and kept.
    almost: dict[str, JsonValue] = {"t": "x" * 10_000}
    assert (_json_bound(almost) or 0) > MAX_PAYLOAD_BYTES
    assert NewEvent(kind="call_queued", payload=almost).payload == almost


async def test_a_batchs_events_are_returned_as_the_log_reads_them_back(
    repository: HistoryRepository,
) -> None:
    """A batch's new events are not read back from their rows (only ``seq`` is): what it
    returns is still each event as the log has it, a key logged before or twice in the batch
    included."""
    earlier = await repository.append_event(NewEvent(kind="queued", call_id="c1", key="k0"))
    elsewhere = timezone(timedelta(hours=5, minutes=30))
    nested: dict[str, JsonValue] = {"why": {"skill": "billing", "scores": [0.8, 1, None]}}
    batch = [
        NewEvent(kind="offered", call_id="c1", agent_id="a1", payload=nested, key="k1"),
        NewEvent(kind="queued", call_id="c9", key="k0"),  # logged before: the old one
        NewEvent(
            kind="answered",
            call_id="c1",
            payload={"big": 2**70, "f": -0.0, "t": "é\U0001f600", "yes": True, "no": None},
            at=datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=elsewhere),
            key="k2",
        ),
        NewEvent(kind="ended", call_id="c1", key="k1"),  # twice in the batch: the first
    ]
    returned = await repository.write_batch(batch)
    logged = {e.key: e for e in await repository.events()}
    assert returned == [logged["k1"], logged["k0"], logged["k2"], logged["k1"]]
    first, old, answered, _ = returned
    assert old == earlier
    assert isinstance(answered, Event)
    assert answered.at.utcoffset() == timedelta(0)
    assert answered.at == datetime(2026, 3, 2, 3, 30, 0, 123456, tzinfo=UTC)
    assert isinstance(first, Event)
    nested["why"] = "changed after the write"
    assert first.payload == {"why": {"skill": "billing", "scores": [0.8, 1, None]}}
