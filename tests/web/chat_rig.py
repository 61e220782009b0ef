"""The web chat on a small rig: a real history store (SQLite), the ACD with two agents who
take chats, the conversation desk, the chat hub, the agent page (its own state live, and
the desk panel) with the agents' desktop presence, served by aiohttp's test server on
127.0.0.1; visitors are aiohttp WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from acd.build import build_acd
from acd.events import InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.conversation_routing import ConversationRouting
from center.conversations import ConversationDesk
from center.service import AcdService
from history.access_log import AccessLog
from history.attachments import AttachmentStore
from history.conversations import Conversations
from history.repository import HistoryRepository
from history.store import create_engine, migrate
from hotline.config_models import ChatSettings
from hotline.web.access import ACCESS, AccessTrail
from hotline.web.agent.conversations import DeskRoutes
from hotline.web.agent.desk_panel import DeskPanel
from hotline.web.agent.pages import AgentPages
from hotline.web.agent.presence import DesktopPresence
from hotline.web.auth import login
from hotline.web.auth.guard import AUTH, WebAuth
from hotline.web.auth.sessions import SessionStore
from hotline.web.auth.throttle import LoginThrottle
from hotline.web.auth.users import Role, UserStore
from hotline.web.chat import pages as chat_pages
from hotline.web.chat.hub import ChatHub
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.typing_relay import TypingRelay
from tests.web.support import PASSWORD, signed_in

#: Still argon2id, with cheap parameters.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
SHOP = "https://shop.example.com"
AGENTS = {"ann": "Ann", "bob": "Bob"}
WAIT_S = 5.0


@dataclass
class Rig:
    client: TestClient[web.Request, web.Application]
    hub: ChatHub
    panel: DeskPanel
    desk: ConversationDesk
    acd: AcdService
    store: Conversations
    presence: DesktopPresence
    #: the supervisor's hub: the agents' live rows (the agent page's feed) and /metrics
    supervisors: SupervisorHub
    #: who read which customer's data (the desk's cards)
    access: AccessTrail

    @property
    def base(self) -> str:
        return str(self.client.make_url("/"))

    def own_origin(self) -> str:
        return self.base.rstrip("/")

    @asynccontextmanager
    async def visitor(self, origin: str | None = None) -> AsyncIterator[Page]:
        """A visitor's page: the socket opened from ``origin`` (the service's own page by
        default, as the widget is)."""
        headers = {"Origin": origin or self.own_origin()}
        async with self.client.ws_connect("/chat/ws", headers=headers) as ws:
            yield Page(ws)

    @asynccontextmanager
    async def agent(self, name: str) -> AsyncIterator[AgentDesk]:
        """An agent signed in, with the desk's feed open."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            csrf = await signed_in(http, self.base, name)
            async with http.ws_connect(
                self.base + "ws/agent/desk", headers={"Origin": self.own_origin()}
            ) as ws:
                yield AgentDesk(http, ws, csrf, self.base)


class Frames:
    """What a socket received, in order; ``next`` waits for the next frame that matches."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def next(
        self, kind: str | tuple[str, ...], where: Callable[[dict[str, Any]], bool] = lambda f: True
    ) -> dict[str, Any]:
        kinds = (kind,) if isinstance(kind, str) else kind
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await self.ws.receive()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket ended ({message.type}, {message.data!r})")
                frame: dict[str, Any] = json.loads(message.data)
                self.seen.append(frame)
                if frame["type"] in kinds and where(frame):
                    return frame

    async def more(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (nothing, when nothing should)."""
        came: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    message = await self.ws.receive()
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        break
                    came.append(json.loads(message.data))
        self.seen.extend(came)
        return came

    async def closed(self) -> int:
        """The close code the server ended the socket with."""
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await self.ws.receive()
                if message.type is aiohttp.WSMsgType.TEXT:
                    self.seen.append(json.loads(message.data))
                    continue
                assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                return int(self.ws.close_code or 0)


