"""The supervisor page's live feed under many open pages.

(a) Time from an ACD event (an agent paused or made ready through ``AcdService``) to each
connected page's receipt of the first snapshot that shows it, with 1 and with 50 pages:
p50/p95/max. (b) The service's CPU with 200 idle pages connected vs none, over a quiet
period. The service (``Hotline`` on the shipped ``config/``) runs in its own process; the
pages are aiohttp WebSocket clients in this process, signed in as a supervisor the way the
page is (GET /login for the form's CSRF token, POST /login, the session cookie on
/ws/supervisor). All the pages share one sign-in (one supervisor with many tabs).

    .venv/bin/python bench/web_bench.py [--pages 1,50] [--events 40] [--idle-pages 200]
                                        [--idle-s 30] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
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

from acd.agent_events import Pause, Ready

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

USER = "bench-supervisor"
AGENT = "1002"  # toggled between paused and available


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the service (child process) ----------------------------------------------------------------


async def serve(work: Path, password: str) -> None:
    from hotline.app import Hotline
    from hotline.config import load_config
    from hotline.web.auth.users import Role

    config = load_config(
        ROOT / "config",
        environ={},
        overrides={
            "fastagi.port": 0,
            "web.port": 0,
            # Every page comes from this one address: past the default cap of 100 a client.
            "web.limits.max_connections_per_address": 1000,
            "ami.port": 1,  # no Asterisk: the ACD's own actions drive the page
            "database.url": f"sqlite+aiosqlite:///{work}/hotline.db",
            "database.spool": str(work / "spool.jsonl"),
            "speech.enabled": False,
            "waiting.login_all_agents_at_start": True,
            "logging.level": "CRITICAL",
        },
    )
    service = Hotline(config)
    await service.start()
    await service.web_auth.users.add(USER, Role.SUPERVISOR, password)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"url": service.web.url}), flush=True)
    while line := (await reader.readline()).decode().strip():
        at = time.time()
        if line == "pause":
            service.acd.agent_event(Pause(AGENT, "bench"))
        elif line == "ready":
            service.acd.agent_event(Ready(AGENT))
        print(json.dumps({"at": at}), flush=True)
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


class Page:
    """One open supervisor page: the time it saw the agent in each state."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    async def run(self, http: aiohttp.ClientSession, url: str, ready: asyncio.Event) -> None:
        async with http.ws_connect(url.replace("http", "ws", 1) + "ws/supervisor") as ws:
            async for message in ws:
                now = time.time()
                snapshot = json.loads(message.data)
                state = next((a["state"] for a in snapshot["agents"] if a["agent_id"] == AGENT), "")
                if not self.seen or self.seen[-1][1] != state:
                    self.seen.append((now, state))
                ready.set()


class Service:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def say(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return dict(json.loads(await self.proc.stdout.readline()))


async def open_pages(
    http: aiohttp.ClientSession, url: str, count: int
) -> tuple[list[Page], list[asyncio.Task[None]]]:
    pages = [Page() for _ in range(count)]
    ready = [asyncio.Event() for _ in pages]
    tasks = [asyncio.create_task(p.run(http, url, r)) for p, r in zip(pages, ready, strict=True)]
    async with asyncio.timeout(60):
        await asyncio.gather(*(r.wait() for r in ready))
    return pages, tasks


async def close_pages(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def latency(service: Service, http: aiohttp.ClientSession, url: str, pages: int,
                  events: int) -> list[float]:  # fmt: skip
    """Seconds from each event to each page's first snapshot showing it."""
    opened, tasks = await open_pages(http, url, pages)
    delays: list[float] = []
    try:
        for n in range(events):
            want = "paused" if n % 2 == 0 else "available"
            at = (await service.say("pause" if want == "paused" else "ready"))["at"]
            async with asyncio.timeout(10):
                while not all(p.seen[-1][1] == want for p in opened):  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            delays += [next(t for t, s in reversed(p.seen) if s == want) - at for p in opened]
            await asyncio.sleep(0.25)  # past the hub's coalescing interval
    finally:
        await close_pages(tasks)
    return delays


async def idle_cpu(service: Service, http: aiohttp.ClientSession, url: str, pages: int,
                   seconds: float) -> float:  # fmt: skip
    """The service's CPU (percent of one core) over ``seconds`` with ``pages`` open."""
    _opened, tasks = await open_pages(http, url, pages) if pages else ([], [])
    try:
        await asyncio.sleep(1.0)
        before, started = cpu_seconds(service.proc.pid), time.perf_counter()
        await asyncio.sleep(seconds)
        used = cpu_seconds(service.proc.pid) - before
        return used / (time.perf_counter() - started) * 100
    finally:
        await close_pages(tasks)


async def main(page_counts: list[int], events: int, idle_pages: int, idle_s: float) -> None:
    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="web-bench-") as work:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", work, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "HOTLINE_BENCH_PASSWORD": password},
        )  # fmt: skip
        service = Service(proc)
        try:
            assert proc.stdout is not None
            url = json.loads(await proc.stdout.readline())["url"]
            connector = aiohttp.TCPConnector(limit=0)
            jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1, as a browser keeps
            async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
                await sign_in(http, url, password)
                print(f"{os.cpu_count()} CPUs; {events} events per row (agent paused / ready)")
                print(f"{'pages':>5} {'receipts':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
                for count in page_counts:
                    delays = [d * 1000 for d in await latency(service, http, url, count, events)]
                    print(
                        f"{count:>5} {len(delays):>8} {statistics.median(delays):>7.1f} "
                        f"{percentile(delays, 0.95):>7.1f} {max(delays):>7.1f}",
                        flush=True,
                    )
                print(f"\nservice CPU, quiet (no events), over {idle_s:g} s:")
                for count in (0, idle_pages):
                    cpu = await idle_cpu(service, http, url, count, idle_s)
                    print(f"{count:>5} pages connected: {cpu:5.1f}% of one core", flush=True)
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    await proc.wait()
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="1,50")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--idle-pages", type=int, default=200)
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="CI-sized: fewer events, 5 s idle")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    if args.serve:
        asyncio.run(serve(Path(args.serve), os.environ["HOTLINE_BENCH_PASSWORD"]))
    else:
        if args.quick:
            args.events, args.idle_s = 10, 5.0
        counts = [int(n) for n in args.pages.split(",")]
        asyncio.run(main(counts, args.events, args.idle_pages, args.idle_s))
