"""The distributor's changes as values: applied in two processes with different string
hashing, the same changes give the same events and offers (what lets several nodes keep
copies of one ACD: center.acd_cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPLAY = """
import hashlib, random
from acd.agent_events import Answered, HungUp, Login, Pause, Ready
from acd.build import build_acd
from acd.calls import CallFacts, IncomingCall
from acd.clock import ManualClock
from acd.commands import AgentAction, CallArrived, CallerHungUp, MoveCall, RaisePriority, Tick
from acd.events import InMemoryEventSink
from hotline.config import load_config

config = load_config("config")
setup = build_acd(config.priority, config.queues, config.agents, config.skills)
clock, sink = ManualClock(0.0), InMemoryEventSink()
acd = setup.distributor(clock=clock, sink=sink, seed=7)
rng = random.Random(11)
queues = [q.policy.name for q in setup.queues]
agents = list(acd.agents)
for agent in agents:
    AgentAction(Login(agent)).apply(acd)
offers = []
for n in range(3000):
    clock.advance(rng.expovariate(2.0))
    roll = rng.random()
    if roll < 0.35:
        facts = CallFacts(
            intent=rng.choice(["billing", "complaint", None]),
            tier=rng.choice(["gold", "regular", None]),
            language=rng.choice(["en", "ar"]),
            tags=frozenset(rng.sample(["outage-area", "billing-dispute", "vip"], 2)),
        )
        command = CallArrived(IncomingCall(f"c{n}", rng.choice(queues), facts, line=f"L{n}"))
    elif roll < 0.55:
        agent = rng.choice(agents)
        view = acd.book.view(agent)
        command = AgentAction(
            Answered(agent, view.call_id) if view.state.value == "offered" and view.call_id
            else HungUp(agent, view.call_id) if view.call_id
            else rng.choice([Pause(agent, "break"), Ready(agent)])
        )
    elif roll < 0.65:
        waiting = [c.call_id for c in acd.router.waiting()]
        if not waiting:
            continue
        call = rng.choice(waiting)
        moved = MoveCall(call, rng.choice(queues), "sup")
        command = rng.choice([CallerHungUp(call), RaisePriority(call, 10, "sup"), moved])
    else:
        command = Tick()
    try:
        offers += command.apply(acd)
    except Exception as error:
        offers.append(type(error).__name__)
told = repr(([(r.at, r.event) for r in sink.records()], offers))
print(hashlib.sha256(told.encode()).hexdigest())
print(len(sink.records()), sum(1 for o in offers if not isinstance(o, str)))
"""


def _replay(seed: str) -> str:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", REPLAY],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_same_changes_give_the_same_events_and_offers_in_any_process() -> None:
    first, second = _replay("1"), _replay("2")
    events, offers = (int(n) for n in first.split()[1:])
    assert events > 2000, first  # a busy day, not an idle one
    assert offers > 200, first
    assert first == second
