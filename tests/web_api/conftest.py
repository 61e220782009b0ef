"""The history API served for real on 127.0.0.1 (port 0), over a store on SQLite and on
PostgreSQL (the history tests' fixtures), with the voice side's spooling writer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy
from sqlalchemy.ext.asyncio import AsyncEngine

from history.attachments import AttachmentStore
from history.conversations import ConversationIntake, Conversations
from history.repository import HistoryRepository
from history.spool import Spool
from history.writer import HistoryWriter
from hotline.web.api.context import ApiSettings
from hotline.web.app import create_web_app
from hotline.web.server import WebServer
from hotline.web.tokens import TokenStore
from tests.history.conftest import (  # noqa: F401  (fixtures, shared with the history tests)
    PG_URL,
    TEST_LIMITS,
    ManualClock,
    Target,
    clock,
    engine,
    pg_schema,
    pg_target,
    repository,
    sqlite_target,
    sqlite_template,
    target,
)

CHAT_SCOPES = ("history:read", "history:write:chat")


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"])


class Api:
    """An HTTP client for one server: ``await api.post("/customers", token, json={...})``."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base.rstrip("/")

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
    ) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        url = self.base + "/api/v1" + path
        async with (
            asyncio.timeout(10),
            self.http.request(method, url, data=data, headers=sent, params=params) as response,
        ):
            raw = await response.read()
            body = json.loads(raw) if raw else None
            return Answer(response.status, body, response.headers)

    async def get(self, path: str, token: str | None = None, **kw: Any) -> Answer:
        return await self.call("GET", path, token, **kw)

    async def post(self, path: str, token: str | None = None, **kw: Any) -> Answer:
        return await self.call("POST", path, token, **kw)

    async def patch(self, path: str, token: str | None = None, **kw: Any) -> Answer:
        return await self.call("PATCH", path, token, **kw)


@dataclass
class Served:
    app: web.Application
    api: Api
    repository: HistoryRepository
    writer: HistoryWriter
    tokens: TokenStore
    settings: ApiSettings
    conversations: Conversations

    async def token(self, name: str, *scopes: str, source: str | None = None) -> str:
        _, secret = await self.tokens.create(name, scopes, source=source)
        return secret


async def serve(
    store: AsyncEngine,
    moment: ManualClock,
    spool: Path,
    settings: ApiSettings | None = None,
    intake: ConversationIntake | None = None,
) -> AsyncIterator[Served]:
    settings = settings or ApiSettings()
    files = AttachmentStore(spool.parent / "attachments")
    history = HistoryRepository(store, clock=moment, attachments=files)
    conversations = Conversations(history, limits=TEST_LIMITS)
    writer = HistoryWriter(history, Spool(spool), timeout_s=2.0, retry_min_s=0.05, retry_max_s=0.2)
    await writer.start()
    app = create_web_app(
        readiness={},
        repository=history,
        writer=writer,
        api_settings=settings,
        conversations=conversations,
        conversation_intake=intake,
    )
    server = WebServer(app, host="127.0.0.1", port=0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            tokens = TokenStore(store, clock=moment)
            api = Api(http, server.url)
            yield Served(app, api, history, writer, tokens, settings, conversations)
    finally:
        await server.close()
        await writer.close()


@pytest.fixture
async def served(
    engine: AsyncEngine,  # noqa: F811 (the fixture imported above)
    clock: ManualClock,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[Served]:
    async for running in serve(engine, clock, tmp_path / "spool.jsonl"):
        yield running


@pytest.fixture
def api(served: Served) -> Api:
    return served.api


@pytest.fixture
async def chat_token(served: Served) -> str:
    return await served.token("chat", *CHAT_SCOPES)


@pytest.fixture
async def admin_token(served: Served) -> str:
    return await served.token(
        "admin", "history:read", "history:write", "privacy:admin", "events:read"
    )


@pytest.fixture
async def voice_token(served: Served) -> str:
    return await served.token("voice", "history:read", "history:write:voice")


@pytest.fixture
async def sqlite_served(
    sqlite_target: Target,  # noqa: F811 (the fixture imported above)
    clock: ManualClock,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[Served]:
    """For what does not depend on the database (the shape of requests and answers)."""
    store = sqlite_target.engine()
    try:
        async for running in serve(store, clock, tmp_path / "spool.jsonl"):
            yield running
    finally:
        await store.dispose()
