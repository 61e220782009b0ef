"""The history store's bring-up: its schema, its writer, and what the last run left open.

A store that is down does not stop the service: calls are served, writes are spooled
(``history.writer``), and the schema is brought to head in the background with back-off as
soon as the store answers; ``schema_ready`` is set then, for the parts that read the
store at start. Once it is, the calls a stopped run of this node left open are closed as
failed, after the writes that run spooled are in (they may end some of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from history.repository import HistoryRepository
from history.store import migrate
from history.writer import HistoryWriter

log = logging.getLogger(__name__)

#: The longest wait between two tries to reach a store that is down.
MAX_RETRY_S = 30.0
#: How long closing the last run's calls waits for its spooled writes.
DRAIN_S = 30.0


class HistoryStartup:
    """``start`` then ``close``; ``problem`` is the readiness check."""

    def __init__(
        self,
        store: AsyncEngine,
        history: HistoryRepository,
        writer: HistoryWriter,
        *,
        source: str,
        display_url: str,
        first: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """``first``: work started the moment the schema is up, before the writer and the
        closing of the last run's calls read or write the store (sealing secrets kept in
        clear: its checkpoint must find no other reader)."""
        self._store = store
        self._history = history
        self._writer = writer
        self._source = source
        self._display_url = display_url
        self._first = first
        self._started_at = dt.datetime.now(dt.UTC)
        self._writer_started = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Set once the schema is at head (the store answered).
        self.schema_ready = asyncio.Event()
        #: Closing the calls a stopped run left open, once the schema is ready.
        self.closing_interrupted: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not await self._migrate_once():
            self._spawn(self._migrate_until_reachable(), name="history-migrate")
        await self._writer.start()
        self._writer_started.set()

    async def close(self) -> None:
        """Background work cancelled (the writer is closed by its owner, after the parts
        that write)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def problem(self) -> str | None:
        if self.schema_ready.is_set():
            return None
        return "history store not reachable yet (writes are spooled)"

    async def _migrate_once(self) -> bool:
        """Bring the store's schema to head; False (and one log line) if it is down."""
        try:
            await migrate(self._store)
        except (OSError, SQLAlchemyError) as exc:
            log.error(
                "history store %s unavailable (%s: %s); calls are served and history writes "
                "are spooled until it answers",
                self._display_url,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )
            return False
        self.schema_ready.set()
        if self._first is not None:
            self._spawn(self._first(), name="history-first")
        self.closing_interrupted = self._spawn(
            self._close_interrupted(), name="history-close-interrupted"
        )
        return True

    async def _migrate_until_reachable(self) -> None:
        """Retry the migration with back-off until the store answers."""
        delay = 0.5
        while not self.schema_ready.is_set():
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)
            if await self._migrate_once():
                log.info("history store reachable again; schema up to date")

    async def _close_interrupted(self) -> None:
        """Calls a stopped run of this node left open in the history: closed as failed,
        once the writes the last run spooled are in (they may end some of them)."""
        await self._writer_started.wait()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_S):
                await self._writer.drained()
        try:
            closed = await self._history.close_interrupted(
                source=self._source, before=self._started_at
            )
        except (OSError, SQLAlchemyError) as exc:
            log.warning("interactions left open by the last stop not closed: %s", exc)
            return
        if closed:
            log.warning("%d interactions left open by the last stop closed as failed", len(closed))

    def _spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())
