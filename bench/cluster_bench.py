"""Several nodes, one ACD (``center.acd_cluster``): calls per second, offer latency and CPU per
call with 1, 2 and 3 node processes sharing the ACD through a Redis stream, beside the
one-process ACD (the baseline, in the same run), and the time a new leader takes over after
the leader is killed (SIGKILL).

Each node is its own process (an ``AcdService`` and its ``AcdCluster``), on a redis-server
this bench starts on a free loopback port. Calls arrive at every node in turn at
``--rate`` calls/s in all; ``--agents`` agents (logged in by the first node) take them: when
an offer reaches the node that holds the call, that node tells Asterisk's facts (answered,
hung up) at once; wrap-up is 0 s. Offer latency is from the call handed to its node's ACD
to its offer on that node's ticket (the log's round trip and every copy's decision; the
baseline's is the decision alone). CPU is each process's own (user + system), per call.

    .venv/bin/python bench/cluster_bench.py [--rate 200] [--seconds 10] [--agents 1000]
        [--talk-s 0] [--quick]

``--talk-s`` keeps each call connected that long: "connected" is the most calls connected at
once (the nodes' peaks added).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.rig import REDIS, RedisServer  # noqa: E402 -- after the sys.path line

AGENTS_SKILLS = {"internet": 2}

KEY = b"the cluster bench's signing key"


def _setup(agents: int) -> Any:
    from acd.build import build_acd
    from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig

    return build_acd(
        PriorityConfig.model_validate({"call_types": {"how_to": 0}, "default_call_type": "how_to"}),
        QueuesConfig.model_validate(
            {"queues": {"support": {"required": {"internet": 1}, "strategy": "longest_idle"}}}
        ),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0},
                "agents": [{"id": f"a{i:05d}", "skills": AGENTS_SKILLS} for i in range(agents)],
            }
        ),
    )


async def _calls(
    service: Any, name: str, rate: float, seconds: float, talk_s: float = 0.0
) -> tuple[list[float], int]:
    """Hand calls to ``service`` at ``rate``; answer each when its offer comes and end it
    ``talk_s`` later. Returns the offer latencies and the most calls connected at once."""
    from acd.agent_events import Answered, HungUp
    from acd.calls import IncomingCall

    latencies: list[float] = []
    talking = peak = 0

    async def one(n: int) -> None:
        nonlocal talking, peak
        started = time.perf_counter()
        ticket = service.call_arrived(IncomingCall(f"{name}-{n}", "support", line=f"L{name}{n}"))
        offer = await ticket.offers.get()
        latencies.append(time.perf_counter() - started)
        service.fact(Answered(offer.agent_id, offer.call_id))
        talking += 1
        peak = max(peak, talking)
        if talk_s:
            await asyncio.sleep(talk_s)
        talking -= 1
        service.fact(HungUp(offer.agent_id, offer.call_id))
        service.release(ticket)

    tasks = []
    start = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while n < due:
            tasks.append(asyncio.create_task(one(n)))
            n += 1
        await asyncio.sleep(0.002)
    async with asyncio.timeout(30 + talk_s):
        await asyncio.gather(*tasks)
    return latencies, peak


async def _node(
    name: str,
    url: str,
    agents: int,
    rate: float,
    seconds: float,
    talk_s: float,
    login: bool,
    out: Any,
    go: Any,
) -> None:
    from acd.agent_events import Login
    from acd.events import InMemoryEventSink
    from center.acd_cluster import AcdCluster, ClusterSettings, LogClock
    from center.service import AcdService

    clock = LogClock()
    service = AcdService(_setup(agents), sink=InMemoryEventSink(keep=False), clock=clock)
    cluster = AcdCluster(ClusterSettings(url, name, prefix="bench:acd"), service, clock, key=KEY)
    await cluster.start(join_timeout_s=30)
    await service.start()
    if login:
        for agent_id in list(service.distributor.agents):
            service.agent_event(Login(agent_id))
    for _ in range(1200):  # the logins in the log and applied here, before the clock starts
        if cluster.caught_up:
            break
        await asyncio.sleep(0.05)
    out.send(("ready", cluster.member))
    await asyncio.to_thread(go.recv)
    cpu0, applied0 = time.process_time(), cluster.applied
    latencies, peak = await _calls(service, name, rate, seconds, talk_s)
    await asyncio.sleep(0.5)  # the others' last changes
    cpu = time.process_time() - cpu0
    out.send(("done", latencies, cpu, cluster.applied - applied0, peak))
    await asyncio.to_thread(go.recv)
    await service.close()
    await cluster.close()


def _node_main(*args: Any) -> None:
    asyncio.run(_node(*args))


async def _baseline(
    agents: int, rate: float, seconds: float, talk_s: float
) -> tuple[list[float], float, int]:
    from acd.agent_events import Login
    from acd.events import InMemoryEventSink
    from center.service import AcdService

    service = AcdService(_setup(agents), sink=InMemoryEventSink(keep=False))
    await service.start()
    for agent_id in list(service.distributor.agents):
        service.agent_event(Login(agent_id))
    cpu0 = time.process_time()
    latencies, peak = await _calls(service, "solo", rate, seconds, talk_s)
    cpu = time.process_time() - cpu0
    await service.close()
    return latencies, cpu, peak


def _cluster_run(
    nodes: int, agents: int, rate: float, seconds: float, talk_s: float
) -> dict[str, Any]:
    if REDIS is None:
        raise SystemExit("redis-server is not installed (scripts/system-deps.sh)")
    redis = RedisServer(Path(tempfile.mkdtemp()))
    redis.start()
    url = redis.url
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    try:
        for i in range(nodes):
            parent, child = ctx.Pipe()
            go_parent, go_child = ctx.Pipe()
            p = ctx.Process(
                target=_node_main,
                args=(f"n{i}", url, agents, rate / nodes, seconds, talk_s, i == 0, child, go_child),
            )
            p.start()
            procs.append(p)
            pipes.append((parent, go_parent))
            assert parent.recv()[0] == "ready"  # one at a time: the first starts the log
        for _, go in pipes:
            go.send("go")
        results = [parent.recv() for parent, _ in pipes]
        latencies = sorted(x for r in results for x in r[1])
        cpu = [r[2] for r in results]
        applied = results[0][3]
        row = {
            "nodes": nodes,
            "calls": len(latencies),
            "calls_per_s": len(latencies) / seconds,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
            "cpu_ms_per_call_per_node": 1000 * statistics.mean(cpu) / max(1, len(latencies)),
            "connected": sum(r[4] for r in results),
            "changes_per_call": applied / max(1, len(latencies)),
        }
        if nodes == 3:
            row["failover_s"] = _failover(url, procs, pipes)
        for _, go in pipes:
            go.send("stop")
        return row
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        redis.stop()


def _failover(url: str, procs: list[Any], pipes: list[Any]) -> float:
    """Kill the leader (SIGKILL); seconds until another node holds the lease and the log
    names it."""
    import redis as sync_redis

    r = sync_redis.Redis.from_url(url)
    leader = (r.get("bench:acd:leader") or b"").decode()
    index = int(leader.split(".", 1)[0][1:])
    last = r.xrevrange("bench:acd:log", count=1)[0][0]
    os.kill(procs[index].pid, signal.SIGKILL)
    killed = time.monotonic()
    while time.monotonic() - killed < 10:
        for _, fields in r.xrange("bench:acd:log", min=f"({last.decode()}"):
            if fields[b"k"] == b"l":
                pipes.pop(index)
                return time.monotonic() - killed
        time.sleep(0.005)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--talk-s", type=float, default=0.0, help="each call's conversation")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.agents = 50.0, 3.0, 200
    print(
        f"{args.rate:g} calls/s for {args.seconds:g} s, {args.agents} agents, talk"
        f" {args.talk_s:g} s, wrap-up 0 s"
    )
    latencies, cpu, peak = asyncio.run(_baseline(args.agents, args.rate, args.seconds, args.talk_s))
    latencies.sort()
    print(
        f"{'':>22} {'calls/s':>8} {'offer p50':>10} {'p99':>8} {'CPU ms/call/node':>17}"
        f" {'changes/call':>13} {'connected':>10} {'failover':>9}"
    )
    print(
        f"{'one process (baseline)':>22} {len(latencies) / args.seconds:8.1f}"
        f" {1000 * statistics.median(latencies):8.2f}ms"
        f" {1000 * latencies[int(0.99 * (len(latencies) - 1))]:6.2f}ms"
        f" {1000 * cpu / len(latencies):17.3f} {'':>13} {peak:>10} {'':>9}"
    )
    for nodes in (1, 2, 3):
        row = _cluster_run(nodes, args.agents, args.rate, args.seconds, args.talk_s)
        failover = f"{row['failover_s']:.2f} s" if "failover_s" in row else ""
        print(
            f"{f'{nodes} node(s), shared':>22} {row['calls_per_s']:8.1f}"
            f" {row['p50_ms']:8.2f}ms {row['p99_ms']:6.2f}ms"
            f" {row['cpu_ms_per_call_per_node']:17.3f} {row['changes_per_call']:13.1f}"
            f" {row['connected']:>10} {failover:>9}"
        )


if __name__ == "__main__":
    main()
