"""How urgent a call is, and why.

A call's *base* priority is a sum of terms fixed when it enters the queue (call type from
the intent, tier, complexity, repeat contact, chronic-issue tags). While it waits, two
time-dependent terms are added: *aging* (``rate x waited``, capped) so that nobody starves,
and a *service-level risk* lift inside a window before the target of the task's channel
(a chat's seconds, an e-mail's hours: ``SlRisk.for_target``).

Both time terms are piecewise linear in the wait with the same slope for every call of a
queue, and their breakpoints sit at fixed offsets from the call's entry. Between two
breakpoints the order of two calls never changes, which is what lets the router keep calls
in heaps instead of re-sorting them (see ``Urgency.phases``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from acd.calls import CallFacts

__all__ = ["Aging", "Phase", "PriorityScore", "PriorityWeights", "ScoreTerm", "SlRisk", "Urgency"]


@dataclass(frozen=True, slots=True)
class ScoreTerm:
    """One addend of a score: its name, its value and what it was computed from."""

    name: str
    value: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PriorityScore:
    """A priority that can say what it is made of."""

    terms: tuple[ScoreTerm, ...] = ()

    @property
    def total(self) -> float:
        total = 0.0
        for term in self.terms:
            total += term.value
        return total

    def plus(self, *terms: ScoreTerm) -> PriorityScore:
        return PriorityScore(self.terms + terms)

    def explain(self) -> str:
        parts = [f"{t.name}{f'[{t.detail}]' if t.detail else ''} {t.value:+g}" for t in self.terms]
        return f"{self.total:g} = " + (" ".join(parts) if parts else "0")


@dataclass(frozen=True, slots=True)
class PriorityWeights:
    """Base-priority weights, all from config/priority.yaml."""

    call_type_points: Mapping[str, float] = field(default_factory=dict)
    intent_call_types: Mapping[str, str] = field(default_factory=dict)
    default_call_type: str | None = None
    tier_points: Mapping[str, float] = field(default_factory=dict)
    complexity_points: float = 0.0
    max_complexity: int = 5
    repeat_within_days: float = 7.0
    repeat_points: float = 0.0
    chronic_tag_points: Mapping[str, float] = field(default_factory=dict)
    chronic_cap: float | None = None

    def call_type(self, facts: CallFacts) -> str | None:
        if facts.intent is not None and facts.intent in self.intent_call_types:
            return self.intent_call_types[facts.intent]
        if facts.call_type is not None and facts.call_type in self.call_type_points:
            return facts.call_type
        return self.default_call_type

    def is_repeat(self, facts: CallFacts) -> bool:
        days = facts.days_since_last_contact
        return days is not None and days <= self.repeat_within_days

    def score(self, facts: CallFacts) -> PriorityScore:
        terms: list[ScoreTerm] = []
        call_type = self.call_type(facts)
        if call_type is not None:
            terms.append(
                ScoreTerm("call_type", self.call_type_points.get(call_type, 0.0), call_type)
            )
        if facts.tier is not None:
            terms.append(ScoreTerm("tier", self.tier_points.get(facts.tier, 0.0), facts.tier))
        level = max(0, min(facts.complexity, self.max_complexity))
        if level and self.complexity_points:
            terms.append(ScoreTerm("complexity", level * self.complexity_points, f"level {level}"))
        if self.is_repeat(facts) and self.repeat_points:
            days = facts.days_since_last_contact
            terms.append(ScoreTerm("repeat", self.repeat_points, f"last contact {days:g} d ago"))
        chronic = sorted(t for t in facts.tags if t in self.chronic_tag_points)
        if chronic:
            points = sum(self.chronic_tag_points[t] for t in chronic)
            if self.chronic_cap is not None:
                points = min(points, self.chronic_cap)
            terms.append(ScoreTerm("chronic", points, ",".join(chronic)))
        return PriorityScore(tuple(terms))

    def spread(self) -> float:
        """Highest minus lowest possible base priority: what aging must be able to overcome."""

        def extremes(values: Mapping[str, float], optional: bool) -> tuple[float, float]:
            pool = [*values.values(), *([0.0] if optional or not values else [])]
            return min(pool), max(pool)

        ranges = [
            extremes(self.call_type_points, True),
            extremes(self.tier_points, True),
            (
                min(0.0, self.complexity_points * self.max_complexity),
                max(0.0, self.complexity_points * self.max_complexity),
            ),
            (min(0.0, self.repeat_points), max(0.0, self.repeat_points)),
        ]
        chronic = list(self.chronic_tag_points.values())
        high = sum(v for v in chronic if v > 0)
        low = sum(v for v in chronic if v < 0)
        if self.chronic_cap is not None:
            high = min(high, self.chronic_cap)
            low = min(low, self.chronic_cap)
        ranges.append((low, high))
        return sum(hi for _, hi in ranges) - sum(lo for lo, _ in ranges)


@dataclass(frozen=True, slots=True)
class Aging:
    """Priority points gained per second of waiting, up to ``cap`` (None: unbounded)."""

    points_per_s: float = 0.0
    cap: float | None = None


@dataclass(frozen=True, slots=True)
class SlRisk:
    """``points`` added from ``lead_s`` before the queue's target until the target (or for
    good, with ``keep_after_target``): calls about to miss the target go first."""

    target_s: float = 20.0
    lead_s: float = 0.0
    points: float = 0.0
    keep_after_target: bool = False

    def for_target(self, target_s: float) -> SlRisk:
        """The same risk for a channel whose target is ``target_s``: its window is the same
        share of that target as ``lead_s`` is of this one (5 s before a call's 20 s target
        is an hour before an e-mail's 4 h one), the same points."""
        if target_s == self.target_s:
            return self
        lead = self.lead_s * target_s / self.target_s if self.target_s > 0 else self.lead_s
        return replace(self, target_s=target_s, lead_s=lead)


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of waiting time over which a call's priority is ``base + rate*waited +
    bonus`` (``linear``) or ``base + cap + bonus`` (capped)."""

    start_s: float
    linear: bool
    bonus: float


class Urgency:
    """The time-dependent part of a queue's priority: aging and service-level risk."""

    __slots__ = ("_cap_at", "aging", "breakpoints", "cap", "phases", "rate", "sl_risk")

    def __init__(self, aging: Aging = Aging(), sl_risk: SlRisk = SlRisk()) -> None:
        if aging.points_per_s < 0 or (aging.cap is not None and aging.cap < 0):
            raise ValueError("aging must not lower priority")
        self.aging = aging
        self.sl_risk = sl_risk
        self.rate = aging.points_per_s
        self.cap = aging.cap
        self._cap_at = (
            aging.cap / self.rate if self.rate > 0 and aging.cap is not None else math.inf
        )
        marks: set[float] = set()
        if sl_risk.points:
            marks.add(sl_risk.target_s - sl_risk.lead_s)
            if not sl_risk.keep_after_target:
                marks.add(sl_risk.target_s)
        if math.isfinite(self._cap_at):
            marks.add(self._cap_at)
        self.breakpoints: tuple[float, ...] = tuple(sorted(m for m in marks if m > 0))
        self.phases: tuple[Phase, ...] = tuple(
            Phase(start, self.rate > 0 and start < self._cap_at, self.risk_points(start))
            for start in (0.0, *self.breakpoints)
        )

    def aging_points(self, waited: float) -> float:
        if self.rate <= 0:
            return 0.0
        points = self.rate * waited
        return points if self.cap is None or points < self.cap else self.cap

    def risk_points(self, waited: float) -> float:
        risk = self.sl_risk
        if not risk.points or waited < risk.target_s - risk.lead_s:
            return 0.0
        return risk.points if risk.keep_after_target or waited < risk.target_s else 0.0

    def effective(self, base: float, waited: float) -> float:
        """The one formula every comparison of priorities goes through."""
        return base + self.aging_points(waited) + self.risk_points(waited)

    def phase_index(self, waited: float) -> int:
        return bisect_right(self.breakpoints, waited)

    def terms(self, waited: float) -> tuple[ScoreTerm, ...]:
        terms: list[ScoreTerm] = []
        if self.rate > 0:
            cap = "" if self.cap is None else f", cap {self.cap:g}"
            detail = f"{waited:.1f} s x {self.rate * 60:g}/min{cap}"
            terms.append(ScoreTerm("waiting", self.aging_points(waited), detail))
        risk = self.risk_points(waited)
        if risk:
            target = self.sl_risk.target_s
            terms.append(
                ScoreTerm("sl_risk", risk, f"waited {waited:.1f} s of {target:g} s target")
            )
        return tuple(terms)

    def overtake_after_s(self, spread: float) -> float | None:
        """How long until any call outranks a fresh call ``spread`` points above it.

        None when aging cannot close the gap (no aging, or a cap not above the spread):
        that configuration can starve low-priority callers.
        """
        if spread <= 0:
            return 0.0
        if self.rate <= 0 or (self.cap is not None and self.cap <= spread):
            return None
        return spread / self.rate
