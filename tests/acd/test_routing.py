"""Routing decisions, end to end through the distributor: which call, which agent, why."""

from __future__ import annotations

from typing import Any

import pytest

from acd.agent_events import AgentState, Answered, HungUp, Login, Logout, Pause, Ready, RingNoAnswer
from acd.calls import CallFacts, IncomingCall
from acd.events import CallOffered, CallRequeued
from tests.acd.centre import Centre

EN = {"lang.en": 3}


def support(**extra: Any) -> dict[str, Any]:
    return {"support": {"required": {"internet": 1}, **extra}}


def login(c: Centre, *agents: str) -> None:
    for agent in agents:
        c.acd.agent_event(Login(agent))


def test_highest_priority_call_goes_first() -> None:
    c = Centre(support(), {"a1": {"internet": 1}}, priority={"tiers": {"gold": 30, "new": 0}})
    c.acd.call_arrived(IncomingCall("early-new", "support", CallFacts(tier="new")))
    c.clock.advance(5)
    c.acd.call_arrived(IncomingCall("late-gold", "support", CallFacts(tier="gold")))
    [offer] = c.acd.agent_event(Login("a1"))
    assert offer.call_id == "late-gold"
    assert "tier[gold] +30" in offer.explain()


def test_equal_priority_is_first_come_first_served() -> None:
    c = Centre(support(), {"a1": {"internet": 1}})
    for i in range(3):
        c.acd.call_arrived(IncomingCall(f"c{i}", "support"))
        c.clock.advance(1)
    [offer] = c.acd.agent_event(Login("a1"))
    assert offer.call_id == "c0"


def test_best_skill_match_wins_among_eligible_agents() -> None:
    c = Centre(
        support(preferred={"internet": 1.0, "experience": 0.5}),
        {"junior": {"internet": 1, "experience": 1}, "senior": {"internet": 3, "experience": 5}},
    )
    login(c, "junior", "senior")
    [offer] = c.acd.call_arrived(IncomingCall("c1", "support"))
    assert offer.agent_id == "senior"
    assert offer.match.score == 3 * 1.0 + 5 * 0.5


def test_agent_without_the_required_skill_is_never_offered() -> None:
    c = Centre(support(), {"tv-only": {"tv": 5}})
    login(c, "tv-only")
    assert c.acd.call_arrived(IncomingCall("c1", "support")) == []
    assert c.acd.call_state("c1") == "waiting"


def test_repeat_caller_is_routed_to_senior_agent() -> None:
    rules = [{"name": "repeat to senior", "when": {"repeat": True}, "required": {"experience": 3}}]
    c = Centre(
        support(rules=rules, strategy="linear"),
        {"junior": {"internet": 2, "experience": 1}, "senior": {"internet": 2, "experience": 4}},
        priority={"repeat": {"within_days": 7, "points": 20}},
    )
    login(c, "junior", "senior")
    [offer] = c.acd.call_arrived(
        IncomingCall("c1", "support", CallFacts(days_since_last_contact=2))
    )
    assert offer.agent_id == "senior"
    assert "rule repeat to senior" in offer.match.sources
    assert "repeat" in {t.name for t in offer.priority.terms}
    # a first-time caller goes to the first agent in roster order (linear)
    [offer] = c.acd.call_arrived(IncomingCall("c2", "support"))
    assert offer.agent_id == "junior"


def test_required_skill_relaxes_after_wait() -> None:
    c = Centre(
        support(required={"internet": 3}, relax=[{"after_s": 30, "levels": {"internet": 1}}]),
        {"novice": {"internet": 1}},
    )
    login(c, "novice")
    assert c.acd.call_arrived(IncomingCall("c1", "support")) == []
    assert c.acd.next_wakeup() == c.clock() + 30
    c.clock.advance(29.9)
    assert c.acd.tick() == []
    c.clock.advance(0.1)
    [offer] = c.acd.tick()
    assert (offer.agent_id, offer.match.step) == ("novice", 1)
    assert "internet<=1" in offer.match.step_label


def test_relaxation_is_re_evaluated_for_calls_already_waiting_when_an_agent_arrives() -> None:
    c = Centre(
        support(required={"internet": 3}, relax=[{"after_s": 30, "levels": {"internet": 1}}]),
        {"novice": {"internet": 1}},
    )
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.clock.advance(45)  # nobody logged in: no wake-up needed meanwhile
    [offer] = c.acd.agent_event(Login("novice"))
    assert offer.match.step == 1
    assert offer.waited_s == 45


def test_rona_pauses_agent_and_call_keeps_its_place() -> None:
    c = Centre(support(strategy="linear"), {"a1": {"internet": 1}, "a2": {"internet": 1}})
    login(c, "a1")
    [_first] = c.acd.call_arrived(IncomingCall("first", "support"))
    c.clock.advance(10)
    c.acd.call_arrived(IncomingCall("second", "support"))
    c.clock.advance(15)
    assert c.acd.agent_event(RingNoAnswer("a1", "first")) == []
    assert c.acd.book.view("a1").pause_reason == "no answer"
    [requeued] = c.events(CallRequeued)
    assert requeued.call_id == "first"
    assert "ring no answer" in requeued.reason
    [offer] = c.acd.agent_event(Login("a2"))
    assert offer.call_id == "first"  # ahead of "second": its entry time was kept
    assert offer.waited_s == 25


