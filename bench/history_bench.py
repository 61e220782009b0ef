"""History store bench: writes per second, and timeline latency in a large store.

Builds a store of ``--interactions`` interactions (default 1,000,000) spread over many
customers, one of whom has ``--customer-interactions`` (default 1,000) of them scattered
through time, then measures on SQLite and on PostgreSQL, side by side:

* interactions written per second through the repository, one at a time (each its own
  transaction: idempotency check, caller lookup, insert, commit) and in bulk batches;
* timeline read latency (p50/p99, and this process's CPU per page) for that customer: the
  repository's page (interactions, notes, conversations: ``HistoryRepository.timeline``),
  against the bare keyset query over the ``(customer_id, started_at, id)`` index in the same
  run (the floor), and naive baselines: OFFSET pagination over the same index, and keyset
  paging with only a plain ``customer_id`` index and with no customer index at all;
* the same pages **under load**: the service's write path (``HistoryWriter`` through the
  ACD's sink and recorder, as ``bench/history_write_bench.py`` drives it) taking
  ``--load-calls`` calls/s in this process while the pages are read.

    .venv/bin/python bench/history_bench.py --quick                     # 100k, about a minute
    .venv/bin/python bench/history_bench.py                             # the full size
    .venv/bin/python bench/history_bench.py --before ../main --keep /tmp/history-bench

``--before DIR`` reads the same pages, in turns with this tree's, with the repository of the
code in DIR (a checkout of the code before a change), in a child process (its CPU per page
is its own); ``--keep DIR`` keeps the built store (a SQLite file in DIR, a PostgreSQL schema
named after it) for the next run, which then skips the build (the indexes the naive
baselines drop are made again afterwards).

PostgreSQL runs in its own schema in the ``test`` database (created and dropped here);
SQLite in a temporary file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

# The project's code: this tree's, or another's (``--before``: the child that reads with it).
sys.path.insert(0, os.environ.get("HOTLINE_BENCH_CODE") or str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import history_write_bench as write_bench

from acd.events import InMemoryEventSink
from center.persistence import HistoryEventSink, HistoryInteractions
from history import offload
from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewInteraction
from history.models import CustomerRow, IdentityRow, InteractionRow, UtcDateTime
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine, migrate
from history.writer import HistoryWriter

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
PAGE = 50
TARGET = 1  # the customer whose timeline is read
CHANNELS = [c.value for c in Channel]
COMPOSITE_INDEX = "ix_interactions_customer_id_started_at_id"
STATUS_INDEX = "ix_interactions_customer_id_status"
PAGE_COLUMNS: tuple[Any, ...] = (
    InteractionRow.started_at,
    InteractionRow.id,
    InteractionRow.channel,
    InteractionRow.status,
    InteractionRow.agent,
)
TABLES = InteractionRow.metadata.tables


@dataclass
class Results:
    backend: str
    build_rows_per_s: str = ""
    rows: dict[str, str] = field(default_factory=dict)


def phone(customer_id: int) -> str:
    return f"+4477{customer_id:09d}"


def percentiles(samples: list[float], cpu: list[float] | None = None) -> str:
    """p50 / p99 ms of wall time, and the median CPU ms of this process per sample."""
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    spent = "" if cpu is None else f" (CPU {statistics.median(cpu) * 1000:.2f})"
    return f"{p50:.2f} / {p99:.2f}{spent}"


class Timed:
    """Wall and CPU time of each sample."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self) -> Timed:
        self._started, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall.append(time.perf_counter() - self._started)
        self.cpu.append(time.process_time() - self._cpu)

    def __str__(self) -> str:
        return percentiles(self.wall, self.cpu)


