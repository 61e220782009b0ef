"""Voicemails and follow-ups are stored in the background: a store that fails for a moment
is tried again with back-off, a piece of work that cannot be stored is given up at once,
and one that keeps failing is given up after the last try."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from center.work_intake import WorkIntake
from history.conversations import Conversations
from history.repository import HistoryRepository
from history.store import create_engine


class Flaky:
    """Work that fails ``failures`` times with ``error``, then succeeds."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.tries = failures, error, 0

    async def __call__(self) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise self.error


DOWN = OperationalError("INSERT ...", {}, ConnectionRefusedError("the database is down"))


@pytest.fixture
def intake(tmp_path: Path) -> WorkIntake:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    return WorkIntake(Conversations(HistoryRepository(engine)), retries=4, first_pause_s=0.001)


async def test_a_store_that_fails_for_a_moment_is_tried_again(intake: WorkIntake) -> None:
    work = Flaky(2, DOWN)
    intake.submit("voicemail of call 1.1", work)
    await intake.settle()
    assert work.tries == 3


async def test_work_that_cannot_be_stored_is_given_up_at_once(
    intake: WorkIntake, caplog: pytest.LogCaptureFixture
) -> None:
    work = Flaky(5, ValueError("a value the store refuses"))
    intake.submit("voicemail of call 1.2", work)
    await intake.settle()
    assert work.tries == 1
    assert "voicemail of call 1.2: failed" in caplog.text


async def test_a_store_that_stays_down_is_given_up_after_the_last_try(
    intake: WorkIntake, caplog: pytest.LogCaptureFixture
) -> None:
    work = Flaky(10, DOWN)
    intake.submit("follow-up of callback 1.3", work)
    await intake.settle()
    assert work.tries == 4
    assert "follow-up of callback 1.3: given up after 4 tries" in caplog.text
    assert intake.pending == 0
