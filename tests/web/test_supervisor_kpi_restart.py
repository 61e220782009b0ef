"""Today's KPIs survive a restart: the hub rebuilds them from the persistent event log (SQLite
and PostgreSQL), folds the new run's records live, counts nothing twice, and marks the
figures stale while the log cannot be read."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.agent_events import Answered, HungUp
from acd.build import AcdSetup, build_acd
from acd.calls import IncomingCall
from acd.clock import ManualClock
from acd.contacts import callback_attempt_id
from acd.events import EventRecord, InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.persistence import HistoryEventSink
from center.service import AcdService
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine, migrate
from history.writer import HistoryWriter
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.supervisor.kpi_log import EventLogKpis
from hotline.web.supervisor.kpi_view import KpiLog
from tests.center.support import PRIORITY, QUEUES

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
#: The day's traffic starts at 09:05 UTC; the service restarts at 09:40.
NINE_O_FIVE = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
RESTART_S = 35 * 60.0
AGENTS = ("1001", "1002")
#: The figures the page and /metrics show (the waiting calls and agents are live state).
KPI_KEYS = (
    "kpis",
    "current_interval",
    "last_interval",
    "rolling",
    "channels",
    "contacts",
    "callbacks",
    "occupancy",
    "intervals",
)


def setup() -> AcdSetup:
    return build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": None},  # the agent says when wrap-up is done
                "agents": [
                    {"id": a, "endpoint": f"SIP/agent{a}", "skills": {"internet": 2, "billing": 1}}
                    for a in AGENTS
                ],
            }
        ),
    )


class Run:
    """One run of the service: an ACD on a clock of its own (starting at ``clock_at``, which
    reads ``wall_at`` on the wall clock), a hub, and, with ``engine``, the event log."""

    def __init__(
        self,
        wall_at: datetime,
        clock_at: float,
        engine: AsyncEngine | None,
        tmp: Path,
        kpi_log: Callable[[str, Callable[[], bool]], KpiLog] | None = None,
    ) -> None:
        self.clock = ManualClock(clock_at)
        self._origin = (clock_at, wall_at)
        self.inner = InMemoryEventSink(keep=False)
        self.writer: HistoryWriter | None = None
        self.log: HistoryEventSink | None = None
        sink: Any = self.inner
        if engine is not None:
            # one spool, as the app's: what a run spooled, the next one replays
            self.writer = HistoryWriter(HistoryRepository(engine), Spool(tmp / "spool"))
            self.log = HistoryEventSink(
                self.writer, inner=self.inner, clock=self.clock, wall=self.wall
            )
            sink = self.log
        self.service = AcdService(setup(), sink=sink, clock=self.clock)
        self.hub = SupervisorHub(
            self.service,
            self.inner.subscribe,
            wall=self.wall,
            kpi_log=(
                None
                if kpi_log is None or self.log is None
                else kpi_log(self.log.run, self.spooling)
            ),
        )

    def spooling(self) -> bool:
        return self.writer is not None and self.writer.spooling

    def wall(self) -> datetime:
        """The wall clock this run's clock reads."""
        return self._origin[1] + timedelta(seconds=self.clock.now - self._origin[0])

    async def start(self) -> None:
        if self.writer is not None:
            await self.writer.start()
        await self.hub.start()  # before the ACD, as the app does
        await self.service.start()
        for agent in AGENTS:
            self.service.login(agent)

    async def stop(self) -> None:
        for agent in AGENTS:
            self.service.logout(agent)
        await self.hub.close()
        await self.service.close()
        if self.log is not None and self.writer is not None:
            await self.log.close()
            await self.writer.close()

    def at(self, seconds: float) -> None:
        """Move to ``seconds`` after 09:05 on this run's clock."""
        target = NINE_O_FIVE + timedelta(seconds=seconds)
        self.clock.advance((target - self.wall()).total_seconds())


def morning(run: Run, first: int, last: int) -> None:
    """Calls ``first`` to ``last`` - 1, one a minute from ``first`` minutes past 09:05: most
    answered after a wait (longer for every third), one in five abandoned, one in seven
    asking for a callback that is dialled back and completes."""
    service = run.service
    for n in range(first, last):
        call = f"c{n}"
        queue = "billing" if n % 2 else "support"
        run.at(n * 60.0)
        service.call_arrived(IncomingCall(call, queue))
        agent = next(a for a in AGENTS if service.agent(a).call_id == call)
        if n % 5 == 4:
            run.at(n * 60.0 + 12)
            service.caller_hung_up(call)
            continue
        if n % 7 == 6:
            run.at(n * 60.0 + 8)
            service.caller_left(call, "callback requested")
            attempt = callback_attempt_id(call, 1)
            entry = service.now() - 8
            service.call_arrived(IncomingCall(attempt, queue, entry_time=entry))
            agent = next(a for a in AGENTS if service.agent(a).call_id == attempt)
            call = attempt
        run.at(n * 60.0 + 10 + 20 * (n % 3 == 0))
        service.fact(Answered(agent, call))
        run.at(n * 60.0 + 45)
        service.fact(HungUp(agent, call))
        run.at(n * 60.0 + 50)
        service.wrapup_done(agent)


def kpis(hub: SupervisorHub) -> dict[str, Any]:
    snapshot = hub.snapshot()
    figures = {key: _rounded(snapshot[key]) for key in KPI_KEYS}
    figures["queues"] = {q["name"]: _rounded(q["kpis"]) for q in snapshot["queues"]}
    return figures


