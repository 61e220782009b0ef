"""History write path bench: the ACD's event log and interaction writes, as the service makes them.

Each simulated call goes through ``HistoryEventSink`` and ``HistoryInteractions`` (the
objects ``hotline.app`` wires): queued (an interaction and its events), offered, answered
(an update), ended (an update), the agent's state changes: 8 events and 3 interaction
writes per call. Two ways of writing, on SQLite and PostgreSQL:

* **one at a time** (the baseline, the way before group commit): each write is its own
  transaction through the repository, one at a time per stream (events, interactions);
* **group commit**: ``history.writer.HistoryWriter``: while a batch commits, the next
  writes queue, and the writer commits them together in one transaction.

Baseline, in the same run: **raw bulk insert**, the same calls' event and interaction rows
(the updates folded in) inserted with Core executemany, a transaction per 1,000 calls: what
the database takes with no service in front of it.

Loads: calls arriving at a steady rate (``--rates``, calls/s, for ``--seconds``), and
``--calls`` calls with ``--concurrency`` of them at once, as fast as they go. Printed:
writes/s (every write committed, from the first append to the last commit) in wall time and
per CPU second of this process (the service's own cost, whatever else the machine runs),
the lag from ``append`` to committed (p50/p95/max), and how many writes were spooled (0
unless the writer judged the store unavailable). Each backend is warmed up first (the
statements compiled and prepared), as a running service is.

    .venv/bin/python bench/history_write_bench.py                      # about five minutes
    .venv/bin/python bench/history_write_bench.py --quick              # group commit only, ~1 min
    .venv/bin/python bench/history_write_bench.py --backends sqlite --calls 200
    .venv/bin/python bench/history_write_bench.py --quick --before ../main

``--before DIR`` runs the same loads first with the code in DIR (a checkout of the code
before a change), in a child process on a store of its own, and prints its rows beside.

PostgreSQL runs in its own schema in the ``test`` database (created and dropped here);
SQLite in a temporary file.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

# The project's code: this tree's, or another's (``--before``: the child that runs it).
sys.path.insert(0, os.environ.get("HOTLINE_BENCH_CODE") or str(Path(__file__).resolve().parents[1]))

from acd.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    InMemoryEventSink,
)
from center.persistence import HistoryEventSink, HistoryInteractions
from history.inputs import InteractionRef, InteractionUpdate, NewEvent, NewInteraction, NewNote
from history.models import EventRow, InteractionRow
from history.outcomes import Outcome
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine, migrate
from history.writer import HistoryWriter
from ivr.flow.handoff import CallAttributes

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
EVENTS_PER_CALL, INTERACTION_WRITES_PER_CALL = 8, 3


class OneAtATime:
    """The baseline: each write its own transaction, one at a time (per stream)."""

    def __init__(self, repository: HistoryRepository) -> None:
        self.repository = repository
        self._turn = asyncio.Lock()  # FIFO: writes go in the order they were handed over

    async def append_event(self, new: NewEvent) -> object:
        async with self._turn:
            return await self.repository.append_event(new)

    async def append_interaction(self, new: NewInteraction) -> object:
        async with self._turn:
            return await self.repository.append_interaction(new)

    async def update_interaction(
        self, target: int | InteractionRef, change: InteractionUpdate
    ) -> object:
        async with self._turn:
            return await self.repository.update_interaction(target, change)


@dataclass
class Clocked:
    """When each write was appended and when it was committed (``None`` results: spooled)."""

    appended: dict[str, float] = field(default_factory=dict)
    committed: dict[str, float] = field(default_factory=dict)
    spooled: int = 0
    cpu: float = 0.0  # this process's CPU seconds over the run
    _updates: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def done(self, key: str, result: object) -> None:
        self.committed[key] = time.perf_counter()
        self.spooled += result is None

    def update_key(self, call_id: str) -> str:
        self._updates[call_id] += 1
        return f"{call_id}/u{self._updates[call_id]}"


class TimedWriter:
    """Stamps each write's commit (the writer's answer) for the lag. A writer whose methods
    return a future (``HistoryWriter`` now) is answered through that future, with a callback
    for the stamp and no task, as the service's outbox sees it; one whose methods are
    coroutines (the baseline, or ``--before`` code) through a coroutine, as it always was."""

    def __init__(self, events: object, interactions: object, clocked: Clocked) -> None:
        self._events = events
        self._interactions = interactions
        self._clocked = clocked

    def _timed(self, answer: Awaitable[object], key: str) -> Awaitable[object]:
        if isinstance(answer, asyncio.Future):
            answer.add_done_callback(lambda done: self._stamp(key, done))
            return answer

        async def timed() -> object:
            result = await answer
            self._clocked.done(key, result)
            return result

        return timed()

    def _stamp(self, key: str, done: asyncio.Future[object]) -> None:
        if not done.cancelled() and done.exception() is None:
            self._clocked.done(key, done.result())

    def append_event(self, new: NewEvent) -> Awaitable[object]:
        answer = self._events.append_event(new)  # type: ignore[attr-defined]
        return self._timed(answer, new.key or "")

    def append_interaction(self, new: NewInteraction) -> Awaitable[object]:
        answer = self._interactions.append_interaction(new)  # type: ignore[attr-defined]
        return self._timed(answer, f"{new.idempotency_key}/a")

    def update_interaction(
        self, target: int | InteractionRef, change: InteractionUpdate
    ) -> Awaitable[object]:
        assert isinstance(target, InteractionRef)
        key = self._clocked.update_key(target.idempotency_key)
        answer = self._interactions.update_interaction(target, change)  # type: ignore[attr-defined]
        return self._timed(answer, key)

    def add_note(self, new: NewNote) -> Awaitable[object]:  # (no call in the bench adds one)
        return self._interactions.add_note(new)  # type: ignore[no-any-return,attr-defined]


class Calls:
    """What the ACD writes for one call, through the service's own sink and recorder."""

    def __init__(
        self, sink: HistoryEventSink, interactions: HistoryInteractions, clocked: Clocked
    ) -> None:
        self.sink = sink
        self.interactions = interactions
        self.clocked = clocked
        self._updates: dict[str, int] = defaultdict(int)

    def _event(self, event: object) -> None:
        record = self.sink.append(time.monotonic(), event)  # type: ignore[arg-type]
        self.clocked.appended[f"{self.sink.run}-{record.seq}"] = time.perf_counter()

    def _interaction(self, call_id: str, suffix: str | None = None) -> None:
        if suffix is None:
            self._updates[call_id] += 1
            suffix = f"u{self._updates[call_id]}"
        self.clocked.appended[f"{call_id}/{suffix}"] = time.perf_counter()

    async def call(self, n: int) -> None:
        call_id, agent = f"bench.{n}", f"agent{n % 50}"
        self.interactions.queued(
            CallAttributes(
                call_id=call_id,
                channel=f"PJSIP/caller-{n}",
                caller_number=f"+4477{n:09d}",
                language="en",
                intent="internet_down",
                call_type="technical_fault",
            ),
            "support",
        )
        self._interaction(call_id, "a")
        self._event(CallQueued(call_id, "support", time.monotonic(), 42.0, "technical_fault"))
        await asyncio.sleep(0)
        self._event(
            CallOffered(call_id, agent, "support", 42.0, 0, f"call {call_id} waited 3 s; skills")
        )
        self._event(AgentStateChanged(agent, "idle", "ringing", "offer", f"offered {call_id}"))
        await asyncio.sleep(0)
        self._event(AgentStateChanged(agent, "ringing", "busy", "answer", "answered"))
        self._event(CallAnswered(call_id, agent, "support"))
        self.interactions.answered(call_id, agent_id=agent, wait_s=3.0)
        self._interaction(call_id)
        await asyncio.sleep(0)
        self._event(CallEnded(call_id, agent, "support"))
        self._event(AgentStateChanged(agent, "busy", "wrap_up", "hangup", "call ended"))
        self.interactions.ended(call_id, outcome=Outcome.ANSWERED, talk_s=60.0)
        self._interaction(call_id)
        self._event(AgentStateChanged(agent, "wrap_up", "idle", "timer", "wrap-up over"))


