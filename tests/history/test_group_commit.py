"""Group commit: writes that queue behind a batch are committed together, in order; a
refused write fails alone; a batch the store could not take is spooled and replayed in
order; close() commits what is queued."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.events import AgentStateChanged
from center.call_interactions import HistoryInteractions
from center.persistence import HistoryEventSink
from history.errors import UnknownCustomer, UnknownInteraction
from history.inputs import Channel, InteractionRef, InteractionUpdate, NewInteraction
from history.models import EventRow, InteractionRow
from history.repository import HistoryRepository
from history.spool import Spool
from history.writer import HistoryWriter
from ivr.flow.handoff import CallAttributes

from .conftest import Target
from .test_writer import Counts, call_writes, count


class Transactions:
    """Counts the store's commits; can make it go down from the n-th statement on."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.commits = 0
        self.statements = 0
        self.down_from: int | None = None
        event.listen(engine.sync_engine, "commit", self._commit)
        event.listen(engine.sync_engine, "before_cursor_execute", self._execute)

    def _commit(self, _connection: Any) -> None:
        self.commits += 1

    def _execute(self, *_args: Any) -> None:
        self.statements += 1
        if self.down_from is not None and self.statements >= self.down_from:
            raise ConnectionResetError("connection reset by peer")  # the server went away

    def go_down_after(self, statements: int) -> None:
        self.down_from = self.statements + statements + 1

    def come_back(self) -> None:
        self.down_from = None


#: The answer timeout where a test is about order and batching, not an outage: a database
#: server shared with a loaded machine (other test workers) may take more than the 0.5 s
#: default to answer a batch, and the writes would be spooled.
ORDERLY_TIMEOUT_S = 5.0


@pytest.fixture
async def store(target: Target) -> AsyncIterator[AsyncEngine]:
    engine = target.engine()
    yield engine
    await engine.dispose()


@pytest.fixture
async def writer(store: AsyncEngine, tmp_path: Path) -> AsyncIterator[HistoryWriter]:
    made = HistoryWriter(
        HistoryRepository(store),
        Spool(tmp_path / "spool.jsonl"),
        retry_min_s=0.05,
        retry_max_s=0.2,
        timeout_s=ORDERLY_TIMEOUT_S,
    )
    await made.start()
    yield made
    await made.close()


def every_write_of(writer: HistoryWriter, calls: range) -> list[Any]:
    """The writes of several calls, all started at once (so they queue behind each other)."""
    return [write() for i in calls for write in call_writes(writer, i)]


async def event_order(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(EventRow.call_id).order_by(EventRow.seq))
        return [str(r[0]) for r in rows]


async def test_writes_that_queue_behind_a_batch_commit_together_in_call_order(
    writer: HistoryWriter, store: AsyncEngine
) -> None:
    transactions = Transactions(store)
    async with asyncio.timeout(20):
        results = await asyncio.gather(*every_write_of(writer, range(40)))
    assert all(r is not None for r in results)  # committed, none spooled
    assert transactions.commits <= 3  # 200 writes; one at a time would be 200 commits
    # Each call's updates came after its append (resolved, billing, talk time set) ...
    assert await count(store) == Counts(40, 40, 40, 40, 40)
    # ... and the event log is in the order the events were written.
    assert await event_order(store) == [f"1795356299.{i}" for i in range(40)]
    assert not writer.spooling


