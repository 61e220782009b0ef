"""Discrete-event simulation of a contact centre on the real ACD.

The simulator drives the same ``CallDistributor`` (router, agent state machine, event log)
as production, with a virtual clock: callers arrive (Poisson), wait, maybe give up
(exponential patience), get offered, ring, are answered (or ring-no-answer), talk (handle
time scaled by the agent's level on the call's skill) and the agent wraps up. KPIs come from
the event log through ``acd.kpi``, with 95% confidence half-widths from batch means.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

from acd.agent_events import (
    AgentState,
    Answered,
    HungUp,
    Login,
    Ready,
    RingNoAnswer,
    WrapUpDone,
)
from acd.build import build_acd
from acd.calls import IncomingCall
from acd.clock import ManualClock
from acd.erlang_c import ErlangC, erlang_c_kpis
from acd.events import EventRecord, InMemoryEventSink
from acd.kpi import CallKpis, CallOutcome, KpiReport, call_kpis
from acd.kpi_recount import KpiAccumulator
from acd.offer import Offer
from acd.policy import AgentConfig, AgentsConfig
from acd.scenario import ScenarioConfig, SimCall, apply_policy, generate_traffic

__all__ = ["SimulationReport", "erlang_c_for", "run_simulation"]

ARRIVAL, ANSWER, RONA, HANGUP, ABANDON, READY, WRAP_DONE, TICK = range(8)
BATCHES = 20
#: Student t, 97.5% quantile, 19 degrees of freedom (20 batches).
T_19 = 2.093
METRICS = ("service_level", "asa", "p_wait", "abandon_rate")


@dataclass(frozen=True, slots=True)
class SimulationReport:
    scenario: str
    policy: str
    seed: int
    calls: int
    kpis: KpiReport
    #: 95% confidence half-widths of the call KPIs, from batch means in arrival order
    half_widths: Mapping[str, float]
    erlang_c: ErlangC | None
    simulated_s: float
    wall_s: float
    events: int
    longest_wait_by_type: Mapping[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, float | None]:
        k = self.kpis.calls
        return {
            "service_level": k.service_level,
            "asa": k.asa,
            "p_wait": k.p_wait,
            "abandon_rate": k.abandon_rate,
            "occupancy": self.kpis.occupancy,
            "aht": k.aht,
            "longest_wait": k.longest_wait,
        }


def erlang_c_for(scenario: ScenarioConfig) -> ErlangC | None:
    """Erlang C's prediction when the scenario is an M/M/N queue (one queue, one call type,
    exponential handling independent of the agent, no abandonment, no ringing, no wrap-up)."""
    if len(scenario.call_types) != 1 or len(scenario.queues.queues) != 1:
        return None
    ct = scenario.call_types[0]
    plain = (
        ct.handle.distribution == "exponential"
        and ct.patience_s is None
        and all(f == 1.0 for f in ct.level_factors.values())
        and scenario.ring_s == 0
        and scenario.agent_policy.wrap_up_s == 0
        and all(g.rona_probability == 0 for g in scenario.agents)
    )
    if not plain:
        return None
    agents = sum(g.count for g in scenario.agents)
    erlangs = scenario.arrivals_per_hour / 3600.0 * ct.handle.mean_s
    target = next(iter(scenario.queues.queues.values())).sl_target_s
    return erlang_c_kpis(agents, erlangs, ct.handle.mean_s, target)


def run_simulation(
    scenario: ScenarioConfig,
    *,
    calls: int | None = None,
    seed: int | None = None,
    policy: str = "hotline",
    keep_log: bool = False,
    on_event: Callable[[EventRecord], None] | None = None,
) -> SimulationReport:
    """``on_event``: shown each record of the run's event log as it is appended."""
    started = time.perf_counter()
    seed = scenario.seed if seed is None else seed
    calls = scenario.calls if calls is None else calls
    routed = apply_policy(scenario, policy)
    run = _Run(routed, calls, seed, keep_log, on_event)
    run.loop()
    report = run.accumulator.report()
    outcomes = list(run.accumulator.calls.values())
    longest: dict[str, float] = {}
    for c in outcomes:
        end = c.answered_at if c.answered_at is not None else c.abandoned_at
        if end is not None and c.call_type is not None:
            longest[c.call_type] = max(longest.get(c.call_type, 0.0), end - c.entry)
    return SimulationReport(
        scenario=scenario.name,
        policy=policy,
        seed=seed,
        calls=calls,
        kpis=report,
        half_widths=_half_widths(outcomes, run.accumulator),
        erlang_c=erlang_c_for(routed),
        simulated_s=run.clock.now,
        wall_s=time.perf_counter() - started,
        events=run.sink.last_seq,
        longest_wait_by_type=longest,
    )


def _half_widths(outcomes: list[CallOutcome], accumulator: KpiAccumulator) -> dict[str, float]:
    size = len(outcomes) // BATCHES
    if size < 2:
        return {}
    batches: list[CallKpis] = [
        call_kpis(outcomes[i * size : (i + 1) * size], accumulator.policy) for i in range(BATCHES)
    ]
    widths: dict[str, float] = {}
    for metric in METRICS:
        values = [getattr(b, metric) for b in batches]
        if any(v is None for v in values):
            continue
        mean = sum(values) / BATCHES
        var = sum((v - mean) ** 2 for v in values) / (BATCHES - 1)
        widths[metric] = T_19 * math.sqrt(var / BATCHES)
    return widths


