"""Routing policies compared on identical traffic: hotline's ACD against app_queue-like
routing, with the same simulator, scenario, agents and seeds.

* ``hotline``: the scenario's queues as written (skill levels, rules, relaxation steps,
  preferred skills, aging, service-level-risk lift, longest idle).
* ``app_queue_linear`` / ``app_queue_ringall``: what Asterisk's app_queue can express:
  static priority (the same base priority, never aging), FIFO within a priority, queue
  membership instead of skills (an agent is a member if they have every required skill at
  any level, the caller's language included), no rules, no relaxation; members tried in
  roster order (linear) or all at once, first to answer (ringall: with equal ring times,
  a uniformly random free member).

Traffic (arrivals, call types, callers, patience, base handle times) comes from its own
seeded stream, so every policy meets the same callers; handle time depends on the agent's
level on the call's skill, as the scenario says.

    .venv/bin/python bench/policy_compare.py [--scenario acd/scenarios/heterogeneous.yaml]
        [--calls 20000] [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from acd.scenario import POLICIES, load_scenario
from acd.simulation import SimulationReport, run_simulation

DEFAULT = Path(__file__).resolve().parents[1] / "acd" / "scenarios" / "heterogeneous.yaml"
COLUMNS = ("service_level", "asa", "abandon_rate", "aht", "occupancy", "longest_wait")


def cell(key: str, value: float) -> str:
    if key in ("asa", "aht", "longest_wait"):
        return f"{value:.1f} s"
    return f"{100 * value:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default=str(DEFAULT))
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{scenario.name}: {args.calls} calls x seeds {seeds}, means over seeds")
    print(f"{'policy':18}" + "".join(f"{c:>15}" for c in COLUMNS) + f"{'wall':>8}")
    per_queue: dict[str, list[SimulationReport]] = {}
    for policy in POLICIES:
        reports = [run_simulation(scenario, calls=args.calls, seed=s, policy=policy) for s in seeds]
        per_queue[policy] = reports
        means = {
            key: statistics.mean(v for r in reports if (v := r.summary()[key]) is not None)
            for key in COLUMNS
        }
        wall = sum(r.wall_s for r in reports)
        print(
            f"{policy:18}"
            + "".join(f"{cell(k, means[k]):>15}" for k in COLUMNS)
            + f"{wall:>7.0f}s",
            flush=True,
        )
    print("\nper queue (service level / ASA / abandonment), and longest wait per call type:")
    for policy, reports in per_queue.items():
        queues = sorted(reports[0].kpis.by_queue)
        parts = []
        for q in queues:
            sl = statistics.mean(r.kpis.by_queue[q].service_level or 0.0 for r in reports)
            asa = statistics.mean(r.kpis.by_queue[q].asa or 0.0 for r in reports)
            ab = statistics.mean(r.kpis.by_queue[q].abandon_rate or 0.0 for r in reports)
            parts.append(f"{q} {100 * sl:.1f}% / {asa:.1f} s / {100 * ab:.1f}%")
        types = sorted(reports[0].longest_wait_by_type)
        worst = ", ".join(
            f"{t} {max(r.longest_wait_by_type.get(t, 0.0) for r in reports):.0f} s" for t in types
        )
        print(f"  {policy:18} {'; '.join(parts)}; longest: {worst}")


if __name__ == "__main__":
    main()
