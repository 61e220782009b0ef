"""Web chat message latency with many concurrent conversations, over real WebSockets.

The service runs in its own process (so its CPU is its own): the chat stack as the service
wires it -- the history store (a SQLite file, or PostgreSQL on 127.0.0.1 in a schema of its
own), the ACD with ``--agents`` agents taking ``--conversations / --agents`` chats each,
the conversation desk, the chat hub (``/chat/ws``) and the agent page's desk
(``/ws/agent/desk`` and the POST actions, signed in with a session and its CSRF token).
The load process opens one visitor socket per conversation (20 new a second) and one desk
socket per agent, on 127.0.0.1. Each conversation is routed and accepted first; then, for
``--duration`` seconds, each visitor writes about every ``--interval`` seconds, its agent's
page receives it (customer → agent: the agents' sockets are the receivers) and answers at
once by POST, and the visitor's page receives the answer (agent → customer) and reports it
delivered, as the widget does.

Baseline, in the same run: a bare aiohttp WebSocket relay with no store, no ACD and no
desk (visitors' frames forwarded to their agent's socket and back; the agent answers on its
socket), under the same load. Printed: per direction, messages, p50, p99 and max latency
in ms; each server's CPU time (user + system, its event loop apart) in the measured window,
in all and per message, beside the window's wall time.

    .venv/bin/python bench/chat_bench.py [--conversations 1000] [--agents 100]
        [--duration 60] [--interval 30] [--store sqlite|postgresql] [--no-baseline]

``CHAT_BENCH_PROFILE=FILE`` writes the service's cProfile statistics to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acd.agent_events import Login

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402 -- after the sys.path line, as a script
from aiohttp import web  # noqa: E402

PASSWORD = "correct horse battery staple"
#: Visitors opening a chat per second during the set-up, and the pause after it.
ARRIVALS_PER_S = 20
SETTLE_S = 10.0
PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
_TICK = os.sysconf("SC_CLK_TCK")


# the servers (child processes) -----------------------------------------------------------
def serve_hotline(ready: Any, agents: int, capacity: int, url: str, schema: str | None) -> None:
    profile = os.environ.get("CHAT_BENCH_PROFILE")  # a file: the server's cProfile stats
    if not profile:
        asyncio.run(_serve_hotline(ready, agents, capacity, url, schema))
        return
    import cProfile

    with cProfile.Profile() as profiler:
        asyncio.run(_serve_hotline(ready, agents, capacity, url, schema))
    profiler.dump_stats(profile)


async def _serve_hotline(
    ready: Any, agents: int, capacity: int, url: str, schema: str | None
) -> None:
    from argon2 import PasswordHasher

    from acd.build import build_acd
    from acd.events import InMemoryEventSink
    from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
    from center.conversation_routing import ConversationRouting
    from center.conversations import ConversationDesk
    from center.service import AcdService
    from history.attachments import AttachmentStore
    from history.conversations import Conversations
    from history.repository import HistoryRepository
    from history.store import create_engine, migrate
    from hotline.config_models import ChatSettings
    from hotline.web.agent.conversations import DeskRoutes
    from hotline.web.agent.desk_panel import DeskPanel
    from hotline.web.auth import login
    from hotline.web.auth.guard import AUTH, WebAuth
    from hotline.web.auth.sessions import SessionStore
    from hotline.web.auth.throttle import LoginThrottle
    from hotline.web.auth.users import Role, UserStore
    from hotline.web.chat import pages as chat_pages
    from hotline.web.chat.hub import ChatHub
    from hotline.web.typing_relay import TypingRelay

    engine = create_engine(url, schema=schema)
    await migrate(engine)
    repository = HistoryRepository(engine, attachments=AttachmentStore(Path(tempfile.mkdtemp())))
    store = Conversations(repository)
    roster = [{"id": f"a{i}", "name": f"Agent {i}"} for i in range(agents)]
    setup = build_acd(
        PriorityConfig(),
        QueuesConfig.model_validate({"queues": {"support": {}}}),
        AgentsConfig.model_validate(
            {
                "policy": {"task_wrap_up_s": 0, "reservation_timeout_s": 600},
                "capacity": {"digital": {"chat": capacity}},
                "agents": roster,
            }
        ),
    )
    acd = AcdService(setup, sink=InMemoryEventSink(keep=False))
    await acd.start()
    desk = ConversationDesk(store, acd, ConversationRouting("support"))
    typing = TypingRelay()
    settings = ChatSettings.model_validate(
        {"enabled": True, "max_connections": 100_000, "rate_limit": {"messages_per_minute": 600}}
    )
    hub = ChatHub(desk, store, acd, settings, typing=typing)
    desk.register_outlet("chat", hub.deliver)
    panel = DeskPanel(desk, acd, store, typing=typing)
    users = UserStore(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for agent in roster:
        await users.add(agent["id"], Role.AGENT, PASSWORD)
        acd.agent_event(Login(agent["id"]))
    app = web.Application()
    app[AUTH] = WebAuth(
        users, SessionStore(), LoginThrottle(per_user_address=100, per_address=100_000)
    )
    login.add_routes(app)
    app.router.add_get("/agent", _csrf_page)
    chat_pages.add_routes(app, hub)
    DeskRoutes(desk, panel, repository).add_routes(app)
    await hub.start()
    await panel.start()
    await _run_until_stopped(app, ready)
    await hub.close()
    await panel.close()
    await desk.stop()
    await acd.close()
    await engine.dispose()


async def _csrf_page(request: web.Request) -> web.StreamResponse:
    from hotline.web.auth.guard import page
    from hotline.web.templates import Safe

    return page(request, "Agent", Safe(""))


def serve_relay(ready: Any) -> None:
    asyncio.run(_serve_relay(ready))


async def _serve_relay(ready: Any) -> None:
    """The baseline: visitors and agents meet by conversation id; frames are forwarded."""
    visitors: dict[int, web.WebSocketResponse] = {}
    agents: dict[str, web.WebSocketResponse] = {}
    owner: dict[int, str] = {}

    async def visitor(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            frame = json.loads(message.data)
            talk = frame["conversation"]
            if frame["type"] == "hello":
                visitors[talk], owner[talk] = ws, frame["agent"]
            elif frame["type"] == "message":
                await agents[owner[talk]].send_str(message.data)
        return ws

    async def agent(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        agents[request.query["id"]] = ws
        async for message in ws:
            frame = json.loads(message.data)
            await visitors[frame["conversation"]].send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/visitor", visitor)
    app.router.add_get("/agent", agent)
    await _run_until_stopped(app, ready)


async def _run_until_stopped(app: web.Application, ready: Any) -> None:
    _more_files()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ready.send(runner.addresses[0][1])
    await asyncio.get_running_loop().run_in_executor(None, ready.recv)  # until told to stop
    await runner.cleanup()


def _more_files() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# the load (this process) ------------------------------------------------------------------
@dataclass
class Figures:
    to_agent: list[float] = field(default_factory=list)
    to_customer: list[float] = field(default_factory=list)
    sent: dict[str, float] = field(default_factory=dict)
    #: requests or frames the server refused (a store too slow: "database is locked")
    failed: int = 0
    #: CPU seconds in the measured window: the server, its event loop, the load generator
    cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wall: float = 0.0


def cpu_s(pid: int) -> float:
    """A process's CPU time (user + system, every thread), from /proc."""
    return _ticks(Path(f"/proc/{pid}/stat"))