class _Run:
    """One simulation run: the event heap and the handlers of each kind of event."""

    def __init__(
        self,
        scenario: ScenarioConfig,
        calls: int,
        seed: int,
        keep_log: bool,
        on_event: Callable[[EventRecord], None] | None = None,
    ) -> None:
        self.scenario = scenario
        agents: list[AgentConfig] = []
        self.rona_p: dict[str, float] = {}
        for group in scenario.agents:
            for i in range(group.count):
                agent_id = f"{group.group}-{i + 1:03d}"
                agents.append(AgentConfig(id=agent_id, skills=group.skills))
                self.rona_p[agent_id] = group.rona_probability
        setup = build_acd(
            scenario.priority,
            scenario.queues,
            AgentsConfig(policy=scenario.agent_policy, agents=agents),
        )
        self.clock = ManualClock(0.0)
        self.sink = InMemoryEventSink(keep=keep_log)
        self.accumulator = KpiAccumulator(setup.sl_policy)
        self.sink.subscribe(self.accumulator.add)
        if on_event is not None:
            self.sink.subscribe(on_event)
        self.acd = setup.distributor(clock=self.clock, sink=self.sink, seed=seed)
        self.skills = {a.agent_id: a.skills for a in setup.agents}
        self.rng = random.Random(f"agents/{seed}")
        self.traffic = generate_traffic(scenario, calls, seed)
        self.calls: dict[str, SimCall] = {}
        #: (when, order, kind, subject, other): a call or a call id, an agent id
        self.heap: list[tuple[float, int, int, Any, Any]] = []
        self.seq = 0
        self.tick_at = math.inf
        self.manual_wrap = scenario.agent_policy.wrap_up_s is None
        #: (call type, agent) -> handle time factor of the agent's level
        self.factors: dict[tuple[int, str], float] = {}
        for agent_id in self.skills:
            self.acd.agent_event(Login(agent_id))
        self._next_arrival()

    def push(self, at: float, kind: int, a: Any = None, b: Any = None) -> None:
        self.seq += 1
        heappush(self.heap, (at, self.seq, kind, a, b))

    def _next_arrival(self) -> None:
        call = next(self.traffic, None)
        if call is not None:
            self.push(call.arrival, ARRIVAL, call)

    def loop(self) -> None:
        heap, clock, acd, book = self.heap, self.clock, self.acd, self.acd.book
        ring, next_wakeup = self._ring, acd.next_wakeup
        wrapping, offered = AgentState.WRAP_UP, ("waiting", "offered")
        while heap:
            at, _, kind, a, b = heappop(heap)
            clock.now = at
            if kind == ARRIVAL:
                offers = self._arrive(a)
            elif kind in (ANSWER, RONA):
                offers = self._ring_end(a, b, kind == RONA)
            elif kind == HANGUP:
                offers = acd.agent_event(HungUp(a, b))
                self.calls.pop(b, None)
                if self.manual_wrap:
                    self.push(at + self.scenario.manual_wrap_s, WRAP_DONE, a)
            elif kind == ABANDON:
                offers = []
                if acd.call_state(a) in offered:
                    offers = acd.caller_hung_up(a)
                    self.calls.pop(a, None)
            elif kind == READY:
                offers = []
                if book.state(a) is AgentState.PAUSED:
                    offers = acd.agent_event(Ready(a))
            elif kind == WRAP_DONE:
                offers = []
                if book.state(a) is wrapping:
                    offers = acd.agent_event(WrapUpDone(a))
            else:
                if at >= self.tick_at:
                    self.tick_at = math.inf
                offers = acd.tick()
            for offer in offers:
                ring(offer, at)
            wake = next_wakeup()
            if wake is not None and wake < self.tick_at:
                self.tick_at = wake
                self.push(wake, TICK)

    def _arrive(self, call: SimCall) -> list[Offer]:
        call_id = f"c{call.index}"
        self.calls[call_id] = call
        self._next_arrival()
        if call.patience is not None:
            self.push(call.arrival + call.patience, ABANDON, call_id)
        return self.acd.call_arrived(IncomingCall(call_id, call.queue, call.facts))

    def _ring(self, offer: Offer, now: float) -> None:
        p = self.rona_p[offer.agent_id]
        if p and self.rng.random() < p:
            self.push(now + self.scenario.ring_timeout_s, RONA, offer.call_id, offer.agent_id)
        else:
            self.push(now + self.scenario.ring_s, ANSWER, offer.call_id, offer.agent_id)

    def _ring_end(self, call_id: str, agent_id: str, rona: bool) -> list[Offer]:
        state, on, _ = self.acd.book.seat(agent_id)
        if state is not AgentState.OFFERED or on != call_id:
            return []  # the caller hung up while it rang
        if rona:
            offers = self.acd.agent_event(RingNoAnswer(agent_id, call_id))
            self.push(self.clock.now + self.scenario.pause_after_rona_s, READY, agent_id)
            return offers
        call = self.calls[call_id]
        self.push(
            self.clock.now + call.base_handle * self._factor(call, agent_id),
            HANGUP,
            agent_id,
            call_id,
        )
        return self.acd.agent_event(Answered(agent_id, call_id))

    def _factor(self, call: SimCall, agent_id: str) -> float:
        """The handle time's factor for the agent's level on the call type's skill."""
        key = (call.call_type, agent_id)
        factor = self.factors.get(key)
        if factor is None:
            ct = self.scenario.call_types[call.call_type]
            level = self.skills[agent_id].get(ct.handle_skill, 0) if ct.handle_skill else 0
            factor = self.factors[key] = ct.factor(level)
        return factor
