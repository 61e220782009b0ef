"""Reports bench: a simulated month in the event log, and what a 30-day report costs.

Each day is ``acd.channel_day.mixed_day`` (``--tasks`` calls, chats and e-mails of two
queues through the real distributor, ``--agents`` agents holding several digital tasks at
once), written as the live service writes it (``center.persistence.to_new_event``, one
run per day: the service restarted each night) into SQLite (a temporary file). Then:

* **the report** as ``/reports`` makes it (``hotline.reports.figures.ReportFigures``): the
  month by day by queue, by month by channel (FCR and CSAT queries included; the history
  holds no interactions here, so they are quick), and a week at 15-minute intervals by
  agent: wall and CPU time, events read, and (in a second run) the peak of Python memory
  (``tracemalloc``) while it runs, folding one day at a time;
* **the same month again**: closed days' figures come from the cache
  (``ReportFigures``' ``cache_days``), nothing read from the log;
* **the baseline**: the whole month read into memory and folded by one recount
  (``KpiAccumulator``), as a report would without the day-by-day fold: its peak memory.

    .venv/bin/python bench/reports_bench.py                 # 30 days of 2,000 tasks
    .venv/bin/python bench/reports_bench.py --days 7 --tasks 500
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acd.channel_day import CAPACITY, mixed_day
from acd.events import CallQueued, EventRecord
from acd.kpi import SlPolicy
from acd.kpi_recount import KpiAccumulator
from acd.logged_events import record_of
from center.persistence import to_new_event
from history.event_log import events_since
from history.models import EventRow
from history.repository import HistoryRepository
from history.store import create_engine, migrate, writing_sessions
from hotline.reports.figures import ReportFigures, ReportRequest

FIRST = date(2026, 1, 1)
CHUNK = 5000


def shifted(records: list[EventRecord], base: float) -> list[EventRecord]:
    out = []
    for r in records:
        event = r.event
        if isinstance(event, CallQueued):
            event = replace(event, entry_time=event.entry_time + base)
        out.append(EventRecord(r.seq, r.at + base, event))
    return out


async def write_month(url: str, days: int, tasks: int, agents: int) -> tuple[int, float]:
    engine = create_engine(url)
    written, started = 0, time.perf_counter()
    try:
        await migrate(engine)
        sessions = writing_sessions(engine)
        for d in range(days):
            midnight = datetime.combine(FIRST + timedelta(days=d), datetime.min.time(), UTC)
            records = mixed_day(tasks, agents, seed=d + 1)
            rows = []
            for r in records:
                new = to_new_event(r, midnight + timedelta(seconds=r.at), f"day{d:03d}")
                rows.append(
                    {
                        "at": new.at,
                        "kind": new.kind,
                        "call_id": new.call_id,
                        "agent_id": new.agent_id,
                        "payload": new.payload,
                        "key": new.key,
                    }
                )
            for first in range(0, len(rows), CHUNK):
                async with sessions() as session, session.begin():
                    await session.execute(insert(EventRow), rows[first : first + CHUNK])
            written += len(rows)
    finally:
        await engine.dispose()
    return written, time.perf_counter() - started


async def measured(work: Callable[[], Awaitable[Any]]) -> tuple[Any, dict[str, float]]:
    """Wall and CPU time of one run, then the peak of Python memory of another (tracemalloc
    slows Python several times over: its run is not the one timed)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = await work()
    figures = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    tracemalloc.start()
    await work()
    figures["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, figures


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks a day")
    parser.add_argument("--agents", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-reports-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/hotline.db"
        events, write_s = await write_month(url, args.days, args.tasks, args.agents)
        print(f"{args.days} days of {args.tasks} tasks, {args.agents} agents: "
              f"{events:,} events written in {write_s:.1f} s")  # fmt: skip
        engine = create_engine(url)
        try:
            figures = ReportFigures(
                engine,
                HistoryRepository(engine),
                policy=SlPolicy,
                capacity=lambda agent_id: CAPACITY,
                now=lambda: datetime(2030, 1, 1, tzinfo=UTC),
                cache_days=0,  # every report reads and folds its days
            )
            last = FIRST + timedelta(days=args.days - 1)
            week = min(last, FIRST + timedelta(days=6))
            cases = (
                (f"{args.days} days by day, by queue", ReportRequest(FIRST, last, "day", "queue")),
                (
                    f"{args.days} days by month, by channel",
                    ReportRequest(FIRST, last, "month", "channel"),
                ),
                (
                    "7 days at 15-minute intervals, by agent",
                    ReportRequest(FIRST, week, "interval", "agent"),
                ),
            )
            print("| report | rows | events read | wall | CPU | peak Python memory |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, request in cases:
                report, cost = await measured(
                    lambda request=request: figures.report(request, UTC)  # type: ignore[misc]
                )
                print(f"| {name} | {len(report.rows):,} | {report.events:,} | "
                      f"{cost['wall_s']:.2f} s | {cost['cpu_s']:.2f} s | "
                      f"{cost['peak_mib']:.1f} MiB |")  # fmt: skip

            cached = ReportFigures(
                engine,
                HistoryRepository(engine),
                policy=SlPolicy,
                capacity=lambda agent_id: CAPACITY,
                now=lambda: datetime(2030, 1, 1, tzinfo=UTC),
            )
            month = ReportRequest(FIRST, last, "day", "queue")
            await cached.report(month, UTC)  # the closed days folded once
            report, cost = await measured(lambda: cached.report(month, UTC))
            print(
                f"| {args.days} days by day, by queue, again: closed days cached | "
                f"{len(report.rows):,} | {report.events:,} ({report.cached_days} days cached) | "
                f"{cost['wall_s']:.2f} s | {cost['cpu_s']:.2f} s | {cost['peak_mib']:.1f} MiB |"
            )

            async def whole_month() -> int:
                since = datetime.combine(FIRST, datetime.min.time(), UTC)
                records = []
                async for rows in events_since(engine, since):
                    for row in rows:
                        record = record_of(row)
                        if record is not None:
                            records.append(record)
                acc = KpiAccumulator(interval_s=900).add_all(records)
                return len(acc.calls)

            _, cost = await measured(whole_month)
            # one accumulator for every run: a cost comparison only (runs reuse task ids)
            print("| baseline: the month's events in memory at once, one recount | | "
                  f"{events:,} | {cost['wall_s']:.2f} s | {cost['cpu_s']:.2f} s | "
                  f"{cost['peak_mib']:.1f} MiB |")  # fmt: skip
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
