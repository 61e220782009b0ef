"""Skills: requirements, rules, relaxation steps and explained matches."""

from __future__ import annotations

from acd.calls import CallFacts
from acd.skills import Condition, QueueSkills, RelaxStep, Requirement, SkillRule, explain_match

SUPPORT = QueueSkills(
    name="support",
    required=(("product.internet", 2),),
    preferred=(("experience", 0.5), ("problem_solving", 1.0)),
    language_prefix="lang.",
    language_min_level=2,
    rules=(SkillRule("repeat caller to a senior", Condition(repeat=True), (("experience", 3),)),),
    steps=(
        RelaxStep(30, (("product.*", 1), ("experience", 2))),
        RelaxStep(60, keep_only=("lang.*",), label="any speaker of the caller's language"),
    ),
)


def test_profile_requires_queue_skills_and_the_callers_language() -> None:
    profile = SUPPORT.profile(CallFacts(language="fr"), repeat=False)
    assert profile.steps[0].requirement.required == (("lang.fr", 2), ("product.internet", 2))
    assert profile.sources == ("queue support", "language fr")


def test_rule_adds_seniority_for_a_repeat_caller() -> None:
    profile = SUPPORT.profile(CallFacts(language="en"), repeat=True)
    assert ("experience", 3) in profile.steps[0].requirement.required
    assert "rule repeat caller to a senior" in profile.sources


def test_required_skill_relaxes_after_wait() -> None:
    profile = SUPPORT.profile(CallFacts(language="en"), repeat=True)
    assert profile.requirement_at(29.9).required == (
        ("experience", 3), ("lang.en", 2), ("product.internet", 2),
    )  # fmt: skip
    assert profile.requirement_at(30).required == (
        ("experience", 2), ("lang.en", 2), ("product.internet", 1),
    )  # fmt: skip
    assert profile.requirement_at(60).required == (("lang.en", 2),)
    assert profile.breakpoints == (30, 60)


def test_relaxation_never_raises_a_level() -> None:
    step = RelaxStep(10, (("billing", 4),))
    assert step.apply({"billing": 2}) == {"billing": 2}


def test_level_zero_drops_a_requirement() -> None:
    assert RelaxStep(10, (("product.*", 0),)).apply({"product.tv": 3, "lang.en": 1}) == {
        "lang.en": 1
    }


def test_requirement_admits_only_agents_at_or_above_every_level() -> None:
    need = Requirement.of({"lang.en": 2, "billing": 1})
    assert need.admits({"lang.en": 2, "billing": 1})
    assert need.admits({"lang.en": 3, "billing": 5, "tv": 1})
    assert not need.admits({"lang.en": 1, "billing": 5})
    assert not need.admits({"lang.en": 3})


def test_match_is_explained_with_rule_step_and_preferred_terms() -> None:
    profile = SUPPORT.profile(CallFacts(language="en"), repeat=False)
    match = explain_match(profile, 1, {"lang.en": 3, "product.internet": 1, "problem_solving": 4})
    assert match.step == 1
    assert match.score == 4.0
    text = match.explain()
    assert "queue support" in text
    assert "step 1" in text
    assert "product.*<=1" in text
    assert "problem_solving(level 4 x 1) +4" in text


def test_conditions_combine_with_and() -> None:
    cond = Condition(intents=frozenset({"complaint"}), min_complexity=2)
    assert cond.holds(CallFacts(intent="complaint", complexity=3), repeat=False)
    assert not cond.holds(CallFacts(intent="complaint", complexity=1), repeat=False)
    assert not cond.holds(CallFacts(intent="price_info", complexity=3), repeat=False)
