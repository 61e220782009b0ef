"""Tokens when the store is away, and when they are revoked (issue 16, findings 8 and 7).

A service restarted while PostgreSQL is down still knows the live tokens (from the snapshot
its last run kept beside the spool): their interaction appends are spooled, 202, and land
once the store is back, as the README promises; a token revoked before the outage is not
among them. And a revoked token is refused from the very next request.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from history.models import InteractionRow
from history.store import create_engine
from hotline.web.api.context import ApiSettings
from tests.history.conftest import PG_URL, ManualClock, Target
from tests.history.outage import Outage

from .conftest import CHAT_SCOPES, Served, serve

CHAT = {"channel": "chat", "identity": {"kind": "chat", "value": "jd"}, "transcript": "hi"}


async def append(served: Served, token: str, key: str) -> int:
    answer = await served.api.post(
        "/interactions", token, json_body=CHAT, headers={"Idempotency-Key": key}
    )
    return answer.status


async def test_a_restart_during_an_outage_still_spools_the_writes_of_live_tokens(
    pg_target: Target, clock: ManualClock, tmp_path: Path
) -> None:
    outage = Outage("127.0.0.1", make_url(PG_URL).port or 5432)
    port = await outage.start()
    url = make_url(PG_URL).set(host="127.0.0.1", port=port)
    settings = ApiSettings(token_snapshot=tmp_path / "spool.jsonl.tokens")
    spool = tmp_path / "spool.jsonl"

    try:
        async with asyncio.timeout(60):
            first_run = create_engine(url, schema=pg_target.schema, connect_timeout_s=1)
            async for served in serve(first_run, clock, spool, settings):
                chat = await served.token("chat", *CHAT_SCOPES)
                gone = await served.token("gone", *CHAT_SCOPES)
                await served.tokens.revoke("gone")
                assert await append(served, chat, "before") == 201
            await first_run.dispose()
            mode = stat.S_IMODE(os.stat(settings.token_snapshot or "").st_mode)
            assert mode == 0o600  # hashes of live tokens: the service's user only

            await outage.cut()
            second_run = create_engine(url, schema=pg_target.schema, connect_timeout_s=1)
            async for served in serve(second_run, clock, spool, settings):
                assert await append(served, chat, "during") == 202  # spooled, as promised
                assert await append(served, gone, "never") == 503  # revoked: not trusted
                await outage.restore()
                await served.writer.drained()
            await second_run.dispose()
    finally:
        await outage.close()
    checker = pg_target.engine()
    try:
        async with checker.connect() as connection:
            keys = await connection.execute(
                select(InteractionRow.idempotency_key).order_by(InteractionRow.id)
            )
            assert list(keys.scalars()) == ["before", "during"]
    finally:
        await checker.dispose()


async def test_a_revoked_token_is_refused_from_the_next_request(served: Served) -> None:
    token = await served.token("chat", *CHAT_SCOPES)
    assert (await served.api.get("/customers", token, params={"chat": "x"})).status == 200
    await served.tokens.revoke("chat")
    refused = await served.api.get("/customers", token, params={"chat": "x"})
    assert (refused.status, refused.code) == (401, "unauthenticated")
