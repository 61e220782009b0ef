"""A web slowloris must not silence calls (issue 16, finding 2), in a process of its own with
a 256-descriptor limit (``starvation_harness``), the attack's conditions scaled down.

Hundreds of sockets drip header lines at the web port, more than the process has
descriptors for; meanwhile Asterisk (this test) places a FastAGI call. The call is served
(its commands come), because the web port stops taking clients while the descriptors kept
for calls are reached; then the slow sockets are closed by the header timeout. Without
those defences (``--unguarded``, how aiohttp serves by itself), ``accept()`` fails with
EMFILE for every socket and the call gets no command at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from telephony.agi_codec import encode_environment
from tests.web.starvation_harness import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
SLOW_CLIENTS = 400
NOFILE = 256
ENVIRONMENT = encode_environment(
    [
        ("agi_network", "yes"),
        ("agi_network_script", "hotline"),
        ("agi_request", "agi://127.0.0.1/hotline"),
        ("agi_channel", "PJSIP/trunk-00000001"),
        ("agi_uniqueid", "1700000000.1"),
        ("agi_callerid", "anonymous"),
    ]
)
DONE = "SET VARIABLE HOTLINE_DONE 1"


@contextlib.asynccontextmanager
async def harness(*options: str) -> AsyncIterator[dict[str, int]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.web.starvation_harness",
        "--nofile",
        str(NOFILE),
        *options,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            ports: dict[str, int] = json.loads(await process.stdout.readline())
        yield ports
    finally:
        process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


class SlowClient:
    """A socket that sends a request line, then a header line every two seconds."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.task = asyncio.create_task(self._drip())

    async def _drip(self) -> None:
        with contextlib.suppress(ConnectionError):
            self.writer.write(b"GET / HTTP/1.1\r\nHost: hotline\r\n")
            for n in range(10_000):
                await asyncio.sleep(2.0)
                if self.writer.is_closing():
                    return
                self.writer.write(b"X-Slow-%d: still typing\r\n" % n)
                await self.writer.drain()

    async def closed_by_server(self) -> bytes:
        received = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await self.reader.read(4096):
                received += chunk
        return received

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.writer.close()


async def connected(port: int) -> SlowClient | None:
    try:
        async with asyncio.timeout(3):
            return SlowClient(*await asyncio.open_connection("127.0.0.1", port))
    except (OSError, TimeoutError):
        return None  # the backlog is full: the attacker keeps what it has


async def slowloris(port: int) -> list[SlowClient]:
    clients = await asyncio.gather(*(connected(port) for _ in range(SLOW_CLIENTS)))
    await asyncio.sleep(1.0)  # let the server take in what it will
    return [c for c in clients if c is not None]


async def place_call(
    port: int, timeout_s: float, on_first: Callable[[], None] = lambda: None
) -> list[str]:
    """Asterisk's side of one FastAGI call: every command answered until the service ends
    (``on_first`` is called as the first command arrives)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    commands: list[str] = []
    try:
        writer.write(ENVIRONMENT)
        async with asyncio.timeout(timeout_s):
            while line := await reader.readline():
                if not commands:
                    on_first()
                commands.append(line.decode().rstrip("\n"))
                writer.write(b"200 result=0\n")
    except TimeoutError:
        pass  # no (more) commands: the call was left in silence
    finally:
        writer.close()
    return commands


@pytest.mark.slow
async def test_a_call_is_served_while_a_slowloris_holds_the_web_port() -> None:
    async with asyncio.timeout(120), harness("--header-timeout", "8", "--reserve", "64") as ports:
        clients = await slowloris(ports["web"])
        held: list[int] = []
        try:
            commands = await place_call(
                ports["agi"],
                timeout_s=20,
                on_first=lambda: held.append(sum(not c.reader.at_eof() for c in clients)),
            )
            assert commands[0] == "ANSWER"
            assert len([c for c in commands if c.startswith("VERBOSE")]) == COMMANDS
            assert commands[-1] == DONE
            # Answered while the slowloris still held its sockets: the reserve kept descriptors
            # for the call, it did not have to wait for the header timeout to free some.
            assert held[0] >= 100
            # Then every slow socket the server took is cut by the header timeout (those it
            # refused for the reserve got a 503 at once).
            answers = await asyncio.gather(*(c.closed_by_server() for c in clients))
            assert all(a == b"" or a.startswith(b"HTTP/1.1 503") for a in answers)
            assert any(a == b"" for a in answers)
        finally:
            await asyncio.gather(*(c.close() for c in clients))


@pytest.mark.slow
async def test_without_the_defences_the_same_slowloris_silences_the_call() -> None:
    """The attack as found: what the test above guards against (aiohttp on its own)."""
    async with asyncio.timeout(120), harness("--unguarded") as ports:
        clients = await slowloris(ports["web"])
        try:
            assert await place_call(ports["agi"], timeout_s=5) == []
        finally:
            await asyncio.gather(*(c.close() for c in clients))
