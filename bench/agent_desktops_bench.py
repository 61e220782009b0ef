"""The CPU cost of open agent desktops: 200 agents' pages on their live feeds.

The service (``Hotline`` on the shipped ``config/``, no Asterisk) runs in its own process
with ``agents`` agents (the shipped agents' skills in turn), each with a signed-in session
(made in the service: no password hashing in the measure). A steady flow of live updates
runs all along: ``rate`` times a second an agent is paused or made ready (the ACD's event
log, the supervisor hub's snapshot, the agent's own row). Each desktop is what the agent
page opens: ``/ws/agent`` (their state, timers, call) and ``/ws/agent/desk`` (their chats
and e-mails), kept by this process, which reads every frame.

In the same run, with the same flow, the service's CPU time per second is measured with
no desktop open (the baseline: the ACD and its event log; the hub builds no snapshot for
nobody), then with ``desktops`` open. Reported: CPU percent of one core, the hub's
broadcasts (one per coalesced change, at most ten a second, and one a second as timers
advance), frames the desktops received, and the extra CPU per broadcast and per desktop
and broadcast.

    .venv/bin/python bench/agent_desktops_bench.py [--agents 200] [--desktops 200]
                                                   [--rate 5] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.web_bench import cpu_seconds  # noqa: E402 -- after the sys.path line, as a script


# -- the service (child process) ----------------------------------------------------------------
async def serve(work: Path, agents: int) -> None:
    from acd.agent_events import Pause, Ready
    from hotline.app import Hotline
    from hotline.config import load_config
    from hotline.web.auth.users import Role, User

    config = load_config(
        ROOT / "config",
        environ={},
        overrides={
            "fastagi.port": 0,
            "web.port": 0,
            "web.limits.max_connections_per_address": 1000,
            "ami.port": 1,  # no Asterisk: the ACD's own actions drive the pages
            "database.url": f"sqlite+aiosqlite:///{work}/hotline.db",
            "database.spool": str(work / "spool.jsonl"),
            "speech.enabled": False,
            "waiting.login_all_agents_at_start": True,
            "logging.level": "CRITICAL",
        },
    )
    shipped = config.agents.agents
    roster = [
        shipped[i % len(shipped)].model_copy(
            update={"id": f"{9000 + i}", "name": f"Agent {i}", "endpoint": f"PJSIP/a{i}"}
        )
        for i in range(agents)
    ]
    config = config.model_copy(
        update={"agents": config.agents.model_copy(update={"agents": roster})}
    )
    service = Hotline(config)
    await service.start()
    acd = service.acd
    ids = [a.id for a in roster]
    for agent_id in ids:  # paused: nothing is offered, only the flow's changes show
        acd.agent_event(Pause(agent_id, "bench"))
    sessions = {
        agent_id: service.web_auth.sessions.create(User(f"a{agent_id}", Role.AGENT, agent_id)).id
        for agent_id in ids
    }
    hub = service.supervisor_hub
    broadcasts = 0
    broadcast = hub._broadcast

    def counted(snapshot: dict[str, Any]) -> None:
        nonlocal broadcasts
        broadcasts += 1
        broadcast(snapshot)

    hub._broadcast = counted  # type: ignore[method-assign]
    flow: asyncio.Task[None] | None = None

    async def run_flow(rate: float) -> None:
        n = 0
        while True:
            agent_id = ids[n % len(ids)]
            if str(acd.distributor.book.view(agent_id).state) == "paused":
                acd.agent_event(Ready(agent_id))
            else:
                acd.agent_event(Pause(agent_id, "bench"))
            n += 1
            await asyncio.sleep(1 / rate)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"url": service.web.url, "sessions": sessions}), flush=True)
    while line := (await reader.readline()).decode().strip():
        command, _, value = line.partition(" ")
        if command == "flow":
            flow = asyncio.create_task(run_flow(float(value)))
        print(
            json.dumps(
                {
                    "broadcasts": broadcasts,
                    "clients": hub.clients,
                    "dropped": hub.dropped_clients,
                }
            ),
            flush=True,
        )
    if flow is not None:
        flow.cancel()
    await service.close()


# -- the desktops (this process) ----------------------------------------------------------------
class Service:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def say(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return dict(json.loads(await self.proc.stdout.readline()))


class Desktops:
    """Each desktop's two feeds, read to the end; frames counted."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0

    async def feed(self, http: aiohttp.ClientSession, url: str, opened: asyncio.Event) -> None:
        async with http.ws_connect(url, max_msg_size=0) as ws:
            async for message in ws:
                self.frames += 1
                self.bytes += len(message.data)
                opened.set()

    async def open(
        self, url: str, sessions: dict[str, str], count: int
    ) -> tuple[list[aiohttp.ClientSession], list[asyncio.Task[None]]]:
        base = url.replace("http", "ws", 1)
        clients, tasks, opened = [], [], []
        for agent_id in list(sessions)[:count]:
            http = aiohttp.ClientSession(
                cookies={"hotline_session": sessions[agent_id]},
                connector=aiohttp.TCPConnector(limit=0),
            )
            clients.append(http)
            for path in ("ws/agent", "ws/agent/desk"):
                event = asyncio.Event()
                opened.append(event)
                tasks.append(asyncio.create_task(self.feed(http, base + path, event)))
        async with asyncio.timeout(120):
            await asyncio.gather(*(e.wait() for e in opened[::2]))  # every agent feed's first
        return clients, tasks


