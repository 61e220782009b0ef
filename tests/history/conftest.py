"""Every history test runs on SQLite (a file per test) and on PostgreSQL (a schema per run).

PostgreSQL is the machine's server (127.0.0.1:5432, trust auth, database ``test``; override
with HOTLINE_TEST_PG_URL). The run creates its own uniquely named schema, migrates it once,
empties it before each test and drops it at the end; SQLite tests copy a migrated file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from history.attachments import AttachmentStore
from history.conversations import Conversations, MessageLimits
from history.models import Base
from history.repository import HistoryRepository
from history.store import create_engine, migrate

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Target:
    """Where a test's store lives; ``engine()`` opens it (tests may open several)."""

    backend: str
    url: str
    schema: str | None = None

    def engine(self, **options: Any) -> AsyncEngine:
        return create_engine(self.url, schema=self.schema, **options)


class ManualClock:
    """The repository's clock, moved by the test."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run set-up on its own loop in a thread: session fixtures may be first asked for from
    inside a test's running loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _pg_admin(statement: str) -> None:
    engine = create_engine(PG_URL, connect_timeout_s=3)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _migrate(target: Target) -> None:
    engine = target.engine()
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history-template") / "hotline.db"
    _run(_migrate(Target("sqlite", f"sqlite+aiosqlite:///{path}")))
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    schema = f"hotline_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        _run(_pg_admin(f"CREATE SCHEMA {schema}"))
    except (OSError, TimeoutError) as error:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {error}")
    try:
        _run(_migrate(Target("postgresql", PG_URL, schema)))
        yield schema
    finally:
        _run(_pg_admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


async def _sqlite_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    path = tmp_path / "hotline.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return Target("sqlite", f"sqlite+aiosqlite:///{path}")


async def _pg_target(request: pytest.FixtureRequest) -> Target:
    schema = request.getfixturevalue("pg_schema")
    # DELETE, not TRUNCATE: on a handful of rows it is several times faster.
    target = Target("postgresql", PG_URL, schema)
    engine = target.engine()
    try:
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())
    finally:
        await engine.dispose()
    return target


@pytest.fixture(params=["sqlite", "postgresql"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "sqlite":
        return await _sqlite_target(request, tmp_path)
    return await _pg_target(request)


@pytest.fixture
async def sqlite_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return await _sqlite_target(request, tmp_path)


@pytest.fixture
async def pg_target(request: pytest.FixtureRequest) -> Target:
    return await _pg_target(request)


@pytest.fixture
async def engine(target: Target) -> AsyncIterator[AsyncEngine]:
    engine = target.engine()
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def repository(engine: AsyncEngine, clock: ManualClock) -> HistoryRepository:
    return HistoryRepository(engine, clock=clock)


#: Small caps, so the tests can cross them with small files.
TEST_LIMITS = MessageLimits(
    max_body_chars=2000,
    max_attachment_bytes=1000,
    max_message_attachment_bytes=1500,
    max_attachments_per_message=3,
)


@pytest.fixture
def attachment_store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "attachments")


@pytest.fixture
def conversations(
    engine: AsyncEngine, clock: ManualClock, attachment_store: AttachmentStore
) -> Conversations:
    history = HistoryRepository(engine, clock=clock, attachments=attachment_store)
    return Conversations(history, limits=TEST_LIMITS)