def test_call_offered_to_preferred_agent_waits_for_them_within_the_window() -> None:
    c = Centre(
        support(preferred_agent={"window_s": 20}),
        {"mine": {"internet": 1}, "other": {"internet": 1}},
    )
    login(c, "mine", "other")
    c.acd.agent_event(Pause("mine", "coffee"))
    call = IncomingCall("c1", "support", preferred_agent="mine")
    assert c.acd.call_arrived(call) == []  # "other" is free, but the customer's agent is due back
    c.clock.advance(5)
    [offer] = c.acd.agent_event(Ready("mine"))
    assert offer.agent_id == "mine"
    assert offer.choice.reason == "reserved for preferred agent"


def test_preferred_agent_window_ends_and_anyone_may_take_the_call() -> None:
    c = Centre(
        support(preferred_agent={"window_s": 20}),
        {"mine": {"internet": 1}, "other": {"internet": 1}},
    )
    login(c, "mine", "other")
    c.acd.agent_event(Pause("mine", "coffee"))
    c.acd.call_arrived(IncomingCall("c1", "support", preferred_agent="mine"))
    assert c.acd.next_wakeup() == c.clock() + 20
    c.clock.advance(20)
    [offer] = c.acd.tick()
    assert offer.agent_id == "other"


def test_preferred_agent_who_is_logged_out_is_not_waited_for() -> None:
    c = Centre(
        support(preferred_agent={"window_s": 20}),
        {"mine": {"internet": 1}, "other": {"internet": 1}},
    )
    login(c, "other")
    [offer] = c.acd.call_arrived(IncomingCall("c1", "support", preferred_agent="mine"))
    assert offer.agent_id == "other"


def test_preferred_agent_logging_out_releases_the_waiting_call() -> None:
    c = Centre(
        support(preferred_agent={"window_s": 20}),
        {"mine": {"internet": 1}, "other": {"internet": 1}},
    )
    login(c, "mine", "other")
    c.acd.agent_event(Pause("mine", "coffee"))
    c.acd.call_arrived(IncomingCall("c1", "support", preferred_agent="mine"))
    [offer] = c.acd.agent_event(Logout("mine"))
    assert offer.agent_id == "other"


def serve_gold_stream(c: Centre, calls: int) -> float | None:
    """One agent; a fresh gold call arrives each time the agent hangs up (5 s calls).
    Returns how long the low-priority call waited when it was offered (None: never)."""
    login(c, "a1")
    c.acd.agent_event(Pause("a1", "x"))
    c.acd.call_arrived(IncomingCall("low", "support", CallFacts(tier="new")))
    c.acd.call_arrived(IncomingCall("gold0", "support", CallFacts(tier="gold")))
    [offer] = c.acd.agent_event(Ready("a1"))
    for i in range(1, calls):
        if offer.call_id == "low":
            return offer.waited_s
        c.acd.agent_event(Answered("a1", offer.call_id))
        c.clock.advance(5)
        c.acd.call_arrived(IncomingCall(f"gold{i}", "support", CallFacts(tier="gold")))
        [offer] = c.acd.agent_event(HungUp("a1", offer.call_id))
    return None


def test_low_priority_call_is_not_starved() -> None:
    """Aging bounds the wait: spread / rate = 40 / (20/60) = 120 s."""
    c = Centre(
        support(aging={"points_per_minute": 20, "max_points": 60}),
        {"a1": {"internet": 1}},
        priority={"tiers": {"gold": 40, "new": 0}},
    )
    waited = serve_gold_stream(c, 60)
    assert waited is not None
    assert 120 <= waited <= 125


def test_strict_priority_starves_without_aging() -> None:
    c = Centre(support(), {"a1": {"internet": 1}}, priority={"tiers": {"gold": 40, "new": 0}})
    assert serve_gold_stream(c, 60) is None


def test_sl_risk_lets_a_call_about_to_miss_its_target_go_first() -> None:
    c = Centre(
        {"sales": {"sl_target_s": 20, "sl_risk": {"lead_s": 5, "points": 25}},
         "support": {"sl_target_s": 60}},
        {"a1": {}},
        priority={"call_types": {"fault": 20}, "intents": {"internet_down": "fault"}},
    )  # fmt: skip
    c.acd.call_arrived(IncomingCall("sales-call", "sales"))
    c.clock.advance(16)
    c.acd.call_arrived(IncomingCall("fault-call", "support", CallFacts(intent="internet_down")))
    [offer] = c.acd.agent_event(Login("a1"))
    assert offer.call_id == "sales-call"
    assert [t.name for t in offer.priority.terms] == ["sl_risk"]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("longest_idle", "idle-long"), ("least_calls", "few-calls"), ("linear", "first")],
)
def test_queue_strategy_breaks_ties_between_equal_matches(strategy: str, expected: str) -> None:
    agents = {"first": {"internet": 1}, "idle-long": {"internet": 1}, "few-calls": {"internet": 1}}
    c = Centre(support(strategy=strategy), agents)
    # "first" and "idle-long" each take a call early; "idle-long" finishes first
    login(c, "first", "idle-long")
    for _agent, call in (("first", "w1"), ("idle-long", "w2")):
        [o] = c.acd.call_arrived(IncomingCall(call, "support"))
        c.acd.agent_event(Answered(o.agent_id, call))
    c.clock.advance(10)
    c.acd.agent_event(HungUp("idle-long", "w2"))
    c.clock.advance(10)
    c.acd.agent_event(HungUp("first", "w1"))
    login(c, "few-calls")  # logged in last: not the longest idle, but no calls yet
    [offer] = c.acd.call_arrived(IncomingCall("c", "support"))
    assert offer.agent_id == expected, offer.explain()


