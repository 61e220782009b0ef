"""The store goes away: reads say 503 with Retry-After, interaction appends are accepted into
the durable spool (202), and every one of them is in the store once it is back."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from history.models import InteractionRow
from history.repository import HistoryRepository
from history.store import create_engine
from hotline.web.api.service import HistoryApi
from tests.history.conftest import PG_URL, ManualClock, Target
from tests.history.outage import Outage

from .conftest import CHAT_SCOPES, Answer, Served, serve


async def interactions(target: Target) -> list[tuple[str, str | None]]:
    checker = target.engine()
    try:
        async with checker.connect() as connection:
            rows = await connection.execute(
                select(InteractionRow.source, InteractionRow.idempotency_key).order_by(
                    InteractionRow.id
                )
            )
            return [(source, key) for source, key in rows]
    finally:
        await checker.dispose()


async def append(served: Served, token: str, key: str, text: str = "hello") -> Answer:
    chat = {"channel": "chat", "identity": {"kind": "chat", "value": "jd"}, "transcript": text}
    return await served.api.post(
        "/interactions", token, json_body=chat, headers={"Idempotency-Key": key}
    )


async def test_postgresql_down_reads_are_503_and_appends_are_spooled_then_replayed(
    pg_target: Target, clock: ManualClock, tmp_path: Path
) -> None:
    outage = Outage("127.0.0.1", make_url(PG_URL).port or 5432)
    port = await outage.start()
    url = make_url(PG_URL).set(host="127.0.0.1", port=port)
    engine = create_engine(url, schema=pg_target.schema, connect_timeout_s=1, statement_timeout_s=2)
    try:
        async with asyncio.timeout(20):
            async for served in serve(engine, clock, tmp_path / "spool.jsonl"):
                await down_and_back(served, outage, clock)
    finally:
        await outage.close()
        await engine.dispose()
    assert await interactions(pg_target) == [
        ("chat", "before"),
        ("chat", "during-1"),
        ("chat", "during-2"),
    ]


async def down_and_back(served: Served, outage: Outage, clock: ManualClock) -> None:
    token = await served.token("chat", *CHAT_SCOPES)
    never_used = await served.token("email", "history:read")
    first = await append(served, token, "before")
    assert first.status == 201
    customer = first.body["customer_id"]

    await outage.cut()
    read = await served.api.get(f"/customers/{customer}/timeline", token)
    assert (read.status, read.code, read.headers["Retry-After"]) == (503, "unavailable", "5")
    unknown = await served.api.get(f"/customers/{customer}", never_used)
    assert unknown.status == 503  # a token never seen cannot be checked now

    spooled = await append(served, token, "during-1")
    assert spooled.status == 202
    assert spooled.body == {
        "status": "spooled",
        "source": "chat",
        "idempotency_key": "during-1",
        "location": "/api/v1/interactions/by-ref?source=chat&key=during-1",
    }
    assert (await append(served, token, "during-1")).status == 202  # a retry: spooled again
    assert (await append(served, token, "during-2", "second")).status == 202
    location = spooled.body["location"].removeprefix("/api/v1")
    assert (await served.api.get(location, token)).status == 503

    await outage.restore()
    await served.writer.drained()
    clock.advance(seconds=1)
    readable = await served.api.get("/interactions/by-ref", token, params={"key": "during-1"})
    assert (readable.status, readable.body["transcript"]) == (200, "hello")
    retry = await append(served, token, "during-1")
    assert (retry.status, retry.body["id"]) == (200, readable.body["id"])
    page = await served.api.get(f"/customers/{customer}/timeline", token)
    assert len(page.body["entries"]) == 3


async def test_sqlite_locked_appends_are_spooled_while_reads_go_on(
    sqlite_target: Target, clock: ManualClock, tmp_path: Path
) -> None:
    database = make_url(sqlite_target.url).database
    assert database is not None
    engine = sqlite_target.engine(busy_timeout_s=0.05)
    locker = sqlite3.connect(database, isolation_level=None)
    try:
        async with asyncio.timeout(20):
            async for served in serve(engine, clock, tmp_path / "spool.jsonl"):
                token = await served.token("chat", *CHAT_SCOPES)
                customer = (await append(served, token, "before")).body["customer_id"]
                locker.execute("BEGIN EXCLUSIVE")
                assert (await append(served, token, "during")).status == 202
                read = await served.api.get(f"/customers/{customer}/timeline", token)
                assert (read.status, len(read.body["entries"])) == (200, 1)  # WAL: reads go on
                locker.execute("COMMIT")
                await served.writer.drained()
                read = await served.api.get(f"/customers/{customer}/timeline", token)
                assert len(read.body["entries"]) == 2
    finally:
        locker.close()
        await engine.dispose()
    assert await interactions(sqlite_target) == [("chat", "before"), ("chat", "during")]


async def test_without_a_spool_an_append_during_an_outage_is_503(
    sqlite_target: Target, clock: ManualClock
) -> None:
    engine = sqlite_target.engine(busy_timeout_s=0.05)
    api = HistoryApi(HistoryRepository(engine, clock=clock))  # no HistoryWriter
    app = web.Application()
    api.mount(app)
    _, secret = await api.tokens.create("chat", CHAT_SCOPES)
    database = make_url(sqlite_target.url).database
    assert database is not None
    locker = sqlite3.connect(database, isolation_level=None)
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "k"}
    try:
        async with asyncio.timeout(10), TestClient(TestServer(app, host="127.0.0.1")) as client:
            warm = await client.get("/api/v1/customers?chat=x", headers=headers)
            assert warm.status == 200
            locker.execute("BEGIN EXCLUSIVE")
            answer = await client.post(
                "/api/v1/interactions", json={"channel": "chat"}, headers=headers
            )
            assert (answer.status, answer.headers["Retry-After"]) == (503, "5")
            locker.execute("COMMIT")
        async with engine.connect() as connection:
            count = await connection.execute(select(func.count()).select_from(InteractionRow))
            assert count.scalar_one() == 0
    finally:
        locker.close()
        await engine.dispose()
