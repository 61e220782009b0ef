"""One cell of the running KPIs: the counters and sums of the calls of a queue and channel
over a span of time (``acd.kpi_aggregate``), and the KPIs they give, with the definitions
of ``acd.kpi``."""

from __future__ import annotations

from acd.kpi import CallKpis, SlPolicy

__all__ = ["Tally", "ratio"]


class Tally:
    """The counters and sums of one cell (a queue and channel over a span of time)."""

    __slots__ = (
        "a_t",
        "ab_t",
        "abandoned",
        "answered",
        "completed",
        "exits",
        "failed",
        "handled",
        "hold_sum",
        "longest",
        "offered",
        "ringing",
        "short",
        "talk_sum",
        "wait_sum",
        "waited",
        "wrap_sum",
    )

    def __init__(self) -> None:
        self.offered = self.answered = self.a_t = self.abandoned = self.ab_t = 0
        self.ringing = self.short = self.waited = self.handled = 0
        self.completed = self.failed = 0
        self.wait_sum = self.talk_sum = self.hold_sum = self.wrap_sum = self.longest = 0.0
        self.exits: dict[str, int] = {}

    def add(self, other: Tally) -> Tally:
        for name in Tally.__slots__:
            if name == "exits":
                for kind, n in other.exits.items():
                    self.exits[kind] = self.exits.get(kind, 0) + n
            elif name == "longest":
                self.longest = max(self.longest, other.longest)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def kpis(self, policy: SlPolicy) -> CallKpis:
        left = sum(self.exits.values())
        decided = self.answered + self.abandoned
        handled = self.handled
        return CallKpis(
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            short_abandoned=self.short,
            left=left,
            waiting=self.offered - decided - self.short - left,
            answered_within_target=self.a_t,
            abandoned_within_target=self.ab_t,
            service_level=policy.service_level(self.a_t, self.answered, self.ab_t, self.abandoned),
            asa=ratio(self.wait_sum, self.answered),
            p_wait=ratio(self.waited, decided),
            abandon_rate=ratio(self.abandoned, decided),
            aht=ratio(self.talk_sum + self.hold_sum + self.wrap_sum, handled),
            avg_talk=ratio(self.talk_sum, handled),
            avg_hold=ratio(self.hold_sum, handled),
            avg_wrap=ratio(self.wrap_sum, handled),
            longest_wait=self.longest,
            abandoned_ringing=self.ringing,
            exits={k: n for k, n in sorted(self.exits.items()) if n},
        )


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None
