"""Fixtures shared by the center's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine, migrate
from history.writer import HistoryWriter


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[HistoryWriter]:
    """The history's group-committing writer on a fresh SQLite store."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    await migrate(engine)
    # 5 s to answer, not 0.5: these tests are about order, not outages, and a loaded
    # machine (two test workers) can keep a 600-event batch longer than that
    made = HistoryWriter(HistoryRepository(engine), Spool(tmp_path / "spool.jsonl"), timeout_s=5.0)
    await made.start()
    try:
        yield made
    finally:
        await made.close()
        await engine.dispose()
