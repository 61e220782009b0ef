from __future__ import annotations

from history.inputs import NewEvent
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
