"""Stopping the web server with pages open: every page's WebSocket is closed by the server
(1001 going away, so the page reconnects to the next process) and the stop does not wait
for the feeds, which never end by themselves (aiohttp waited its 60 s shutdown timeout)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from hotline.web.server import WebServer


def feed_app(ended: list[str]) -> web.Application:
    """A page feed as the supervisor's and agent's are: open until the page goes."""

    async def feed(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        try:
            async for _ in ws:
                pass
        finally:
            ended.append(request.query["page"])
        return ws

    app = web.Application()
    app.router.add_get("/feed", feed)
    return app


async def test_stopping_closes_every_open_page_feed_as_going_away() -> None:
    ended: list[str] = []
    server = WebServer(feed_app(ended), host="127.0.0.1", port=0)
    await server.start()
    async with aiohttp.ClientSession() as http:
        pages = [await http.ws_connect(f"{server.url}feed?page={n}") for n in range(3)]
        await pages[0].send_str("hello")  # the feeds are up and reading
        async with asyncio.timeout(30):  # a watchdog: aiohttp alone waited 60 s here
            stopping = asyncio.create_task(server.close())
            closes = [await page.receive() for page in pages]
            await stopping
    assert [(m.type, m.data) for m in closes] == [(WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)] * 3
    assert sorted(ended) == ["0", "1", "2"]  # each feed's handler ended on its own
