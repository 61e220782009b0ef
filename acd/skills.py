"""Skills, requirements and the steps by which they relax.

An agent has skills with levels (``{"lang.en": 3, "product.internet": 2, "experience": 4}``).
A queue states *required* skills with a minimum level and *preferred* skills with weights;
rules add requirements for some callers (a repeat caller needs ``experience >= 3``). As the
call waits, relaxation steps lower or drop requirements (after 30 s ``product.* <= 1``,
after 60 s keep only ``lang.*``). A call's ``RoutingProfile`` lists its requirement at every
step, so the router re-evaluates a waiting call simply by moving it at each step's time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from acd.calls import CallFacts
from acd.priority import ScoreTerm

__all__ = [
    "Condition",
    "ProfileStep",
    "QueueSkills",
    "RelaxStep",
    "Requirement",
    "RoutingProfile",
    "SkillLevels",
    "SkillMatch",
    "SkillRule",
    "explain_match",
]

SkillLevels = Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Requirement:
    """A concrete requirement: hashable, so calls with equal requirements share a class."""

    required: tuple[tuple[str, int], ...] = ()
    preferred: tuple[tuple[str, float], ...] = ()
    #: ``describe``'s text, made once: every offer's explanation shows it
    description: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        need = ", ".join(f"{s}>={lvl}" for s, lvl in self.required) or "any agent"
        if self.preferred:
            need += "; prefers " + ", ".join(f"{s} x{w:g}" for s, w in self.preferred)
        object.__setattr__(self, "description", need)

    @staticmethod
    def of(required: Mapping[str, int], preferred: Mapping[str, float] = {}) -> Requirement:
        return Requirement(
            tuple(sorted((s, lvl) for s, lvl in required.items() if lvl > 0)),
            tuple(sorted((s, w) for s, w in preferred.items() if w)),
        )

    def admits(self, skills: SkillLevels) -> bool:
        for skill, level in self.required:  # noqa: SIM110 (a plain loop: hot path)
            if skills.get(skill, 0) < level:
                return False
        return True

    def match_score(self, skills: SkillLevels) -> float:
        score = 0.0
        for skill, weight in self.preferred:
            score += weight * skills.get(skill, 0)
        return score

    def level_weight(self, skills: SkillLevels) -> float:
        """The weight of the ``weighted`` strategy: 1 + the agent's levels on these skills."""
        names = {s for s, _ in self.required} | {s for s, _ in self.preferred}
        return 1.0 + sum(max(0, skills.get(s, 0)) for s in names)

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True, slots=True)
class Condition:
    """When a rule applies; every field that is set must hold (None: don't care)."""

    intents: frozenset[str] | None = None
    tiers: frozenset[str] | None = None
    languages: frozenset[str] | None = None
    tags_any: frozenset[str] | None = None
    repeat: bool | None = None
    min_complexity: int | None = None

    def holds(self, facts: CallFacts, repeat: bool) -> bool:
        return (
            (self.intents is None or facts.intent in self.intents)
            and (self.tiers is None or facts.tier in self.tiers)
            and (self.languages is None or facts.language in self.languages)
            and (self.tags_any is None or bool(self.tags_any & facts.tags))
            and (self.repeat is None or self.repeat == repeat)
            and (self.min_complexity is None or facts.complexity >= self.min_complexity)
        )


@dataclass(frozen=True, slots=True)
class SkillRule:
    """Extra required/preferred skills for the calls the condition selects."""

    name: str
    when: Condition
    required: tuple[tuple[str, int], ...] = ()
    preferred: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class RelaxStep:
    """After ``after_s`` of waiting: cap matching requirements at a level (0 drops them)
    and/or keep only the requirements matching ``keep_only``. Patterns are shell-style."""

    after_s: float
    levels: tuple[tuple[str, int], ...] = ()
    keep_only: tuple[str, ...] | None = None
    label: str = ""

    def apply(self, required: Mapping[str, int]) -> dict[str, int]:
        relaxed = dict(required)
        if self.keep_only is not None:
            keep = self.keep_only
            relaxed = {s: v for s, v in relaxed.items() if any(fnmatchcase(s, p) for p in keep)}
        for pattern, cap in self.levels:
            for skill in list(relaxed):
                if fnmatchcase(skill, pattern):
                    relaxed[skill] = min(relaxed[skill], cap)
        return {s: v for s, v in relaxed.items() if v > 0}

    def describe(self) -> str:
        if self.label:
            return self.label
        parts = [f"{p}<={lvl}" for p, lvl in self.levels]
        if self.keep_only is not None:
            parts.append("only " + ",".join(self.keep_only))
        return f"after {self.after_s:g} s: " + (", ".join(parts) or "no change")


