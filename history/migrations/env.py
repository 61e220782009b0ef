"""Alembic environment for the history store.

``history.store.migrate(engine)`` passes its connection in ``config.attributes``; run from
the alembic command line instead, the URL comes from ``sqlalchemy.url`` or ``HOTLINE_DB_URL``
and async URLs are driven through ``run_sync``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from history.models import Base, UtcDateTime
from history.store import DEFAULT_URL, create_engine

target_metadata = Base.metadata


def _render_item(kind: str, item: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Revisions use plain SQLAlchemy types: the stored type of UtcDateTime is DateTime(tz)."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _main() -> None:
    if context.is_offline_mode():
        url = context.config.get_main_option("sqlalchemy.url") or DEFAULT_URL
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get(
        "HOTLINE_DB_URL", DEFAULT_URL
    )
    asyncio.run(_run_online_async(url))


_main()
