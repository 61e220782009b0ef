"""Today's KPIs survive a restart: the hub rebuilds them from the persistent event log (SQLite
and PostgreSQL), folds the new run's records live, counts nothing twice, and marks the
figures stale while the log cannot be read. The day has calls, chats and e-mails: handle and
agent time, occupancy, capacity and the backlog at an interval's end are rebuilt too."""

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

from acd.agent_events import Answered, HungUp, Login, Logout, WrapUpDone
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
    "capacity",
    "intervals",
)


def setup() -> AcdSetup:
    return build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                # the agent says when wrap-up is done; reservations wait for the agent
                "policy": {
                    "wrap_up_s": None,
                    "task_wrap_up_s": None,
                    "reservation_timeout_s": 3600,
                },
                "capacity": {"digital": {"chat": 1, "email": 1}, "total": 1},
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
            self.service.agent_event(Login(agent))

    async def stop(self) -> None:
        for agent in AGENTS:
            self.service.agent_event(Logout(agent))
        await self.hub.close()
        await self.service.close()
        if self.log is not None and self.writer is not None:
            await self.log.close()
            await self.writer.close()

    def at(self, seconds: float) -> None:
        """Move to ``seconds`` after 09:05 on this run's clock."""
        target = NINE_O_FIVE + timedelta(seconds=seconds)
        self.clock.advance((target - self.wall()).total_seconds())


Plan = Callable[[float, Callable[[], object]], None]
#: The e-mail that waits (reserved, not accepted) over 09:30, the end of an interval.
EMAIL_AT = 24


def morning(run: Run, first: int, last: int) -> None:
    """Calls ``first`` to ``last`` - 1, one a minute from ``first`` minutes past 09:05: most
    answered after a wait (longer for every third), one in five abandoned, one in seven
    asking for a callback that is dialled back and completes; a chat after every fourth
    call's wrap-up, and one e-mail taken up over an interval's end."""
    steps: list[tuple[float, int, Callable[[], object]]] = []

    def plan(at: float, action: Callable[[], object]) -> None:
        steps.append((at, len(steps), action))

    for n in range(first, last):
        queue = "billing" if n % 2 else "support"
        call(run.service, plan, n, queue)
        if n % 4 == 1:
            digital(run.service, plan, f"chat-{n}", queue, n * 60.0 + 50, (2, 6, 8))
        if n == EMAIL_AT:
            digital(run.service, plan, f"email-{n}", queue, n * 60.0 + 50, (22, 30, 35))
    for at, _, action in sorted(steps, key=lambda step: step[:2]):
        run.at(at)
        action()


def call(service: AcdService, plan: Plan, n: int, queue: str) -> None:
    start, held = n * 60.0, {"call": f"c{n}"}

    def arrive() -> None:
        service.call_arrived(IncomingCall(held["call"], queue))
        held["agent"] = next(
            a for a in AGENTS if service.distributor.book.view(a).call_id == held["call"]
        )

    plan(start, arrive)
    if n % 5 == 4:
        plan(start + 12, lambda: service.caller_hung_up(held["call"]))
        return
    if n % 7 == 6:

        def callback() -> None:
            service.caller_left(held["call"], "callback requested")
            held["call"] = callback_attempt_id(held["call"], 1)
            service.call_arrived(IncomingCall(held["call"], queue, entry_time=service.now() - 8))
            held["agent"] = next(
                a for a in AGENTS if service.distributor.book.view(a).call_id == held["call"]
            )

        plan(start + 8, callback)
    plan(
        start + 10 + 20 * (n % 3 == 0), lambda: service.fact(Answered(held["agent"], held["call"]))
    )
    plan(start + 45, lambda: service.fact(HungUp(held["agent"], held["call"])))
    plan(start + 50, lambda: service.agent_event(WrapUpDone(held["agent"])))


def digital(
    service: AcdService, plan: Plan, task: str, queue: str, at: float, after: tuple[int, ...]
) -> None:
    """A chat or e-mail arriving at ``at``, accepted, closed and wrapped up ``after`` s."""
    accept, done, wrapped = after
    held: dict[str, str] = {}

    def accepted() -> None:
        holder = service.distributor.workload.holder(task)
        assert holder is not None
        held["agent"] = holder
        service.task_accepted(holder, task)

    channel = task.partition("-")[0]
    plan(at, lambda: service.task_arrived(IncomingCall(task, queue, channel=channel)))
    plan(at + accept, accepted)
    plan(at + done, lambda: service.task_done(held["agent"], task))
    plan(at + wrapped, lambda: service.task_wrapped(held["agent"], task))


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
        # the chats and the e-mail, with their handle and agent time
        chat, email = expected["channels"]["chat"], expected["channels"]["email"]
        assert (chat["offered"], chat["answered"], chat["aht"]) == (13, 13, 6.0)  # 4 s + 2 s
        assert (email["offered"], email["answered"], email["asa"]) == (1, 1, 22.0)
        assert expected["channels"]["all"]["offered"] == 50 + 13 + 1
        assert 0 < expected["capacity"]["all"]["utilisation"] < 1
        # the e-mail waited at 09:30, for 10 s: the 09:15 interval's backlog
        [at_930] = [i for i in expected["intervals"] if i["label"] == "09:15"]
        assert (
            at_930["channels"]["email"]["backlog"],
            at_930["channels"]["email"]["oldest_age_s"],
        ) == (1, 10.0)
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
