"""Webhook delivery bench: events/s from ``WebhookDispatcher`` to a local receiver.

A receiver (aiohttp, its own process, answers 200 at once) on 127.0.0.1 takes every POST.
``--events`` events are published by ``--producers`` concurrent tasks to ``--subscriptions``
subscriptions (each event goes to every one), then the run waits until every delivery is
recorded. Paths, each in the same run:

* **baseline**: bare aiohttp POSTs of the same bodies with the same bound on concurrency
  (``--concurrency`` + one per subscription, what the dispatcher allows): no envelope, no
  signing, no store, no record;
* **memory store**: the dispatcher (envelope, signing, queues, policy, records) with the
  in-memory store: its own cost;
* **SQLite / PostgreSQL**: the dispatcher on ``history.webhooks.SqlDeliveryStore``: the
  outbox write before ``publish`` returns and every attempt recorded (group-committed).

Printed: POSTs/s from the first publish to the last record, CPU seconds of this process
(the dispatcher, aiohttp, the SQLite driver's thread; not the PostgreSQL server) and per
POST, the receiver's CPU, and ``publish`` latency (the outbox write) p50/p99.

    .venv/bin/python bench/webhook_bench.py                       # about a minute
    .venv/bin/python bench/webhook_bench.py --events 500 --backends memory,sqlite

PostgreSQL runs in its own schema in the ``test`` database (created and dropped here).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.webhooks.delivery import WebhookDispatcher
from channels.webhooks.events import make_event
from channels.webhooks.memory import MemoryDeliveryStore
from channels.webhooks.policy import Limits
from channels.webhooks.settings import Subscription
from channels.webhooks.store import DeliveryStore
from history.store import create_engine, migrate
from history.webhooks import SqlDeliveryStore

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SECRET = b"bench-secret-0123456789abcdef"
DATA = {"task_id": "t-000123", "channel": "chat", "queue": "support", "customer_id": 42,
        "agent": "alice", "text": "Hello, my order has not arrived yet, can you help?"}  # fmt: skip


def _receive(ready: Connection) -> None:
    """The receiver process: 200 to every POST, as fast as aiohttp answers."""

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/hooks", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        ready.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(serve())


class ReceiverProcess:
    def __enter__(self) -> str:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_receive, args=(child,), daemon=True)
        self.process.start()
        port = parent.recv()
        return f"http://127.0.0.1:{port}/hooks"

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.join()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Measured:
    path: str
    subscriptions: int
    posts: int
    wall_s: float
    cpu_s: float
    receiver_cpu_s: float
    publish_ms: tuple[float, float] | None

    @property
    def rate(self) -> float:
        return self.posts / self.wall_s


#: (POSTs answered 200, wall seconds, publish latencies in ms or None)
Outcome = tuple[int, float, list[float] | None]


async def baseline(url: str, args: argparse.Namespace, subscriptions: int) -> Outcome:
    """Bare POSTs of the same bodies, bounded alike."""
    now = datetime.now(UTC)
    bodies = [make_event("task.created", DATA, now=now).body for _ in range(args.events)]
    bound = asyncio.Semaphore(args.concurrency + subscriptions)
    connector = aiohttp.TCPConnector(limit=args.concurrency + subscriptions)
    posted = 0

    async with aiohttp.ClientSession(connector=connector) as http:

        async def post(body: bytes) -> None:
            nonlocal posted
            async with bound, http.post(url, data=body) as response:
                await response.read()
                posted += response.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies for _ in range(subscriptions)))
        return posted, time.perf_counter() - started, None


async def dispatched(
    url: str, args: argparse.Namespace, subscriptions: int, store: DeliveryStore
) -> Outcome:
    hooks = [
        Subscription(f"hook{n}", url, (SECRET,), ("task.*",), Limits(), 10.0)
        for n in range(subscriptions)
    ]
    dispatcher = WebhookDispatcher(
        store, hooks, concurrency=args.concurrency, per_subscription=args.concurrency
    )
    await dispatcher.start()
    latencies: list[float] = []

    async def produce(count: int) -> None:
        for _ in range(count):
            began = time.perf_counter()
            await dispatcher.publish("task.created", DATA)
            latencies.append((time.perf_counter() - began) * 1000)

    share, extra = divmod(args.events, args.producers)
    try:
        started = time.perf_counter()
        await asyncio.gather(*(produce(share + (n < extra)) for n in range(args.producers)))
        await dispatcher.wait_idle()
        wall = time.perf_counter() - started
    finally:
        await dispatcher.close()
    return dispatcher.delivered, wall, latencies


async def admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def measure(
    path: str, subscriptions: int, run: Callable[[str], Awaitable[Outcome]]
) -> Measured:
    with ReceiverProcess() as url:
        cpu, receiver = time.process_time(), children_cpu()
        posts, wall, latencies = await run(url)
        cpu = time.process_time() - cpu
    publish = None
    if latencies:
        cuts = statistics.quantiles(latencies, n=100)
        publish = (cuts[49], cuts[98])
    return Measured(path, subscriptions, posts, wall, cpu, children_cpu() - receiver, publish)


async def on_backend(backend: str, args: argparse.Namespace, subscriptions: int) -> Measured:
    if backend == "memory":
        return await measure(
            "dispatcher, memory store",
            subscriptions,
            lambda url: dispatched(url, args, subscriptions, MemoryDeliveryStore()),
        )
    workdir = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    schema = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    else:
        url, schema = args.pg_url, f"hotline_bench_{uuid.uuid4().hex[:8]}"
        await admin(url, f"CREATE SCHEMA {schema}")
    engine = create_engine(url, schema=schema)
    try:
        await migrate(engine)
        return await measure(
            f"dispatcher, {backend} store",
            subscriptions,
            lambda hook: dispatched(hook, args, subscriptions, SqlDeliveryStore(engine)),
        )
    finally:
        await engine.dispose()
        if schema is not None:
            await admin(url, f"DROP SCHEMA {schema} CASCADE")
        shutil.rmtree(workdir)


def table(results: list[Measured], args: argparse.Namespace) -> str:
    lines = [
        f"webhooks: {args.events:,} events to each subscription, {args.producers} producers, "
        f"concurrency {args.concurrency} (+1 per subscription)",
        "",
        "| path | subscriptions | POSTs | POSTs/s | wall s | CPU s | CPU µs/POST "
        "| receiver CPU s | publish p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in results:
        publish = "–" if m.publish_ms is None else f"{m.publish_ms[0]:.2f} / {m.publish_ms[1]:.2f}"
        lines.append(
            f"| {m.path} | {m.subscriptions} | {m.posts:,} | {m.rate:,.0f} | {m.wall_s:.2f} "
            f"| {m.cpu_s:.2f} | {m.cpu_s / m.posts * 1e6:,.0f} | {m.receiver_cpu_s:.2f} "
            f"| {publish} |"
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--subscriptions", default="1,4", help="comma-separated counts")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--producers", type=int, default=32)
    parser.add_argument("--backends", default="memory,sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    results: list[Measured] = []
    for subscriptions in [int(n) for n in args.subscriptions.split(",")]:
        print(f"[{subscriptions} subscription(s)] baseline", file=sys.stderr)
        results.append(
            await measure(
                "baseline: bare aiohttp POSTs",
                subscriptions,
                functools.partial(baseline, args=args, subscriptions=subscriptions),
            )
        )
        for backend in args.backends.split(","):
            print(f"[{subscriptions} subscription(s)] {backend}", file=sys.stderr)
            results.append(await on_backend(backend, args, subscriptions))
    print(table(results, args))


if __name__ == "__main__":
    asyncio.run(main())
