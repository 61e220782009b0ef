"""Opening the store: an async engine from a URL, and the schema migrated to head.

SQLite (the zero set-up default) gets WAL (readers never wait for the writer), a busy
timeout, foreign keys, and ``BEGIN IMMEDIATE`` for write transactions so that two writers
queue on the busy timeout instead of failing on a read-to-write lock upgrade. Within one
process, write sessions on a SQLite file also take turns, in order, on an asyncio lock
(``writing_sessions``): a crowd of writers (a burst of chats) polling SQLite's lock made
each wait seconds in the busy timeout's sleeps, and some fail with "database is locked",
while the lock was free most of the time. It also gets ``secure_delete``: what a delete or
an update frees is overwritten with zeros, so an erased customer's name is not left in the
file's free pages; ``flush_erased`` then checkpoints the WAL into the file and truncates it
(the old pages it held go too). PostgreSQL
gets bounded connect and statement timeouts so an outage surfaces as an error the
:class:`~history.writer.HistoryWriter` can spool around, not as a hang.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

T = TypeVar("T")

DEFAULT_URL = "sqlite+aiosqlite:///var/hotline.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Execution option that marks a connection whose transaction will write.
WRITE = "hotline_write"


def writing_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on connections marked ``WRITE``, for transactions that write (on a SQLite
    file, one at a time in this process: ``async with`` the session waits its turn)."""
    turns = _sqlite_file(engine.url) is not None
    return async_sessionmaker(
        engine.execution_options(**{WRITE: True}),
        expire_on_commit=False,
        class_=_TakingTurns if turns else AsyncSession,
    )


