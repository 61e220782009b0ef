"""The incremental KPIs: running sums per minute, interval and day, by queue and channel,
with the definitions of a full recount (``compute_kpis``); callbacks as contacts of their
own; rolling windows from the first minute; runs folded apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from acd.contacts import callback_attempt_id, channel_of
from acd.events import (
    CallAbandoned,
    CallAnswered,
    CallbackSettled,
    CallEnded,
    CallMoved,
    CallOffered,
    CallQueued,
    EventRecord,
)
from acd.kpi import CallKpis, SlPolicy
from acd.kpi_aggregate import KpiAggregate
from acd.kpi_recount import KpiAccumulator, compute_kpis
from acd.scenario import load_scenario
from acd.simulation import run_simulation
from tests.acd.test_kpi import Log, mixed_day

SCENARIO = Path(__file__).resolve().parents[2] / "acd" / "scenarios" / "heterogeneous.yaml"
POLICY = SlPolicy(target_s=20, short_abandon_s=5)


def same(a: CallKpis, b: CallKpis) -> None:
    """Equal, but for the order in which floats were summed."""
    for f in dataclasses.fields(CallKpis):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x == (pytest.approx(y) if isinstance(y, float) else y), f.name


@pytest.fixture(scope="module")
def simulated_day() -> list[EventRecord]:
    records: list[EventRecord] = []
    run_simulation(load_scenario(SCENARIO), calls=1500, on_event=records.append)
    return records


def test_the_running_sums_give_the_figures_of_a_full_recount(
    simulated_day: list[EventRecord],
) -> None:
    end = simulated_day[-1].at
    recount = compute_kpis(simulated_day, POLICY, end=end)
    day = KpiAggregate(POLICY).add_all(simulated_day).day(end)
    same(day.calls, recount.calls)
    assert day.by_queue.keys() == recount.by_queue.keys()
    for queue, kpis in recount.by_queue.items():
        same(day.by_queue[queue], kpis)
    assert day.occupancy == pytest.approx(recount.occupancy)
    for mine, theirs in zip(day.agents, recount.agents, strict=True):
        assert dataclasses.astuple(mine) == pytest.approx(dataclasses.astuple(theirs))


def test_each_fixed_interval_matches_a_recount_of_that_interval(
    simulated_day: list[EventRecord],
) -> None:
    end = simulated_day[-1].at
    recount = KpiAccumulator(POLICY, interval_s=900).add_all(simulated_day).intervals(end)
    mine = KpiAggregate(POLICY, interval_s=900).add_all(simulated_day).intervals(end)
    assert [r.start for r in mine] == [r.start for r in recount]
    for a, b in zip(mine, recount, strict=True):
        same(a.calls, b.calls)
        assert a.occupancy == pytest.approx(b.occupancy)


def callback_day() -> Log:
    """k1 asks for a callback after 30 s; the first attempt rings an agent who dials a
    customer who does not answer, the second reaches them; k2 is an inbound call."""
    log = mixed_day()
    log.at(500, CallQueued("k1", "q", 500, 0.0))
    log.at(530, CallAbandoned("k1", "q", during_offer=False, reason="callback requested"))
    first, second = callback_attempt_id("k1", 1), callback_attempt_id("k1", 2)
    log.answered_call(first, "a1", 500, 600, 640)  # the attempt keeps c1's place
    log.at(640, CallbackSettled(first, "callback_failed", "customer no answer"))
    log.answered_call(second, "a1", 500, 900, 1000)
    log.at(1000, CallbackSettled(second, "callback_completed", "answered"))
    log.answered_call("k2", "a1", 1100, 1105, 1200)
    return log


@pytest.mark.parametrize("fold", ["recount", "running sums"])
def test_a_callback_attempt_is_its_own_contact_not_an_offered_inbound_call(fold: str) -> None:
    records = callback_day().records
    report = (
        compute_kpis(records, POLICY)
        if fold == "recount"
        else KpiAggregate(POLICY).add_all(records).day(1200)
    )
    calls = report.calls
    assert (calls.offered, calls.answered, calls.left) == (9, 5, 1)  # 7 + k1 + k2
    assert calls.exits == {"callback_requested": 1}
    assert report.by_channel["callback"].offered == 2
    assert report.by_channel["callback"].answered == 2
    cb = report.callbacks
    assert (cb.requested, cb.attempts, cb.connected, cb.completed, cb.failed) == (1, 2, 2, 1, 1)


def test_a_callback_the_acd_let_go_before_an_agent_answered_failed() -> None:
    log = Log()
    attempt = callback_attempt_id("c9", 1)
    log.at(0, CallQueued(attempt, "q", 0, 0.0))
    log.at(5, CallAbandoned(attempt, "q", False, "callback: AMI unavailable"))
    report = KpiAggregate(POLICY).add_all(log.records).day(10)
    assert report.calls.offered == 0
    assert (report.callbacks.attempts, report.callbacks.failed) == (1, 1)


def test_callback_attempt_ids_are_the_diallers() -> None:
    assert channel_of(callback_attempt_id("1754300000.42", 3)) == "callback"
    assert channel_of("1754300000.42") == "voice"
    assert channel_of("cb-1") == "voice"


def test_the_rolling_windows_have_figures_in_the_first_minute_of_a_day() -> None:
    midnight = 86_400.0 * 20_000
    log = Log().state(midnight, "a1", "logged_out", "available", "login")
    log.answered_call("c1", "a1", midnight + 5, midnight + 10, midnight + 40)
    log.abandoned_call("c2", midnight + 20, midnight + 50)
    now = midnight + 55
    kpis = KpiAggregate(POLICY, day_start=midnight).add_all(log.records)

    assert kpis.interval(midnight - 900, now).calls.offered == 0  # "last interval": empty
    for window in (900, 1800, 3600):
        rolling = kpis.rolling(window, now)
        assert (rolling.calls.offered, rolling.calls.answered) == (2, 1)
        assert rolling.calls.service_level == pytest.approx(0.5)
        assert rolling.occupancy == pytest.approx(30 / 55)


def test_the_rolling_window_forgets_calls_older_than_it() -> None:
    log = Log()
    log.abandoned_call("old", 0, 30)
    log.abandoned_call("new", 1800, 1830)
    kpis = KpiAggregate(POLICY).add_all(log.records)
    assert kpis.rolling(900, 1900).calls.abandoned == 1
    assert kpis.rolling(3600, 1900).calls.abandoned == 2
    assert kpis.rolling(900, 9000).calls.offered == 0  # hours later, nothing left over


def test_figures_are_split_per_queue_and_channel() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.at(0, CallQueued("s1", "sales", 0, 0.0))
    log.at(3, CallOffered("s1", "a1", "sales", 0, 0, "")).at(3, CallAnswered("s1", "a1", "sales"))
    log.at(60, CallEnded("s1", "a1", "sales"))
    log.at(70, CallQueued("t1", "support", 70, 0.0))
    log.at(100, CallAbandoned("t1", "support", during_offer=True))
    log.at(110, CallQueued(callback_attempt_id("t0", 1), "support", 50, 0.0))
    kpis = KpiAggregate(POLICY).add_all(log.records)

    cells = kpis.by_queue_channel(120)
    assert {key: k.offered for key, k in cells.items()} == {
        ("sales", "voice"): 1,
        ("support", "callback"): 1,
        ("support", "voice"): 1,
    }
    assert cells[("support", "voice")].abandoned_ringing == 1
    assert cells[("support", "callback")].waiting == 1
    day = kpis.day(120)
    assert {q: k.offered for q, k in day.by_queue.items()} == {"sales": 1, "support": 1}
    assert {ch: k.offered for ch, k in day.by_channel.items()} == {"callback": 1, "voice": 2}


def test_a_call_overflowed_to_another_queue_counts_once_where_it_ends() -> None:
    log = Log()
    log.at(0, CallQueued("c1", "sales", 0, 0.0))
    log.at(120, CallAbandoned("c1", "sales", False, "max wait: 120 s in sales"))
    log.at(120, CallQueued("c1", "support", 0, 0.0))
    log.at(150, CallAbandoned("c1", "support", False))
    for kpis in (
        KpiAggregate(POLICY).add_all(log.records).day(200),
        compute_kpis(log.records, POLICY, end=200),
    ):
        assert (kpis.calls.offered, kpis.calls.left, kpis.calls.abandoned) == (1, 0, 1)
        support = kpis.by_queue["support"]
        assert (support.offered, support.abandoned) == (1, 1)
        assert "sales" not in kpis.by_queue or kpis.by_queue["sales"].offered == 0


def test_a_moved_call_counts_in_its_new_queue_only() -> None:
    log = Log()
    log.at(0, CallQueued("c1", "sales", 0, 0.0))
    log.at(10, CallMoved("c1", "sales", "support", "sam"))
    log.at(40, CallAbandoned("c1", "support", False))
    day = KpiAggregate(POLICY).add_all(log.records).day(50)
    assert day.by_queue["support"].abandoned == 1
    assert day.by_queue["sales"].offered == 0


def test_runs_are_folded_apart_in_any_order() -> None:
    """Two runs of the service use the same call and agent ids on clocks of their own: each
    run's calls and agents are their own, whichever is folded first."""
    first, second = mixed_day().records, callback_day().records
    a = KpiAggregate(POLICY).add_all(first, "run-1").add_all(second, "run-2")
    b = KpiAggregate(POLICY).add_all(second, "run-2").add_all(first, "run-1")
    same(a.day(2000).calls, b.day(2000).calls)
    assert a.day(2000).calls.offered == 7 + 9


def test_a_stopped_run_closes_its_calls_as_failed_and_its_agents_time() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.at(10, CallQueued("c1", "q", 10, 0.0))
    kpis = KpiAggregate(POLICY).add_all(log.records, "old")
    kpis.close_run("old", at=60)
    day = kpis.day(1000)
    assert (day.calls.offered, day.calls.waiting, day.calls.exits) == (1, 0, {"failed": 1})
    assert day.occupancy == 0.0
    [agent] = day.agents
    assert agent.available_s == 60  # not up to now: the run stopped at 60
