"""Who is calling: the in-memory directory and the adapter over the customer history."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewCustomer, NewInteraction, Status
from history.repository import HistoryRepository
from history.store import create_engine, migrate
from ivr.callers import CallerProfile, HistoryDirectory, InMemoryDirectory

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


async def test_in_memory_directory_matches_numbers_however_they_are_written() -> None:
    layla = CallerProfile(customer_id="42", tier="loyal")
    directory = InMemoryDirectory([(layla, ["+33 6 12 34 56 78"], ["ACC-1"])])

    assert await directory.find_by_phone("0612345678") == layla
    assert await directory.find_by_phone("0033612345678") == layla
    assert await directory.find_by_phone("0699999999") is None
    assert await directory.find_by_phone("anonymous") is None
    assert await directory.find_by_account("ACC-1") == layla
    assert await directory.find_by_account("ACC-2") is None


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[HistoryRepository]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    await migrate(engine)
    try:
        yield HistoryRepository(engine, clock=lambda: NOW)
    finally:
        await engine.dispose()


async def test_history_directory_builds_the_profile_from_the_store(
    repository: HistoryRepository,
) -> None:
    customer = await repository.create_customer(
        NewCustomer(
            name="Layla",
            tier="key_account",
            language="ar",
            tags=("outage_area",),
            identities=(IdentityIn(kind=IdentityKind.PHONE, value="+441632960123"),),
        )
    )
    for days_ago, status in ((2, Status.OPEN), (20, Status.RESOLVED)):
        await repository.append_interaction(
            NewInteraction(
                channel=Channel.VOICE,
                customer_id=customer.id,
                started_at=NOW - dt.timedelta(days=days_ago),
                agent="agent1001",
                status=status,
            )
        )
    directory = HistoryDirectory(repository, accounts={"77001234": customer.id})

    profile = await directory.find_by_phone("01632 960123")

    assert profile is not None
    assert (profile.customer_id, profile.name, profile.tier) == (
        str(customer.id),
        "Layla",
        "key_account",
    )
    assert (profile.language, profile.open_issues, profile.recent_contacts) == ("ar", 1, 1)
    assert profile.last_contact_at == NOW - dt.timedelta(days=2)
    assert profile.last_agent == "agent1001"
    assert profile.tags == frozenset({"outage_area"})
    assert await directory.find_by_account("77001234") == profile


async def test_history_directory_knows_nobody_for_withheld_or_new_numbers(
    repository: HistoryRepository,
) -> None:
    directory = HistoryDirectory(repository)

    assert await directory.find_by_phone("anonymous") is None
    assert await directory.find_by_phone("+441632960999") is None
    assert await directory.find_by_account("77001234") is None


def _replace_with_a_directory(db: Path) -> None:
    """SQLite cannot open a directory: every query fails."""
    db.unlink()
    db.mkdir()


async def test_history_store_outage_makes_the_caller_unknown_not_the_call_fail(
    repository: HistoryRepository, caplog: pytest.LogCaptureFixture
) -> None:
    directory = HistoryDirectory(repository)
    await repository.engine.dispose()
    _replace_with_a_directory(Path(str(repository.engine.url.database)))

    assert await directory.find_by_phone("+441632960123") is None
    assert "caller lookup failed (history store unavailable)" in caplog.text
    # The failed connection's aiosqlite thread answers its close only once the connection
    # is collected: while this test's loop still runs, not after (it would post to a
    # closed loop, a warning pinned on whichever test runs next).
    gc.collect()
    await asyncio.sleep(0.05)
