"""A config reload changes the queues while calls wait: a new queue takes calls at once, a
changed queue routes its waiting calls by its new rules from their original entry time, a
removed queue takes no new calls but still serves the calls in it (it drains), and offers
already out stand."""

from __future__ import annotations

from typing import Any

import pytest

from acd.agent_events import Answered, Login, RingNoAnswer
from acd.calls import CallFacts, IncomingCall
from acd.events import PriorityWeightsUpdated, QueueUpdated
from acd.router import RoutingError
from tests.acd.centre import Centre

QUEUES: dict[str, Any] = {
    "support": {"required": {"internet": 1}},
    "billing": {"required": {"billing": 1}},
}
AGENTS = {"net": {"internet": 1}, "bill": {"billing": 1}, "tv": {"tv": 1}}
PRIORITY = {"tiers": {"gold": 30, "new": 0}}


def centre() -> Centre:
    return Centre(QUEUES, AGENTS, priority=PRIORITY)


def test_a_queue_added_by_a_reload_takes_calls_at_once() -> None:
    c = centre()
    c.acd.agent_event(Login("tv"))
    with pytest.raises(RoutingError, match="unknown queue"):
        c.acd.call_arrived(IncomingCall("early", "tv"))
    assert c.reload({**QUEUES, "tv": {"required": {"tv": 1}}}) == []

    [offer] = c.acd.call_arrived(IncomingCall("c1", "tv"))
    assert (offer.agent_id, offer.queue) == ("tv", "tv")
    assert c.events(QueueUpdated) == [QueueUpdated("tv", "added")]


def test_a_changed_queues_waiting_call_takes_the_new_skills_and_keeps_its_entry_time() -> None:
    c = centre()
    c.acd.agent_event(Login("bill"))  # no internet skill: cannot take support calls yet
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.clock.advance(10)

    [offer] = c.reload({**QUEUES, "support": {"required": {"billing": 1}}})
    assert (offer.call_id, offer.agent_id, offer.queue) == ("c1", "bill", "support")
    assert offer.entry_time == 1000.0
    assert offer.match.requirement.required == (("billing", 1),)
    assert c.events(QueueUpdated) == [QueueUpdated("support", "changed", calls_reprofiled=1)]


def test_a_relaxation_step_added_by_a_reload_counts_from_the_calls_entry() -> None:
    c = centre()
    c.acd.agent_event(Login("tv"))  # only a fully relaxed call fits
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.clock.advance(20)
    relaxed = {"required": {"internet": 1}, "relax": [{"after_s": 30, "levels": {"*": 0}}]}
    assert c.reload({**QUEUES, "support": relaxed}) == []
    assert c.acd.next_wakeup() == 1030.0  # 30 s after entry, not after the reload

    c.clock.advance(10)
    [offer] = c.acd.tick()
    assert (offer.agent_id, offer.match.step) == ("tv", 1)


def test_new_aging_reorders_waiting_calls_from_their_entry_times() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("old", "support", CallFacts(tier="new")))
    c.clock.advance(20)
    c.acd.call_arrived(IncomingCall("gold", "support", CallFacts(tier="gold")))
    c.clock.advance(10)  # without aging the gold call (30 points) goes first
    aged = {"required": {"internet": 1}, "aging": {"points_per_minute": 120}}
    c.reload({**QUEUES, "support": aged})

    [offer] = c.acd.agent_event(Login("net"))  # old: 2/s x 30 s = 60 > gold: 30 + 20
    assert offer.call_id == "old"
    assert "waiting[30.0 s x 120/min] +60" in offer.explain()


def test_new_priority_weights_rescore_waiting_calls_and_keep_a_supervisors_raise() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("gold", "support", CallFacts(tier="gold")))
    c.acd.call_arrived(IncomingCall("new", "support", CallFacts(tier="new")))
    c.acd.raise_priority("new", 10, "sam")

    c.reload(QUEUES, priority={"tiers": {"gold": 0, "new": 50}})
    [offer] = c.acd.agent_event(Login("net"))
    assert offer.call_id == "new"
    assert offer.priority.total == 60
    assert "supervisor[raised by sam] +10" in offer.explain()
    assert c.events(PriorityWeightsUpdated) == [PriorityWeightsUpdated(calls_rescored=2)]
    assert c.events(QueueUpdated) == []


def test_a_removed_queue_refuses_new_calls_but_serves_the_calls_waiting_in_it() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("c1", "billing"))
    c.acd.call_arrived(IncomingCall("c2", "support"))
    c.reload({"support": QUEUES["support"]})

    with pytest.raises(RoutingError, match="unknown queue"):
        c.acd.call_arrived(IncomingCall("c3", "billing"))
    with pytest.raises(RoutingError, match="unknown queue"):
        c.acd.move_call("c2", "billing", "sam")
    assert c.acd.router.is_draining("billing")
    [offer] = c.acd.agent_event(Login("bill"))  # the draining queue still serves c1
    assert (offer.call_id, offer.queue) == ("c1", "billing")
    c.acd.agent_event(Answered("bill", "c1"))
    assert not c.acd.router.is_draining("billing")  # its last call left: forgotten
    with pytest.raises(RoutingError):
        c.acd.router.policy("billing")
    assert c.events(QueueUpdated) == [QueueUpdated("billing", "removed")]


def test_a_queue_added_again_while_it_drains_takes_calls_again() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("c1", "billing"))
    c.reload({"support": QUEUES["support"]})
    c.reload(QUEUES)
    assert not c.acd.router.is_draining("billing")
    c.acd.call_arrived(IncomingCall("c2", "billing"))
    [first] = c.acd.agent_event(Login("bill"))
    assert first.call_id == "c1"  # the call that waited through the reloads is first
    assert c.events(QueueUpdated)[1] == QueueUpdated("billing", "added")


def test_an_offer_out_during_a_reload_stands_and_comes_back_under_the_new_rules() -> None:
    c = centre()
    c.acd.agent_event(Login("net"))
    [offer] = c.acd.call_arrived(IncomingCall("c1", "support"))
    c.reload({**QUEUES, "support": {"required": {"billing": 1}}})
    assert c.acd.call_state("c1") == "offered"
    c.acd.agent_event(RingNoAnswer("net", "c1"))  # the offer stood; now it failed
    [again] = c.acd.agent_event(Login("bill"))  # the call needs billing now
    assert (again.call_id, again.agent_id, again.entry_time) == ("c1", "bill", 1000.0)
    assert offer.agent_id == "net"


def test_a_reload_that_changes_nothing_logs_nothing() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("c1", "support"))
    assert c.reload(QUEUES, priority=PRIORITY) == []
    assert c.events(QueueUpdated) == c.events(PriorityWeightsUpdated) == []
