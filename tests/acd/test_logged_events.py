"""Events read back from the persistent log are the events that were logged, on the wall
clock: every kind the ACD logs, through the live service's own encoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from acd.events import (
    AcdEvent,
    AgentStateChanged,
    AgentTaskChanged,
    CallAbandoned,
    CallAnswered,
    CallbackSettled,
    CallEnded,
    CallHoldChanged,
    CallMoved,
    CallOffered,
    CallPriorityChanged,
    CallQueued,
    CallRequeued,
    EventRecord,
    EventRejected,
    PauseCounted,
    PriorityWeightsUpdated,
    QueueUpdated,
)
from acd.logged_events import EVENT_TYPES, logged_record, run_of
from center.persistence import event_kind, to_new_event

ORIGIN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVERY_KIND: list[AcdEvent] = [
    CallQueued("c1", "support", 95.5, 12.0, "complaint", "gold"),
    CallQueued("chat7", "support", 96.0, 10.0, None, None, "chat"),
    CallOffered("c1", "a1", "support", 12.0, 1, "longest idle"),
    CallRequeued("c1", "a1", "support", "no answer"),
    CallPriorityChanged("c1", "support", 5.0, 17.0, "sam"),
    CallMoved("c1", "support", "billing", "sam"),
    CallAnswered("c1", "a1", "billing"),
    CallHoldChanged("c1", "a1", True),
    CallEnded("c1", "a1", "billing", "hung up"),
    CallAbandoned("c2", "support", True, "caller hung up"),
    AgentStateChanged("a1", "available", "offered", "offer_made", "", "c1"),
    AgentTaskChanged("a1", "chat7", "chat", "reserved", "active", "accepted"),
    CallbackSettled("c3-cb1", "callback_completed", "answered"),
    PauseCounted("a1", "break"),
    QueueUpdated("support", "changed", 2),
    PriorityWeightsUpdated(3),
    EventRejected("c9", "call_arrived", "unknown queue"),
]


def test_every_event_type_is_named_as_the_service_logs_it() -> None:
    assert set(EVENT_TYPES) == {event_kind(e) for e in EVERY_KIND}


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_a_logged_event_reads_back_as_itself_on_the_wall_clock(event: AcdEvent) -> None:
    clock = 100.0  # the run's monotonic reading when it was logged
    at = ORIGIN + timedelta(seconds=30)
    new = to_new_event(EventRecord(7, clock, event), at, "run42")

    back = logged_record(
        seq=7,
        at=at.timestamp(),
        kind=new.kind,
        call_id=new.call_id,
        agent_id=new.agent_id,
        payload=new.payload,
    )

    assert back is not None
    assert (back.seq, back.at) == (7, at.timestamp())
    if isinstance(event, CallQueued):
        assert isinstance(back.event, CallQueued)
        # entered 4.5 s before it was logged, on either clock
        assert back.event.entry_time == pytest.approx(at.timestamp() - 4.5)
        assert back.event.queue == event.queue
    else:
        assert back.event == event
    assert run_of(new.key) == "run42"


def test_a_row_of_an_unknown_kind_or_a_payload_that_does_not_fit_is_not_read() -> None:
    assert (
        logged_record(seq=1, at=0.0, kind="call_teleported", call_id="c", agent_id=None, payload={})
        is None
    )
    assert (
        logged_record(
            seq=1, at=0.0, kind="call_answered", call_id="c", agent_id="a", payload={"seq": 1}
        )
        is None
    )  # no queue
