"""Historical reports' fold (``acd.kpi_report``): a day folded by the recount per run, each
task reduced to a running-sums cell, gives the live page's figures (``KpiAggregate``: its
day, its intervals, per queue and channel, callbacks, occupancy), and cells add up."""

from __future__ import annotations

import dataclasses

import pytest

from acd.channel_day import CAPACITY, mixed_day
from acd.contacts import VOICE
from acd.events import CallQueued, EventRecord
from acd.kpi import CallKpis, SlPolicy, call_kpis
from acd.kpi_aggregate import KpiAggregate
from acd.kpi_recount import KpiAccumulator
from acd.kpi_report import ALL, DayFold, Figures, figures_row, tally_of, total
from tests.acd.test_kpi import Log
from tests.acd.test_kpi_aggregate import callback_day

POLICY = SlPolicy(target_s=20, short_abandon_s=5)
DAY = 86_400.0


def same(a: CallKpis, b: CallKpis) -> None:
    """Equal but for the order floats were summed in (the backlog is not a report's)."""
    for f in dataclasses.fields(CallKpis):
        if f.name in ("backlog", "oldest_age_s"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x == (pytest.approx(y) if isinstance(y, float) else y), f.name


@pytest.fixture(scope="module")
def day() -> list[EventRecord]:
    return mixed_day(3000, 25)


def test_a_task_as_a_cell_gives_the_recounts_figures(day: list[EventRecord]) -> None:
    acc = KpiAccumulator(POLICY, capacity=lambda a: CAPACITY).add_all(day)
    outcomes = list(acc.calls.values())
    figures = Figures()
    for c in outcomes:
        figures.add(Figures({("x", "y"): tally_of(c, POLICY)}))
    same(figures.kpis("x", "y", POLICY), call_kpis(outcomes, POLICY))


def test_a_day_of_every_channel_equals_the_live_pages_figures(day: list[EventRecord]) -> None:
    end = day[-1].at
    live = KpiAggregate(POLICY, day_start=0.0, capacity=lambda a: CAPACITY).add_all(day)
    today = live.day(end)
    fold = DayFold(0.0, 2 * DAY, end, POLICY, capacity=lambda a: CAPACITY).add_all(day, "run")
    figures = total(fold.intervals())
    same(figures.kpis("channel", ALL, POLICY), today.overall)
    assert set(figures.keys("channel")) == {ALL, *today.by_channel}
    for channel, kpis in today.by_channel.items():
        same(figures.kpis("channel", channel, POLICY), kpis)
    for queue, kpis in today.by_queue.items():
        same(figures.kpis("queue", queue, POLICY), kpis)
    assert figures.occupancy() == pytest.approx(today.occupancy)
    assert today.overall.answered > 1000  # a real day
    for agent in today.agents:
        assert figures.occupancy(agent.agent_id) == pytest.approx(agent.occupancy)
    row = figures_row(0.0, figures, "channel", ALL, POLICY)
    assert row.kpis.offered == today.overall.offered
    assert row.callbacks == today.callbacks


def test_each_interval_equals_the_live_pages_interval(day: list[EventRecord]) -> None:
    end = day[-1].at
    live = KpiAggregate(POLICY, day_start=0.0, capacity=lambda a: CAPACITY).add_all(day)
    fold = DayFold(0.0, 2 * DAY, end, POLICY, capacity=lambda a: CAPACITY).add_all(day)
    mine = fold.intervals()
    theirs = live.intervals(end)
    assert sorted(mine) == [r.start for r in theirs]
    for report in theirs:
        figures = mine[report.start]
        same(figures.kpis("channel", ALL, POLICY), report.overall)
        same(figures.kpis("channel", VOICE, POLICY), report.calls)
        assert figures.occupancy() == pytest.approx(report.occupancy)


def test_callbacks_requested_completed_and_failed_are_the_live_pages() -> None:
    records = callback_day().records
    live = KpiAggregate(POLICY, day_start=0.0).add_all(records).day(2000)
    figures = total(DayFold(0.0, DAY, 2000, POLICY).add_all(records).intervals())
    row = figures_row(0.0, figures, "channel", ALL, POLICY)
    assert row.callbacks == live.callbacks
    assert (row.callbacks.requested, row.callbacks.completed, row.callbacks.failed) == (1, 1, 1)
    queue = figures_row(0.0, figures, "queue", "q", POLICY)
    assert (queue.callbacks.requested, queue.callbacks.completed) == (1, 1)


def test_a_stopped_run_is_closed_as_the_live_page_closes_it() -> None:
    old = Log().state(0, "a1", "logged_out", "available", "login")
    old.at(10, CallQueued("c1", "q", 10, 0.0))
    old.at(60, CallQueued("c2", "q", 60, 0.0))
    new = Log().state(500, "a1", "logged_out", "available", "login")
    live = KpiAggregate(POLICY, day_start=0.0).add_all(old.records, "old")
    live.add_all(new.records, "new")
    live.close_run("old")
    today = live.day(1000)
    fold = DayFold(0.0, DAY, 1000, POLICY)
    fold.add_all(old.records, "old").add_all(new.records, "new")
    figures = total(fold.intervals())
    same(figures.kpis("channel", VOICE, POLICY), today.calls)
    assert figures.kpis("channel", VOICE, POLICY).exits == {"failed": 2}
    assert figures.occupancy() == pytest.approx(today.occupancy)
    assert figures.agent_times["a1"]["available"] == pytest.approx(60 + 500)


def test_intents_come_from_the_queued_call_type() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.at(10, CallQueued("c1", "q", 10, 0.0, call_type="billing"))
    log.at(20, CallQueued("c2", "q", 20, 0.0))
    figures = total(DayFold(0.0, DAY, 100, POLICY).add_all(log.records).intervals())
    assert figures.keys("intent") == ["billing", "unknown"]
    assert figures.kpis("intent", "billing", POLICY).offered == 1


def test_days_add_up_to_a_week() -> None:
    week = Figures()
    for d in range(7):
        log = Log().state(d * DAY, "a1", "logged_out", "available", "login")
        log.answered_call(f"c{d}", "a1", d * DAY + 10, d * DAY + 20, d * DAY + 100)
        fold = DayFold(d * DAY, (d + 1) * DAY, (d + 1) * DAY, POLICY).add_all(log.records)
        week.add(total(fold.intervals()))
    kpis = week.kpis("channel", ALL, POLICY)
    assert (kpis.offered, kpis.answered) == (7, 7)
    assert kpis.asa == pytest.approx(10.0)
    assert week.occupancy("a1") == pytest.approx(7 * 80 / (7 * DAY))
