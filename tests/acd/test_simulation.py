"""The simulator: the real ACD on virtual time, checked against Erlang C."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from acd.erlang_c import erlang_b, erlang_c, erlang_c_kpis
from acd.scenario import apply_policy, erlang_scenario, generate_traffic, load_scenario
from acd.simulation import run_simulation

SCENARIO = Path(__file__).resolve().parents[2] / "acd" / "scenarios" / "heterogeneous.yaml"


def test_erlang_c_matches_published_values() -> None:
    # 10 agents, 8 erlangs: P(wait) 0.409, the textbook value
    assert erlang_c(10, 8) == pytest.approx(0.40918, abs=1e-5)
    assert erlang_b(1, 1) == pytest.approx(0.5)
    result = erlang_c_kpis(10, 8, aht=180, target_s=20)
    assert result.asa == pytest.approx(0.40918 * 180 / 2, rel=1e-4)
    assert result.service_level == pytest.approx(1 - 0.40918 * math.exp(-2 * 20 / 180), rel=1e-4)
    assert erlang_c(5, 5) == 1.0


def test_matches_erlang_c_within_sampling_error() -> None:
    """M/M/10 at 7 erlangs, 30,000 calls, seed 1 (no abandonment, FIFO, one skill).

    Waits of successive calls are strongly correlated, so the error is estimated by batch
    means (20 batches in arrival order) rather than by a binomial formula; the simulation
    must sit within 4 standard errors of Erlang C on every KPI (over 12 seeds the z-scores
    of this set-up had sd 1.1-1.2, so 4 SE is a ~0.1% false-alarm rate), and the standard
    errors must be small enough for the comparison to mean something.
    """
    report = run_simulation(erlang_scenario(agents=10, erlangs=7, aht=180, calls=30_000, seed=1))
    theory = report.erlang_c
    assert theory is not None
    summary = report.summary()
    for key, max_se in (("p_wait", 0.02), ("service_level", 0.02), ("asa", 2.5)):
        se = report.half_widths[key] / 2.093
        assert se < max_se, f"{key}: standard error {se} too large to test anything"
        assert summary[key] == pytest.approx(getattr(theory, key), abs=4 * se), key
    assert summary["occupancy"] == pytest.approx(0.7, abs=0.02)
    assert summary["abandon_rate"] == 0
    assert report.kpis.calls.answered == 30_000


def test_impatient_callers_abandon_and_more_patience_means_fewer_abandons() -> None:
    def abandon_rate(patience: float) -> float:
        scenario = erlang_scenario(
            agents=5, erlangs=5, aht=60, calls=4000, seed=3, patience_s=patience
        )
        report = run_simulation(scenario)
        assert report.erlang_c is None  # Erlang C does not model abandonment
        rate = report.kpis.calls.abandon_rate
        assert rate is not None
        return rate

    short, long = abandon_rate(20), abandon_rate(200)
    assert 0 < long < short < 1


def test_scenario_file_loads_and_runs_every_policy_on_identical_traffic() -> None:
    scenario = load_scenario(SCENARIO)
    for policy in ("hotline", "app_queue_linear", "app_queue_ringall"):
        report = run_simulation(scenario, calls=1500, policy=policy)
        assert report.kpis.calls.offered == 1500
        assert set(report.kpis.by_queue) == {"support", "billing"}
    first = list(generate_traffic(scenario, 200, seed=1))
    again = list(generate_traffic(apply_policy(scenario, "app_queue_linear"), 200, seed=1))
    assert first == again


def test_app_queue_policy_drops_levels_rules_relaxation_and_aging() -> None:
    routed = apply_policy(load_scenario(SCENARIO), "app_queue_linear")
    support = routed.queues.queues["support"]
    assert support.required == {"internet": 1}
    assert support.rules == []
    assert support.relax == []
    assert support.preferred == {}
    assert support.aging.points_per_minute == 0
    assert support.sl_risk.points == 0
    assert support.strategy == "linear"


def test_simulation_runs_the_real_acd_and_logs_every_call() -> None:
    report = run_simulation(load_scenario(SCENARIO), calls=800, keep_log=True)
    assert report.events > 800 * 6
    agents = report.kpis.agents
    assert sum(a.calls for a in agents) == report.kpis.calls.answered
    assert any(a.rona for a in agents)  # the scenario's agents sometimes miss a call


def test_same_seed_same_result() -> None:
    scenario = erlang_scenario(agents=3, erlangs=2, aht=60, calls=500, seed=9)
    assert run_simulation(scenario).summary() == run_simulation(scenario).summary()


def test_queued_records_carry_the_call_type_for_per_type_reports() -> None:
    report = run_simulation(load_scenario(SCENARIO), calls=300)
    assert set(report.longest_wait_by_type) == {"technical_fault", "billing", "cancellation"}
