"""KPI bench: a day of ``--calls`` calls (default 100,000), rebuilt at start and kept live.

The day's event log is made by the discrete-event simulator (``acd/scenarios/
heterogeneous.yaml``: real routing, RONA, wrap-up, abandons), its times compressed into
one day, and written as the live service writes it (``center.persistence.to_new_event``,
one run) into SQLite and PostgreSQL. Then, side by side:

* **start-up rebuild**: today's events read back in batches (``history.event_log``),
  decoded (``acd.logged_events``) and folded into ``KpiAggregate`` (the hub's
  ``EventLogKpis``), wall and CPU time; the read alone, for the share of the store;
* **cost per event** of the live update, in memory: ``KpiAggregate.add`` (running sums) and
  ``KpiAccumulator.add`` (the old fold that keeps every call), the fastest of ``--repeat``
  folds (CPU time: other work on a shared machine inflates one run);
* **cost per page update** at the end of the day (what the hub recomputes at most once a
  second): the aggregate's reports (today, current and last interval, the three rolling
  windows, per queue and channel, the interval series) against the baseline, today's
  approach before this change: ``KpiAccumulator.window`` over all the day's calls for
  today and the last interval, and ``intervals`` for the series.

    .venv/bin/python bench/kpi_bench.py                     # 100,000 calls, a few minutes
    .venv/bin/python bench/kpi_bench.py --calls 20000 --backends sqlite
    .venv/bin/python bench/kpi_bench.py --mix voice=0.6,chat=0.3,email=0.1

``--mix``: a day of every channel instead (calls, chats and
e-mails through the real distributor, agents holding several digital tasks at once:
``acd/channel_day.py``).

PostgreSQL runs in its own schema in the ``test`` database (created and dropped here);
SQLite in a temporary file.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acd.capacity import VOICE_ONLY, Capacity
from acd.channel_day import CAPACITY, mixed_day
from acd.events import CallQueued, EventRecord
from acd.kpi_aggregate import ROLLING_WINDOWS_S, CapacityOf, KpiAggregate
from acd.kpi_recount import KpiAccumulator
from acd.scenario import load_scenario
from acd.simulation import run_simulation
from center.persistence import to_new_event
from history.event_log import events_since
from history.models import EventRow
from history.store import create_engine, migrate, writing_sessions
from hotline.web.supervisor.kpi_log import KPI_KINDS, EventLogKpis

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SCENARIO = Path(__file__).resolve().parents[1] / "acd" / "scenarios" / "heterogeneous.yaml"
#: The bench's day, UTC midnight to midnight.
DAY = datetime(2026, 3, 2, tzinfo=UTC)
INTERVAL_S = 900.0
RUN = "bench0000001"
WRITE_CHUNK = 5000


def voice_only(agent_id: str) -> Capacity:
    """The simulator's agents: their phone only."""
    return VOICE_ONLY


def every_channel(agent_id: str) -> Capacity:
    """The mixed day's agents (``acd.channel_day``)."""
    return CAPACITY


class Clock:
    """Wall and CPU seconds of a stretch of work."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def simulated_day(calls: int) -> list[EventRecord]:
    """The simulator's log of ``calls`` calls, its times squeezed into one day."""
    records: list[EventRecord] = []
    run_simulation(load_scenario(SCENARIO), calls=calls, on_event=records.append)
    scale = min(1.0, 86_000.0 / max(records[-1].at, 1.0))
    day: list[EventRecord] = []
    for r in records:
        event = r.event
        if isinstance(event, CallQueued):
            event = replace(event, entry_time=event.entry_time * scale)
        day.append(EventRecord(r.seq, r.at * scale, event))
    return day


def on_wall(records: list[EventRecord]) -> list[EventRecord]:
    """The records with epoch-second times, as the hub folds them."""
    base = DAY.timestamp()
    out = []
    for r in records:
        event = r.event
        if isinstance(event, CallQueued):
            event = replace(event, entry_time=event.entry_time + base)
        out.append(EventRecord(r.seq, r.at + base, event))
    return out


