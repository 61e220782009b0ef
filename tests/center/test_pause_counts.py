"""Pause limits per day survive a restart: an agent's own pauses are logged as
``PauseCounted`` in the persistent event log, and the next run of the day reads them back
(its own, taken while it reads, are not counted twice); a supervisor's pause is not logged
as the agent's; another day's counts are not today's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.agent_events import Login, Pause, Ready
from acd.build import AcdSetup, build_acd
from acd.desk_rules import PauseRefused
from acd.events import InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.pause_counts import restore_pause_counts
from center.persistence import HistoryEventSink
from center.service import AcdService
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine, migrate
from history.writer import HistoryWriter

TODAY = dt.date.today()


def _setup() -> AcdSetup:
    return build_acd(
        PriorityConfig(),
        QueuesConfig.model_validate({"queues": {"support": {}}}),
        AgentsConfig.model_validate(
            {
                "pause_reasons": {"break": {"per_day": 2}, "lunch": {"per_day": 1}},
                "agents": [{"id": "ann"}, {"id": "bob"}],
            }
        ),
    )


class Run:
    def __init__(self, engine: AsyncEngine, tmp: Path, days_ago: int = 0) -> None:
        self.writer = HistoryWriter(HistoryRepository(engine), Spool(tmp / "spool"))
        back = dt.timedelta(days=days_ago)
        self.log = HistoryEventSink(
            self.writer,
            inner=InMemoryEventSink(keep=False),
            wall=lambda: dt.datetime.now(dt.UTC) - back,
        )
        self.acd = AcdService(_setup(), sink=self.log, today=lambda: TODAY - back)
        self.engine = engine

    async def __aenter__(self) -> Run:
        await self.writer.start()
        await self.acd.start()
        for agent in ("ann", "bob"):
            self.acd.agent_event(Login(agent))
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.acd.close()
        await self.log.close()
        await self.writer.close()

    def pause(self, agent: str, reason: str) -> None:
        self.acd.agent_paused(agent, reason)
        self.acd.agent_event(Ready(agent))

    async def restore(self) -> int:
        return await restore_pause_counts(
            self.engine, self.acd.agent_day, self.acd.today(), self.log.run
        )


async def test_the_daily_pause_counts_are_read_back_after_a_restart(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/history.db")
    await migrate(engine)
    try:
        async with Run(engine, tmp_path, days_ago=1) as yesterday:
            yesterday.pause("ann", "lunch")  # another day: not today's
        async with Run(engine, tmp_path) as first:
            first.pause("ann", "break")
            first.pause("ann", "lunch")
            first.acd.agent_event(Pause("bob", "break"))  # a supervisor's: not bob's own
            first.acd.agent_event(Ready("bob"))
            assert first.acd.agent_day.taken("ann", "break", TODAY) == 1
        async with Run(engine, tmp_path) as second:
            second.pause("ann", "break")  # taken while the log is read: counted once
            assert await second.restore() == 2
            day = second.acd.agent_day
            assert day.taken("ann", "break", TODAY) == 2
            assert day.taken("ann", "lunch", TODAY) == 1
            assert day.taken("bob", "break", TODAY) == 0
            for reason in ("break", "lunch"):
                with pytest.raises(PauseRefused):
                    second.acd.agent_paused("ann", reason)
            second.pause("bob", "break")
    finally:
        await engine.dispose()