def page_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine for a read of one or a few statements (a timeline page): on a server, in
    autocommit, with no ``BEGIN`` and ``ROLLBACK`` round trips around it (each statement
    sees the store as it is when it runs, as each did already under read committed), from
    its own pool that does not ping (``create_engine``; ``read_page`` retries a dropped
    connection). Not on SQLite: there they cost no round trip, and its driver's reset after
    autocommit would bring back the implicit ``BEGIN`` that ``_on_begin`` replaces."""
    if engine.url.get_backend_name() == "sqlite":
        return engine
    pages = _PAGE_ENGINES.get(engine.sync_engine)
    return pages or engine.execution_options(isolation_level="AUTOCOMMIT")


class _TakingTurns(AsyncSession):
    """A write session on a SQLite file: entered once the process's previous writer on
    that file is done (FIFO). A turn not come within ``TURN_PATIENCE_S`` (a write session
    opened inside another, say) goes on without it, as before: SQLite's lock decides."""

    _turn: asyncio.Lock | None = None

    async def __aenter__(self) -> _TakingTurns:
        bind = self.bind
        engine = bind if isinstance(bind, AsyncEngine) or bind is None else bind.engine
        turn = None if engine is None else _turn_of(engine.url)
        if turn is not None:
            try:
                async with asyncio.timeout(TURN_PATIENCE_S):
                    await turn.acquire()
                self._turn = turn
            except TimeoutError:
                pass
        try:
            return await super().__aenter__()
        except BaseException:
            self._release()
            raise

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await super().__aexit__(*exc)
        finally:
            self._release()

    def _release(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()


#: How long a SQLite writer waits for its turn before it goes on without it.
TURN_PATIENCE_S = 30.0
#: Per event loop: each SQLite file's writers' turn.
_TURNS: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = WeakKeyDictionary()


def _sqlite_file(url: URL) -> str | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return str(Path(url.database).resolve())


def _turn_of(url: URL) -> asyncio.Lock | None:
    file = _sqlite_file(url)
    if file is None:
        return None
    turns = _TURNS.setdefault(asyncio.get_running_loop(), {})
    return turns.setdefault(file, asyncio.Lock())


def create_engine(
    url: str | URL = DEFAULT_URL,
    *,
    busy_timeout_s: float = 5.0,
    connect_timeout_s: float = 5.0,
    statement_timeout_s: float = 30.0,
    schema: str | None = None,
    pool_size: int = 5,
) -> AsyncEngine:
    """An engine for ``url`` (``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``).

    ``schema`` puts a PostgreSQL store in its own schema (``search_path``), as the tests and
    benches do; the schema must exist.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return sqlite_engine(url, busy_timeout_s)
    connect_args: dict[str, Any] = {}
    if url.drivername == "postgresql+asyncpg":
        connect_args = {"timeout": connect_timeout_s, "command_timeout": statement_timeout_s}
        if schema is not None:
            connect_args["server_settings"] = {"search_path": schema}
    elif schema is not None:
        connect_args = {"options": f"-csearch_path={schema}"}
    engine = create_async_engine(
        url, connect_args=connect_args, pool_pre_ping=True, pool_size=pool_size
    )
    # Pages' own pool: autocommit and no ping at checkout (asyncpg's ping outside a
    # transaction is BEGIN, a query and ROLLBACK: three round trips, more than half of a
    # timeline page's time). A connection the server dropped meanwhile fails the page's
    # query instead, and the page is read again on a fresh one (``read_page``).
    pages = create_async_engine(
        url, connect_args=connect_args, pool_size=pool_size, isolation_level="AUTOCOMMIT"
    )
    forward_events(pages.sync_engine, weakref.ref(engine.sync_engine))
    event.listen(engine.sync_engine, "engine_disposed", lambda _: pages.sync_engine.dispose())
    _PAGE_ENGINES[engine.sync_engine] = pages
    return engine


#: A server's engine's engine for pages (``create_engine`` makes both).
_PAGE_ENGINES: WeakKeyDictionary[Engine, AsyncEngine] = WeakKeyDictionary()
#: Engine events passed on from an engine's helpers (pages' pool, SQLite's threads) to the
#: engine's own listeners: counting statements, fault injection in tests.
FORWARDED = ("before_cursor_execute", "after_cursor_execute", "commit", "rollback")


def forward_events(engine: Engine, to: weakref.ref[Engine]) -> None:
    for name in FORWARDED:

        def forward(*args: Any, _name: str = name) -> None:
            target = to()
            if target is not None:
                getattr(target.dispatch, _name)(*args)

        event.listen(engine, name, forward)


async def read_page(engine: AsyncEngine, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """``read(connection)`` on a connection of ``page_engine(engine)``'s pool, once more on a
    fresh one if the server had dropped it (that pool does not ping at checkout)."""
    pages = page_engine(engine)
    try:
        async with pages.connect() as connection:
            return await read(connection)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    async with pages.connect() as connection:
        return await read(connection)


def sqlite_engine(
    url: URL, busy_timeout_s: float, *, async_creator: Callable[[], Awaitable[Any]] | None = None
) -> AsyncEngine:
    """A SQLite engine set up as the module says (``async_creator``: the driver's connection
    made some other way, ``history.offload``'s)."""
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_s}}
    if async_creator is not None:
        options = {"async_creator": async_creator}
    engine = create_async_engine(url, **options)
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # The driver's implicit BEGIN is replaced by ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


async def flush_erased(engine: AsyncEngine, *, attempts: int = 5) -> bool:
    """After an erasure: SQLite's WAL checkpointed into the file and truncated, so no page
    from before the erasure stays in it. True when done (always on other databases, where
    the server's own vacuum reclaims dead rows); False when readers kept it from finishing
    (it is tried again at the next erasure, and SQLite checkpoints on its own)."""
    if engine.url.get_backend_name() != "sqlite":
        return True
    for attempt in range(attempts):
        async with engine.connect() as connection:
            # On the driver's connection: not inside a transaction (SQLAlchemy would begin one).
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = await cursor.fetchone()
            await cursor.close()
        if not busy:
            return True
        await asyncio.sleep(0.05 * (attempt + 1))
    return False


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for this package (no alembic.ini: the scripts ship inside).

    For new revisions: ``command.revision(alembic_config(url), "what", autogenerate=True)``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the store to ``revision`` (idempotent; run at start-up)."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(**{WRITE: True})
        async with connection.begin():
            await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
