"""Priority: base terms from config, aging that prevents starvation, service-level risk."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.calls import CallFacts
from acd.policy import QueuesConfig
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


#: queues.yaml with the defaults' risk window (5 s before a call's 20 s target), kept after
#: the target, and each channel's own target (an e-mail's 4 hours, a chat's minute)
CHANNEL_TARGETS = {
    "service_level": {"channel_targets_s": {"email": 14_400, "chat": 60}},
    "queues": {
        "support": {"sl_risk": {"points": 25, "after_target": "keep"}},
        "sales": {"sl_risk": {"points": 25}, "channel_targets_s": {"chat": 30}},
    },
}


def test_each_channel_is_at_risk_near_its_own_service_level_target() -> None:
    config = QueuesConfig.model_validate(CHANNEL_TARGETS)
    support = config.queues["support"].policy("support", config.service_level.channel_targets_s)
    email, chat, voice = (support.urgency_of(ch) for ch in ("email", "chat", "voice"))
    assert voice.risk_points(30) == 25  # a call: past its 20 s target (kept)
    assert email.risk_points(30) == 0  # an e-mail is hours from its target
    assert email.risk_points(3 * 3600 - 1) == 0
    assert email.risk_points(3 * 3600) == 25  # the last quarter, as a call's last 5 s of 20
    assert chat.risk_points(44) == 0
    assert chat.risk_points(50) == 25
    (term,) = chat.terms(50)
    assert term.detail == "waited 50.0 s of 60 s target"  # what an offer's explanation says
    assert support.urgency_of("voicemail") is support.urgency  # no target of its own: a call's
    sales = config.queues["sales"].policy("sales", config.service_level.channel_targets_s)
    assert sales.urgency_of("chat").sl_risk.target_s == 30  # the queue's own target first
    assert sales.urgency_of("chat").risk_points(31) == 0  # dropped after it, as configured
    assert sales.urgency_of("email").sl_risk.target_s == 14_400


@given(
    target=st.floats(1, 300),
    lead=st.floats(0, 1),
    channel_target=st.floats(1, 100_000),
    share=st.floats(0, 2),
)
def test_a_channel_is_at_risk_over_the_same_share_of_its_target(
    target: float, lead: float, channel_target: float, share: float
) -> None:
    """Inside the window's share of the target, a call and a chat or e-mail alike."""
    voice = Urgency(sl_risk=SlRisk(target, lead * target, 10))
    channel = Urgency(sl_risk=voice.sl_risk.for_target(channel_target))
    assert channel.sl_risk.lead_s == pytest.approx(lead * channel_target)
    at_risk = channel.risk_points(share * channel_target) > 0
    if share < 1 - lead - 1e-9 or share >= 1:
        assert not at_risk
    elif share > 1 - lead + 1e-9:
        assert at_risk


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
