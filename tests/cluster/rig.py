"""Several nodes of one shared ACD in one process, on a Redis server of the test's own.

Each node is what ``hotline serve`` builds for the ACD in cluster mode: an ``AcdService`` on
a ``LogClock`` with an in-memory event log, and the ``AcdCluster`` that shares it. The Redis
server is a real ``redis-server`` on a free loopback port, with nothing kept on disk, so a
test may kill it and start it again empty (what a restart of such a Redis does).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acd.agent_events import AgentState
from acd.build import AcdSetup, build_acd
from acd.events import CallAbandoned, CallOffered, InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.acd_cluster import AcdCluster, ClusterSettings, LogClock
from center.service import AcdService
from tests.ports import unused_port

REDIS = shutil.which("redis-server")
#: The agents of the clusters the tests make.
AGENTS_CLUSTER = ("a1", "a2", "a3")
KEY = b"a cluster key for the tests only"

QUEUES: dict[str, Any] = {
    "support": {"required": {"internet": 1}, "strategy": "longest_idle"},
    "billing": {"required": {"billing": 1}, "strategy": "longest_idle"},
}


def setup_of(agents: Sequence[str]) -> AcdSetup:
    return build_acd(
        PriorityConfig.model_validate(
            {
                "call_types": {"complaint": 30, "billing": 15, "how_to": 0},
                "default_call_type": "how_to",
            }
        ),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0.2},
                "agents": [
                    {"id": a, "endpoint": f"PJSIP/{a}", "skills": {"internet": 2, "billing": 1}}
                    for a in agents
                ],
            }
        ),
    )


class RedisServer:
    """A redis-server of the test's own: no persistence, loopback only."""

    def __init__(
        self, directory: Path, bind: str = "127.0.0.1", password: str | None = None
    ) -> None:
        """``bind``: the addresses it listens on (space-separated, loopback first); beyond
        loopback Redis wants a ``password``."""
        self.directory = directory
        self.bind = bind
        self.password = password
        self.port = unused_port()
        self.url = self.url_at("127.0.0.1")
        self._process: subprocess.Popen[bytes] | None = None

    def url_at(self, host: str) -> str:
        auth = "" if self.password is None else f":{self.password}@"
        return f"redis://{auth}{host}:{self.port}/0"

    def start(self) -> None:
        assert REDIS is not None
        self._process = subprocess.Popen(
            [
                REDIS,
                "--port",
                str(self.port),
                "--bind",
                *self.bind.split(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *(() if self.password is None else ("--requirepass", self.password)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


class Node:
    """One hotline node's ACD, sharing the cluster's."""

    def __init__(
        self,
        name: str,
        redis: RedisServer | Cable | str,
        agents: Sequence[str] | AcdSetup,
        **settings: Any,
    ):
        """``agents``: the agents of ``setup_of``, or an ACD's whole config."""
        self.name = name
        self.sink = InMemoryEventSink()
        self.clock = LogClock()
        setup = agents if isinstance(agents, AcdSetup) else setup_of(agents)
        self.service = AcdService(setup, sink=self.sink, clock=self.clock)
        self.cluster = AcdCluster(
            ClusterSettings(
                redis if isinstance(redis, str) else redis.url, name, prefix="test:acd", **settings
            ),
            self.service,
            self.clock,
            key=KEY,
        )

    async def start(self) -> None:
        await self.cluster.start()
        await self.service.start()

    async def stop(self, *, crash: bool = False) -> None:
        await self.service.close()
        await self.cluster.close(leave=not crash)

    def records(self, kind: type) -> list[Any]:
        return [r.event for r in self.sink.records() if isinstance(r.event, kind)]

    def offers(self) -> list[CallOffered]:
        return self.records(CallOffered)

    def abandoned(self) -> list[CallAbandoned]:
        return self.records(CallAbandoned)

    def state(self, agent_id: str) -> AgentState:
        return self.service.distributor.book.view(agent_id).state

    def picture(self) -> tuple[object, ...]:
        """What must be the same on every node: agents' states and calls, the queue."""
        d = self.service.distributor
        agents = tuple((a, v.state, v.call_id) for a in sorted(d.agents) for v in [d.book.view(a)])
        waiting = tuple(sorted(c.call_id for c in d.router.waiting()))
        return agents, waiting

    def log(self) -> list[tuple[float, object]]:
        return [(r.at, r.event) for r in self.sink.records()]


class Cable:
    """A TCP relay between a node and Redis that the test can cut (every connection
    dropped, new ones refused) and mend: a node cut off from the others."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.cut_off = False
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    def mend(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._pipes -= {writer, up_writer}


async def forge_records(url: str, log_key: str = "test:acd:log") -> None:
    """A stranger writes to the log: a change with a wrong signature, a leader's
    announcement with none, and a record missing its fields (every node must skip all
    three, and count them)."""
    import redis.asyncio as aioredis

    stranger = aioredis.Redis.from_url(url)
    try:
        await stranger.xadd(
            log_key, {"k": "c", "n": "X.1", "q": 1, "e": 0, "d": b"\x00" * 40 + b"junk"}
        )
        await stranger.xadd(log_key, {"k": "l", "n": "X.1", "e": 99, "d": b"I lead"})
        await stranger.xadd(log_key, {"k": "c", "e": "not a number"})  # malformed
    finally:
        await stranger.aclose()
