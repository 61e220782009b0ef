"""A supervisor raises a waiting call's priority or moves it to another queue: the call
keeps its entry time, the next decision follows the change and explains it, refusals are
logged, and KPIs count a moved call in the queue where it ends."""

from __future__ import annotations

import pytest

from acd.agent_events import Answered, HungUp, Login
from acd.calls import CallFacts, IncomingCall
from acd.events import CallMoved, CallPriorityChanged, EventRejected
from acd.kpi_recount import compute_kpis
from acd.router import RoutingError
from tests.acd.centre import Centre

QUEUES = {
    "support": {"required": {"internet": 1}, "aging": {"points_per_minute": 60}},
    "billing": {"required": {"billing": 1}, "relax": [{"after_s": 30, "levels": {"billing": 0}}]},
}
AGENTS = {"net": {"internet": 1}, "bill": {"billing": 1}, "other": {"tv": 1}}


def centre() -> Centre:
    return Centre(QUEUES, AGENTS, priority={"tiers": {"gold": 30, "new": 0}})


def test_a_raised_call_overtakes_older_calls_and_the_offer_names_the_supervisor() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("old", "support", CallFacts(tier="gold")))
    c.clock.advance(10)
    c.acd.call_arrived(IncomingCall("new", "support", CallFacts(tier="new")))
    assert c.acd.raise_priority("new", 50, "sam") == []
    [changed] = c.events(CallPriorityChanged)
    assert (changed.call_id, changed.queue, changed.by, changed.actor) == (
        "new",
        "support",
        50,
        "sam",
    )
    assert changed.priority == 50
    [offer] = c.acd.agent_event(Login("net"))
    assert offer.call_id == "new"
    assert "supervisor[raised by sam] +50" in offer.explain()
    assert offer.entry_time == 1010.0  # aging still counts from the original entry


def test_a_call_moved_to_a_queue_with_a_free_agent_is_offered_at_once() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("c1", "billing"))
    c.acd.agent_event(Login("net"))  # cannot take billing calls
    [offer] = c.acd.move_call("c1", "support", "sam")
    assert (offer.call_id, offer.agent_id, offer.queue) == ("c1", "net", "support")


def test_a_moved_call_takes_the_new_queues_skills_and_keeps_its_entry_time() -> None:
    c = centre()
    c.acd.agent_event(Login("bill"))
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.clock.advance(40)
    [offer] = c.acd.move_call("c1", "billing", "sam")
    assert (offer.agent_id, offer.queue, offer.entry_time) == ("bill", "billing", 1000.0)
    assert offer.match.sources == ("queue billing",)
    [moved] = c.events(CallMoved)
    assert (moved.from_queue, moved.queue, moved.actor) == ("support", "billing", "sam")


def test_a_moved_call_relaxes_on_the_new_queues_schedule_from_its_entry() -> None:
    c = centre()
    c.acd.agent_event(Login("other"))  # no billing skill: only a relaxed call fits
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.clock.advance(20)
    assert c.acd.move_call("c1", "billing", "sam") == []
    c.clock.advance(10)  # 30 s since entry: billing's requirement is dropped
    [offer] = c.acd.tick()
    assert (offer.agent_id, offer.match.step) == ("other", 1)


@pytest.mark.parametrize(
    ("setup", "act", "reason"),
    [
        ("none", lambda c: c.acd.raise_priority("ghost", 5, "sam"), "unknown call"),
        ("offered", lambda c: c.acd.raise_priority("c1", 5, "sam"), "call already offered"),
        ("connected", lambda c: c.acd.move_call("c1", "billing", "sam"), "already connected"),
        ("waiting", lambda c: c.acd.move_call("c1", "nowhere", "sam"), "unknown queue"),
        ("waiting", lambda c: c.acd.move_call("c1", "support", "sam"), "already waits in"),
        ("waiting", lambda c: c.acd.raise_priority("c1", 0, "sam"), "must be positive"),
        ("waiting", lambda c: c.acd.raise_priority("c1", -3, "sam"), "must be positive"),
        ("waiting", lambda c: c.acd.raise_priority("c1", float("nan"), "sam"), "positive"),
    ],
)
def test_refused_supervisor_actions_raise_and_are_logged(setup, act, reason) -> None:  # type: ignore[no-untyped-def]
    c = centre()
    if setup != "none":
        if setup != "waiting":
            c.acd.agent_event(Login("net"))
        c.acd.call_arrived(IncomingCall("c1", "support"))
        if setup == "connected":
            c.acd.agent_event(Answered("net", "c1"))
    with pytest.raises(RoutingError, match=reason):
        act(c)
    [rejected] = c.events(EventRejected)
    assert reason in rejected.reason
    assert c.events(CallMoved) == []
    assert c.events(CallPriorityChanged) == []


def test_a_moved_call_counts_as_offered_only_in_the_queue_where_it_ends() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.clock.advance(5)
    c.acd.move_call("c1", "billing", "sam")
    c.acd.agent_event(Login("bill"))
    c.acd.agent_event(Answered("bill", "c1"))
    c.clock.advance(60)
    c.acd.agent_event(HungUp("bill", "c1"))
    report = compute_kpis(c.sink.records())
    assert set(report.by_queue) == {"billing"}
    billing = report.by_queue["billing"]
    assert (billing.offered, billing.answered) == (1, 1)
    assert billing.asa == pytest.approx(5.0)  # waited from the original entry
