"""Slow and greedy web clients (issue 16, finding 2), over real sockets on 127.0.0.1.

A client dripping header lines is cut by the header timeout, one dripping its body by the
body timeout (408); clients beyond the caps per address and overall are refused with 503 at
once; a request being handled is never cut, however long it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from hotline.web.connections import ConnectionGuard, WebLimits
from hotline.web.server import WebServer

QUICK = WebLimits(
    header_timeout_s=0.5,
    body_timeout_s=0.5,
    max_connections=1000,
    max_connections_per_address=1000,
    descriptor_reserve=0,
)


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(1.5)  # three header timeouts
    return web.Response(text="worth the wait")


async def echo(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await request.read())))


@contextlib.asynccontextmanager
async def served(
    limits: WebLimits, guard: ConnectionGuard | None = None
) -> AsyncIterator[WebServer]:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/slow", slow)
    app.router.add_post("/echo", echo)
    server = WebServer(app, host="127.0.0.1", port=0, limits=limits, guard=guard)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def connect(
    port: int, address: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed (a reset counts as closed)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(4096):
            received += chunk
    return received


async def drip_headers(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    writer.write(b"GET / HTTP/1.1\r\nHost: hotline\r\n")
    with contextlib.suppress(ConnectionError):
        for n in range(1000):
            if stop.is_set() or writer.is_closing():
                return
            writer.write(b"X-Slow-%d: still coming\r\n" % n)
            await writer.drain()
            await asyncio.sleep(0.1)


async def test_clients_dripping_header_lines_are_cut_by_the_header_timeout() -> None:
    stop = asyncio.Event()
    async with asyncio.timeout(20), served(QUICK) as server:
        clients = [await connect(server.port) for _ in range(50)]
        drips = [asyncio.create_task(drip_headers(w, stop)) for _, w in clients]
        try:
            answers = await asyncio.gather(*(closed_by_server(r) for r, _ in clients))
        finally:
            stop.set()
            await asyncio.gather(*drips)
            for _, writer in clients:
                writer.close()
        assert answers == [b""] * 50  # cut, not answered
        assert server.guard.timed_out == 50
        assert server.guard.open == 0


async def test_an_idle_keep_alive_connection_is_closed_after_the_header_timeout() -> None:
    async with asyncio.timeout(10), served(QUICK) as server:
        reader, writer = await connect(server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: hotline\r\n\r\n")
        answer = await closed_by_server(reader)  # answered, then closed while idle
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"ok")


async def test_a_body_dripped_past_the_body_timeout_is_refused_with_408() -> None:
    async with asyncio.timeout(10), served(QUICK) as server:
        reader, writer = await connect(server.port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: hotline\r\nContent-Length: 1000\r\n\r\n")
        writer.write(b"x" * 10)
        answer = await closed_by_server(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408")


async def test_a_request_being_handled_is_not_cut_however_long_it_takes() -> None:
    async with asyncio.timeout(10), served(QUICK) as server:
        reader, writer = await connect(server.port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: hotline\r\nConnection: close\r\n\r\n")
        answer = await closed_by_server(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"worth the wait")


@pytest.mark.parametrize(
    ("limits", "addresses"),
    [
        (WebLimits(max_connections_per_address=5, descriptor_reserve=0), ["127.0.0.1"]),
        (WebLimits(max_connections=5, descriptor_reserve=0), [f"127.0.0.{n}" for n in range(2, 9)]),
    ],
    ids=["per address", "overall"],
)
async def test_clients_beyond_the_caps_are_refused_at_once(
    limits: WebLimits, addresses: list[str]
) -> None:
    async with asyncio.timeout(10), served(limits) as server:
        held = [await connect(server.port, addresses[n % len(addresses)]) for n in range(5)]
        for _ in range(3):
            for _ in range(500):  # the server has taken the five in
                if server.guard.open == 5:
                    break
                await asyncio.sleep(0.01)
            reader, writer = await connect(server.port, addresses[-1])
            refused = await closed_by_server(reader)
            writer.close()
            assert refused.startswith(b"HTTP/1.1 503")
            assert b"Retry-After: 5" in refused
        assert server.guard.refused == 3
        for _, writer in held:
            writer.close()


async def test_clients_are_refused_while_the_descriptor_reserve_is_reached() -> None:
    free = [1000]
    guard = ConnectionGuard(WebLimits(descriptor_reserve=100), free=lambda: free[0])
    async with asyncio.timeout(10), served(QUICK, guard=guard) as server:
        reader, writer = await connect(server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: hotline\r\nConnection: close\r\n\r\n")
        assert (await closed_by_server(reader)).startswith(b"HTTP/1.1 200")
        writer.close()
        free[0] = 99  # calls, AMI and the database hold the rest
        reader, writer = await connect(server.port)
        assert (await closed_by_server(reader)).startswith(b"HTTP/1.1 503")
        writer.close()
        assert guard.refused == 1