@dataclass(frozen=True, slots=True)
class ProfileStep:
    after_s: float
    label: str
    requirement: Requirement


@dataclass(frozen=True, slots=True)
class RoutingProfile:
    """A call's requirement at each relaxation step, and the rules it came from."""

    sources: tuple[str, ...]
    steps: tuple[ProfileStep, ...]
    #: when each step after the first starts (seconds of waiting)
    breakpoints: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "breakpoints", tuple(step.after_s for step in self.steps[1:]))

    def step_at(self, waited: float) -> int:
        return bisect_right(self.breakpoints, waited)

    def requirement_at(self, waited: float) -> Requirement:
        return self.steps[self.step_at(waited)].requirement

    @staticmethod
    def fixed(requirement: Requirement, source: str = "fixed") -> RoutingProfile:
        return RoutingProfile((source,), (ProfileStep(0.0, "initial", requirement),))


@dataclass(frozen=True, slots=True)
class QueueSkills:
    """A queue's skill policy; ``profile`` turns it into one call's ``RoutingProfile``."""

    name: str
    required: tuple[tuple[str, int], ...] = ()
    preferred: tuple[tuple[str, float], ...] = ()
    #: Require ``f"{language_prefix}{facts.language}" >= language_min_level`` when set.
    language_prefix: str | None = None
    language_min_level: int = 1
    rules: tuple[SkillRule, ...] = ()
    steps: tuple[RelaxStep, ...] = ()
    _cache: dict[tuple[object, ...], RoutingProfile] = field(
        default_factory=dict, compare=False, repr=False
    )

    def profile(self, facts: CallFacts, repeat: bool) -> RoutingProfile:
        key = (facts.intent, facts.tier, facts.language, facts.tags, facts.complexity, repeat)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(facts, repeat)
        return cached

    def _build(self, facts: CallFacts, repeat: bool) -> RoutingProfile:
        sources = [f"queue {self.name}"]
        required = dict(self.required)
        preferred = dict(self.preferred)
        if self.language_prefix is not None and facts.language:
            skill = f"{self.language_prefix}{facts.language}"
            required[skill] = max(required.get(skill, 0), self.language_min_level)
            sources.append(f"language {facts.language}")
        for rule in self.rules:
            if rule.when.holds(facts, repeat):
                sources.append(f"rule {rule.name}")
                for skill, level in rule.required:
                    required[skill] = max(required.get(skill, 0), level)
                preferred.update(rule.preferred)
        steps = [ProfileStep(0.0, "initial", Requirement.of(required, preferred))]
        for relax in sorted(self.steps, key=lambda s: s.after_s):
            required = relax.apply(required)
            steps.append(
                ProfileStep(relax.after_s, relax.describe(), Requirement.of(required, preferred))
            )
        return RoutingProfile(tuple(sources), tuple(steps))


@dataclass(frozen=True, slots=True)
class SkillMatch:
    """Why an agent fits a call: which rules, which relaxation step, what score."""

    sources: tuple[str, ...]
    step: int
    step_label: str
    requirement: Requirement
    score: float
    preferred_terms: tuple[ScoreTerm, ...]

    def explain(self) -> str:
        terms = " ".join(f"{t.name}({t.detail}) {t.value:+g}" for t in self.preferred_terms)
        return (
            f"{' + '.join(self.sources)}; step {self.step} ({self.step_label}): "
            f"{self.requirement.describe()}; match {self.score:g}"
            + (f" = {terms}" if terms else "")
        )


def explain_match(profile: RoutingProfile, step: int, skills: SkillLevels) -> SkillMatch:
    requirement = profile.steps[step].requirement
    terms = tuple(
        ScoreTerm(
            skill, weight * skills.get(skill, 0), f"level {skills.get(skill, 0)} x {weight:g}"
        )
        for skill, weight in requirement.preferred
    )
    return SkillMatch(
        profile.sources,
        step,
        profile.steps[step].label,
        requirement,
        requirement.match_score(skills),
        terms,
    )