def _rounded(value: Any) -> Any:
    """Times on two runs' clocks agree to the microsecond, not to the last bit."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


async def rebuilt(hub: SupervisorHub, state: str = "ok") -> None:
    async with asyncio.timeout(10):
        await hub.kpis.state(state)


async def without_restart(tmp: Path) -> dict[str, Any]:
    run = Run(NINE_O_FIVE, 1000.0, None, tmp)
    await run.start()
    morning(run, 0, 35)
    run.at(RESTART_S)
    morning(run, 35, 50)
    run.at(50 * 60.0)
    try:
        return kpis(run.hub)
    finally:
        await run.stop()


async def first_run(engine: AsyncEngine, tmp: Path) -> None:
    """The morning up to 09:40, logged, then the service stops."""
    first = Run(NINE_O_FIVE, 1000.0, engine, tmp)
    await first.start()
    morning(first, 0, 35)
    first.at(RESTART_S)
    await first.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        made = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
        await migrate(made)
        yield made
        await made.dispose()
        return
    schema = f"hotline_kpi_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, connect_timeout_s=3)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
    except (OSError, TimeoutError) as error:
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {error}")
    made = create_engine(PG_URL, schema=schema)
    try:
        await migrate(made)
        yield made
    finally:
        await made.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await admin.dispose()


async def test_a_restart_mid_day_gives_the_figures_of_a_day_without_one(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    expected = await without_restart(tmp_path)
    await first_run(engine, tmp_path)

    # a new process: another clock origin, another run id, the same wall clock
    second = Run(
        NINE_O_FIVE + timedelta(seconds=RESTART_S),
        7.0,
        engine,
        tmp_path,
        kpi_log=lambda run, spooling: EventLogKpis(engine, run, batch=50, spooling=spooling),
    )
    await second.start()
    try:
        await rebuilt(second.hub)
        morning(second, 35, 50)
        second.at(50 * 60.0)
        assert second.hub.kpis.status["events_rebuilt"] > 0
        assert kpis(second.hub) == expected
        today = expected["kpis"]
        # 50 inbound calls: 10 abandoned, 6 asked for a callback (an exit), 34 answered;
        # the 6 callback attempts are contacts of their own, not offered inbound calls
        assert (today["offered"], today["abandoned"], today["answered"]) == (50, 10, 34)
        assert today["exits"] == {"callback_requested": 6}
        assert expected["channels"]["callback"]["answered"] == 6
        assert expected["callbacks"] == {
            "requested": 6,
            "attempts": 6,
            "connected": 6,
            "completed": 0,  # the dialler's CallbackSettled is not logged by this test
            "failed": 0,
        }
    finally:
        await second.stop()


class Flaky:
    """The event log, made unreadable at will (as a stopped database would make it), or
    failing once after its first batch."""

    def __init__(self, inner: KpiLog) -> None:
        self._inner = inner
        self.run = inner.run
        self.down = True
        self.fail_after_first_batch = False

    async def since(
        self, start: datetime, *, after: int = 0
    ) -> AsyncIterator[list[tuple[int, str, EventRecord]]]:
        if self.down:
            raise ConnectionRefusedError("connection refused")
        batches = 0
        async for batch in self._inner.since(start, after=after):
            yield batch
            batches += 1
            if self.fail_after_first_batch:
                self.fail_after_first_batch = False
                raise ConnectionResetError("connection reset")


async def test_figures_are_marked_stale_while_the_log_cannot_be_read_and_whole_after(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hotline.web.supervisor.kpi_view.REBUILD_FIRST_S", 0.01)
    monkeypatch.setattr("hotline.web.supervisor.kpi_view.REBUILD_MAX_S", 0.02)
    expected = await without_restart(tmp_path)
    await first_run(engine, tmp_path)
    logs: list[Flaky] = []

    def flaky(run: str, spooling: Callable[[], bool]) -> KpiLog:
        logs.append(Flaky(EventLogKpis(engine, run, batch=40, spooling=spooling)))
        return logs[-1]

    second = Run(NINE_O_FIVE + timedelta(seconds=RESTART_S), 7.0, engine, tmp_path, kpi_log=flaky)
    await second.start()
    try:
        await rebuilt(second.hub, "stale")
        morning(second, 35, 40)
        snapshot = second.hub.snapshot()
        assert snapshot["kpi_status"]["stale"] is True
        assert "could not be read" in snapshot["kpi_status"]["reason"]
        assert snapshot["kpis"]["offered"] == 5  # this run's calls only, and said so

        [log] = logs
        log.down, log.fail_after_first_batch = False, True  # back, and cut once mid-way
        await rebuilt(second.hub)
        morning(second, 40, 50)
        second.at(50 * 60.0)
        assert kpis(second.hub) == expected  # nothing lost, nothing counted twice
        assert second.hub.snapshot()["kpi_status"]["stale"] is False
    finally:
        await second.stop()


async def test_events_a_run_spooled_while_the_store_was_down_are_counted_after_a_restart(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    expected = await without_restart(tmp_path)
    down = create_engine(f"sqlite+aiosqlite:///{tmp_path}/no-such-dir/hotline.db")
    try:
        await first_run(down, tmp_path)  # every write spooled to disk
    finally:
        await down.dispose()
    assert not Spool(tmp_path / "spool").empty

    second = Run(
        NINE_O_FIVE + timedelta(seconds=RESTART_S),
        7.0,
        engine,
        tmp_path,
        kpi_log=lambda run, spooling: EventLogKpis(engine, run, spooling=spooling),
    )
    await second.start()  # replays the spool; the rebuild waits for it
    try:
        await rebuilt(second.hub)
        morning(second, 35, 50)
        second.at(50 * 60.0)
        assert kpis(second.hub) == expected
    finally:
        await second.stop()