async def measure(service: Service, seconds: float) -> tuple[float, dict[str, Any], float]:
    """CPU seconds per second of the service over ``seconds``; the hub's counts before."""
    counts = await service.say("count")
    before, started = cpu_seconds(service.proc.pid), time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - started
    return (cpu_seconds(service.proc.pid) - before) / wall, counts, wall


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="desktops-bench-") as work:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", work, "--agents", str(args.agents),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        service = Service(proc)
        clients: list[aiohttp.ClientSession] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            assert proc.stdout is not None
            hello = json.loads(await proc.stdout.readline())
            await service.say(f"flow {args.rate}")
            await asyncio.sleep(2.0)
            base_cpu, base_before, wall = await measure(service, args.seconds)
            base_after = await service.say("count")
            desktops = Desktops()
            opening = time.perf_counter()
            clients, tasks = await desktops.open(hello["url"], hello["sessions"], args.desktops)
            opened_s = time.perf_counter() - opening
            await asyncio.sleep(3.0)
            frames_before, bytes_before = desktops.frames, desktops.bytes
            cpu, before, wall_open = await measure(service, args.seconds)
            after = await service.say("count")
            frames, size = desktops.frames - frames_before, desktops.bytes - bytes_before
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for http in clients:
                await http.close()
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await proc.wait()
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
    updates = after["broadcasts"] - before["broadcasts"]
    base_updates = base_after["broadcasts"] - base_before["broadcasts"]
    extra = (cpu - base_cpu) * wall_open  # CPU seconds the desktops cost over the window
    print(
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {args.agents} agents, "
        f"{args.rate:g} agent state changes/s, {args.seconds:g} s per row; "
        f"{args.desktops} desktops opened in {opened_s:.1f} s "
        f"({after['clients']} feeds on the hub, {after['dropped']} dropped)"
    )
    print(f"{'':<28} {'CPU %':>6} {'broadcasts/s':>12} {'frames/s':>9} {'KiB/s':>7}")
    print(
        f"{'baseline: no desktop':<28} {base_cpu * 100:>6.1f} {base_updates / wall:>12.1f} "
        f"{0:>9} {0:>7}"
    )
    print(
        f"{f'{args.desktops} desktops open':<28} {cpu * 100:>6.1f} {updates / wall_open:>12.1f} "
        f"{frames / wall_open:>9.0f} {size / 1024 / wall_open:>7.0f}"
    )
    print(
        f"desktops' extra CPU: {(cpu - base_cpu) * 1000:.0f} ms per second; "
        f"{extra / max(updates, 1) * 1000:.2f} ms per broadcast; "
        f"{extra / max(updates * args.desktops, 1) * 1e6:.0f} µs per desktop per broadcast"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--desktops", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(Path(args.serve), args.agents))
    else:
        asyncio.run(main(args))
