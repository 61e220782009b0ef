"""The ACD's writes to the customer history, handed to the writer in order: many writes to a
transaction (the writer's group commit), a bounded number outstanding, one owned task per
outbox (the event log's, the interactions') reading the answers, and a warning when the
store falls behind.

A write is handed to the writer as it is put, unless the outbox is full: the writer's
methods queue their write when called and return a future of its answer
(``history.writer``), so there is no task, coroutine or callback per write. The outbox's task
reads the answers in the order the writes were handed over; the writer answers a batch's
writes together, so the task wakes once a batch, not once a write. A refused write is logged
once, and the writes after it go on.

A write that returns a coroutine instead (a writer with ``async def`` methods, e.g. a test's
fake) gets a task of its own, which reaches the writer at its first step: an outbox's
writes keep their order as long as they are all of one kind.

Shared by ``center.persistence`` (the event log) and ``center.call_interactions``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial

log = logging.getLogger(__name__)

__all__ = ["BACKLOG_WARNING", "MAX_OUTSTANDING", "HistoryOutbox"]


#: Writes waiting here beyond this are worth a warning (the store is slow and not spooling).
BACKLOG_WARNING = 10_000
#: Writes handed to the writer and not yet answered, per outbox: two of its batches.
MAX_OUTSTANDING = 1_000

Write = Callable[[], Awaitable[object]]


class HistoryOutbox:
    """Writes handed to the writer in order, without waiting for each other. At most
    ``limit`` are outstanding at once; the rest wait here and are handed over as answers
    come. One owned task reads the answers, started on first use."""

    def __init__(self, name: str, limit: int = MAX_OUTSTANDING) -> None:
        self._name = name
        self._limit = max(1, limit)
        #: put, not yet handed over (the outbox was full)
        self._waiting: deque[Write] = deque()
        #: handed over, not yet answered, in the order they were handed over
        self._outstanding: deque[asyncio.Future[object]] = deque()
        self._handed = asyncio.Event()  # something new is outstanding
        self._done = asyncio.Event()  # nothing waiting or outstanding
        self._done.set()
        self._task: asyncio.Task[None] | None = None
        self._warned = False

    def put(self, write: Write) -> None:
        """Hand the write over now (or queue it behind the others if the outbox is full);
        never raises and never waits."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._answers(), name=self._name)
        self._done.clear()
        if self._waiting or len(self._outstanding) >= self._limit:
            self._waiting.append(write)
            if len(self._waiting) > BACKLOG_WARNING and not self._warned:
                self._warned = True
                log.warning(
                    "%s: %d writes waiting for the history store", self._name, BACKLOG_WARNING
                )
            return
        self._hand_over(write)
        if not self._outstanding:  # refused when called: nothing to wait for
            self._done.set()

    async def flush(self) -> None:
        """Wait until every write put so far is answered (committed, spooled or refused)."""
        await self._done.wait()

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
            log.warning(
                "%s: %d writes not done at close (%d more still with the writer)",
                self._name,
                len(self._waiting),
                len(self._outstanding),
            )
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        for answer in self._outstanding:
            if isinstance(answer, asyncio.Task):  # a coroutine write's own task
                answer.cancel()  # (a writer's future is left alone: the writer answers it)
        self._waiting.clear()
        self._outstanding.clear()
        self._done.set()

    def _hand_over(self, write: Write) -> None:
        try:
            answer = write()
        except Exception:  # refused when called (e.g. malformed, or the writer is closed)
            log.exception("%s: a history write was refused", self._name)
            return
        if not isinstance(answer, asyncio.Future):
            answer = asyncio.ensure_future(answer)  # a coroutine: reaches the writer later
            answer.add_done_callback(_retrieved)
        self._outstanding.append(answer)
        self._handed.set()

    async def _answers(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._outstanding:
                self._handed.clear()
                await self._handed.wait()
                continue
            answer = self._outstanding[0]
            if not answer.done():
                # Woken by the answer, without awaiting it: cancelling this task (close)
                # must not cancel a write's future.
                woken = loop.create_future()
                answer.add_done_callback(partial(_wake, woken))
                await woken
                continue
            self._outstanding.popleft()
            if not answer.cancelled() and answer.exception() is not None:
                log.error(
                    "%s: a history write was refused",
                    self._name,
                    exc_info=answer.exception(),
                )
            while self._waiting and len(self._outstanding) < self._limit:
                self._hand_over(self._waiting.popleft())
            if not (self._outstanding or self._waiting):
                self._done.set()


def _wake(woken: asyncio.Future[None], _answer: asyncio.Future[object]) -> None:
    if not woken.done():
        woken.set_result(None)


def _retrieved(task: asyncio.Future[object]) -> None:
    """A write's own task: its failure is read (and logged) by the outbox's task; reading it
    here too keeps asyncio from reporting it as never retrieved if the outbox closes first."""
    if not task.cancelled():
        task.exception()
