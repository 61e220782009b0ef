from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import AuthorKind, Channel, Direction, IdentityIn, NewConversation, NewMessage
from history.models import Base
from history.repository import HistoryRepository
from history.store import WRITE, alembic_config, create_engine, migrate
from tests.history.conftest import PG_URL, Target, _pg_admin


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_equals_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_migrating_an_up_to_date_store_changes_nothing(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.connect() as connection:
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert version == [(head,)]


async def test_sqlite_store_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/var/hotline.db", busy_timeout_s=2.5)
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
            busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar()
    finally:
        await engine.dispose()
    assert (mode, keys, busy) == ("wal", 1, 2500)


@asynccontextmanager
async def _fresh(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty store of its own (not the shared, migrated one)."""
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/fresh.db")
        try:
            yield engine
        finally:
            await engine.dispose()
        return
    schema = f"hotline_fresh_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_admin(f"CREATE SCHEMA {schema}")
    except (OSError, TimeoutError) as error:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {error}")
    engine = Target("postgresql", PG_URL, schema).engine()
    try:
        yield engine
    finally:
        await engine.dispose()
        await _pg_admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.connect() as connection:
        connection = await connection.execution_options(**{WRITE: True})
        async with connection.begin():
            await connection.run_sync(run)


async def _insert(engine: AsyncEngine, channel: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO interactions (channel, direction, started_at, status, source,"
                " created_at, updated_at) VALUES (:channel, 'in', :now, 'open', 'test', :now,"
                " :now)"
            ),
            {"channel": channel, "now": datetime.now(UTC)},
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_store_from_before_voicemails_takes_them_and_still_refuses_other_channels(
    backend: str, tmp_path: Path
) -> None:
    async with _fresh(backend, tmp_path) as engine:
        await migrate(engine, "0008")
        store = Conversations(HistoryRepository(engine))
        chat = IdentityIn(kind=IdentityKind.CHAT, value="visitor-1")
        before = await store.open_conversation(NewConversation(channel=Channel.CHAT, identity=chat))
        with pytest.raises(IntegrityError):  # 0008's constraint: no voicemail yet
            await _insert(engine, "voicemail")

        await migrate(engine)  # messages, notes and callbacks refer to interactions: kept
        phone = IdentityIn(kind=IdentityKind.PHONE, value="+441632960123")
        for channel in (Channel.VOICEMAIL, Channel.FOLLOW_UP):
            opened = await store.open_conversation(NewConversation(channel=channel, identity=phone))
            await store.append_message(
                NewMessage(
                    conversation_id=opened.conversation.id,
                    direction=Direction.IN,
                    author_kind=AuthorKind.SYSTEM,
                    body=f"a {channel.value}",
                )
            )
        assert (await store.get_conversation(before.conversation.id)).channel is Channel.CHAT
        await _insert(engine, "voice")  # the row is well made: only its channel is refused
        with pytest.raises(IntegrityError):  # the wider list is still a list
            await _insert(engine, "fax")

        await _downgrade(engine, "0008")  # voicemails and follow-ups go, the chat stays
        async with engine.connect() as connection:
            left = (await connection.execute(text("SELECT channel FROM interactions"))).all()
        assert sorted(left) == [("chat",), ("voice",)]
        with pytest.raises(IntegrityError):
            await _insert(engine, "follow_up")
