"""The ACD's writes to the customer history, handed to the writer in order: one owned task
per outbox (the event log's, the interactions'), many writes to a transaction (the
writer's group commit), a bounded number outstanding, and a warning when the store falls
behind.

Shared by ``center.persistence`` (the event log) and ``center.call_interactions``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

__all__ = ["BACKLOG_WARNING", "MAX_OUTSTANDING", "HistoryOutbox"]


#: Queued writes beyond this are worth a warning (the store is slow and not spooling).
BACKLOG_WARNING = 10_000
#: Writes handed to the writer and not yet answered, per outbox: two of its batches.
MAX_OUTSTANDING = 1_000


class HistoryOutbox:
    """Writes handed to the writer in order, without waiting for each other: the writer
    queues a write before its call first yields, so writes started in order are committed
    in order, many to a transaction (``history.writer``'s group commit). At most
    ``limit`` are outstanding at once; the rest wait here. One owned task hands them over,
    started on first use."""

    def __init__(self, name: str, limit: int = MAX_OUTSTANDING) -> None:
        self._name = name
        self._queue: asyncio.Queue[Callable[[], Awaitable[object]]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(limit)
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._warned = False

    def put(self, write: Callable[[], Awaitable[object]]) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=self._name)
        self._queue.put_nowait(write)
        if self._queue.qsize() > BACKLOG_WARNING and not self._warned:
            self._warned = True
            log.warning("%s: %d writes waiting for the history store", self._name, BACKLOG_WARNING)

    async def flush(self) -> None:
        await self._queue.join()

    async def close(self, timeout_s: float = 2.0) -> None:
        """Let queued writes finish (the writer spools them if the store is down), then stop.

        Writes already handed to the writer stay queued there when this gives up waiting
        for their answer: ``HistoryWriter.close`` commits or spools them. Only writes never
        handed over are lost, and counted.
        """
        if self._task is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self.flush()
        except TimeoutError:
            if self._queue.qsize():
                log.warning(
                    "%s: %d writes not done at close (%d more still with the writer)",
                    self._name,
                    self._queue.qsize(),
                    len(self._writes),
                )
        for task in (self._task, *self._writes):
            task.cancel()
        await asyncio.gather(self._task, *self._writes, return_exceptions=True)
        self._task = None

    async def _drain(self) -> None:
        while True:
            write = await self._queue.get()
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._run(write))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _run(self, write: Callable[[], Awaitable[object]]) -> None:
        try:
            await write()
        except Exception:  # the outbox's boundary: a refused write is logged once
            log.exception("%s: a history write was refused", self._name)
        finally:
            self._slots.release()
            self._queue.task_done()