async def write_log(url: str, schema: str | None, records: list[EventRecord]) -> float:
    engine = create_engine(url, schema=schema)
    try:
        await migrate(engine)
        sessions = writing_sessions(engine)
        news = [to_new_event(r, DAY + timedelta(seconds=r.at), RUN) for r in records]
        rows = [
            {
                "at": n.at,
                "kind": n.kind,
                "call_id": n.call_id,
                "agent_id": n.agent_id,
                "payload": n.payload,
                "key": n.key,
            }
            for n in news
        ]
        with Clock() as clock:
            for first in range(0, len(rows), WRITE_CHUNK):
                async with sessions() as session, session.begin():
                    await session.execute(insert(EventRow), rows[first : first + WRITE_CHUNK])
        return clock.wall
    finally:
        await engine.dispose()


async def rebuild(url: str, schema: str | None, capacity: CapacityOf) -> dict[str, float]:
    engine = create_engine(url, schema=schema)
    try:
        figures: dict[str, float] = {}
        with Clock() as read:
            rows = 0
            async for logged in events_since(engine, DAY, kinds=KPI_KINDS):
                rows += len(logged)
        figures["read_wall"], figures["read_cpu"], figures["rows"] = read.wall, read.cpu, rows
        source = EventLogKpis(engine, "the current run")
        kpis = KpiAggregate(interval_s=INTERVAL_S, day_start=DAY.timestamp(), capacity=capacity)
        with Clock() as whole:
            async for batch in source.since(DAY):
                for _, run, record in batch:
                    kpis.add(record, run)
            for run in kpis.runs:
                kpis.close_run(run)
        figures["wall"], figures["cpu"] = whole.wall, whole.cpu
        rebuilt = kpis.day(DAY.timestamp() + 86_400)
        figures["offered"] = rebuilt.calls.offered
        figures["overall"] = rebuilt.overall.offered
        return figures
    finally:
        await engine.dispose()


