"""A crowd of writers on a SQLite file: they take turns in the process, in order, and all
commit (they polled SQLite's lock before, and those left waiting past the busy timeout
failed with "database is locked")."""

from __future__ import annotations

import asyncio
from pathlib import Path

from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import (
    AuthorKind,
    Channel,
    Direction,
    IdentityIn,
    NewConversation,
    NewMessage,
)
from history.repository import HistoryRepository
from history.store import create_engine, migrate


async def test_a_hundred_writers_at_once_all_commit_within_a_short_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/crowd.db", busy_timeout_s=0.05)
    try:
        await migrate(engine)
        store = Conversations(HistoryRepository(engine))
        visitors = [
            NewConversation(
                channel=Channel.CHAT, identity=IdentityIn(kind=IdentityKind.CHAT, value=f"v{n}")
            )
            for n in range(100)
        ]
        opened = await asyncio.gather(*(store.open_conversation(v) for v in visitors))
        said = await asyncio.gather(
            *(
                store.append_message(
                    NewMessage(
                        conversation_id=o.conversation.id,
                        direction=Direction.IN,
                        author_kind=AuthorKind.CUSTOMER,
                        body="hello",
                    )
                )
                for o in opened
            )
        )
        assert all(s.created for s in said)
        assert len({o.conversation.id for o in opened}) == 100
    finally:
        await engine.dispose()
