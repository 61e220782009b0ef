"""The supervisor snapshot's live part: its cost per snapshot as the floor grows.

Each snapshot (one per change, at most 10 a second, and one a second so waits advance)
reads every held call off the router with its aged priority, and works out who can serve
each queue's callers (``acd.coverage``). The floor: the shipped config's queues, ``agents``
agents with the shipped agents' skills in turn (a fifth speak Arabic), half of them logged
in and a tenth of those paused; ``calls`` callers waiting (a tenth in Arabic), nobody
available so they stay. Printed per size: the live part (``live_state``) and, as the
baseline, the whole snapshot the pages get (the KPI figures included), wall and CPU ms per
snapshot.

    .venv/bin/python bench/supervisor_snapshot_bench.py [--sizes 100x50,1000x200] [--rounds 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from acd.agent_events import Login, Pause

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from acd.build import build_acd  # noqa: E402 -- after the sys.path line, as a script
from acd.calls import CallerCard, CallFacts, IncomingCall  # noqa: E402
from acd.clock import ManualClock  # noqa: E402
from acd.events import InMemoryEventSink  # noqa: E402
from center.service import AcdService  # noqa: E402
from hotline.config import load_config  # noqa: E402
from hotline.web.supervisor.hub import SupervisorHub  # noqa: E402
from hotline.web.supervisor.live_view import MAX_SHOWN_CALLS, live_state  # noqa: E402


def floor(calls: int, agents: int) -> tuple[AcdService, SupervisorHub]:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(
            ROOT / "config",
            environ={},
            overrides={"database.url": f"sqlite+aiosqlite:///{tmp}/x.db", "speech.enabled": False},
        )
    shipped = config.agents.agents
    roster = [
        shipped[i % len(shipped)].model_copy(
            update={"id": f"{9000 + i}", "name": f"Agent {i}", "endpoint": f"PJSIP/a{i}"}
        )
        for i in range(agents)
    ]
    agents_config = config.agents.model_copy(update={"agents": roster})
    clock = ManualClock(1000.0)
    sink = InMemoryEventSink(keep=False)
    acd = AcdService(
        build_acd(config.priority, config.queues, agents_config, config.skills),
        sink=sink,
        clock=clock,
    )
    hub = SupervisorHub(acd, sink.subscribe)
    hub._unsubscribe = sink.subscribe(hub._saw)  # the hub's listener, without its task
    queues = list(acd.queue_names)
    for n in range(calls):
        language = "ar" if n % 10 == 0 else "en"
        facts = CallFacts(intent="how_to", language=language, tier="regular")
        card = CallerCard(number=f"+97150{n:07d}")
        acd.call_arrived(IncomingCall(f"c{n}", queues[n % len(queues)], facts, caller=card))
        clock.advance(0.5)
    for i, agent in enumerate(roster[: agents // 2]):
        acd.agent_event(Login(agent.id))  # takes a call (ringing) if one fits
        if i % 10 == 0:
            acd.agent_event(Pause(agent.id, "break"))
    return acd, hub


def timed(rounds: int, work: object) -> tuple[float, float]:
    assert callable(work)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        work()
    return (
        (time.perf_counter() - wall) / rounds * 1000,
        (time.process_time() - cpu) / rounds * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100x50,1000x200,5000x500")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"{'calls x agents':>15} {'live part ms':>13} {'cpu':>6} {'whole ms':>9} {'cpu':>6}")
    for size in args.sizes.split(","):
        calls, agents = (int(v) for v in size.split("x"))
        acd, hub = floor(calls, agents)
        live_wall, live_cpu = timed(
            args.rounds,
            lambda acd=acd, hub=hub: live_state(
                acd, hub._seen, acd.now(), None, max_calls=MAX_SHOWN_CALLS
            ),
        )
        whole_wall, whole_cpu = timed(
            args.rounds, lambda hub=hub: hub.snapshot(max_calls=MAX_SHOWN_CALLS)
        )
        print(
            f"{size:>15} {live_wall:>13.2f} {live_cpu:>6.2f} {whole_wall:>9.2f} {whole_cpu:>6.2f}"
        )


if __name__ == "__main__":
    main()
