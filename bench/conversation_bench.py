"""Conversations bench: message appends per second, thread paging and e-mail threading latency.

Builds a store with ``--messages`` messages (default 200,000) spread over conversations, one
of which holds ``--thread`` of them (default 20,000), then measures on SQLite and on
PostgreSQL, each figure beside a baseline measured in the same run:

* messages appended one at a time through ``Conversations.append_message`` (its own
  transaction each: conversation check, idempotency lookup, insert, commit), against
  ``HistoryRepository.append_interaction`` one at a time (the store's existing write);
* a retried append (found by ``external_id``, nothing written);
* reading the long thread page by page from the newest back (``thread(before=...)``,
  keyset over ``(interaction_id, id)``) against OFFSET paging over the same index;
* finding a conversation by an e-mail's Message-ID (``conversation_of_external_id``) with
  the ``external_id`` index, and with it dropped.

Wall and CPU time (this process) are printed for each.

    .venv/bin/python bench/conversation_bench.py --messages 50000 --thread 5000   # seconds
    .venv/bin/python bench/conversation_bench.py                                  # default
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from history.attachments import AttachmentStore
from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import (
    AuthorKind,
    Channel,
    Direction,
    IdentityIn,
    NewConversation,
    NewInteraction,
    NewMessage,
)
from history.models import InteractionRow, MessageRow
from history.repository import HistoryRepository
from history.store import create_engine, migrate

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PAGE = 50
WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _row(conversation_id: int, n: int) -> dict[str, Any]:
    return {
        "interaction_id": conversation_id,
        "channel": "email",
        "direction": "in" if n % 2 else "out",
        "author_kind": "customer" if n % 2 else "agent",
        "body": f"message {n} " + "lorem ipsum " * 8,
        "sent_at": WHEN,
        "delivery": "delivered",
        "delivery_at": WHEN,
        "external_id": f"<{n}.{conversation_id}@mail.example>",
        "created_at": WHEN,
    }


async def _fill(conversations: Conversations, total: int, thread: int) -> tuple[int, list[str]]:
    """The long thread's id and a sample of Message-IDs from the whole store."""
    per_other = 20
    opened = await conversations.open_conversation(
        NewConversation(
            channel=Channel.EMAIL, identity=IdentityIn(kind=IdentityKind.EMAIL, value="c@x.example")
        )
    )
    long_thread = opened.conversation.id
    engine = conversations.repository.engine
    others = max(1, (total - thread) // per_other)
    conversation = {
        "channel": "email",
        "direction": "in",
        "started_at": WHEN,
        "status": "open",
        "source": "bench",
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    async with engine.begin() as connection:
        found = await connection.execute(
            insert(InteractionRow).returning(InteractionRow.id), [conversation] * others
        )
        rest = list(found.scalars())
    rows = [_row(long_thread, n) for n in range(thread)]
    rows += [_row(c, n) for c in rest for n in range(per_other)]
    sample = [rows[i]["external_id"] for i in random.Random(7).sample(range(len(rows)), 200)]
    for start in range(0, len(rows), 5000):
        async with engine.begin() as connection:
            await connection.execute(insert(MessageRow), rows[start : start + 5000])
    return long_thread, sample


async def _timed(
    label: str, runs: Sequence[Callable[..., Awaitable[object]]], *, per_op: bool = False
) -> float:
    walls: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for run in runs:
        started = time.perf_counter()
        await run()
        walls.append(time.perf_counter() - started)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if per_op:
        walls.sort()
        p50, p99 = statistics.median(walls), walls[int(len(walls) * 0.99) - 1]
        print(
            f"  {label:<46} p50 {p50 * 1e3:7.2f} ms  p99 {p99 * 1e3:7.2f} ms"
            f"  (wall {wall:5.2f} s, cpu {cpu:5.2f} s, {len(runs)} ops)"
        )
    else:
        print(f"  {label:<46} {len(runs) / wall:8.0f} /s  (wall {wall:5.2f} s, cpu {cpu:5.2f} s)")
    return wall


async def bench(engine: AsyncEngine, backend: str, total: int, thread: int, root: Path) -> None:
    await migrate(engine)
    history = HistoryRepository(engine, attachments=AttachmentStore(root))
    conversations = Conversations(history)
    long_thread, sample = await _fill(conversations, total, thread)
    print(f"{backend}: {total} messages, one thread of {thread}")

    writes = 500
    appends = [
        lambda n=n: conversations.append_message(
            NewMessage(
                conversation_id=long_thread,
                direction=Direction.IN,
                author_kind=AuthorKind.CUSTOMER,
                body=f"new {n}",
                external_id=f"new-{n}",
            )
        )
        for n in range(writes)
    ]
    baseline = [
        lambda n=n: history.append_interaction(
            NewInteraction(channel=Channel.CHAT, customer_id=1, idempotency_key=f"i-{n}")
        )
        for n in range(writes)
    ]
    await _timed("append_interaction (baseline)", baseline)
    await _timed("append_message", appends)
    await _timed("append_message retried (found by external_id)", appends)

    pages: list[int | None] = [None]
    page = await conversations.thread(long_thread, limit=PAGE)
    while page.older is not None:
        pages.append(page.older)
        page = await conversations.thread(long_thread, limit=PAGE, before=page.older)
    of_thread = select(MessageRow.__table__).where(MessageRow.interaction_id == long_thread)

    async def offset_page(skip: int) -> object:
        async with engine.connect() as connection:
            query = of_thread.order_by(MessageRow.id.desc()).offset(skip).limit(PAGE)
            return (await connection.execute(query)).all()

    async def keyset_page(before: int | None) -> object:
        query = of_thread if before is None else of_thread.where(MessageRow.id < before)
        async with engine.connect() as connection:
            return (
                await connection.execute(query.order_by(MessageRow.id.desc()).limit(PAGE))
            ).all()

    offsets = [lambda s=s: offset_page(s) for s in range(0, PAGE * len(pages), PAGE)]
    keysets = [lambda b=b: keyset_page(b) for b in pages]
    threads = [lambda b=b: conversations.thread(long_thread, limit=PAGE, before=b) for b in pages]
    print(f"  reading the {thread}-message thread newest to oldest, {PAGE} a page:")
    await _timed("page query, OFFSET (baseline)", offsets, per_op=True)
    await _timed("page query, keyset on (interaction_id, id)", keysets, per_op=True)
    await _timed("Conversations.thread (records, cursors)", threads, per_op=True)

    lookups = [lambda i=i: conversations.conversation_of_external_id(i) for i in sample]
    await _timed("conversation_of_external_id", lookups, per_op=True)
    async with engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_messages_external_id"))
    await _timed("  the same, external_id index dropped", lookups[:20], per_op=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--thread", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite+aiosqlite:///{scratch}/bench.db")
        try:
            await bench(engine, "SQLite", args.messages, args.thread, Path(scratch) / "files")
        finally:
            await engine.dispose()
        schema = f"conversation_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        async with admin.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_engine(PG_URL, schema=schema)
        try:
            await bench(engine, "PostgreSQL", args.messages, args.thread, Path(scratch) / "pg")
        finally:
            await engine.dispose()
            async with admin.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