class Page(Frames):
    async def hello(self, visitor: str | None = None, last: int = 0, **more: Any) -> dict[str, Any]:
        await self.ws.send_json({"type": "hello", "visitor": visitor, "last": last, **more})
        return await self.next("welcome")

    async def say(self, ref: str, text: str) -> dict[str, Any]:
        """Send a message; the answer to it: its ``ack`` (the stored message) or an error."""
        await self.ws.send_json({"type": "message", "id": ref, "text": text})
        return await self.next(("ack", "error"), lambda f: f.get("ref") == ref)


class AgentDesk(Frames):
    def __init__(
        self,
        http: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        csrf: str,
        base: str,
    ) -> None:
        super().__init__(ws)
        self.http, self.csrf, self.base = http, csrf, base

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.post(
            self.base + "page-api/agent/conversations/" + path,
            json=body or {},
            headers={"X-CSRF-Token": self.csrf},
        ) as response:
            return response.status, await response.json()


@asynccontextmanager
async def chat_rig(
    tmp_path: Path,
    *,
    reservation_timeout_s: float = 30.0,
    desk_reconnect_grace_s: float | None = 30.0,
    desk_rules: dict[str, Any] | None = None,
    queues: dict[str, Any] | None = None,
    today: Callable[[], dt.date] = dt.date.today,
    **chat: Any,
) -> AsyncIterator[Rig]:
    """``desk_rules``: agents.yaml's pause_reasons, dispositions, canned_responses;
    ``queues``: queues.yaml's queues (``support`` alone by default); ``today``: the ACD's
    day, for pause limits."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/history.db")
    await migrate(engine)
    repository = HistoryRepository(engine, attachments=AttachmentStore(tmp_path / "files"))
    store = Conversations(repository)
    setup = build_acd(
        PriorityConfig(),
        QueuesConfig.model_validate({"queues": queues or {"support": {}}}),
        AgentsConfig.model_validate(
            {
                "policy": {
                    "task_wrap_up_s": 0,
                    "reservation_timeout_s": reservation_timeout_s,
                    "desk_reconnect_grace_s": desk_reconnect_grace_s,
                },
                "capacity": {"digital": {"chat": 2, "email": 1}},
                "agents": [{"id": a, "name": n} for a, n in AGENTS.items()],
                **(desk_rules or {}),
            }
        ),
    )
    sink = InMemoryEventSink(keep=False)
    acd = AcdService(setup, sink=sink, today=today)
    supervisors = SupervisorHub(acd, sink.subscribe)  # the agents' own state, live
    await supervisors.start()
    await acd.start()
    desk = ConversationDesk(store, acd, ConversationRouting("support"))
    typing = TypingRelay()
    settings = ChatSettings.model_validate(
        {"enabled": True, "allowed_origins": [SHOP], "reconnect_grace_s": 30.0} | chat
    )
    hub = ChatHub(desk, store, acd, settings, typing=typing)
    desk.register_outlet("chat", hub.deliver)
    panel = DeskPanel(desk, acd, store, typing=typing)
    users = UserStore(engine, hasher=FAST_HASHER)
    for name in AGENTS:
        await users.add(name, Role.AGENT, PASSWORD)
    app = web.Application()
    app[AUTH] = WebAuth(users, SessionStore(), LoginThrottle(per_user_address=100, per_address=100))
    app[ACCESS] = access = AccessTrail(AccessLog(engine))
    login.add_routes(app)
    chat_pages.add_routes(app, hub)
    presence = DesktopPresence(acd)
    AgentPages(acd, supervisors, repository, None, presence=presence).add_routes(app)
    DeskRoutes(desk, panel, repository, presence=presence).add_routes(app)
    await hub.start()
    await panel.start()
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Rig(client, hub, panel, desk, acd, store, presence, supervisors, access)
    finally:
        presence.close()
        await hub.close()
        await client.close()
        await panel.close()
        await desk.stop()
        await acd.close()
        await supervisors.close()
        await engine.dispose()
