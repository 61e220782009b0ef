"""``hotline simulate``: the simulator from the command line.

Listed in ``hotline.cli.COMMAND_MODULES``: ``register`` adds the sub-command and sets
``run`` as its handler.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from acd.scenario import POLICIES, erlang_scenario, load_scenario
from acd.simulation import SimulationReport, run_simulation

__all__ = ["register", "report_dict", "run"]

KEYS = ("service_level", "asa", "p_wait", "abandon_rate", "occupancy")


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate the ACD (and compare with Erlang C)",
        description="Run the real router and agent state machine on simulated traffic. Without "
        "--scenario: one queue, one skill, Poisson arrivals, exponential handle times (Erlang C's "
        "model unless --patience is given).",
    )
    parser.add_argument("--agents", type=int, default=10, help="agents logged in (default 10)")
    parser.add_argument("--erlangs", type=float, default=8.0, help="offered load (default 8)")
    parser.add_argument(
        "--aht", type=float, default=180.0, help="mean handle time, s (default 180)"
    )
    parser.add_argument(
        "--calls", type=int, default=None, help="calls to simulate (default 100000)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 1)")
    parser.add_argument(
        "--target", type=float, default=20.0, help="service-level target, s (default 20)"
    )
    parser.add_argument(
        "--patience", type=float, default=None, help="mean patience, s (default: nobody abandons)"
    )
    parser.add_argument(
        "--scenario", default=None, help="a scenario YAML file instead of the simple centre"
    )
    parser.add_argument(
        "--policy", choices=POLICIES, default="hotline", help="routing policy (default hotline)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    if (
        args.agents < 1
        or args.erlangs <= 0
        or args.aht <= 0
        or (args.calls is not None and args.calls < 1)
    ):
        print("simulate: --agents, --erlangs, --aht and --calls must be positive", file=sys.stderr)
        return 2
    if args.scenario is not None:
        try:
            scenario = load_scenario(args.scenario)
        except (OSError, yaml.YAMLError, ValidationError) as error:
            print(f"simulate: cannot use scenario {args.scenario}: {error}", file=sys.stderr)
            return 2
    else:
        scenario = erlang_scenario(
            agents=args.agents,
            erlangs=args.erlangs,
            aht=args.aht,
            calls=args.calls or 100_000,
            seed=1 if args.seed is None else args.seed,
            target_s=args.target,
            patience_s=args.patience,
        )
    report = run_simulation(scenario, calls=args.calls, seed=args.seed, policy=args.policy)
    if args.json:
        json.dump(report_dict(report), out, indent=None, sort_keys=False)
        out.write("\n")
    else:
        out.write(_table(report))
    return 0


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_dict(report: SimulationReport) -> dict[str, Any]:
    summary = report.summary()
    data: dict[str, Any] = {key: _clean(summary[key]) for key in KEYS}
    data.update(
        aht=summary["aht"],
        longest_wait=summary["longest_wait"],
        calls=report.calls,
        answered=report.kpis.calls.answered,
        abandoned=report.kpis.calls.abandoned,
        seed=report.seed,
        policy=report.policy,
        scenario=report.scenario,
        half_widths_95=dict(report.half_widths),
        simulated_hours=report.simulated_s / 3600.0,
        wall_s=report.wall_s,
        by_queue={
            q: {"service_level": k.service_level, "asa": k.asa, "abandon_rate": k.abandon_rate}
            for q, k in report.kpis.by_queue.items()
        },
    )
    ec = report.erlang_c
    data["erlang_c"] = None if ec is None else {key: _clean(getattr(ec, key)) for key in KEYS}
    return data


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if key == "asa" else f"{100 * value:.1f}%"


def _table(report: SimulationReport) -> str:
    ec = report.erlang_c
    lines = [
        f"{report.scenario}: {report.calls} calls, policy {report.policy}, seed {report.seed} "
        f"({report.simulated_s / 3600:.1f} simulated hours in {report.wall_s:.1f} s)",
        f"{'':14}{'simulation':>22}{'erlang C' if ec else '':>12}",
    ]
    summary = report.summary()
    for key in KEYS:
        width = report.half_widths.get(key)
        sim = _fmt(key, summary[key]) + (f" ± {_fmt(key, width)}" if width is not None else "")
        theory = _fmt(key, getattr(ec, key)) if ec is not None else ""
        lines.append(f"{key:14}{sim:>22}{theory:>12}")
    return "\n".join(lines) + "\n"
