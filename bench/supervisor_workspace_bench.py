"""The supervisor's workspace with a big floor: page load and live-update latency, CPU.

The service (``Hotline`` on the shipped ``config/``, no Asterisk) runs in its own process
with a floor of ``agents`` agents (the shipped agents' skills in turn, logged in and paused,
so nothing is offered) and ``tasks`` waiting tasks (calls, with a chat and an e-mail in
every ten) spread over the queues, plus one agent with no skills, toggled between paused
and ready: the event each page must show. The baseline, in the same run, is the shipped
floor (5 agents, nothing waiting). Per floor:

* **page load**: GET /supervisor (signed in) and the WebSocket's first snapshot, one after
  the other as a browser does, p50/p95, and the snapshot's size;
* **live update**: from the ACD event (in the service) to each open page's receipt of the
  first snapshot that shows it, with 1 and ``pages`` pages open, p50/p95;
* **snapshot cost** in the service (the whole snapshot, and its threshold part:
  ``ThresholdWatch.apply``), wall ms;
* **CPU** of the service with ``pages`` pages open over a quiet period (the pages get a
  snapshot a second: waits advance), percent of one core.

    .venv/bin/python bench/supervisor_workspace_bench.py [--agents 200] [--tasks 2000]
                                        [--pages 20] [--events 20] [--loads 20] [--idle-s 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from acd.agent_events import Pause, Ready  # noqa: E402 -- after the sys.path line, as a script
from bench.web_bench import cpu_seconds, percentile  # noqa: E402

USER = "bench-supervisor"
TOGGLED = "bench-toggle"  # no skills: never offered anything, only paused and made ready


# -- the service (child process) ----------------------------------------------------------------
async def serve(work: Path, password: str, agents: int, tasks: int) -> None:
    from acd.calls import CallerCard, CallFacts, IncomingCall
    from hotline.app import Hotline
    from hotline.config import load_config
    from hotline.web.auth.users import Role

    config = load_config(
        ROOT / "config",
        environ={},
        overrides={
            "fastagi.port": 0,
            "web.port": 0,
            "web.limits.max_connections_per_address": 1000,
            "ami.port": 1,  # no Asterisk: the ACD's own actions drive the page
            "database.url": f"sqlite+aiosqlite:///{work}/hotline.db",
            "database.spool": str(work / "spool.jsonl"),
            "speech.enabled": False,
            "waiting.login_all_agents_at_start": True,
            "logging.level": "CRITICAL",
        },
    )
    shipped = config.agents.agents
    roster = list(shipped)
    if agents > len(shipped):
        roster = [
            shipped[i % len(shipped)].model_copy(
                update={"id": f"{9000 + i}", "name": f"Agent {i}", "endpoint": f"PJSIP/a{i}"}
            )
            for i in range(agents)
        ]
    toggled = shipped[0].model_copy(
        update={"id": TOGGLED, "name": "Toggled", "endpoint": "PJSIP/toggle", "skills": {}}
    )
    roster.append(toggled)
    config = config.model_copy(
        update={"agents": config.agents.model_copy(update={"agents": roster})}
    )
    service = Hotline(config)
    await service.start()
    await service.web_auth.users.add(USER, Role.SUPERVISOR, password)
    acd = service.acd
    for view in acd.distributor.book.views():
        if str(view.state) != "logged_out":
            acd.agent_event(Pause(view.agent_id, "bench"))
    queues = list(acd.queue_names)
    for n in range(tasks):
        channel = "chat" if n % 10 == 3 else "email" if n % 10 == 7 else "voice"
        facts = CallFacts(intent="how_to", language="ar" if n % 10 == 0 else "en", tier="regular")
        card = CallerCard(number=f"+97150{n:07d}", customer_name=f"Customer {n}")
        acd.call_arrived(
            IncomingCall(f"t{n}", queues[n % len(queues)], facts, caller=card, channel=channel)
        )
    hub = service.supervisor_hub
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"url": service.web.url}), flush=True)
    while line := (await reader.readline()).decode().strip():
        at = time.time()
        reply: dict[str, Any] = {"at": at}
        if line == "pause":
            acd.agent_event(Pause(TOGGLED, "bench"))
        elif line == "ready":
            acd.agent_event(Ready(TOGGLED))
        elif line == "cost":
            rounds = 10
            started = time.perf_counter()
            for _ in range(rounds):
                snapshot = hub.snapshot(max_calls=100)
            reply["snapshot_ms"] = (time.perf_counter() - started) / rounds * 1000
            started = time.perf_counter()
            for _ in range(rounds):
                hub.thresholds.apply(snapshot["queues"], at)
            reply["thresholds_ms"] = (time.perf_counter() - started) / rounds * 1000
            reply["waiting"] = sum(q["waiting"] for q in snapshot["queues"])
            reply["agents"] = len(snapshot["agents"])
        print(json.dumps(reply), flush=True)
    await service.close()


# -- the pages (this process) -------------------------------------------------------------------
async def sign_in(http: aiohttp.ClientSession, url: str, password: str) -> None:
    async with http.get(url + "login") as response:
        form = await response.text()
    found = re.search(r'name="csrf" value="([^"]+)"', form)
    assert found, "no CSRF token on the sign-in form"
    data = {"name": USER, "password": password, "csrf": found.group(1), "next": "/"}
    async with http.post(url + "login", data=data, allow_redirects=False) as response:
        assert response.status == 303, f"sign-in refused: {response.status}"


class Service:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def say(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return dict(json.loads(await self.proc.stdout.readline()))


class Page:
    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    async def run(self, http: aiohttp.ClientSession, url: str, ready: asyncio.Event) -> None:
        async with http.ws_connect(
            url.replace("http", "ws", 1) + "ws/supervisor", max_msg_size=0
        ) as ws:
            async for message in ws:
                now = time.time()
                snapshot = json.loads(message.data)
                state = next(
                    (a["state"] for a in snapshot["agents"] if a["agent_id"] == TOGGLED), ""
                )
                if not self.seen or self.seen[-1][1] != state:
                    self.seen.append((now, state))
                ready.set()


async def page_loads(http: aiohttp.ClientSession, url: str, loads: int) -> tuple[list[float], int]:
    """Seconds from GET /supervisor to the first snapshot on its WebSocket; its size."""
    times, size = [], 0
    for _ in range(loads):
        started = time.perf_counter()
        async with http.get(url + "supervisor") as response:
            assert response.status == 200
            await response.read()
        async with http.ws_connect(
            url.replace("http", "ws", 1) + "ws/supervisor", max_msg_size=0
        ) as ws:
            message = await ws.receive()
            times.append(time.perf_counter() - started)
            size = len(message.data)
    return times, size


async def live_updates(
    service: Service, http: aiohttp.ClientSession, url: str, pages: int, events: int
) -> list[float]:
    opened = [Page() for _ in range(pages)]
    ready = [asyncio.Event() for _ in opened]
    tasks = [asyncio.create_task(p.run(http, url, r)) for p, r in zip(opened, ready, strict=True)]
    delays: list[float] = []
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(r.wait() for r in ready))
        for n in range(events):
            want = "available" if n % 2 == 0 else "paused"
            at = (await service.say("ready" if want == "available" else "pause"))["at"]
            async with asyncio.timeout(20):
                while not all(p.seen[-1][1] == want for p in opened):  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            delays += [next(t for t, s in reversed(p.seen) if s == want) - at for p in opened]
            await asyncio.sleep(0.25)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return delays


async def quiet_cpu(
    service: Service, http: aiohttp.ClientSession, url: str, pages: int, seconds: float
) -> float:
    opened = [Page() for _ in range(pages)]
    ready = [asyncio.Event() for _ in opened]
    tasks = [asyncio.create_task(p.run(http, url, r)) for p, r in zip(opened, ready, strict=True)]
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(r.wait() for r in ready))
        await asyncio.sleep(1.0)
        before, started = cpu_seconds(service.proc.pid), time.perf_counter()
        await asyncio.sleep(seconds)
        return (cpu_seconds(service.proc.pid) - before) / (time.perf_counter() - started) * 100
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def ms(values: list[float]) -> str:
    v = [x * 1000 for x in values]
    return f"{statistics.median(v):>7.1f} {percentile(v, 0.95):>7.1f}"


async def floor(label: str, agents: int, tasks: int, args: argparse.Namespace) -> None:
    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="workspace-bench-") as work:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", work, "--agents", str(agents),
            "--tasks", str(tasks), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "HOTLINE_BENCH_PASSWORD": password},
        )  # fmt: skip
        service = Service(proc)
        try:
            assert proc.stdout is not None
            url = json.loads(await proc.stdout.readline())["url"]
            connector = aiohttp.TCPConnector(limit=0)
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
                await sign_in(http, url, password)
                cost = await service.say("cost")
                loads, size = await page_loads(http, url, args.loads)
                one = await live_updates(service, http, url, 1, args.events)
                many = await live_updates(service, http, url, args.pages, args.events)
                cpu = await quiet_cpu(service, http, url, args.pages, args.idle_s)
                print(
                    f"{label:<26} {cost['agents']:>6} {cost['waiting']:>7} {ms(loads)} "
                    f"{size / 1024:>7.0f} {ms(one)} {ms(many)} {cost['snapshot_ms']:>8.1f} "
                    f"{cost['thresholds_ms']:>6.2f} {cpu:>6.1f}",
                    flush=True,
                )
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    await proc.wait()
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()


async def main(args: argparse.Namespace) -> None:
    print(
        f"{os.cpu_count()} CPUs; {args.loads} page loads, {args.events} live updates per row "
        f"(1 page, then {args.pages}); CPU with {args.pages} pages open over {args.idle_s:g} s"
    )
    print(
        f"{'floor':<26} {'agents':>6} {'waiting':>7} {'load p50':>7} {'p95':>7} {'KiB':>7} "
        f"{'upd1 p50':>7} {'p95':>7} {f'upd{args.pages} p50':>7} {'p95':>7} "
        f"{'snap ms':>8} {'thr ms':>6} {'CPU %':>6}"
    )
    await floor("baseline: shipped floor", 0, 0, args)
    await floor(f"{args.agents} agents, {args.tasks} waiting", args.agents, args.tasks, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    if args.serve:
        asyncio.run(
            serve(Path(args.serve), os.environ["HOTLINE_BENCH_PASSWORD"], args.agents, args.tasks)
        )
    else:
        asyncio.run(main(args))
