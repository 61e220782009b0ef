"""The history's hot paths: a batch's updates applied in memory and written back together
(``history.changes``), a timeline page in one query, and on a SQLite file both run on the
store's own threads (``history.offload``), never a statement on the service's loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from history.batch import InteractionChange
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
from history.records import Interaction, Note
from history.repository import HistoryRepository
from history.store import page_engine

PHONE = IdentityIn(kind=IdentityKind.PHONE, value="01632 960123")


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[tuple[str, str]]]:
    """Each statement the store runs meanwhile, with the thread that ran it."""
    seen: list[tuple[str, str]] = []

    def executed(*args: Any) -> None:
        seen.append((str(args[2]).split()[0], threading.current_thread().name))

    event.listen(engine.sync_engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", executed)


def call(key: str) -> NewInteraction:
    return NewInteraction(channel=Channel.VOICE, identity=PHONE, idempotency_key=key)


async def test_a_batch_updates_rows_in_memory_and_returns_each_state_in_turn(
    repository: HistoryRepository, engine: AsyncEngine
) -> None:
    stored = await repository.append_interaction(call("stored"))
    await repository.update_interaction(stored.id, InteractionUpdate(disposition="sale"))
    ref = InteractionRef(source="hotline", idempotency_key="stored")
    fresh = InteractionRef(source="hotline", idempotency_key="fresh")
    with statements(engine) as seen:
        results = await repository.write_batch(
            [
                InteractionChange(ref, InteractionUpdate(queue="billing")),
                call("fresh"),
                InteractionChange(fresh, InteractionUpdate(agent="a1", wait_s=3.0)),
                InteractionChange(ref, InteractionUpdate(agent="a2")),
                call("stored"),  # a repeat: the row as the batch has left it
                InteractionChange(fresh, InteractionUpdate(status=Status.RESOLVED)),
                NewNote(author="a2", body="called back", interaction=ref),
            ]
        )
    first, appended, answered, second, repeat, resolved, note = results
    assert isinstance(first, Interaction)
    assert isinstance(second, Interaction)
    assert (first.queue, first.agent, first.disposition) == ("billing", None, "sale")
    assert (second.queue, second.agent, second.disposition) == ("billing", "a2", "sale")
    assert repeat == second
    assert isinstance(appended, Interaction)
    assert appended.agent is None
    assert isinstance(answered, Interaction)
    assert (answered.agent, answered.status) == (
        "a1",
        Status.OPEN,
    )
    assert isinstance(resolved, Interaction)
    assert (resolved.agent, resolved.status) == (
        "a1",
        Status.RESOLVED,
    )
    assert isinstance(note, Note)
    assert note.interaction_id == stored.id
    # Four updates of two rows: one UPDATE per set of changed columns, not one per update.
    assert [kind for kind, _ in seen].count("UPDATE") == 2
    assert await repository.get_interaction(ref) == second
    assert await repository.get_interaction(fresh) == resolved


async def test_a_timeline_page_is_one_query_and_notes_one_more_for_the_whole_page(
    repository: HistoryRepository, engine: AsyncEngine
) -> None:
    calls = [await repository.append_interaction(call(f"c{i}")) for i in range(30)]
    customer = calls[0].customer_id
    assert customer is not None
    with statements(engine) as seen:
        page = await repository.timeline(customer, limit=20)
    assert [kind for kind, _ in seen if kind != "BEGIN"] == ["SELECT"]
    assert len(page.entries) == 20
    assert page.next_cursor is not None
    for noted in calls[-5:]:
        await repository.add_note(NewNote(author="a1", body="hi", interaction_id=noted.id))
    with statements(engine) as seen:
        page = await repository.timeline(customer, limit=20)
    assert [kind for kind, _ in seen if kind != "BEGIN"] == ["SELECT", "SELECT"]
    assert sum(len(entry.notes) for entry in page.entries) == 5


async def test_on_a_sqlite_file_no_statement_runs_on_the_services_loop(
    repository: HistoryRepository, engine: AsyncEngine
) -> None:
    loop_thread = threading.current_thread().name
    with statements(engine) as seen:
        [appended, _] = await repository.write_batch(
            [call("k1"), NewEvent(kind="call_queued", call_id="k1", key="e1")]
        )
        assert isinstance(appended, Interaction)
        assert appended.customer_id is not None
        await repository.timeline(appended.customer_id)
    threads = {thread for _, thread in seen}
    if engine.url.get_backend_name() == "sqlite":
        assert threads == {"history-sqlite-writes", "history-sqlite-reads"}
    else:
        assert threads == {loop_thread}


async def test_a_page_on_a_connection_the_server_dropped_is_read_again_on_a_fresh_one(
    repository: HistoryRepository, engine: AsyncEngine
) -> None:
    """On a server, pages have their own pool, in autocommit and without a ping at checkout
    (three round trips with asyncpg): a pooled connection the server has dropped fails the
    page's query, and the page is read again on a new connection."""
    if engine.url.get_backend_name() == "sqlite":
        pytest.skip("a SQLite file has no server to drop a connection")
    appended = await repository.append_interaction(call("k1"))
    assert appended.customer_id is not None
    await repository.timeline(appended.customer_id)  # a connection now waits in the pool
    pages = page_engine(engine)
    assert pages is not engine
    async with pages.connect() as connection:  # the pooled one
        pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    with statements(engine) as seen:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        page = await repository.timeline(appended.customer_id)
    assert [e.interaction for e in page.entries] == [appended]
    # The page's statement twice (the dropped connection's, then the fresh one's): no ping.
    assert [kind for kind, _ in seen] == ["SELECT", "SELECT", "SELECT"]