@dataclass(frozen=True)
class Measured:
    load: str
    mode: str
    writes: int
    writes_per_s: float
    writes_per_cpu_s: float
    lag_ms: tuple[float, float, float] | None  # p50, p95, max
    spooled: int


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    make: Callable[[Clocked], Awaitable[tuple[Calls, Callable[[], Awaitable[None]]]]],
    load: tuple[str, float, int],
    seconds: float,
    first: int,
) -> tuple[Clocked, float]:
    """Run the load; (the clock, elapsed from the first append to the last commit)."""
    kind, rate, concurrency = load
    clocked = Clocked()
    calls, finish = await make(clocked)
    started = time.perf_counter()
    clocked.cpu = time.process_time()
    if kind == "rate":
        total = int(rate * seconds)
        tasks = []
        for n in range(total):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(calls.call(first + n)))
        await asyncio.gather(*tasks)
    else:
        numbers = iter(range(first, first + int(rate)))

        async def worker() -> None:
            for n in numbers:
                await calls.call(n)
                await asyncio.sleep(0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    await finish()
    clocked.cpu = time.process_time() - clocked.cpu
    last = max(clocked.committed.values())
    return clocked, last - started


async def measure(
    repository: HistoryRepository, workdir: Path, args: argparse.Namespace
) -> list[Measured]:
    results: list[Measured] = []
    loads: list[tuple[str, float, int]] = [("rate", float(r), 0) for r in args.rates.split(",")]
    loads.append(("burst", float(args.calls), args.concurrency))
    modes = ("group commit",) if args.quick else ("one at a time", "group commit")
    first = 0
    results.append(await raw_bulk_insert(repository, args.calls, first))
    first += 100_000
    warm = ("burst", 100.0, 20)
    for load in [warm, *loads]:
        for mode in modes if load is not warm else ("group commit",):

            async def make(
                clocked: Clocked, mode: str = mode
            ) -> tuple[Calls, Callable[[], Awaitable[None]]]:
                if mode == "one at a time":
                    timed = TimedWriter(OneAtATime(repository), OneAtATime(repository), clocked)
                    writer: HistoryWriter | None = None
                else:
                    spool = Spool(workdir / f"spool-{uuid.uuid4().hex}.jsonl")
                    writer = HistoryWriter(repository, spool, timeout_s=args.timeout)
                    await writer.start()
                    timed = TimedWriter(writer, writer, clocked)
                sink = HistoryEventSink(timed, inner=InMemoryEventSink(keep=False))
                interactions = HistoryInteractions(timed)
                calls = Calls(sink, interactions, clocked)

                async def finish() -> None:
                    await sink.close(timeout_s=600)
                    await interactions.close()
                    if writer is not None:
                        await writer.close()

                return calls, finish

            print(f"  {load[0]} {load[1]:g}: {mode} ...", file=sys.stderr)
            clocked, elapsed = await drive(make, load, args.seconds, first)
            first += 100_000
            if load is warm:
                continue
            lags = [clocked.committed[k] - clocked.appended[k] for k in clocked.committed]
            name = (
                f"{load[1]:g} calls/s for {args.seconds:g} s"
                if load[0] == "rate"
                else f"{load[1]:g} calls, {load[2]} at once"
            )
            results.append(
                Measured(
                    load=name,
                    mode=mode,
                    writes=len(lags),
                    writes_per_s=len(lags) / elapsed,
                    writes_per_cpu_s=len(lags) / clocked.cpu,
                    lag_ms=(
                        statistics.median(lags) * 1000,
                        pct(lags, 0.95) * 1000,
                        max(lags) * 1000,
                    ),
                    spooled=clocked.spooled,
                )
            )
    return results


async def raw_bulk_insert(repository: HistoryRepository, calls: int, first: int) -> Measured:
    """The baseline: the rows ``calls`` calls leave (8 events, 1 interaction with its final
    columns), inserted by Core executemany, a transaction per 1,000 calls."""
    events = EventRow.metadata.tables[EventRow.__tablename__]
    interactions = InteractionRow.metadata.tables[InteractionRow.__tablename__]
    now = datetime.now(UTC)
    started, cpu = time.perf_counter(), time.process_time()
    for chunk in range(first, first + calls, 1000):
        numbers = range(chunk, min(chunk + 1000, first + calls))
        event_rows = [
            {
                "at": now,
                "kind": "call_offered",
                "call_id": f"raw.{n}",
                "agent_id": f"agent{n % 50}",
                "payload": {"queue": "support", "priority": 42.0, "seq": k},
                "key": f"raw-{n}-{k}",
            }
            for n in numbers
            for k in range(EVENTS_PER_CALL)
        ]
        interaction_rows = [
            {
                "channel": "voice",
                "direction": "in",
                "started_at": now,
                "ended_at": now,
                "queue": "support",
                "agent": f"agent{n % 50}",
                "wait_s": 3.0,
                "talk_s": 60.0,
                "outcome": "answered",
                "status": "resolved",
                "source": "raw",
                "external_id": f"raw.{n}",
                "idempotency_key": f"raw.{n}",
                "created_at": now,
                "updated_at": now,
            }
            for n in numbers
        ]
        async with repository.engine.begin() as connection:
            await connection.execute(events.insert(), event_rows)
            await connection.execute(interactions.insert(), interaction_rows)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows = calls * (EVENTS_PER_CALL + 1)
    # Counted as the writes they stand for (3 interaction writes a call), like the others.
    writes = calls * (EVENTS_PER_CALL + INTERACTION_WRITES_PER_CALL)
    return Measured(
        load=f"{calls:g} calls ({rows:,} rows)",
        mode="baseline: raw bulk insert",
        writes=writes,
        writes_per_s=writes / elapsed,
        writes_per_cpu_s=writes / cpu,
        lag_ms=None,
        spooled=0,
    )


async def admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def run_before(backend: str, args: argparse.Namespace) -> list[Measured]:
    """The same loads with the code in ``args.before``, in a child process."""
    command = [sys.executable, __file__, "--backends", backend, "--json"]
    command += ["--rates", args.rates, "--seconds", str(args.seconds), "--calls", str(args.calls)]
    command += ["--concurrency", str(args.concurrency), "--timeout", str(args.timeout)]
    command += ["--pg-url", args.pg_url] + (["--quick"] if args.quick else [])
    command += ["--dir", args.dir] if args.dir else []
    child = await asyncio.create_subprocess_exec(
        *command,
        env=os.environ | {"HOTLINE_BENCH_CODE": args.before},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode:
        raise RuntimeError(f"the run with {args.before} failed ({child.returncode})")
    measured = [Measured(**row) for row in json.loads(out)[backend]]
    return [
        dataclasses.replace(m, mode=f"before ({args.before}): {m.mode}")
        for m in measured
        if not m.mode.startswith("baseline")
    ]


async def run_backend(backend: str, args: argparse.Namespace) -> list[Measured]:
    if args.before:
        before = await run_before(backend, args)
        return before + await run_here(backend, args)
    return await run_here(backend, args)


async def run_here(backend: str, args: argparse.Namespace) -> list[Measured]:
    schema: str | None = None
    workdir = Path(tempfile.mkdtemp(prefix="history-write-bench-", dir=args.dir))
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    else:
        url, schema = args.pg_url, f"hotline_bench_{uuid.uuid4().hex[:8]}"
        await admin(url, f"CREATE SCHEMA {schema}")
    engine = create_engine(url, schema=schema)
    try:
        await migrate(engine)
        print(f"[{backend}]", file=sys.stderr)
        return await measure(HistoryRepository(engine), workdir, args)
    finally:
        await engine.dispose()
        if schema is not None:
            await admin(url, f"DROP SCHEMA {schema} CASCADE")
        await asyncio.to_thread(shutil.rmtree, workdir)


def table(by_backend: dict[str, list[Measured]]) -> str:
    lines = [
        f"history write path: {EVENTS_PER_CALL} events + {INTERACTION_WRITES_PER_CALL} "
        "interaction writes per call; lag = append to committed, ms",
        "",
        "| backend | load | mode | writes | writes/s (wall) | writes per CPU s "
        "| lag p50 | lag p95 | lag max | spooled |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, results in by_backend.items():
        for m in results:
            lag = " | ".join(f"{v:,.1f}" for v in m.lag_ms) if m.lag_ms else "- | - | -"
            lines.append(
                f"| {backend} | {m.load} | {m.mode} | {m.writes:,} | {m.writes_per_s:,.0f} "
                f"| {m.writes_per_cpu_s:,.0f} | {lag} | {m.spooled} |"
            )
    return "\n".join(lines)


def absolute(path: str) -> str:
    return os.path.abspath(path)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="group commit only, short loads")
    parser.add_argument("--rates", default=None, help="steady loads, calls/s (20,50)")
    parser.add_argument("--seconds", type=float, default=None, help="a steady load's length (5)")
    parser.add_argument("--calls", type=int, default=None, help="calls in the burst (2,000)")
    parser.add_argument("--concurrency", type=int, default=50, help="calls at once (burst)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=0.5,
        help="the writer's answer timeout, s (the service's: 0.5; a loaded machine's store "
        "can be silent longer, and then the writes are spooled, not measured)",
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (default: tmp)")
    parser.add_argument(
        "--before", metavar="DIR", type=absolute, help="also the code in DIR, same loads"
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rates = args.rates or ("50" if args.quick else "20,50")
    args.seconds = args.seconds or (3.0 if args.quick else 5.0)
    args.calls = args.calls or (1_000 if args.quick else 2_000)
    logging.basicConfig(level=logging.WARNING, format="    %(name)s: %(message)s")
    by_backend = {b: await run_backend(b, args) for b in args.backends.split(",")}
    if args.json:  # for ``run_before``
        rows = {b: [dataclasses.asdict(m) for m in ms] for b, ms in by_backend.items()}
        print(json.dumps(rows))
        return
    print(table(by_backend))
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    asyncio.run(main())
