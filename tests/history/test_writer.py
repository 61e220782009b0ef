"""The voice side's writes survive a database outage: spooled on disk, replayed in order,
none lost and none duplicated."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from history.errors import UnknownCustomer
from history.identities import IdentityKind
from history.inputs import (
    Channel,
    IdentityIn,
    InteractionRef,
    InteractionUpdate,
    NewEvent,
    NewInteraction,
    NewNote,
    Status,
)
from history.models import EventRow, InteractionRow, NoteRow
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine
from history.writer import HistoryWriter
from tests.ports import unused_port

from .conftest import PG_URL, Target
from .outage import Outage

Write = Callable[[], Awaitable[object]]


def call_writes(writer: HistoryWriter, i: int) -> list[Write]:
    """What one call writes as it moves: append, queue+agent, wrap-up, a note, an event."""
    key = f"1795356299.{i}"
    ref = InteractionRef(source="hotline", idempotency_key=key)
    caller = IdentityIn(kind=IdentityKind.PHONE, value=f"07700 9{i:05d}")
    return [
        lambda: writer.append_interaction(
            NewInteraction(
                channel=Channel.VOICE, identity=caller, idempotency_key=key, external_id=key
            )
        ),
        lambda: writer.append_event(NewEvent(kind="queued", call_id=key, payload={"queue": "q"})),
        lambda: writer.update_interaction(ref, InteractionUpdate(queue="billing", agent="a1")),
        lambda: writer.update_interaction(
            ref, InteractionUpdate(status=Status.RESOLVED, talk_s=float(i))
        ),
        lambda: writer.add_note(NewNote(author="a1", body=f"wrap-up {i}", interaction=ref)),
    ]


@dataclass(frozen=True)
class Counts:
    interactions: int
    distinct_keys: int
    resolved_with_talk: int
    notes: int
    events: int


async def count(engine: AsyncEngine) -> Counts:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    func.count(),
                    func.count(InteractionRow.idempotency_key.distinct()),
                    func.count().filter(
                        InteractionRow.status == "resolved",
                        InteractionRow.queue == "billing",
                        InteractionRow.talk_s.is_not(None),
                    ),
                )
            )
        ).one()
        notes = (await connection.execute(select(func.count()).select_from(NoteRow))).scalar_one()
        events = (await connection.execute(select(func.count()).select_from(EventRow))).scalar_one()
    return Counts(row[0], row[1], row[2], notes, events)


@pytest.fixture
async def checker(target: Target) -> AsyncIterator[AsyncEngine]:
    engine = target.engine()
    yield engine
    await engine.dispose()


async def _writer(engine: AsyncEngine, spool_path: Path, timeout_s: float = 0.5) -> HistoryWriter:
    writer = HistoryWriter(
        HistoryRepository(engine),
        Spool(spool_path),
        timeout_s=timeout_s,
        retry_min_s=0.05,
        retry_max_s=0.2,
    )
    await writer.start()
    return writer


async def _terminate_backends(ports: list[int]) -> int:
    admin = create_engine(PG_URL)
    try:
        async with admin.begin() as connection:
            result = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE client_addr = '127.0.0.1' AND client_port = ANY(:ports)"
                ),
                {"ports": ports},
            )
            return len(result.all())
    finally:
        await admin.dispose()


async def test_postgresql_outage_mid_run_loses_and_duplicates_nothing(
    pg_target: Target, tmp_path: Path
) -> None:
    outage = Outage("127.0.0.1", make_url(PG_URL).port or 5432)
    port = await outage.start()
    url = make_url(PG_URL).set(host="127.0.0.1", port=port)
    engine = create_engine(url, schema=pg_target.schema, connect_timeout_s=1, statement_timeout_s=2)
    writer = await _writer(engine, tmp_path / "spool.jsonl")
    spooled = terminated = 0
    try:
        async with asyncio.timeout(25):
            writes = [w for i in range(40) for w in call_writes(writer, i)]
            for step, write in enumerate(writes):
                if step in (20, 140):  # the server drops our sessions (admin shutdown)
                    terminated += await _terminate_backends(outage.upstream_ports())
                if step == 52:  # mid-call: after call 10's event, before its updates
                    await outage.cut()
                if step == 131:
                    await outage.restore()
                spooled += await write() is None
            await writer.drained()
    finally:
        await writer.close()
        await outage.close()
        await engine.dispose()
    assert spooled >= 79  # everything during the outage, and the catch-up after it
    assert terminated >= 1
    checker = pg_target.engine()
    try:
        assert await count(checker) == Counts(40, 40, 40, 40, 40)
    finally:
        await checker.dispose()


async def test_sqlite_locked_mid_run_loses_and_duplicates_nothing(
    sqlite_target: Target, tmp_path: Path
) -> None:
    database = make_url(sqlite_target.url).database
    assert database is not None
    engine = sqlite_target.engine(busy_timeout_s=0.05)
    writer = await _writer(engine, tmp_path / "spool.jsonl")
    locker = sqlite3.connect(database, isolation_level=None)
    spooled = 0
    try:
        async with asyncio.timeout(25):
            writes = [w for i in range(40) for w in call_writes(writer, i)]
            for step, write in enumerate(writes):
                if step == 52:
                    locker.execute("BEGIN EXCLUSIVE")
                if step == 131:
                    locker.execute("COMMIT")
                spooled += await write() is None
            await writer.drained()
    finally:
        locker.close()
        await writer.close()
        await engine.dispose()
    assert spooled >= 79
    checker = sqlite_target.engine()
    try:
        assert await count(checker) == Counts(40, 40, 40, 40, 40)
    finally:
        await checker.dispose()


async def test_a_write_that_times_out_but_lands_later_is_not_duplicated(
    sqlite_target: Target, tmp_path: Path
) -> None:
    database = make_url(sqlite_target.url).database
    assert database is not None
    engine = sqlite_target.engine(busy_timeout_s=2.0)
    writer = await _writer(engine, tmp_path / "spool.jsonl", timeout_s=0.1)
    locker = sqlite3.connect(database, isolation_level=None)
    try:
        async with asyncio.timeout(10):
            locker.execute("BEGIN EXCLUSIVE")
            writes = call_writes(writer, 1)
            assert await writes[0]() is None  # still waiting on the lock: spooled too
            assert writer.spooling
            for write in writes[1:]:
                assert await write() is None
            await asyncio.sleep(0.3)
            locker.execute("COMMIT")
            await writer.drained()
    finally:
        locker.close()
        await writer.close()
    try:
        assert await count(engine) == Counts(1, 1, 1, 1, 1)
    finally:
        await engine.dispose()


async def test_spooled_writes_are_replayed_after_a_restart(
    target: Target, checker: AsyncEngine, tmp_path: Path
) -> None:
    spool_path = tmp_path / "spool.jsonl"
    down = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_port()}/test")
    first_run = await _writer(down, spool_path)
    async with asyncio.timeout(10):
        for i in range(5):
            for write in call_writes(first_run, i):
                assert await write() is None
    await first_run.close()
    await down.dispose()

    engine = target.engine()
    second_run = await _writer(engine, spool_path)
    try:
        async with asyncio.timeout(10):
            await second_run.drained()
    finally:
        await second_run.close()
        await engine.dispose()
    assert await count(checker) == Counts(5, 5, 5, 5, 5)
    assert Spool(spool_path).empty


async def test_a_write_refused_on_replay_is_set_aside_and_the_rest_goes_through(
    target: Target, checker: AsyncEngine, tmp_path: Path
) -> None:
    spool_path = tmp_path / "spool.jsonl"
    down = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_port()}/test")
    first_run = await _writer(down, spool_path)
    async with asyncio.timeout(10):
        writes = call_writes(first_run, 1)
        await first_run.update_interaction(
            InteractionRef(source="hotline", idempotency_key="never-written"),
            InteractionUpdate(agent="a1"),
        )
        for write in writes:
            await write()
    await first_run.close()
    await down.dispose()

    engine = target.engine()
    second_run = await _writer(engine, spool_path)
    try:
        async with asyncio.timeout(10):
            await second_run.drained()
    finally:
        await second_run.close()
        await engine.dispose()
    assert await count(checker) == Counts(1, 1, 1, 1, 1)
    assert b"never-written" in (tmp_path / "spool.jsonl.rejected").read_bytes()


async def test_a_refusal_while_the_store_is_up_reaches_the_caller(
    target: Target, tmp_path: Path
) -> None:
    engine = target.engine()
    writer = await _writer(engine, tmp_path / "spool.jsonl")
    try:
        with pytest.raises(UnknownCustomer):
            await writer.append_interaction(
                NewInteraction(
                    channel=Channel.VOICE, customer_id=2_000_000_000, idempotency_key="k"
                )
            )
        written = await writer.append_interaction(
            NewInteraction(channel=Channel.VOICE, idempotency_key="k2")
        )
        assert written is not None
        assert not writer.spooling
        with pytest.raises(ValueError, match="idempotency_key"):
            await writer.append_interaction(NewInteraction(channel=Channel.VOICE))
    finally:
        await writer.close()
        await engine.dispose()
