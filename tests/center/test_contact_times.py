"""Talk, hold and wrap-up of a call, from the ACD's own events and their times."""

from __future__ import annotations

from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallHoldChanged,
    CallQueued,
)
from center.contact_times import ContactTimes, Talked, WrappedUp


def told(events: list[tuple[float, AcdEvent]]) -> list[Talked | WrappedUp]:
    times = ContactTimes()
    return [found for at, event in events if (found := times.observe(at, event)) is not None]


def state(before: str, after: str, at_call: str = "c1") -> AgentStateChanged:
    return AgentStateChanged("1001", before, after, "event", "", at_call)


def test_talk_runs_from_the_answer_to_the_end_less_the_holds_and_wrap_up_after() -> None:
    assert told(
        [
            (0.0, CallQueued("c1", "support", 0.0, 10.0)),
            (20.0, CallAnswered("c1", "1001", "support")),
            (30.0, CallHoldChanged("c1", "1001", on_hold=True)),
            (40.0, CallHoldChanged("c1", "1001", on_hold=False)),
            (50.0, CallHoldChanged("c1", "1001", on_hold=True)),
            (55.0, CallHoldChanged("c1", "1001", on_hold=False)),
            (80.0, state("on_call", "wrap_up")),
            (80.0, CallEnded("c1", "1001", "support")),
            (95.0, state("wrap_up", "available")),
        ]
    ) == [Talked("c1", 45.0, 15.0), WrappedUp("c1", 15.0)]


def test_a_hold_still_on_at_the_end_counts_until_the_end() -> None:
    assert told(
        [
            (0.0, CallAnswered("c1", "1001", "support")),
            (10.0, CallHoldChanged("c1", "1001", on_hold=True)),
            (25.0, CallEnded("c1", "1001", "support")),
        ]
    ) == [Talked("c1", 10.0, 15.0)]


def test_without_wrap_up_the_wrap_up_is_zero() -> None:
    assert told(
        [
            (0.0, CallAnswered("c1", "1001", "support")),
            (5.0, state("on_call", "available")),
            (5.0, CallEnded("c1", "1001", "support")),
        ]
    ) == [WrappedUp("c1", 0.0), Talked("c1", 5.0, 0.0)]


def test_a_logout_or_pause_ends_the_wrap_up_too() -> None:
    assert told(
        [
            (0.0, state("on_call", "wrap_up")),
            (7.5, state("wrap_up", "logged_out")),
        ]
    ) == [WrappedUp("c1", 7.5)]


def test_an_end_without_an_answer_tells_nothing() -> None:
    assert told([(5.0, CallEnded("c9", "1001", "support"))]) == []


def test_what_is_kept_of_calls_whose_end_never_comes_is_bounded() -> None:
    times = ContactTimes(limit=2)
    for n in range(3):
        times.observe(float(n), CallAnswered(f"c{n}", "1001", "support"))
    assert times.observe(9.0, CallEnded("c0", "1001", "support")) is None  # forgotten
    assert times.observe(9.0, CallEnded("c2", "1001", "support")) == Talked("c2", 7.0, 0.0)


def test_a_chat_is_not_a_call_the_conversation_desk_records_its_times() -> None:
    times = ContactTimes()
    assert times.observe(0.0, CallQueued("chat-7.1", "support", 0.0, 5.0, channel="chat")) is None
    assert times.observe(1.0, CallAnswered("chat-7.1", "1001", "support")) is None
    assert times.observe(9.0, CallEnded("chat-7.1", "1001", "support")) is None
