"""The indexed router against the brute-force specification, on random small centres."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.clock import ManualClock
from acd.naive_router import NaiveRouter
from acd.offer import Offer
from acd.priority import Aging, PriorityScore, ScoreTerm, SlRisk, Urgency
from acd.queue import QueuePolicy, WaitingCall
from acd.router import Router
from acd.skills import ProfileStep, RelaxStep, Requirement, RoutingProfile
from acd.strategy import Strategy

SKILLS = ("a", "b", "c")
levels = st.sampled_from([0, 0, 1, 1, 2, 3])
agent_skills = st.fixed_dictionaries({s: st.sampled_from([0, 1, 2, 3, 3]) for s in SKILLS})
OPS = (
    ["login"] * 3
    + ["ready"] * 4
    + ["call"] * 4
    + ["tick"] * 2
    + ["logout", "unready", "abandon", "answer", "rona", "dispatch", "bump", "move"]
    + ["retune", "close", "revise"]
)
#: q2 is not there at first: a reload ("retune") may add it.
QUEUE_NAMES = ("q0", "q1", "q2")


@st.composite
def urgencies(draw: st.DrawFn) -> Urgency:
    aging = Aging(draw(st.sampled_from([0.0, 1.0, 2.0])), draw(st.sampled_from([None, 4.0, 10.0])))
    risk = SlRisk(
        target_s=draw(st.sampled_from([4.0, 8.0])),
        lead_s=draw(st.sampled_from([0.0, 2.0, 6.0])),
        points=draw(st.sampled_from([0.0, 5.0])),
        keep_after_target=draw(st.booleans()),
    )
    return Urgency(aging, risk)


@st.composite
def queue_policies(draw: st.DrawFn, name: str) -> QueuePolicy:
    urgency = draw(urgencies())
    # a chat's or an e-mail's own service-level target: its risk window moves with it
    targets = draw(
        st.dictionaries(st.sampled_from(["chat", "email"]), st.sampled_from([3.0, 12.0]))
    )
    return QueuePolicy(
        name,
        draw(st.sampled_from(list(Strategy))),
        urgency,
        draw(st.sampled_from([0.0, 3.0])),
        {
            channel: Urgency(urgency.aging, urgency.sl_risk.for_target(target))
            for channel, target in targets.items()
        },
    )


@st.composite
def profiles(draw: st.DrawFn) -> RoutingProfile:
    required = draw(st.fixed_dictionaries({s: levels for s in SKILLS}))
    preferred = draw(
        st.fixed_dictionaries({s: st.sampled_from([-1.0, 0.0, 1.0, 2.0]) for s in SKILLS})
    )
    steps = [ProfileStep(0.0, "initial", Requirement.of(required, preferred))]
    for after in sorted(draw(st.sets(st.sampled_from([2.0, 5.0]), max_size=2))):
        relax = RelaxStep(
            after, ((draw(st.sampled_from(["a", "b", "*"])), draw(st.integers(0, 2))),)
        )
        required = relax.apply(required)
        steps.append(ProfileStep(after, relax.describe(), Requirement.of(required, preferred)))
    return RoutingProfile(("test",), tuple(steps))


@dataclass
class World:
    clock: ManualClock
    fast: Router
    slow: NaiveRouter
    skills: list[dict[str, int]]
    logged_in: set[int] = field(default_factory=set)
    available: set[int] = field(default_factory=set)
    waiting: set[str] = field(default_factory=set)
    offered: dict[str, str] = field(default_factory=dict)  # call -> agent
    holding: set[str] = field(default_factory=set)  # agents with an offered/answered call
    queue_of: dict[str, str] = field(default_factory=dict)  # call -> queue it waits in
    open: set[str] = field(default_factory=lambda: {"q0", "q1"})  # queues taking calls
    calls: int = 0


def same(fast: list[Offer], slow: list[Offer]) -> list[tuple[object, ...]]:
    def view(o: Offer) -> tuple[object, ...]:
        return (
            o.call_id,
            o.agent_id,
            o.priority.total,
            o.match.step,
            o.choice.reason,
            o.choice.key,
            o.choice.eligible_available,
            o.channel,
        )

    assert [view(o) for o in fast] == [view(o) for o in slow]
    return [view(o) for o in fast]


#: task channels: an agent is available on some of them (their capacity), a call needs one
CHANNELS = ("voice", "chat", "email")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_router_decides_exactly_like_the_brute_force_reference(data: st.DataObject) -> None:
    queues = [data.draw(queue_policies(f"q{i}")) for i in range(2)]
    skills = data.draw(st.lists(agent_skills, min_size=1, max_size=6))
    profile_pool = data.draw(st.lists(profiles(), min_size=1, max_size=4))
    seed = data.draw(st.integers(0, 3))
    clock = ManualClock(10.0)
    world = World(
        clock,
        Router(queues, clock=clock, seed=seed),
        NaiveRouter(queues, clock=clock, seed=seed),
        skills,
    )
    for _ in range(data.draw(st.integers(5, 60))):
        op = data.draw(st.sampled_from(OPS))
        step(world, op, data, profile_pool)
        if op != "dispatch" and data.draw(st.booleans()):
            step(world, "dispatch", data, profile_pool)
    step(world, "dispatch", data, profile_pool)


def step(w: World, op: str, data: st.DataObject, pool: list[RoutingProfile]) -> None:
    agents = range(len(w.skills))
    if op == "login":
        out = [i for i in agents if i not in w.logged_in]
        if out:
            i = data.draw(st.sampled_from(out))
            for r in (w.fast, w.slow):
                r.add_agent(f"ag{i}", w.skills[i], order=i)
            w.logged_in.add(i)
    elif op == "logout":
        free = [i for i in w.logged_in if f"ag{i}" not in w.holding]
        if free:
            i = data.draw(st.sampled_from(sorted(free)))
            for r in (w.fast, w.slow):
                r.remove_agent(f"ag{i}")
            w.logged_in.discard(i)
            w.available.discard(i)
    elif op == "ready":
        idle = [i for i in w.logged_in if i not in w.available and f"ag{i}" not in w.holding]
        if idle:
            i = data.draw(st.sampled_from(sorted(idle)))
            since = w.clock.now - data.draw(st.integers(0, 5))
            handled = data.draw(st.integers(0, 3))
            channels = frozenset(data.draw(st.sets(st.sampled_from(CHANNELS), min_size=1)))
            for r in (w.fast, w.slow):
                r.set_available(
                    f"ag{i}", idle_since=since, calls_handled=handled, channels=channels
                )
            w.available.add(i)
    elif op == "unready":
        if w.available:
            i = data.draw(st.sampled_from(sorted(w.available)))
            for r in (w.fast, w.slow):
                r.set_unavailable(f"ag{i}")
            w.available.discard(i)
    elif op == "call":
        pref = data.draw(st.one_of(st.none(), st.integers(0, len(w.skills) - 1)))
        call = WaitingCall(
            f"c{w.calls}",
            data.draw(st.sampled_from(sorted(w.open))),
            w.clock.now - data.draw(st.integers(0, 6)),
            PriorityScore((ScoreTerm("base", float(data.draw(st.integers(0, 12)))),)),
            data.draw(st.sampled_from(pool)),
            None if pref is None else f"ag{pref}",
            data.draw(st.sampled_from(CHANNELS)),
        )
        w.calls += 1
        for r in (w.fast, w.slow):
            r.enqueue(call)
        w.queue_of[call.call_id] = call.queue
        w.waiting.add(call.call_id)
    elif op == "tick":
        w.clock.advance(data.draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])))
    elif op == "abandon":
        gone = sorted(w.waiting | set(w.offered))
        if gone:
            c = data.draw(st.sampled_from(gone))
            for r in (w.fast, w.slow):
                r.withdraw(c)
            w.waiting.discard(c)
            if c in w.offered:
                w.holding.discard(w.offered.pop(c))
    elif op == "bump":
        if w.waiting:
            c = data.draw(st.sampled_from(sorted(w.waiting)))
            by = float(data.draw(st.integers(1, 15)))
            bumped = [r.raise_priority(c, by, detail="supervisor") for r in (w.fast, w.slow)]
            assert bumped[0] == bumped[1]
    elif op == "move":
        if w.waiting:
            c = data.draw(st.sampled_from(sorted(w.waiting)))
            targets = sorted(w.open - {w.queue_of[c]})
            if targets:
                queue = data.draw(st.sampled_from(targets))
                profile = data.draw(st.sampled_from(pool))
                for r in (w.fast, w.slow):
                    r.move(c, queue, profile)
                w.queue_of[c] = queue
    elif op == "retune":  # a reload adds a queue or changes its policy
        policy = data.draw(queue_policies(data.draw(st.sampled_from(QUEUE_NAMES))))
        for r in (w.fast, w.slow):
            r.update_queue(policy)
        w.open.add(policy.name)
    elif op == "close":  # a reload removes a queue: its calls drain
        if len(w.open) > 1:
            queue = data.draw(st.sampled_from(sorted(w.open)))
            for r in (w.fast, w.slow):
                r.remove_queue(queue)
            w.open.discard(queue)
    elif op == "revise":  # a reload re-profiles (and re-scores) a call, waiting or offered
        held = {c.call_id: c for c in w.fast.calls()}
        if held:
            call = held[data.draw(st.sampled_from(sorted(held)))]
            base = ScoreTerm("base", float(data.draw(st.integers(0, 12))))
            revised = replace(
                call, priority=PriorityScore((base,)), profile=data.draw(st.sampled_from(pool))
            )
            for r in (w.fast, w.slow):
                r.revise(revised)
    elif op in ("answer", "rona"):
        if w.offered:
            c = data.draw(st.sampled_from(sorted(w.offered)))
            agent = w.offered.pop(c)
            w.holding.discard(agent)
            for r in (w.fast, w.slow):
                if op == "answer":
                    r.settle(c)
                else:
                    r.requeue(c)
            if op == "rona":
                w.waiting.add(c)
    else:
        offers = same(w.fast.dispatch(), w.slow.dispatch())
        for call_id, agent_id, *_ in offers:
            assert isinstance(call_id, str)
            assert isinstance(agent_id, str)
            w.waiting.discard(call_id)
            w.offered[call_id] = agent_id
            w.holding.add(agent_id)
            w.available.discard(int(agent_id[2:]))
        assert w.fast.waiting_count == len(w.waiting)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_router_never_offers_an_ineligible_or_busy_agent_and_leaves_no_match_unmade(
    data: st.DataObject,
) -> None:
    queues = [data.draw(queue_policies(f"q{i}")) for i in range(2)]
    skills = data.draw(st.lists(agent_skills, min_size=1, max_size=25))
    pool = data.draw(st.lists(profiles(), min_size=1, max_size=5))
    clock = ManualClock(0.0)
    router = Router(queues, clock=clock, seed=data.draw(st.integers(0, 9)))
    available: set[str] = set()
    waiting: dict[str, WaitingCall] = {}
    for i, agent_skill in enumerate(skills):
        router.add_agent(f"ag{i}", agent_skill)
    for round_ in range(data.draw(st.integers(1, 8))):
        for i in data.draw(st.sets(st.integers(0, len(skills) - 1), max_size=6)):
            if f"ag{i}" not in available:
                router.set_available(f"ag{i}", idle_since=clock(), calls_handled=0)
                available.add(f"ag{i}")
        for j in range(data.draw(st.integers(0, 12))):
            call = WaitingCall(
                f"c{round_}-{j}",
                data.draw(st.sampled_from(["q0", "q1"])),
                clock(),
                PriorityScore((ScoreTerm("base", float(data.draw(st.integers(0, 9)))),)),
                data.draw(st.sampled_from(pool)),
            )
            router.enqueue(call)
            waiting[call.call_id] = call
        clock.advance(data.draw(st.sampled_from([0.0, 1.0, 3.0, 7.0])))
        for offer in router.dispatch():
            assert offer.agent_id in available, "offered a busy agent"
            call = waiting.pop(offer.call_id)
            requirement = call.profile.requirement_at(clock() - call.entry_time)
            assert requirement.admits(skills[int(offer.agent_id[2:])]), (
                "offered an ineligible agent"
            )
            available.discard(offer.agent_id)
        for call in waiting.values():  # maximal: no waiting call has a free qualified agent
            requirement = call.profile.requirement_at(clock() - call.entry_time)
            assert not any(requirement.admits(skills[int(a[2:])]) for a in available)
        assert router.waiting_count == len(waiting)
        assert router.available_count == len(available)
