"""Bounded thread pools of their own for CPU-heavy work the web can trigger.

Password hashing, audio conversion and config parsing each get a ``WorkPool``: a few
threads and a cap on the jobs waiting for them. A burst of one kind (a thousand sign-in
attempts, a pile of uploads) then waits, or is refused with ``PoolBusy``, in its own pool,
and never takes the event loop's default executor that the history spool, file writes and
the other pools' callers rely on.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class PoolBusy(Exception):
    """The pool's threads are busy and its queue is full: try again shortly."""

    def __init__(self, name: str, retry_after_s: int) -> None:
        super().__init__(f"{name}: too much work waiting; retry after {retry_after_s} s")
        self.name = name
        self.retry_after_s = retry_after_s


class WorkPool:
    def __init__(
        self, name: str, *, workers: int = 2, max_waiting: int = 16, retry_after_s: int = 1
    ) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("a pool needs at least one worker and a queue of zero or more")
        self.name = name
        self.workers = workers
        self.max_waiting = max_waiting
        self._retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._jobs = 0

    @property
    def jobs(self) -> int:
        """Jobs running or waiting now."""
        return self._jobs

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on one of the pool's threads; ``PoolBusy`` at once when
        ``workers + max_waiting`` jobs are already in."""
        if self._jobs >= self.workers + self.max_waiting:
            raise PoolBusy(self.name, self._retry_after_s)
        self._jobs += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )
        finally:
            self._jobs -= 1

    def close(self) -> None:
        """Stop taking jobs; those queued are dropped, the running ones finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)
