"""One cell of the running KPIs: the counters and sums of the tasks of a queue and channel
over a span of time (``acd.kpi_aggregate``), and the KPIs they give, with the definitions
of ``acd.kpi``. A report's cells (fresh ones, added up) also carry the backlog at the
report's end, which is a count at an instant, not a sum."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from acd.contacts import CALLBACK, VOICE
from acd.kpi import AgentKpi, CallbackKpis, CallKpis, KpiReport, SlPolicy, overall_channels
from acd.kpi_backlog import Key, Waiting
from acd.kpi_work import capacity_use, occupancy
from history.outcomes import Outcome

__all__ = ["Tally", "ratio", "report_of"]


class Tally:
    """The counters and sums of one cell (a queue and channel over a span of time)."""

    __slots__ = (
        "a_t",
        "ab_t",
        "abandoned",
        "agent_sum",
        "answered",
        "backlog",
        "completed",
        "exits",
        "failed",
        "handled",
        "hold_sum",
        "longest",
        "offered",
        "oldest",
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
        self.completed = self.failed = self.backlog = 0
        self.wait_sum = self.talk_sum = self.hold_sum = self.wrap_sum = self.longest = 0.0
        self.agent_sum = 0.0
        #: The entry time of the oldest task of ``backlog``.
        self.oldest = math.inf
        self.exits: dict[str, int] = {}

    def add(self, other: Tally) -> Tally:
        """Add ``other``'s counters and sums (``tests/acd/test_kpi_tally.py``: every slot)."""
        self.offered += other.offered
        self.answered += other.answered
        self.a_t += other.a_t
        self.abandoned += other.abandoned
        self.ab_t += other.ab_t
        self.ringing += other.ringing
        self.short += other.short
        self.waited += other.waited
        self.handled += other.handled
        self.completed += other.completed
        self.failed += other.failed
        self.backlog += other.backlog
        self.wait_sum += other.wait_sum
        self.talk_sum += other.talk_sum
        self.hold_sum += other.hold_sum
        self.wrap_sum += other.wrap_sum
        self.agent_sum += other.agent_sum
        if other.longest > self.longest:
            self.longest = other.longest
        if other.oldest < self.oldest:
            self.oldest = other.oldest
        for kind, n in other.exits.items():
            self.exits[kind] = self.exits.get(kind, 0) + n
        return self

    def waiting_now(self, count: int, oldest: float) -> Tally:
        """Add ``count`` tasks waiting at the report's end, the oldest entered at ``oldest``."""
        self.backlog += count
        self.oldest = min(self.oldest, oldest)
        return self

    def kpis(self, policy: SlPolicy, at: float = math.nan) -> CallKpis:
        """The figures; ``at``: when the backlog was taken (its oldest task's age)."""
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
            agent_time=ratio(self.agent_sum, handled),
            backlog=self.backlog,
            oldest_age_s=at - self.oldest if self.backlog else None,
        )


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def report_of(
    cells: Iterable[tuple[Key, Tally]],
    waiting: Mapping[Key, Waiting],
    times: Mapping[str, float],
    agents: tuple[AgentKpi, ...],
    policy: SlPolicy,
    start: float,
    end: float,
) -> KpiReport:
    """The report of a span: its cells by queue and channel added up by queue (inbound calls),
    by channel and overall, with the backlog ``waiting`` at ``end`` and agents' ``times``."""
    by_queue: dict[str, Tally] = {}
    by_channel: dict[str, Tally] = {}
    voice, overall = Tally(), Tally()

    def groups(queue: str, channel: str) -> list[Tally]:
        found = [by_channel.setdefault(channel, Tally())]
        if channel == VOICE:
            found += (voice, by_queue.setdefault(queue, Tally()))
        if overall_channels(channel):
            found.append(overall)
        return found

    for (queue, channel), tally in cells:
        for group in groups(queue, channel):
            group.add(tally)
    for (queue, channel), (count, oldest) in waiting.items():
        for group in groups(queue, channel):
            group.waiting_now(count, oldest)
    back = by_channel.get(CALLBACK, Tally())
    return KpiReport(
        start=start,
        end=end,
        calls=voice.kpis(policy, end),
        occupancy=occupancy(times),
        by_queue={q: t.kpis(policy, end) for q, t in sorted(by_queue.items())},
        agents=agents,
        by_channel={ch: t.kpis(policy, end) for ch, t in sorted(by_channel.items())},
        callbacks=CallbackKpis(
            requested=voice.exits.get(Outcome.CALLBACK_REQUESTED, 0),
            attempts=back.offered,
            connected=back.answered,
            completed=back.completed,
            failed=back.failed + back.exits.get(Outcome.CALLBACK_FAILED, 0),
        ),
        overall=overall.kpis(policy, end),
        capacity=capacity_use(times),
    )
