"""Group commit: what is submitted while a write runs goes into the next write, together.

Every caller still waits for its own items to be written (durability is not traded away);
under load one transaction carries many of them instead of one each.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``write(items)`` returns one result per item, in order (or raises for all of them)."""

    def __init__(
        self, write: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 500
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._waiting: deque[tuple[Sequence[T], asyncio.Future[list[R]]]] = deque()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[T]) -> list[R]:
        """Written when this returns; raises what the write raised."""
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="webhooks-group-commit")
        return await future

    async def close(self) -> None:
        """Wait for the writes under way (callers already waiting are answered)."""
        if self._task is not None:
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        batch: list[tuple[Sequence[T], asyncio.Future[list[R]]]] = []
        try:
            while self._waiting:
                batch, size = [], 0
                while self._waiting and (
                    not batch or size + len(self._waiting[0][0]) <= self._max_batch
                ):
                    items, future = self._waiting.popleft()
                    batch.append((items, future))
                    size += len(items)
                flat = [item for items, _ in batch for item in items]
                try:
                    results = list(await self._write(flat))
                except Exception as error:  # noqa: BLE001 - handed to every waiting caller
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                start = 0
                for items, future in batch:
                    if not future.done():
                        future.set_result(results[start : start + len(items)])
                    start += len(items)
                batch = []
        finally:
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting.clear()
            self._task = None
