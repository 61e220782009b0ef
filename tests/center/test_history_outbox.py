"""The outbox between the ACD and the history writer: writes handed over in the order they
were put, no task per write, at most ``limit`` outstanding, a refused write logged once and
the rest going on, and a batch the store fails going to the spool in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from center.history_outbox import HistoryOutbox
from history.errors import UnknownInteraction
from history.inputs import InteractionRef, InteractionUpdate, NewEvent
from history.models import EventRow
from history.repository import HistoryRepository
from history.spool import Spool
from history.writer import HistoryWriter


def logged(writer: HistoryWriter, n: int) -> Callable[[], asyncio.Future[Any]]:
    return lambda: writer.append_event(NewEvent(kind="queued", call_id=f"c{n}", key=f"k{n}"))


async def event_order(writer: HistoryWriter) -> list[str]:
    async with writer.repository.engine.connect() as connection:
        rows = await connection.execute(select(EventRow.call_id).order_by(EventRow.seq))
        return [str(r[0]) for r in rows]


async def test_writes_reach_the_store_in_the_order_they_were_put_with_no_task_per_write(
    writer: HistoryWriter,
) -> None:
    outbox = HistoryOutbox("test")
    tasks_before = len(asyncio.all_tasks())
    for n in range(300):
        outbox.put(logged(writer, n))
    assert len(asyncio.all_tasks()) - tasks_before <= 2  # the outbox's and the committer's
    async with asyncio.timeout(20):
        await outbox.flush()
    assert await event_order(writer) == [f"c{n}" for n in range(300)]
    await outbox.close()


async def test_a_refused_write_is_logged_once_and_the_writes_after_it_are_committed_in_order(
    writer: HistoryWriter, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = HistoryOutbox("test")
    ghost = InteractionRef(source="hotline", idempotency_key="never-appended")
    with caplog.at_level(logging.ERROR, logger="center.history_outbox"):
        for n in range(40):
            outbox.put(logged(writer, n))
            if n == 17:
                outbox.put(lambda: writer.update_interaction(ghost, InteractionUpdate(agent="a")))
        async with asyncio.timeout(20):
            await outbox.close()
    refusals = [r for r in caplog.records if r.name == "center.history_outbox"]
    assert len(refusals) == 1
    assert refusals[0].exc_info is not None
    assert isinstance(refusals[0].exc_info[1], UnknownInteraction)
    assert await event_order(writer) == [f"c{n}" for n in range(40)]


async def test_a_batch_the_store_fails_mid_way_reaches_the_spool_in_order_and_is_replayed(
    tmp_path: Path, writer: HistoryWriter
) -> None:
    engine = writer.repository.engine
    spooling = HistoryWriter(
        HistoryRepository(engine),
        Spool(tmp_path / "outage.jsonl"),
        timeout_s=5.0,
        retry_min_s=0.05,
        retry_max_s=0.1,
    )
    await spooling.start()
    down = True

    def lost(*_args: Any) -> None:
        if down:
            raise ConnectionResetError("connection reset by peer")

    event.listen(engine.sync_engine, "before_cursor_execute", lost)
    outbox = HistoryOutbox("test")
    try:
        for n in range(60):
            outbox.put(logged(spooling, n))
        async with asyncio.timeout(20):
            await outbox.flush()
        assert spooling.spooling
        journalled = await asyncio.to_thread(spooling.spool.pending)
        assert [e.data["call_id"] for e in journalled] == [f"c{n}" for n in range(60)]
        down = False
        async with asyncio.timeout(20):
            await spooling.drained()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", lost)
        await outbox.close()
        await spooling.close()
    assert await event_order(writer) == [f"c{n}" for n in range(60)]


class Answers:
    """A writer whose answers the test gives, one future per write, in call order."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.answers: list[asyncio.Future[object]] = []

    def write(self, name: str) -> Callable[[], asyncio.Future[object]]:
        def call() -> asyncio.Future[object]:
            self.calls.append(name)
            self.answers.append(asyncio.get_running_loop().create_future())
            return self.answers[-1]

        return call


async def test_at_most_limit_writes_are_outstanding_and_the_rest_follow_in_order() -> None:
    writer = Answers()
    outbox = HistoryOutbox("test", limit=3)
    for n in range(8):
        outbox.put(writer.write(f"w{n}"))
    assert writer.calls == ["w0", "w1", "w2"]  # handed over as they were put, up to the limit
    writer.answers[0].set_result(None)
    writer.answers[1].set_exception(UnknownInteraction("refused"))  # a refusal frees its slot
    await asyncio.sleep(0.01)
    assert writer.calls == ["w0", "w1", "w2", "w3", "w4"]
    flushed = asyncio.ensure_future(outbox.flush())
    while not flushed.done():
        for answer in writer.answers:
            if not answer.done():
                answer.set_result(None)
        await asyncio.sleep(0.01)
    assert writer.calls == [f"w{n}" for n in range(8)]
    await outbox.close()


async def test_a_write_that_fails_when_called_is_logged_and_does_not_hold_up_flush(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = Answers()
    outbox = HistoryOutbox("test")

    def malformed() -> asyncio.Future[object]:
        raise ValueError("HistoryWriter needs an idempotency_key on every interaction")

    with caplog.at_level(logging.ERROR, logger="center.history_outbox"):
        outbox.put(malformed)
        async with asyncio.timeout(1):
            await outbox.flush()
        outbox.put(writer.write("after"))
        writer.answers[0].set_result(None)
        async with asyncio.timeout(1):
            await outbox.flush()
    assert writer.calls == ["after"]
    assert ["refused" in r.getMessage() for r in caplog.records] == [True]
    await outbox.close()


async def test_close_gives_up_on_unanswered_writes_without_cancelling_the_writers_futures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = Answers()
    outbox = HistoryOutbox("test", limit=2)
    for n in range(5):
        outbox.put(writer.write(f"w{n}"))
    with caplog.at_level(logging.WARNING, logger="center.history_outbox"):
        async with asyncio.timeout(2):
            await outbox.close(timeout_s=0.05)
    # the two handed over are still the writer's to commit or spool; three never went
    assert not any(answer.cancelled() for answer in writer.answers)
    assert writer.calls == ["w0", "w1"]
    assert "3 writes not done at close (2 more still with the writer)" in caplog.text


async def test_writes_that_are_coroutines_are_handed_over_in_order() -> None:
    seen: list[int] = []

    async def write(n: int) -> None:
        seen.append(n)
        await asyncio.sleep(0.001 * (n % 3))

    outbox = HistoryOutbox("test", limit=4)
    for n in range(20):
        outbox.put(lambda n=n: write(n))  # type: ignore[misc]
    async with asyncio.timeout(5):
        await outbox.close()
    assert seen == list(range(20))
