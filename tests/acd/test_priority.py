"""Priority: base terms from config, aging that prevents starvation, service-level risk."""

from __future__ import annotations

import pytest

from acd.calls import CallFacts
from acd.priority import Aging, PriorityWeights, SlRisk, Urgency

WEIGHTS = PriorityWeights(
    call_type_points={"cancellation": 40, "how_to": 10},
    intent_call_types={"cancel_contract": "cancellation", "setup_help": "how_to"},
    default_call_type="how_to",
    tier_points={"key_account": 30, "new": 0},
    complexity_points=4,
    max_complexity=5,
    repeat_within_days=7,
    repeat_points=20,
    chronic_tag_points={"outage_area": 10, "billing_dispute": 10, "multiple_repairs": 15},
    chronic_cap=20,
)


def test_score_adds_call_type_tier_complexity_repeat_and_chronic_terms() -> None:
    facts = CallFacts(
        intent="cancel_contract",
        tier="key_account",
        complexity=2,
        days_since_last_contact=3,
        tags=frozenset({"outage_area", "multiple_repairs"}),
    )
    score = WEIGHTS.score(facts)
    assert {t.name: t.value for t in score.terms} == {
        "call_type": 40,
        "tier": 30,
        "complexity": 8,
        "repeat": 20,
        "chronic": 20,  # 10 + 15, capped at 20
    }
    assert score.total == 118
    assert "call_type[cancellation] +40" in score.explain()


def test_unknown_intent_falls_back_to_the_default_call_type() -> None:
    score = WEIGHTS.score(CallFacts(intent="something_new"))
    assert [(t.name, t.detail, t.value) for t in score.terms] == [("call_type", "how_to", 10)]


def test_call_type_from_the_ivr_counts_unless_the_intent_map_overrides_it() -> None:
    from_ivr = WEIGHTS.score(CallFacts(intent="quit", call_type="cancellation"))
    overridden = WEIGHTS.score(CallFacts(intent="setup_help", call_type="cancellation"))
    unknown_type = WEIGHTS.score(CallFacts(intent="x", call_type="not_configured"))
    assert from_ivr.terms[0].detail == "cancellation"
    assert overridden.terms[0].detail == "how_to"
    assert unknown_type.terms[0].detail == "how_to"


def test_contact_older_than_the_repeat_window_is_not_a_repeat() -> None:
    assert not WEIGHTS.is_repeat(CallFacts(days_since_last_contact=8))
    assert WEIGHTS.is_repeat(CallFacts(days_since_last_contact=7))
    assert "repeat" not in {
        t.name for t in WEIGHTS.score(CallFacts(days_since_last_contact=30)).terms
    }


def test_complexity_is_clamped_to_its_maximum() -> None:
    assert WEIGHTS.score(CallFacts(complexity=99)).total == 10 + 5 * 4


def test_low_priority_call_is_not_starved() -> None:
    urgency = Urgency(Aging(points_per_s=20 / 60, cap=150))
    spread = WEIGHTS.spread()
    low, high = 0.0, spread
    overtake = urgency.overtake_after_s(spread)
    assert overtake is not None
    # after the bound, the oldest low-priority call outranks a brand-new top-priority call
    assert urgency.effective(low, overtake + 1) > urgency.effective(high, 0)
    assert urgency.effective(low, overtake - 1) < urgency.effective(high, 0)


def test_aging_is_capped_and_a_cap_below_the_spread_is_reported_as_starvation() -> None:
    urgency = Urgency(Aging(points_per_s=1.0, cap=30))
    assert urgency.aging_points(10) == 10
    assert urgency.aging_points(1000) == 30
    assert urgency.overtake_after_s(50) is None
    assert Urgency().overtake_after_s(50) is None  # no aging at all: strict priority


def test_sl_risk_lifts_a_call_about_to_miss_its_target_and_drops_after() -> None:
    urgency = Urgency(sl_risk=SlRisk(target_s=20, lead_s=5, points=25))
    assert urgency.risk_points(14.9) == 0
    assert urgency.risk_points(15) == 25
    assert urgency.risk_points(19.9) == 25
    assert urgency.risk_points(20) == 0
    terms = {t.name for t in urgency.terms(16)}
    assert terms == {"sl_risk"}


def test_sl_risk_can_be_kept_after_the_target() -> None:
    urgency = Urgency(sl_risk=SlRisk(target_s=20, lead_s=5, points=25, keep_after_target=True))
    assert urgency.risk_points(500) == 25


@pytest.mark.parametrize(
    "waited", [0.0, 3.0, 14.99, 15.0, 17.0, 20.0, 40.0, 449.0, 450.0, 10_000.0]
)
def test_phases_describe_the_priority_exactly(waited: float) -> None:
    """Inside a phase, priority is base + bonus + rate*waited (linear) or base + cap + bonus."""
    urgency = Urgency(Aging(1 / 3, 150), SlRisk(20, 5, 25))
    phase = urgency.phases[urgency.phase_index(waited)]
    expected = urgency.effective(7.0, waited)
    if phase.linear:
        assert 7.0 + phase.bonus + urgency.rate * waited == pytest.approx(expected)
    else:
        assert 7.0 + 150 + phase.bonus == pytest.approx(expected)


def test_aging_must_not_lower_priority() -> None:
    with pytest.raises(ValueError, match="lower"):
        Urgency(Aging(points_per_s=-1))
