"""A day of every channel: calls, chats and e-mails through the real ``CallDistributor`` on a
manual clock, for the KPIs' tests and bench.

The discrete-event simulator (``acd.simulation``) drives voice calls only; this small driver
makes the event log of a mixed day: tasks arrive at random (``mix`` shares per
channel) in two queues; agents hold up to 3 chats and 2 e-mails (4 in all, calls only with
none open, as ``config/agents.yaml`` ships); a call rings 3 s and is answered, a chat or an
e-mail is accepted 2 s after its offer; handle times are exponential (calls 4 min, chats 8,
e-mails 6); a digital task has 20 s of wrap-up; callers give up after 2 min on average,
chat customers after 5, e-mail customers never. What the KPIs fold is the log it writes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from heapq import heappop, heappush

from acd.agent_events import Answered, HungUp, Login
from acd.build import build_acd
from acd.calls import IncomingCall
from acd.capacity import Capacity
from acd.clock import ManualClock
from acd.contacts import CUSTOMER_LEFT, VOICE, VOICE_SEAT
from acd.events import EventRecord, InMemoryEventSink
from acd.offer import Offer
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig

__all__ = ["CAPACITY", "DEFAULT_MIX", "mixed_day"]

DEFAULT_MIX: Mapping[str, float] = {"voice": 0.6, "chat": 0.3, "email": 0.1}
DAY_S = 86_000.0
HANDLE_S = {"voice": 240.0, "chat": 480.0, "email": 360.0}
PATIENCE_S = {"voice": 120.0, "chat": 300.0}
RING_S, ACCEPT_S = 3.0, 2.0
QUEUES = ("support", "billing")
#: Every agent's: 3 chats and 2 e-mails, 4 tasks in all.
CAPACITY = Capacity({"chat": 3, "email": 2}, 4)

ARRIVE, ANSWER, ACCEPT, END, GIVE_UP, TICK = range(6)


def mixed_day(
    tasks: int, agents: int, mix: Mapping[str, float] = DEFAULT_MIX, seed: int = 1
) -> list[EventRecord]:
    """The event log of ``tasks`` tasks of the channels of ``mix`` handled by ``agents``."""
    setup = build_acd(
        PriorityConfig(),
        QueuesConfig.model_validate(
            {"queues": {q: {"sl_target_s": 20, "required": {q: 1}} for q in QUEUES}}
        ),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 10, "task_wrap_up_s": 20, "reservation_timeout_s": 30},
                "capacity": {"digital": dict(CAPACITY.digital), "total": CAPACITY.total},
                "agents": [
                    {"id": f"a{i:04d}", "skills": {q: 1 for q in QUEUES}} for i in range(agents)
                ],
            }
        ),
    )
    clock = ManualClock(0.0)
    sink = InMemoryEventSink()
    acd = setup.distributor(clock=clock, sink=sink)
    rng = random.Random(seed)
    channels, weights = list(mix), list(mix.values())
    heap: list[tuple[float, int, int, str, str]] = []
    pushed = 0

    def push(at: float, kind: int, task: str = "", agent: str = "") -> None:
        nonlocal pushed
        pushed += 1
        heappush(heap, (at, pushed, kind, task, agent))

    channel_of: dict[str, str] = {}
    handled: set[str] = set()

    def offered(offers: list[Offer], now: float) -> None:
        for offer in offers:
            kind = ANSWER if offer.channel in VOICE_SEAT else ACCEPT
            push(
                now + (RING_S if kind == ANSWER else ACCEPT_S), kind, offer.call_id, offer.agent_id
            )

    for profile in setup.agents:
        acd.agent_event(Login(profile.agent_id))
    rate = tasks / DAY_S
    push(rng.expovariate(rate), ARRIVE)
    arrived = 0
    tick_at = float("inf")
    while heap:
        at, _, kind, task, agent = heappop(heap)
        clock.set(at)
        offers: list[Offer] = []
        if kind == ARRIVE:
            arrived += 1
            channel = rng.choices(channels, weights)[0]
            task = f"{channel}-{arrived}"
            channel_of[task] = channel
            queue = QUEUES[arrived % len(QUEUES)]
            offers = acd.call_arrived(IncomingCall(task, queue, channel=channel))
            if channel in PATIENCE_S:
                push(at + rng.expovariate(1 / PATIENCE_S[channel]), GIVE_UP, task)
            if arrived < tasks:
                push(at + rng.expovariate(rate), ARRIVE)
        elif kind == ANSWER:
            view = acd.book.view(agent)
            if view.call_id == task and acd.call_state(task) == "offered":
                offers = acd.agent_event(Answered(agent, task))
                handled.add(task)
                push(at + rng.expovariate(1 / HANDLE_S[VOICE]), END, task, agent)
        elif kind == ACCEPT:
            if acd.workload.holder(task) == agent and acd.call_state(task) == "offered":
                offers = acd.task_accepted(agent, task)
                handled.add(task)
                push(at + rng.expovariate(1 / HANDLE_S[channel_of[task]]), END, task, agent)
        elif kind == END:
            if channel_of[task] in VOICE_SEAT:
                offers = acd.agent_event(HungUp(agent, task))
            else:
                offers = acd.task_done(agent, task)
        elif kind == GIVE_UP:
            if task not in handled and acd.call_state(task) in ("waiting", "offered"):
                offers = (
                    acd.caller_hung_up(task)
                    if channel_of[task] in VOICE_SEAT
                    else acd.caller_left(task, CUSTOMER_LEFT)
                )
        else:
            if at >= tick_at:
                tick_at = float("inf")
            offers = acd.tick()
        offered(offers, at)
        wake = acd.next_wakeup()
        if wake is not None and wake < tick_at:
            tick_at = wake
            push(wake, TICK)
    return list(sink.records())
