"""History store bench: writes per second, and timeline latency in a large store.

Builds a store of ``--interactions`` interactions (default 1,000,000) spread over many
customers, one of whom has ``--customer-interactions`` (default 1,000) of them scattered
through time, then measures on SQLite and on PostgreSQL, side by side:

* interactions written per second through the repository, one at a time (each its own
  transaction: idempotency check, caller lookup, insert, commit) and in bulk batches;
* timeline read latency (p50/p99) for that customer: the repository's keyset pagination
  over the ``(customer_id, started_at, id)`` index, against naive baselines: OFFSET
  pagination over the same index, and keyset paging with only a plain ``customer_id``
  index (the composite index dropped) and with no customer index at all.

    .venv/bin/python bench/history_bench.py --interactions 100000      # about a minute
    .venv/bin/python bench/history_bench.py                             # the full size

PostgreSQL runs in its own schema in the ``test`` database (created and dropped here);
SQLite in a temporary file.
"""

from __future__ import annotations

import argparse
import asyncio
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewInteraction
from history.models import CustomerRow, IdentityRow, InteractionRow, UtcDateTime
from history.repository import HistoryRepository
from history.store import create_engine, migrate

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
    build_rows_per_s: float = 0.0
    rows: dict[str, str] = field(default_factory=dict)


def phone(customer_id: int) -> str:
    return f"+4477{customer_id:09d}"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"{p50:.2f} / {p99:.2f}"


async def build(engine: AsyncEngine, interactions: int, per_customer: int) -> float:
    """Bulk-load customers, their phone identities and the interactions (Core executemany)."""
    customers = max(2, interactions // 20)
    now = datetime.now(UTC)
    started = time.perf_counter()
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
    elapsed = time.perf_counter() - started
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return interactions / elapsed


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
    started = time.perf_counter()
    await one_by_one(single)
    rate = single / (time.perf_counter() - started)
    measured["writes/s, one at a time via repository"] = f"{rate:,.0f}"
    started = time.perf_counter()
    await asyncio.gather(*(one_by_one(single // concurrency) for _ in range(concurrency)))
    rate = (single // concurrency) * concurrency / (time.perf_counter() - started)
    measured[f"writes/s, one at a time, {concurrency} concurrent writers"] = f"{rate:,.0f}"
    started = time.perf_counter()
    for _ in range(bulk // 1000):
        await repository.append_interactions([contact() for _ in range(1000)])
    rate = (bulk // 1000) * 1000 / (time.perf_counter() - started)
    measured["writes/s, bulk batches of 1,000 via repository"] = f"{rate:,.0f}"
    return measured


def newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(InteractionRow.started_at.desc(), InteractionRow.id.desc()).limit(PAGE)


async def walk_keyset(engine: AsyncEngine) -> list[float]:
    """Every page of the target's timeline by keyset; the latency of each page."""
    timings: list[float] = []
    after: tuple[datetime, int] | None = None
    async with engine.connect() as connection:
        while True:
            query = select(*PAGE_COLUMNS).where(InteractionRow.customer_id == TARGET)
            if after is not None:
                query = query.where(
                    tuple_(InteractionRow.started_at, InteractionRow.id)
                    < tuple_(literal(after[0], UtcDateTime()), literal(after[1]))
                )
            started = time.perf_counter()
            rows = (await connection.execute(newest_first(query))).all()
            timings.append(time.perf_counter() - started)
            if len(rows) < PAGE:
                return timings
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


async def reads(engine: AsyncEngine, repository: HistoryRepository, rounds: int) -> dict[str, str]:
    measured: dict[str, str] = {}
    first_pages: list[float] = []
    all_pages: list[float] = []
    for _ in range(rounds):
        cursor: str | None = None
        while True:
            started = time.perf_counter()
            page = await repository.timeline(TARGET, limit=PAGE, cursor=cursor)
            elapsed = time.perf_counter() - started
            all_pages.append(elapsed)
            if cursor is None:
                first_pages.append(elapsed)
            cursor = page.next_cursor
            if cursor is None:
                break
    measured["repository.timeline, page 1 (records + notes)"] = percentiles(first_pages)
    measured["repository.timeline, every page"] = percentiles(all_pages)
    measured["keyset + composite index, every page"] = percentiles(
        await repeat(rounds, lambda: walk_keyset(engine))
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
    return measured


async def walk_keyset_first(engine: AsyncEngine) -> float:
    async with engine.connect() as connection:
        query = select(*PAGE_COLUMNS).where(InteractionRow.customer_id == TARGET)
        started = time.perf_counter()
        await connection.execute(newest_first(query))
        return time.perf_counter() - started


async def run_backend(backend: str, args: argparse.Namespace) -> Results:
    results = Results(backend)
    schema: str | None = None
    workdir = tempfile.mkdtemp(prefix="history-bench-", dir=args.dir)
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    else:
        url, schema = args.pg_url, f"hotline_bench_{uuid.uuid4().hex[:8]}"
        await admin(url, f"CREATE SCHEMA {schema}")
    engine = create_engine(url, schema=schema)
    try:
        await migrate(engine)
        print(f"[{backend}] building {args.interactions:,} interactions ...", file=sys.stderr)
        results.build_rows_per_s = await build(
            engine, args.interactions, args.customer_interactions
        )
        customers = max(2, args.interactions // 20)
        repository = HistoryRepository(engine)
        print(f"[{backend}] writing ...", file=sys.stderr)
        results.rows.update(
            await writes(repository, args.single, args.bulk, customers, args.concurrency)
        )
        results.rows["writes/s, bulk load (Core executemany)"] = f"{results.build_rows_per_s:,.0f}"
        print(f"[{backend}] reading ...", file=sys.stderr)
        results.rows.update(await reads(engine, repository, args.rounds))
    finally:
        await engine.dispose()
        if schema is not None:
            await admin(url, f"DROP SCHEMA {schema} CASCADE")
        await asyncio.to_thread(shutil.rmtree, workdir)
    return results


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


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interactions", type=int, default=1_000_000, help="store size")
    parser.add_argument("--customer-interactions", type=int, default=1_000)
    parser.add_argument("--single", type=int, default=2_000, help="one-at-a-time writes")
    parser.add_argument("--bulk", type=int, default=20_000, help="bulk writes (batches of 1,000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent writers")
    parser.add_argument("--rounds", type=int, default=20, help="full timeline walks per method")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (default: tmp)")
    args = parser.parse_args()
    all_results = [await run_backend(b, args) for b in args.backends.split(",")]
    print(table(all_results, args))


if __name__ == "__main__":
    asyncio.run(main())