def test_round_robin_rotates_through_agents() -> None:
    c = Centre(support(strategy="round_robin"), {f"a{i}": {"internet": 1} for i in range(3)})
    login(c, "a0", "a1", "a2")
    seen = []
    for i in range(6):
        [offer] = c.acd.call_arrived(IncomingCall(f"c{i}", "support"))
        c.acd.agent_event(Answered(offer.agent_id, offer.call_id))
        c.acd.agent_event(HungUp(offer.agent_id, offer.call_id))
        seen.append(offer.agent_id)
    assert seen[:3] == ["a0", "a1", "a2"]
    assert seen[3:] == seen[:3]


def test_random_strategy_is_reproducible_with_a_seed() -> None:
    def picks(seed: int) -> list[str]:
        c = Centre(
            support(strategy="random"), {f"a{i}": {"internet": 1} for i in range(8)}, seed=seed
        )
        login(c, *[f"a{i}" for i in range(8)])
        out = []
        for i in range(6):
            [offer] = c.acd.call_arrived(IncomingCall(f"c{i}", "support"))
            out.append(offer.agent_id)
        return out

    assert picks(3) == picks(3)
    assert len({tuple(picks(s)) for s in range(5)}) > 1


def test_weighted_strategy_favours_higher_levels() -> None:
    counts = {"expert": 0, "novice": 0}
    for seed in range(200):
        c = Centre(
            support(strategy="weighted"),
            {"novice": {"internet": 1}, "expert": {"internet": 5}},
            seed=seed,
        )
        login(c, "novice", "expert")
        [offer] = c.acd.call_arrived(IncomingCall("c", "support"))
        counts[offer.agent_id] += 1
    # weights 1+1 = 2 vs 1+5 = 6: the expert should get about 75%
    assert 0.6 < counts["expert"] / 200 < 0.9


def test_offer_explains_why_this_call_and_this_agent() -> None:
    c = Centre(support(preferred={"internet": 1.0}, sl_target_s=20), {"a1": {"internet": 2}},
               priority={"tiers": {"gold": 30}})  # fmt: skip
    c.acd.call_arrived(IncomingCall("c1", "support", CallFacts(tier="gold")))
    c.clock.advance(12)
    [offer] = c.acd.agent_event(Login("a1"))
    text = offer.explain()
    assert "waited 12.0 s" in text
    assert "tier[gold] +30" in text
    assert "best match, then longest_idle" in text
    assert "queue support" in text
    [logged] = c.events(CallOffered)
    assert logged.explanation == text
    assert logged.priority == 30


def test_agent_pausing_is_withdrawn_from_routing() -> None:
    c = Centre(support(), {"a1": {"internet": 1}})
    login(c, "a1")
    c.acd.agent_event(Pause("a1", "lunch"))
    assert c.acd.call_arrived(IncomingCall("c1", "support")) == []
    assert c.acd.book.state("a1") is AgentState.PAUSED


def test_a_directed_call_waits_for_its_agent_only_whatever_their_skills_and_its_wait() -> None:
    """A colleague's transfer to a named agent: no window (0 here), no skill of the queue,
    an hour's wait already: still that agent's alone, while they are logged in."""
    c = Centre(support(), {"named": {"billing": 1}, "other": {"internet": 1}})
    login(c, "named", "other")
    c.acd.agent_event(Pause("named", "coffee"))
    c.clock.advance(3600)
    call = IncomingCall(
        "c1-t1", "support", preferred_agent="named", directed=True, entry_time=c.clock() - 3600
    )
    assert c.acd.call_arrived(call) == []  # "other" is free and qualified: not theirs
    c.clock.advance(600)
    assert c.acd.tick() == []
    [offer] = c.acd.agent_event(Ready("named"))
    assert (offer.call_id, offer.agent_id) == ("c1-t1", "named")
    assert offer.choice.reason == "reserved for preferred agent"


def test_a_directed_call_whose_agent_logs_out_goes_to_the_queue() -> None:
    c = Centre(support(), {"named": {"billing": 1}, "other": {"internet": 1}})
    login(c, "named", "other")
    c.acd.agent_event(Pause("named", "coffee"))
    c.acd.call_arrived(IncomingCall("c1-t1", "support", preferred_agent="named", directed=True))
    [offer] = c.acd.agent_event(Logout("named"))
    assert offer.agent_id == "other"
