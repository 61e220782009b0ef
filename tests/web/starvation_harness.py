"""A process serving FastAGI calls and the web port under a low open-file limit.

``python -m tests.web.starvation_harness --nofile 256`` prints ``{"agi": PORT, "web": PORT}``
on one line, then serves until its standard input closes. Each FastAGI call answers and
sends a few commands, like the IVR's first steps. ``--unguarded`` serves the web port as
aiohttp does by itself (no caps, no header timeout, no descriptor reserve): how the service
was before issue 16, for the tests' and the benchmark's "before" figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys

from aiohttp import web

from hotline.web.connections import WebLimits
from hotline.web.server import WebServer
from telephony.agi_server import Fallback, FastAgiServer
from telephony.agi_session import AgiSession

COMMANDS = 5


async def first_steps(session: AgiSession) -> None:
    await session.answer()
    for step in range(COMMANDS):
        await session.verbose(f"step {step}")


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def serve(arguments: argparse.Namespace) -> None:
    agi = FastAgiServer(
        host="127.0.0.1",
        port=0,
        routes={"hotline": first_steps},
        allowed_hosts=["127.0.0.0/8"],
        fallback=Fallback("hotline-fallback"),
    )
    await agi.start()
    app = web.Application()
    app.router.add_get("/", hello)
    runner: web.AppRunner | None = None
    server: WebServer | None = None
    if arguments.unguarded:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        web_port = site.port
    else:
        limits = WebLimits(
            header_timeout_s=arguments.header_timeout,
            max_connections=100_000,
            max_connections_per_address=100_000,  # only the reserve protects the calls here
            descriptor_reserve=arguments.reserve,
        )
        server = WebServer(app, host="127.0.0.1", port=0, limits=limits)
        await server.start()
        web_port = server.port
    print(json.dumps({"agi": agi.port, "web": web_port}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    if server is not None:
        await server.close()
    if runner is not None:
        await runner.cleanup()
    await agi.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nofile", type=int, default=256)
    parser.add_argument("--header-timeout", type=float, default=3.0)
    parser.add_argument("--reserve", type=int, default=64)
    parser.add_argument("--unguarded", action="store_true")
    arguments = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (arguments.nofile, arguments.nofile))
    asyncio.run(serve(arguments))


if __name__ == "__main__":
    main()
