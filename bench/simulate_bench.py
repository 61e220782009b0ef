"""The simulator's speed: ``hotline simulate`` (the real distributor, router, agent state
machine, event log and KPI fold) against a minimal heapq M/M/c on the same load in the same
run.

The baseline draws the same kind of traffic (Poisson arrivals, exponential handle times, c
servers, FIFO) with one heap of departure times and nothing else: it is the floor a Python
discrete-event simulation of this queue can reach, not an equal (no routing, no events, no
KPIs beyond the mean wait). Both print calls per CPU-second (process time) beside wall time;
the machine may be shared, so the ratio in one run is the figure to read.

    .venv/bin/python bench/simulate_bench.py [--calls 100000] [--agents 10] [--erlangs 8]
        [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import deque
from heapq import heappop, heappush

from acd.scenario import erlang_scenario
from acd.simulation import run_simulation


def mmc(calls: int, agents: int, erlangs: float, aht: float, seed: int) -> float:
    """Mean wait of a FIFO M/M/c queue: the baseline."""
    rng = random.Random(seed)
    rate = erlangs / aht
    busy: list[float] = []  # departure times of the agents on a call
    line: deque[float] = deque()  # arrival times of the waiting callers
    now = waited = 0.0
    arrival = rng.expovariate(rate)
    served = 0
    while served < calls:
        if busy and busy[0] <= arrival:
            now = heappop(busy)
            if line:
                entry = line.popleft()
                waited += now - entry
                heappush(busy, now + rng.expovariate(1 / aht))
                served += 1
            continue
        now = arrival
        arrival = now + rng.expovariate(rate)
        if len(busy) < agents:
            heappush(busy, now + rng.expovariate(1 / aht))
            served += 1
        else:
            line.append(now)
    return waited / calls


def timed(run: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--erlangs", type=float, default=8.0)
    parser.add_argument("--aht", type=float, default=180.0)
    parser.add_argument("--rounds", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--quick", action="store_true", help="20,000 calls, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 20_000, 1
    scenario = erlang_scenario(
        agents=args.agents,
        erlangs=args.erlangs,
        aht=args.aht,
        calls=args.calls,
        seed=1,
        target_s=20.0,
        patience_s=None,
    )
    load = f"{args.agents} agents, {args.erlangs:g} erlangs"
    print(f"{args.calls:,} calls, {load}; best of {args.rounds}")
    print(f"{'':34}{'wall s':>9}{'CPU s':>9}{'calls/CPU-s':>14}")
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, run in (
            ("hotline simulate", lambda: run_simulation(scenario)),
            (
                "baseline: minimal heapq M/M/c",
                lambda: mmc(args.calls, args.agents, args.erlangs, args.aht, 1),
            ),
        ):
            wall, cpu = timed(run)
            if name not in best or cpu < best[name][1]:
                best[name] = (wall, cpu)
    for name, (wall, cpu) in best.items():
        print(f"{name:34}{wall:9.2f}{cpu:9.2f}{args.calls / cpu:14,.0f}")
    ratio = best["hotline simulate"][1] / best["baseline: minimal heapq M/M/c"][1]
    print(f"hotline costs {ratio:.0f}× the baseline per call (CPU)")


if __name__ == "__main__":
    main()