def main_thread_cpu_s(pid: int) -> float:
    return _ticks(Path(f"/proc/{pid}/task/{pid}/stat"))


def _ticks(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


async def hotline_load(
    base: str, conversations: int, agents: int, duration: float, interval: float
) -> Figures:
    figures = Figures()
    connector = aiohttp.TCPConnector(limit=0)
    origin = {"Origin": base.rstrip("/")}
    async with aiohttp.ClientSession(connector=connector) as http:
        desks: dict[str, tuple[aiohttp.ClientSession, str]] = {}
        for i in range(agents):
            session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            desks[f"a{i}"] = (session, await _sign_in(session, base, f"a{i}"))
        accepted = asyncio.Event()
        count = {"accepted": 0}
        stop = asyncio.Event()

        async def agent_page(agent_id: str) -> None:
            session, csrf = desks[agent_id]
            headers = {"X-CSRF-Token": csrf}
            async with session.ws_connect(base + "ws/agent/desk", headers=origin) as ws:
                async for message in ws:
                    frame = json.loads(message.data)
                    kind = frame["type"]
                    if kind == "offered":
                        talk = frame["task"]["conversation"]
                        path = f"{base}page-api/agent/conversations/{talk}/accept"
                        async with session.post(path, headers=headers) as response:
                            if response.status != 200:
                                figures.failed += 1
                    elif kind == "accepted":
                        count["accepted"] += 1
                        if count["accepted"] == conversations:
                            accepted.set()
                    elif kind == "message" and frame["message"]["from"] == "customer":
                        text = frame["message"]["text"]
                        started = figures.sent.pop(text, None)
                        if started is None:
                            continue  # the first message, before measuring
                        figures.to_agent.append(time.perf_counter() - started)
                        talk = frame["conversation"]
                        reply = "re " + text
                        figures.sent[reply] = time.perf_counter()
                        path = f"{base}page-api/agent/conversations/{talk}/messages"
                        async with session.post(
                            path, json={"text": reply}, headers=headers
                        ) as response:
                            if response.status != 200:
                                figures.failed += 1

        async def visitor(n: int) -> None:
            async with http.ws_connect(base + "chat/ws", headers=origin) as ws:
                await ws.send_json({"type": "hello"})
                answered = asyncio.Event()

                async def read() -> None:
                    async for message in ws:
                        frame = json.loads(message.data)
                        if frame["type"] == "message" and frame["message"]["from"] == "agent":
                            started = figures.sent.pop(frame["message"]["text"], None)
                            if started is not None:
                                figures.to_customer.append(time.perf_counter() - started)
                            receipt = [frame["message"]["id"]]
                            await ws.send_json(
                                {"type": "receipt", "state": "delivered", "ids": receipt}
                            )
                            answered.set()
                        elif frame["type"] == "error" and frame.get("ref") in said:
                            # not stored (the store was busy): sent again, as a person would
                            figures.failed += 1
                            await asyncio.sleep(1.0)
                            ref = frame["ref"]
                            await ws.send_json({"type": "message", "id": ref, "text": said[ref]})

                said: dict[str, str] = {f"v{n}-0": f"hello {n}"}
                reader = asyncio.create_task(read())
                await ws.send_json({"type": "message", "id": f"v{n}-0", "text": f"hello {n}"})
                await accepted.wait()
                await asyncio.sleep(random.uniform(0, interval))
                seq = 0
                while not stop.is_set():
                    seq += 1
                    text = f"{n}:{seq} is my parcel on its way?"
                    answered.clear()
                    figures.sent[text] = time.perf_counter()
                    said[f"v{n}-{seq}"] = text
                    await ws.send_json({"type": "message", "id": f"v{n}-{seq}", "text": text})
                    try:
                        async with asyncio.timeout(30):
                            await answered.wait()
                    except TimeoutError:
                        figures.failed += 1
                    await asyncio.sleep(random.uniform(0.5, 1.5) * interval)
                reader.cancel()

        pages = [asyncio.create_task(agent_page(a)) for a in desks]
        await asyncio.sleep(0.5)
        visitors = []
        for n in range(conversations):  # visitors arrive over the first minute
            visitors.append(asyncio.create_task(visitor(n)))
            await asyncio.sleep(1 / ARRIVALS_PER_S)
        async with asyncio.timeout(300):
            await accepted.wait()
        print(f"  {conversations} conversations routed and accepted", flush=True)
        await asyncio.sleep(SETTLE_S)  # the set-up's writes (interactions, cards) drain
        await _measure(duration, stop, figures)
        await asyncio.gather(*visitors, return_exceptions=True)
        for task in pages:
            task.cancel()
        for session, _ in desks.values():
            await session.close()
    return figures


async def relay_load(
    base: str, conversations: int, agents: int, duration: float, interval: float
) -> Figures:
    figures = Figures()
    stop = asyncio.Event()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        agent_sockets = {
            f"a{i}": await http.ws_connect(f"{base}agent?id=a{i}") for i in range(agents)
        }

        async def agent_page(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for message in ws:
                frame = json.loads(message.data)
                figures.to_agent.append(time.perf_counter() - figures.sent.pop(frame["text"]))
                reply = "re " + frame["text"]
                figures.sent[reply] = time.perf_counter()
                await ws.send_json({"conversation": frame["conversation"], "text": reply})

        async def visitor(n: int) -> None:
            async with http.ws_connect(base + "visitor") as ws:
                agent = f"a{n % agents}"
                await ws.send_json({"type": "hello", "conversation": n, "agent": agent})
                await asyncio.sleep(random.uniform(0, interval))
                seq = 0
                while not stop.is_set():
                    seq += 1
                    text = f"{n}:{seq} is my parcel on its way?"
                    figures.sent[text] = time.perf_counter()
                    await ws.send_json({"type": "message", "conversation": n, "text": text})
                    frame = json.loads((await ws.receive()).data)
                    figures.to_customer.append(
                        time.perf_counter() - figures.sent.pop(frame["text"])
                    )
                    await asyncio.sleep(random.uniform(0.5, 1.5) * interval)

        pages = [asyncio.create_task(agent_page(ws)) for ws in agent_sockets.values()]
        visitors = [asyncio.create_task(visitor(n)) for n in range(conversations)]
        await _measure(duration, stop, figures)
        await asyncio.gather(*visitors, return_exceptions=True)
        for task in pages:
            task.cancel()
        for ws in agent_sockets.values():
            await ws.close()
    return figures


#: The server being measured (set by ``run``): its CPU is read at the window's ends.
SERVER: dict[str, int] = {}


async def _measure(duration: float, stop: asyncio.Event, figures: Figures) -> None:
    """The measured window: ``duration`` seconds of traffic after the set-up."""
    figures.to_agent.clear()
    figures.to_customer.clear()
    pid = SERVER["pid"]
    figures.cpu = (cpu_s(pid), main_thread_cpu_s(pid), time.process_time())
    started = time.perf_counter()
    await asyncio.sleep(duration)
    stop.set()
    server, loop, load = figures.cpu
    figures.cpu = (cpu_s(pid) - server, main_thread_cpu_s(pid) - loop, time.process_time() - load)
    figures.wall = time.perf_counter() - started


async def _sign_in(http: aiohttp.ClientSession, base: str, name: str) -> str:
    import re

    async with http.get(base + "login") as response:
        page = await response.text()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    form = {"name": name, "password": PASSWORD, "csrf": token[1], "next": "/agent"}
    async with http.post(base + "login", data=form) as response:
        landed = await response.text()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', landed)
    assert csrf is not None, landed[:300]
    return csrf[1]


# the run ----------------------------------------------------------------------------------
Load = Callable[[str, int, int, float, float], Coroutine[Any, Any, Figures]]


def run(name: str, target: Any, extra: tuple[Any, ...], load: Load, args: Any) -> None:
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    server = ctx.Process(target=target, args=(there, *extra), daemon=True)
    server.start()
    port = here.recv()
    base = f"http://127.0.0.1:{port}/"
    print(f"{name}:", flush=True)
    SERVER["pid"] = server.pid or 0
    try:
        figures = asyncio.run(
            load(base, args.conversations, args.agents, args.duration, args.interval)
        )
    finally:
        here.send("stop")
        server.join(timeout=60)
        if server.is_alive():
            server.kill()
    messages = len(figures.to_agent) + len(figures.to_customer)
    for direction, values in (
        ("customer → agent", figures.to_agent),
        ("agent → customer", figures.to_customer),
    ):
        print(f"  {direction}: {_stats(values)}")
    cpu_server, cpu_loop, cpu_load = figures.cpu
    per = cpu_server / messages * 1000 if messages else float("nan")
    refused = f"; {figures.failed} refused or unanswered" if figures.failed else ""
    print(
        f"  {messages} messages ({messages / figures.wall:.0f}/s) in {figures.wall:.1f} s: "
        f"server CPU {cpu_server:.1f} s = {per:.2f} ms a message (event loop {cpu_loop:.1f} s, "
        f"other threads {cpu_server - cpu_loop:.1f} s); load generator CPU {cpu_load:.1f} s"
        f"{refused}",
        flush=True,
    )


def _stats(values: list[float]) -> str:
    if not values:
        return "no messages"
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"{len(ms)} messages, p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
        f"max {ms[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--interval", type=float, default=30.0, help="seconds between a visitor's messages"
    )
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    _more_files()
    capacity = -(-args.conversations // args.agents)
    print(
        f"{args.conversations} conversations, {args.agents} agents ({capacity} chats each), "
        f"a visitor message every ~{args.interval:g} s, {args.duration:g} s measured; "
        f"history store: {args.store}"
    )
    if not args.no_baseline:
        run("baseline: bare aiohttp WebSocket relay (no store)", serve_relay, (), relay_load, args)
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        url = f"sqlite+aiosqlite:///{tmp}/chat-bench.db"
        if args.store == "postgresql":
            url, schema = PG_URL, f"chat_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(_schema(url, f"CREATE SCHEMA {schema}"))
        try:
            extra = (args.agents, capacity, url, schema)
            name = "hotline: chat hub + desk + ACD + history"
            run(name, serve_hotline, extra, hotline_load, args)
        finally:
            if schema is not None:
                asyncio.run(_schema(url, f"DROP SCHEMA {schema} CASCADE"))


async def _schema(url: str, statement: str) -> None:
    from sqlalchemy import text

    from history.store import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main()
