"""SQLite without a thread hand-off per statement: whole transactions on the store's own threads.

aiosqlite runs each call on a connection's own thread, and SQLAlchemy makes four calls per
statement (cursor, execute, fetch, close): each a wake-up of that thread and then of the
event loop. On a busy machine those hand-offs were the top of the service's profile, and a
timeline page (nine of them) paid a scheduling delay for each.

Here a SQLite file gets two threads, each with its own event loop and its own engine on the
same file, whose connections run sqlite3 inline, in that thread (``_Inline``): a coroutine
handed over (``Lane.run``: a batch of writes, a timeline page) runs all its statements with
one hand-off there and one back, and the service's loop never waits on SQLite. One thread
takes the history writer's batches, one at a time and in order; the other takes reads, so a
page never waits behind a commit (WAL: readers never wait for the writer).

The threads' engine is the same store: the listeners on the service's engine for its
statements and transactions (``store.FORWARDED``: counting, fault injection in tests) see the
threads' too. The threads last as long as the service's engine: ``close(engine)`` stops
them (the service does before it disposes of the engine), and so does the engine's
garbage collection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from history.store import forward_events, sqlite_engine, writing_sessions

T = TypeVar("T")


class _RunNow:
    """In place of aiosqlite's queue to its worker thread (SQLAlchemy puts its isolation
    level change on it directly): each call is run at once, in the calling thread."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as error:  # noqa: BLE001 (the caller's, as aiosqlite's worker does)
            if future is not None:
                future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)


class _Inline(aiosqlite.Connection):
    """aiosqlite's connection with each call run in the calling thread (no worker thread)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> _Inline:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Lane:
    """A thread running an event loop, and sessions on its engine."""

    def __init__(self, name: str, engine: AsyncEngine, *, write: bool) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = (
            writing_sessions(engine)
            if write
            else async_sessionmaker(engine, expire_on_commit=False)
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """The coroutine's result, run on this lane (cancelling the caller cancels it)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    def close(self) -> None:
        """Dispose of the engine and stop the thread (without waiting: this may run in a
        garbage collection, on any thread)."""
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop)

    async def aclose(self) -> None:
        """Dispose of the engine and stop the thread, waiting for both."""
        if self._loop.is_running():
            try:
                await self.run(self.engine.dispose())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                await asyncio.to_thread(self._thread.join, 5)

    async def _stop(self) -> None:
        try:
            await self.engine.dispose()
        finally:
            self._loop.stop()  # (nobody waits for this coroutine's result)


class Offload:
    """A SQLite store's two lanes: ``writes`` and ``reads``."""

    def __init__(self, service: AsyncEngine, path: str, busy_timeout_s: float) -> None:
        lanes: list[Lane] = []
        for name in ("writes", "reads"):

            async def connect() -> _Inline:
                connector = partial(
                    sqlite3.connect, path, timeout=busy_timeout_s, check_same_thread=False
                )
                return await _Inline(connector)._connect()

            engine = sqlite_engine(service.url, busy_timeout_s, async_creator=connect)
            forward_events(engine.sync_engine, weakref.ref(service.sync_engine))
            lanes.append(Lane(f"history-sqlite-{name}", engine, write=name == "writes"))
        self.writes, self.reads = lanes

    def close(self) -> None:
        for lane in (self.writes, self.reads):
            lane.close()

    async def aclose(self) -> None:
        for lane in (self.writes, self.reads):
            await lane.aclose()


_OFFLOADS: weakref.WeakKeyDictionary[Engine, Offload] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def of(engine: AsyncEngine, busy_timeout_s: float = 5.0) -> Offload | None:
    """The lanes of a SQLite file's engine (made on first use), None for other stores."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    with _LOCK:
        found = _OFFLOADS.get(engine.sync_engine)
        if found is None:
            found = Offload(engine, str(Path(url.database)), busy_timeout_s)
            _OFFLOADS[engine.sync_engine] = found
            weakref.finalize(engine.sync_engine, found.close)
        return found


async def close(engine: AsyncEngine) -> None:
    """Stop the engine's lanes, if it has any (before the engine itself is disposed of)."""
    with _LOCK:
        found = _OFFLOADS.pop(engine.sync_engine, None)
    if found is not None:
        await found.aclose()
