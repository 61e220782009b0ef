"""Routing decision latency: the indexed ``acd.router.Router`` against the full-scan
``acd.naive_router.NaiveRouter``, on identical centres and identical operations.

A centre has 8 product queues (longest idle, least calls, round robin, weighted), callers in
4 languages, rules (repeat callers need seniors, complex calls need experts), relaxation
steps at 10 s and 30 s, aging and a service-level-risk lift. All agents start busy with N
calls waiting. Each step the clock moves 0.2 s and one
busy agent becomes available (an *agent decision*); if that produces an offer, the call is
answered and a new caller arrives (a *call decision*), so the waiting count stays at N.
Latency is the wall time of ``set_available`` + ``dispatch`` (agent) or ``enqueue`` +
``dispatch`` (call). The naive router replays the same first steps under a time budget;
both routers' offers are compared, decision by decision. The first ``--warmup`` steps are
not measured.

The N waiting calls entered, by default, at the rate the bench answers them (one a step:
over the last N × 0.2 s), as a steady backlog does: each call crosses its urgency and
relaxation marks (10, 12, 20, 30 and 450 s of wait here) once, so marks crossed per decision
do not depend on N. ``--entered-over 600`` is a surge instead (N calls in 10 minutes, N/600
a second, answered at 5 a second): marks are then crossed N/600 × 0.2 times per step,
growing with N, which is the arrival rate's cost, not the backlog's.

Before the calls arrive, the indexed router's routing classes are created by
enqueuing and withdrawing 3,000 sample callers per channel (a one-off cost per distinct requirement,
shown in the last column; in service it is paid once per requirement after start-up).

With ``--mix voice=0.6,chat=0.3,email=0.1`` the waiting tasks are of several channels, and
an agent made available is open to what their capacity would leave them (every channel; only
digital ones, their phone busy; only the phone, their chats full), as the distributor does.

    .venv/bin/python bench/router_bench.py [--agents 50,1000,5000] [--calls 100,10000,50000]
        [--mix voice=0.6,chat=0.3,email=0.1] [--entered-over S] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass

from acd.calls import CallFacts
from acd.clock import ManualClock
from acd.contacts import VOICE, VOICE_SEAT
from acd.naive_router import NaiveRouter
from acd.priority import Aging, PriorityWeights, SlRisk, Urgency
from acd.queue import QueuePolicy, WaitingCall
from acd.router import Router
from acd.skills import Condition, QueueSkills, RelaxStep, SkillRule
from acd.strategy import Strategy

PRODUCTS = [f"product{i}" for i in range(8)]
STEP_S = 0.2  # the clock's move per step: one agent made available
LANGUAGES = ["en", "fr", "de", "es"]
STRATEGIES = [Strategy.LONGEST_IDLE, Strategy.LEAST_CALLS, Strategy.ROUND_ROBIN, Strategy.WEIGHTED]
PRIORITY = PriorityWeights(
    tier_points={"gold": 30, "silver": 15, "regular": 0}, complexity_points=4, repeat_points=20
)


def queues() -> tuple[list[QueuePolicy], dict[str, QueueSkills]]:
    urgency = Urgency(Aging(20 / 60, 150), SlRisk(20, 8, 40))
    policies = [QueuePolicy(p, STRATEGIES[i % 4], urgency) for i, p in enumerate(PRODUCTS)]
    skills = {
        p: QueueSkills(
            name=p,
            required=((p, 2),),
            preferred=(("experience", 0.5),),
            language_prefix="lang.",
            rules=(
                SkillRule("repeat to senior", Condition(repeat=True), (("experience", 3),)),
                SkillRule("complex to expert", Condition(min_complexity=3), ((p, 4),)),
            ),
            steps=(
                RelaxStep(10, ((p, 1), ("experience", 2))),
                RelaxStep(30, keep_only=("lang.*",)),
            ),
        )
        for p in PRODUCTS
    }
    return policies, skills


def agent_skills(rng: random.Random) -> dict[str, int]:
    skills = {"lang.en": 3, "experience": rng.randint(1, 5)}
    for lang in rng.sample(LANGUAGES[1:], rng.choice([0, 0, 1, 2])):
        skills[f"lang.{lang}"] = rng.randint(1, 3)
    for product in rng.sample(PRODUCTS, rng.randint(1, 4)):
        skills[product] = rng.randint(1, 5)
    return skills


DIGITAL = frozenset({"chat", "email"})
#: what an agent made available is open to, drawn per step in a mixed centre
OPENINGS = (VOICE_SEAT | DIGITAL, VOICE_SEAT | DIGITAL, DIGITAL, VOICE_SEAT)


class CallMaker:
    def __init__(
        self, rng: random.Random, skills: dict[str, QueueSkills], mix: dict[str, float]
    ) -> None:
        self.rng, self.skills, self.n = rng, skills, 0
        self.channels, self.weights = list(mix) or [VOICE], list(mix.values()) or [1.0]

    def make(self, now: float, max_age: float) -> WaitingCall:
        rng = self.rng
        facts = CallFacts(
            tier=rng.choice(["gold", "silver", "regular", "regular"]),
            complexity=rng.choice([0, 0, 1, 2, 4]),
            days_since_last_contact=rng.choice([None, None, None, 2.0]),
            language=rng.choice(["en"] * 7 + LANGUAGES[1:]),
        )
        queue = rng.choice(PRODUCTS)
        self.n += 1
        profile = self.skills[queue].profile(facts, PRIORITY.is_repeat(facts))
        entry = now - rng.uniform(0, max_age)
        channel = rng.choices(self.channels, self.weights)[0] if len(self.channels) > 1 else VOICE
        return WaitingCall(
            f"c{self.n}", queue, entry, PRIORITY.score(facts), profile, None, channel
        )


@dataclass
class Result:
    agent_us: list[float]
    call_us: list[float]
    #: the same decisions' thread CPU time (what the machine's noise does not inflate)
    cpu_us: list[float]
    #: every offer, warm-up included, to compare the two routers decision by decision
    offers: list[tuple[str, str]]
    seconds: float
    primed_s: float = 0.0


def drive(
    router: Router | NaiveRouter, agents: int, calls: int, args: argparse.Namespace, budget_s: float
) -> Result:
    """Set the centre up, run ``args.warmup`` unmeasured steps, then measure ``args.steps``."""
    seed, steps, warmup = args.seed, args.steps, args.warmup
    rng = random.Random(seed)
    clock: ManualClock = router._clock  # type: ignore[assignment]
    _, skills = queues()
    mix = args.mix_weights
    maker = CallMaker(rng, skills, mix)
    for i in range(agents):
        router.add_agent(f"a{i}", agent_skills(rng), order=i)
    primed = 0.0
    if isinstance(router, Router):  # create the routing classes up front (one-off cost)
        t0 = time.perf_counter()
        sampler = CallMaker(random.Random(seed + 1), skills, mix)
        for _ in range(3000 * max(1, len(mix))):  # every channel's classes too
            router.enqueue(sampler.make(clock(), 60.0))
            router.withdraw(f"c{sampler.n}")
        primed = time.perf_counter() - t0
    entered_over = args.entered_over or calls * STEP_S  # steady: one arrival a step
    for _ in range(calls):
        router.enqueue(maker.make(clock(), entered_over))
    busy = [f"a{i}" for i in range(agents)]
    handled = dict.fromkeys(busy, 0)
    agent_us: list[float] = []
    call_us: list[float] = []
    cpu_us: list[float] = []
    offers: list[tuple[str, str]] = []
    started = time.perf_counter()
    for step in range(warmup + steps):
        if step == warmup:
            agent_us.clear()
            call_us.clear()
            cpu_us.clear()
            started = time.perf_counter()
        if step >= warmup and time.perf_counter() - started > budget_s:
            break
        clock.advance(STEP_S)
        agent = busy[rng.randrange(len(busy))]
        channels = rng.choice(OPENINGS) if mix else VOICE_SEAT
        t0, c0 = time.perf_counter(), time.thread_time()
        router.set_available(
            agent,
            idle_since=clock() - rng.uniform(0, 60),
            calls_handled=handled[agent],
            channels=channels,
        )
        made = router.dispatch()
        agent_us.append((time.perf_counter() - t0) * 1e6)
        cpu_us.append((time.thread_time() - c0) * 1e6)
        if not made:
            router.set_unavailable(agent)
        while made:
            offer = made.pop()
            offers.append((offer.call_id, offer.agent_id))
            router.settle(offer.call_id)
            handled[offer.agent_id] += 1
            call = maker.make(clock(), 0.0)
            t0, c0 = time.perf_counter(), time.thread_time()
            router.enqueue(call)
            made += router.dispatch()
            call_us.append((time.perf_counter() - t0) * 1e6)
            cpu_us.append((time.thread_time() - c0) * 1e6)
    return Result(agent_us, call_us, cpu_us, offers, time.perf_counter() - started, primed)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rate(latencies_us: list[float]) -> float:
    return len(latencies_us) / (sum(latencies_us) / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", default="50,1000,5000")
    parser.add_argument("--calls", default="100,10000,50000")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=0, help="unmeasured steps first")
    parser.add_argument(
        "--naive-budget", type=float, default=5.0, help="seconds per naive run (0: not run)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--entered-over",
        type=float,
        default=0.0,
        help="seconds over which the waiting calls entered (default: N x 0.2 s, steady)",
    )
    parser.add_argument("--mix", default="", help="task channels and shares: voice=0.6,chat=0.4")
    parser.add_argument("--quick", action="store_true", help="1,000 agents x 10,000 calls, short")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.calls, args.steps, args.warmup = "1000", "10000", 500, 500
        args.naive_budget = 2.0
    args.mix_weights = {
        name: float(share)
        for name, _, share in (part.partition("=") for part in args.mix.split(",") if part)
    }
    print(
        f"{'agents':>6} {'calls':>6} | {'indexed p50':>11} {'p99':>8} {'cpu p50':>8} {'p99':>7}"
        f" {'dec/s':>7} | {'naive p50':>10} {'p99':>9} {'cpu p50':>9} {'n':>5} |"
        f" {'cpu speed-up':>12} same {'classes':>14}"
    )
    for m in (int(x) for x in args.agents.split(",")):
        for n in (int(x) for x in args.calls.split(",")):
            policies, _ = queues()
            indexed_router = Router(policies, clock=ManualClock(1e6), seed=1)
            fast = drive(indexed_router, m, n, args, 1e9)
            classes = indexed_router._table.class_count
            both = fast.agent_us + fast.call_us
            cpu = fast.cpu_us
            indexed = (
                f"{pct(both, 0.5):>9.1f}us {pct(both, 0.99):>6.0f}us"
                f" {pct(cpu, 0.5):>6.1f}us {pct(cpu, 0.99):>5.0f}us {rate(both):>7.0f}"
            )
            if args.naive_budget <= 0:  # its warm-up alone is minutes at these sizes
                print(f"{m:>6} {n:>6} | {indexed} | (full scan not run)", flush=True)
                continue
            naive_router = NaiveRouter(policies, clock=ManualClock(1e6), seed=1)
            slow = drive(naive_router, m, n, args, args.naive_budget)
            naive = slow.agent_us + slow.call_us
            k = len(slow.offers)
            same = "yes" if fast.offers[:k] == slow.offers else "NO"
            naive_cpu = slow.cpu_us
            speedup = statistics.mean(naive_cpu) / statistics.mean(cpu[: len(naive_cpu)])
            p50, p99 = pct(naive, 0.5) / 1e3, pct(naive, 0.99) / 1e3
            scan = f"{p50:>8.2f}ms {p99:>7.1f}ms {pct(naive_cpu, 0.5) / 1e3:>7.2f}ms"
            tail = f"{speedup:>11.1f}x {same:>4} {classes:>4} in {1e3 * fast.primed_s:>4.0f} ms"
            print(f"{m:>6} {n:>6} | {indexed} | {scan} {len(naive):>5} | {tail}", flush=True)


if __name__ == "__main__":
    main()