async def build(engine: AsyncEngine, interactions: int, per_customer: int) -> str:
    """Bulk-load customers, their phone identities and the interactions (Core executemany)."""
    customers = max(2, interactions // 20)
    now = datetime.now(UTC)
    started, cpu = time.perf_counter(), time.process_time()
    batch = 10_000
    async with engine.begin() as connection:
        for first in range(1, customers + 1, batch):
            ids = range(first, min(first + batch, customers + 1))
            await connection.execute(
                TABLES[CustomerRow.__tablename__].insert(),
                [
                    {
                        "id": i,
                        "name": f"Customer {i}",
                        "tags": [],
                        "consent": {},
                        "custom_fields": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            await connection.execute(
                TABLES[IdentityRow.__tablename__].insert(),
                [
                    {"customer_id": i, "kind": "phone", "value": phone(i), "created_at": now}
                    for i in ids
                ],
            )
    rng = random.Random(7)
    every = max(1, interactions // per_customer)
    for first in range(0, interactions, batch):
        rows: list[dict[str, Any]] = []
        for j in range(first, min(first + batch, interactions)):
            owner = TARGET if j % every == 0 else rng.randint(2, customers)
            at = START + SPAN * (j / interactions)
            rows.append(
                {
                    "customer_id": owner,
                    "channel": rng.choice(CHANNELS),
                    "direction": "in",
                    "started_at": at,
                    "ended_at": at + timedelta(seconds=300),
                    "intent": "billing",
                    "queue": "billing",
                    "agent": f"agent{rng.randint(1, 200)}",
                    "wait_s": rng.random() * 60,
                    "talk_s": rng.random() * 600,
                    "status": rng.choice(("open", "resolved", "resolved", "postponed")),
                    "source": "bench",
                    "idempotency_key": f"b{j}",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        async with engine.begin() as connection:
            await connection.execute(TABLES[InteractionRow.__tablename__].insert(), rows)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    async with engine.begin() as connection:
        if engine.url.get_backend_name() == "postgresql":  # the ids were given: move past them
            sequence = "pg_get_serial_sequence('customers', 'id')"
            await connection.execute(text(f"SELECT setval({sequence}, max(id)) FROM customers"))
        await connection.execute(text("ANALYZE"))
    return f"{interactions / elapsed:,.0f} (per CPU s: {interactions / cpu:,.0f})"


async def writes(
    repository: HistoryRepository, single: int, bulk: int, customers: int, concurrency: int
) -> dict[str, str]:
    rng = random.Random(11)

    def contact() -> NewInteraction:
        return NewInteraction(
            channel=Channel.VOICE,
            identity=IdentityIn(kind=IdentityKind.PHONE, value=phone(rng.randint(2, customers))),
            queue="billing",
            agent="agent7",
            source="bench-write",
            idempotency_key=uuid.uuid4().hex,
        )

    async def one_by_one(count: int) -> None:
        for _ in range(count):
            await repository.append_interaction(contact())

    measured: dict[str, str] = {}

    async def rate(label: str, count: int, work: Awaitable[None]) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        await work
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        measured[label] = f"{count / wall:,.0f} (per CPU s: {count / cpu:,.0f})"

    await rate("writes/s, one at a time via repository", single, one_by_one(single))
    per_writer = single // concurrency

    async def concurrent() -> None:
        await asyncio.gather(*(one_by_one(per_writer) for _ in range(concurrency)))

    await rate(
        f"writes/s, one at a time, {concurrency} concurrent writers",
        per_writer * concurrency,
        concurrent(),
    )

    async def in_bulk() -> None:
        for _ in range(bulk // 1000):
            await repository.append_interactions([contact() for _ in range(1000)])

    await rate("writes/s, bulk batches of 1,000 via repository", bulk // 1000 * 1000, in_bulk())
    return measured


def newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(InteractionRow.started_at.desc(), InteractionRow.id.desc()).limit(PAGE)


async def walk_keyset(engine: AsyncEngine, timed: Timed | None = None) -> list[float]:
    """Every page of the target's timeline by keyset; the latency of each page."""
    timed = timed or Timed()
    after: tuple[datetime, int] | None = None
    async with engine.connect() as connection:
        while True:
            query = select(*PAGE_COLUMNS).where(InteractionRow.customer_id == TARGET)
            if after is not None:
                query = query.where(
                    tuple_(InteractionRow.started_at, InteractionRow.id)
                    < tuple_(literal(after[0], UtcDateTime()), literal(after[1]))
                )
            with timed:
                rows = (await connection.execute(newest_first(query))).all()
            if len(rows) < PAGE:
                return timed.wall
            after = (rows[-1][0], rows[-1][1])


async def walk_offset(engine: AsyncEngine) -> list[float]:
    timings: list[float] = []
    async with engine.connect() as connection:
        for page in range(10_000):
            query = select(*PAGE_COLUMNS).where(InteractionRow.customer_id == TARGET)
            started = time.perf_counter()
            rows = (await connection.execute(newest_first(query).offset(page * PAGE))).all()
            timings.append(time.perf_counter() - started)
            if len(rows) < PAGE:
                break
    return timings


async def repeat(times: int, read: Callable[[], Awaitable[list[float]]]) -> list[float]:
    samples: list[float] = []
    for _ in range(times):
        samples += await read()
    return samples


async def walk_repository(repository: HistoryRepository, first: Timed, every: Timed) -> None:
    cursor: str | None = None
    while True:
        with every:
            page = await repository.timeline(TARGET, limit=PAGE, cursor=cursor)
        if cursor is None:
            first.wall.append(every.wall[-1])
            first.cpu.append(every.cpu[-1])
        cursor = page.next_cursor
        if cursor is None:
            return


async def timeline_pages(
    engine: AsyncEngine,
    repository: HistoryRepository,
    rounds: int,
    label: str,
    before: Before | None = None,
) -> dict[str, str]:
    """The repository's pages and the bare query's (and the code before's, in its own
    process), walked in turns, ``rounds`` times each."""
    first, every, bare, old = Timed(), Timed(), Timed(), Timed()
    await walk_repository(repository, Timed(), Timed())  # warm: statements, connections
    for _ in range(rounds):
        if before is not None:
            await before.walk(old)
        await walk_repository(repository, first, every)
        await walk_keyset(engine, bare)
    measured = {
        f"repository.timeline, page 1{label}": str(first),
        f"repository.timeline, every page{label}": str(every),
    }
    if before is not None:
        measured[f"before ({before.code}): repository.timeline, every page{label}"] = str(old)
    measured[f"baseline: bare keyset query + composite index, every page{label}"] = str(bare)
    return measured


@dataclass
class Before:
    """The repository of the code in ``code`` walking the same pages, in a child process."""

    code: str
    url: str
    schema: str | None

    async def walk(self, timed: Timed) -> None:
        command = [sys.executable, __file__, "--walk", self.url]
        if self.schema is not None:
            command += ["--schema", self.schema]
        child = await asyncio.create_subprocess_exec(
            *command,
            env=os.environ | {"HOTLINE_BENCH_CODE": self.code},
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        if child.returncode:
            raise RuntimeError(f"the walk with {self.code} failed ({child.returncode})")
        samples = json.loads(out)
        timed.wall += samples["wall"]
        timed.cpu += samples["cpu"]


async def walk_alone(url: str, schema: str | None) -> None:
    """``--walk``: one warm-up walk of the target's timeline, then one measured, printed
    as JSON (the child of ``Before``, running the code it was given)."""
    engine = create_engine(url, schema=schema)
    try:
        repository = HistoryRepository(engine)
        await walk_repository(repository, Timed(), Timed())
        every = Timed()
        await walk_repository(repository, Timed(), every)
        print(json.dumps({"wall": every.wall, "cpu": every.cpu}))
    finally:
        with contextlib.suppress(ImportError):  # the code before may not have the lanes
            from history import offload

            await offload.close(engine)
        await engine.dispose()


async def reads(
    engine: AsyncEngine, repository: HistoryRepository, args: argparse.Namespace
) -> dict[str, str]:
    rounds = args.rounds
    before = None
    if args.before:
        before = Before(args.before, str(engine.url), args.schema)
    measured = await timeline_pages(engine, repository, rounds, "", before)
    if args.load_calls:
        async with WriteLoad(repository, args.load_calls):
            measured.update(
                await timeline_pages(
                    engine, repository, rounds, f", under {args.load_calls:g} calls/s of writes"
                )
            )
    measured["baseline: OFFSET + composite index, every page"] = percentiles(
        await repeat(rounds, lambda: walk_offset(engine))
    )
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP INDEX {COMPOSITE_INDEX}"))
        await connection.execute(text("ANALYZE"))
    measured["baseline: keyset, customer_id index only, every page"] = percentiles(
        await repeat(max(1, rounds // 4), lambda: walk_keyset(engine))
    )
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP INDEX {STATUS_INDEX}"))
        await connection.execute(text("ANALYZE"))
    measured["baseline: keyset, no customer index, page 1"] = percentiles(
        [(await walk_keyset_first(engine)) for _ in range(5)]
    )
    if args.keep:  # the kept store as it was built
        async with engine.begin() as connection:
            for name, columns in (
                (COMPOSITE_INDEX, "customer_id, started_at, id"),
                (STATUS_INDEX, "customer_id, status"),
            ):
                await connection.execute(text(f"CREATE INDEX {name} ON interactions ({columns})"))
            await connection.execute(text("ANALYZE"))
    return measured


class WriteLoad:
    """The service's write path taking ``rate`` calls/s (8 events and 3 interaction writes
    each, through ``HistoryWriter``) until the block ends; how many it spooled is printed."""

    def __init__(self, repository: HistoryRepository, rate: float) -> None:
        self.repository = repository
        self.rate = rate
        self._workdir = Path(tempfile.mkdtemp(prefix="history-bench-load-"))

    async def __aenter__(self) -> WriteLoad:
        self.writer = HistoryWriter(self.repository, Spool(self._workdir / "spool.jsonl"))
        await self.writer.start()
        self.clocked = write_bench.Clocked()
        timed = write_bench.TimedWriter(self.writer, self.writer, self.clocked)
        self.sink = HistoryEventSink(timed, inner=InMemoryEventSink(keep=False))
        self.interactions = HistoryInteractions(timed)
        self.calls = write_bench.Calls(self.sink, self.interactions, self.clocked)
        self._task = asyncio.create_task(self._drive())
        return self

    async def _drive(self) -> None:
        started = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        for n in range(10**9):
            delay = started + n / self.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self.calls.call(5_000_000 + n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def __aexit__(self, *_exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.sink.close(timeout_s=600)
        await self.interactions.close()
        await self.writer.close()
        print(
            f"  load: {len(self.clocked.committed):,} writes, {self.clocked.spooled} spooled",
            file=sys.stderr,
        )
        shutil.rmtree(self._workdir, ignore_errors=True)


async def walk_keyset_first(engine: AsyncEngine) -> float:
    async with engine.connect() as connection:
        query = select(*PAGE_COLUMNS).where(InteractionRow.customer_id == TARGET)
        started = time.perf_counter()
        await connection.execute(newest_first(query))
        return time.perf_counter() - started


async def run_backend(backend: str, args: argparse.Namespace) -> Results:
    results = Results(backend)
    schema: str | None = None
    kept = args.keep is not None
    if kept:
        workdir = os.path.join(args.keep, f"{args.interactions}")
        os.makedirs(workdir, exist_ok=True)
    else:
        workdir = tempfile.mkdtemp(prefix="history-bench-", dir=args.dir)
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    else:
        url = args.pg_url
        schema = f"hotline_bench_{'kept' if kept else uuid.uuid4().hex[:8]}_{args.interactions}"
        await admin(url, f"CREATE SCHEMA IF NOT EXISTS {schema}")
    args.schema = schema
    engine = create_engine(url, schema=schema)
    try:
        await migrate(engine)
        built = kept and await holds_a_store(engine)
        if built:
            print(f"[{backend}] the kept store ({workdir}, {schema})", file=sys.stderr)
            results.build_rows_per_s = "(kept)"
        else:
            print(f"[{backend}] building {args.interactions:,} interactions", file=sys.stderr)
            results.build_rows_per_s = await build(
                engine, args.interactions, args.customer_interactions
            )
        customers = max(2, args.interactions // 20)
        repository = HistoryRepository(engine)
        print(f"[{backend}] writing ...", file=sys.stderr)
        results.rows.update(
            await writes(repository, args.single, args.bulk, customers, args.concurrency)
        )
        results.rows["baseline: writes/s, bulk load (Core executemany)"] = results.build_rows_per_s
        print(f"[{backend}] reading ...", file=sys.stderr)
        results.rows.update(await reads(engine, repository, args))
    finally:
        await offload.close(engine)
        await engine.dispose()
        if not kept:
            if schema is not None:
                await admin(url, f"DROP SCHEMA {schema} CASCADE")
            await asyncio.to_thread(shutil.rmtree, workdir)
    return results


async def holds_a_store(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        found = await connection.execute(text("SELECT count(*) FROM interactions"))
        return bool(found.scalar_one())


async def admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def table(all_results: list[Results], args: argparse.Namespace) -> str:
    backends = [r.backend for r in all_results]
    lines = [
        f"history bench: {args.interactions:,} interactions, target customer has "
        f"{args.customer_interactions:,}; latency as p50 / p99 ms, pages of {PAGE}",
        "",
        "| measure | " + " | ".join(backends) + " |",
        "|---|" + "---|" * len(backends),
    ]
    for measure in all_results[0].rows:
        lines.append(
            f"| {measure} | " + " | ".join(r.rows.get(measure, "") for r in all_results) + " |"
        )
    return "\n".join(lines)


def absolute(path: str) -> str:
    return os.path.abspath(path)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100k interactions, few rounds")
    parser.add_argument("--load-calls", type=float, default=50.0, help="write load, calls/s")
    parser.add_argument("--interactions", type=int, default=None, help="store size (1M)")
    parser.add_argument("--customer-interactions", type=int, default=1_000)
    parser.add_argument("--single", type=int, default=None, help="one-at-a-time writes (2,000)")
    parser.add_argument("--bulk", type=int, default=None, help="bulk writes (20,000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent writers")
    parser.add_argument("--rounds", type=int, default=None, help="timeline walks per method (20)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (default: tmp)")
    parser.add_argument(
        "--before", metavar="DIR", type=absolute, help="also the timeline of the code in DIR"
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the built store here, reuse it")
    parser.add_argument("--walk", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--schema", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.walk:
        await walk_alone(args.walk, args.schema)
        return
    quick = args.quick
    args.interactions = args.interactions or (100_000 if quick else 1_000_000)
    args.single = args.single or (200 if quick else 2_000)
    args.bulk = args.bulk or (5_000 if quick else 20_000)
    args.rounds = args.rounds or (3 if quick else 20)
    all_results = [await run_backend(b, args) for b in args.backends.split(",")]
    print(table(all_results, args))
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    asyncio.run(main())