def per_event(
    records: list[EventRecord], capacity: CapacityOf, repeat: int
) -> tuple[dict[str, float], KpiAggregate, KpiAccumulator]:
    """Each fold's cost per event: the fastest of ``repeat`` folds of the day (CPU time),
    so that other work on the machine weighs as little as it can."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):
        aggregate = KpiAggregate(
            interval_s=INTERVAL_S, day_start=DAY.timestamp(), capacity=capacity
        )
        accumulator = KpiAccumulator(interval_s=INTERVAL_S, capacity=capacity)
        for name, fold in (("new", aggregate.add), ("old", accumulator.add)):
            with Clock() as clock:
                for r in records:
                    fold(r)
            if name not in best or clock.cpu < best[name][1]:
                best[name] = (clock.wall, clock.cpu)
    n = len(records)
    return (
        {
            "new_us": best["new"][0] / n * 1e6,
            "new_cpu_us": best["new"][1] / n * 1e6,
            "old_us": best["old"][0] / n * 1e6,
            "old_cpu_us": best["old"][1] / n * 1e6,
        },
        aggregate,
        accumulator,
    )


def per_update(
    aggregate: KpiAggregate, accumulator: KpiAccumulator, now: float, rounds: int
) -> dict[str, float]:
    current = math.floor(now / INTERVAL_S) * INTERVAL_S

    def new() -> None:
        aggregate.day(now)
        aggregate.interval(current, now)
        aggregate.interval(current - INTERVAL_S, now)
        for window in ROLLING_WINDOWS_S:
            aggregate.rolling(window, now)
        aggregate.by_queue_channel(now)
        aggregate.intervals(now)

    def old() -> None:
        accumulator.window(DAY.timestamp(), math.inf, end=now)
        accumulator.window(current - INTERVAL_S, current, end=now)
        accumulator.intervals(end=now)

    figures: dict[str, float] = {}
    for name, update in (("new", new), ("old", old)):
        with Clock() as clock:
            for _ in range(rounds):
                update()
        figures[f"{name}_ms"] = clock.wall / rounds * 1e3
        figures[f"{name}_cpu_ms"] = clock.cpu / rounds * 1e3
    return figures


async def admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def backend(
    name: str, args: argparse.Namespace, records: list[EventRecord], capacity: CapacityOf
) -> dict[str, float]:
    workdir = tempfile.mkdtemp(prefix="kpi-bench-", dir=args.dir)
    schema: str | None = None
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    else:
        url, schema = args.pg_url, f"hotline_kpi_bench_{uuid.uuid4().hex[:8]}"
        await admin(url, f"CREATE SCHEMA {schema}")
    try:
        print(f"[{name}] writing {len(records):,} events ...", file=sys.stderr)
        written = await write_log(url, schema, records)
        print(f"[{name}] rebuilding ...", file=sys.stderr)
        figures = await rebuild(url, schema, capacity)
        figures["write_wall"] = written
        return figures
    finally:
        if schema is not None:
            await admin(url, f"DROP SCHEMA {schema} CASCADE")
        await asyncio.to_thread(shutil.rmtree, workdir)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000, help="calls in the day")
    parser.add_argument("--rounds", type=int, default=20, help="page updates timed")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (default: tmp)")
    parser.add_argument("--mix", default=None, help="channel shares: voice=0.6,chat=0.3,...")
    parser.add_argument("--repeat", type=int, default=3, help="folds timed (the fastest kept)")
    args = parser.parse_args()

    print(f"simulating {args.calls:,} calls ...", file=sys.stderr)
    capacity: CapacityOf = voice_only
    if args.mix is None:
        day = simulated_day(args.calls)
    else:
        capacity = every_channel
        shares = {k: float(v) for k, _, v in (p.partition("=") for p in args.mix.split(","))}
        day = mixed_day(args.calls, agents=max(10, args.calls // 450), mix=shares)
    live = on_wall(day)
    costs, aggregate, accumulator = per_event(live, capacity, args.repeat)
    end = live[-1].at
    updates = per_update(aggregate, accumulator, end, args.rounds)
    offered = aggregate.day(end).calls.offered
    overall = aggregate.day(end).overall.offered
    stores = {name: await backend(name, args, day, capacity) for name in args.backends.split(",")}

    what = "calls" if args.mix is None else f"tasks ({args.mix})"
    print(f"KPI bench: a day of {args.calls:,} {what}, {len(day):,} ACD events")
    print()
    print("| measure | " + " | ".join(stores) + " |")
    print("|---|" + "---|" * len(stores))
    rows = (
        ("events written (bulk, s)", "write_wall", "{:.1f}"),
        ("events read back for the KPIs", "rows", "{:,.0f}"),
        ("read only: wall s", "read_wall", "{:.2f}"),
        ("read only: CPU s", "read_cpu", "{:.2f}"),
        ("start-up rebuild (read, decode, fold): wall s", "wall", "{:.2f}"),
        ("start-up rebuild: CPU s", "cpu", "{:.2f}"),
    )
    for label, key, form in rows:
        print(f"| {label} | " + " | ".join(form.format(s[key]) for s in stores.values()) + " |")
    for name, figures in stores.items():
        assert figures["offered"] == offered, f"{name}: rebuilt {figures['offered']} != {offered}"
        assert figures["overall"] == overall, f"{name}: rebuilt {figures['overall']} != {overall}"
    print()
    print(
        f"rebuilt figures equal the live fold's ({offered:,} calls, {overall:,} contacts "
        "of every channel offered)"
    )
    print()
    print(
        "| in memory | running sums (KpiAggregate) | baseline: every call kept (KpiAccumulator) |"
    )
    print("|---|---|---|")
    print(
        f"| cost per event, wall / CPU µs | {costs['new_us']:.2f} / {costs['new_cpu_us']:.2f} "
        f"| {costs['old_us']:.2f} / {costs['old_cpu_us']:.2f} |"
    )
    print(
        f"| page update at the day's end, wall / CPU ms | {updates['new_ms']:.2f} / "
        f"{updates['new_cpu_ms']:.2f} | {updates['old_ms']:.1f} / {updates['old_cpu_ms']:.1f} |"
    )


if __name__ == "__main__":
    asyncio.run(main())