async def test_a_refused_write_fails_alone_and_the_rest_of_its_batch_commits(
    writer: HistoryWriter, store: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    ghost = InteractionRef(source="hotline", idempotency_key="never-appended")
    writes = every_write_of(writer, range(5))
    writes.insert(7, writer.update_interaction(ghost, InteractionUpdate(agent="a1")))
    nobody = 2_000_000_000  # no customer: ids are not reset between tests on one schema
    writes.insert(
        12,
        writer.append_interaction(
            NewInteraction(channel=Channel.VOICE, customer_id=nobody, idempotency_key="k404")
        ),
    )
    with caplog.at_level(logging.ERROR, logger="history.writer"):
        async with asyncio.timeout(20):
            results = await asyncio.gather(*writes, return_exceptions=True)
    assert isinstance(results[7], UnknownInteraction)
    assert isinstance(results[12], UnknownCustomer)
    committed = [r for i, r in enumerate(results) if i not in (7, 12)]
    assert all(r is not None and not isinstance(r, Exception) for r in committed)
    assert await count(store) == Counts(5, 5, 5, 5, 5)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("interaction.update hotline/never-appended" in m for m in refused)
    assert any("interaction.append k404" in m for m in refused)
    assert not writer.spooling


async def test_a_store_lost_mid_batch_spools_the_batch_and_replays_it_in_order(
    writer: HistoryWriter, store: AsyncEngine, tmp_path: Path
) -> None:
    transactions = Transactions(store)
    async with asyncio.timeout(20):
        assert all(await asyncio.gather(*every_write_of(writer, range(3))))
        transactions.go_down_after(7)  # a few statements into the next batch
        spooled = await asyncio.gather(*every_write_of(writer, range(3, 10)))
        assert spooled == [None] * len(spooled)  # callers were told "spooled", not refused
        assert writer.spooling
        later = await asyncio.gather(*every_write_of(writer, range(10, 12)))
        assert later == [None] * len(later)  # queued behind the spool, to keep the order
        transactions.come_back()
        await writer.drained()  # the spool replayed, direct writes again
    assert await count(store) == Counts(12, 12, 12, 12, 12)
    assert await event_order(store) == [f"1795356299.{i}" for i in range(12)]
    assert Spool(tmp_path / "spool.jsonl").empty


class SlowStore(HistoryRepository):
    """A store that takes ``per_write_s`` over each note, and a tenth of it over each
    append or event (those go in one statement per batch: short silences)."""

    def __init__(self, engine: AsyncEngine, per_write_s: float) -> None:
        super().__init__(engine)
        self.per_write_s = per_write_s

    async def _add_note(self, session: Any, new: Any) -> Any:
        await asyncio.sleep(self.per_write_s)
        return await super()._add_note(session, new)

    async def _log_events(self, session: Any, news: Any) -> Any:
        await asyncio.sleep(self.per_write_s / 10 * len(news))
        return await super()._log_events(session, news)

    async def _append_run(self, session: Any, run: Any) -> Any:
        await asyncio.sleep(self.per_write_s / 10 * len(run))
        return await super()._append_run(session, run)


async def test_a_slow_but_answering_store_is_not_declared_unavailable(
    store: AsyncEngine, tmp_path: Path
) -> None:
    """20 notes at 60 ms each, with their calls' appends and events: the last waits well
    over the 0.5 s answer timeout, queued behind batches the store keeps answering. None
    is spooled."""
    writer = HistoryWriter(SlowStore(store, 0.06), Spool(tmp_path / "spool.jsonl"))
    await writer.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(30):
            results = await asyncio.gather(*every_write_of(writer, range(20)))
    finally:
        await writer.close()
    assert loop.time() - started > 2 * writer.timeout_s
    assert all(r is not None for r in results)
    assert not writer.spooling
    assert await count(store) == Counts(20, 20, 20, 20, 20)


async def test_a_store_that_stops_answering_is_spooled_around_within_the_timeout(
    store: AsyncEngine, tmp_path: Path
) -> None:
    writer = HistoryWriter(SlowStore(store, 5.0), Spool(tmp_path / "spool.jsonl"), timeout_s=0.2)
    await writer.start()
    try:
        # The store would answer after 5 s: every write was spooled before it did.
        async with asyncio.timeout(10):
            results = await asyncio.gather(*every_write_of(writer, range(3)))
        assert writer.spooling
    finally:
        await writer.close()
    assert results == [None] * len(results)


def call(i: int) -> CallAttributes:
    return CallAttributes(
        call_id=f"call.{i}", channel=f"PJSIP/c-{i}", caller_number=f"+4477{i:09d}", language="en"
    )


async def test_close_commits_everything_queued(
    store: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = HistoryWriter(
        HistoryRepository(store), Spool(tmp_path / "spool.jsonl"), timeout_s=ORDERLY_TIMEOUT_S
    )
    await writer.start()
    sink = HistoryEventSink(writer, run="close")
    interactions = HistoryInteractions(writer)
    for i in range(300):
        interactions.queued(call(i), "support")
        sink.append(float(i), AgentStateChanged(f"a{i % 7}", "idle", "busy", "offer", "call"))
        interactions.answered(f"call.{i}", agent_id="a1", wait_s=1.0)
    with caplog.at_level(logging.WARNING):
        await sink.close()
        await interactions.close()
        await writer.close()
    assert not [r for r in caplog.records if "not done at close" in r.getMessage()]
    assert not [r for r in caplog.records if "unavailable" in r.getMessage()]
    async with store.connect() as connection:
        answered = (
            await connection.execute(
                select(func.count()).where(InteractionRow.agent == "a1").select_from(InteractionRow)
            )
        ).scalar_one()
        logged = (await connection.execute(select(func.count()).select_from(EventRow))).scalar_one()
    assert (answered, logged) == (300, 300)
