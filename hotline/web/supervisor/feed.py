"""One page's live feed: the hub's updates for a client, pushed over a WebSocket.

The supervisor, wallboard and agent pages share it. The client's queue is bounded by the
hub; when the hub drops a slow client, or the page goes away, the feed ends and the client
is released.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractContextManager, nullcontext

from aiohttp import WSMsgType, web

from hotline.web.pushes import push
from hotline.web.supervisor.hub import SupervisorHub


async def serve_feed(
    request: web.Request,
    hub: SupervisorHub,
    *,
    agent_id: str | None = None,
    wallboard: bool = False,
    what: str,
    while_open: AbstractContextManager[object] | None = None,
) -> web.WebSocketResponse:
    """``while_open`` is entered while the socket is open (an agent at their desktop)."""
    client = hub.connect(agent_id, wallboard=wallboard)
    if client is None:
        raise web.HTTPServiceUnavailable(text=f"too many {what} pages open")
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    reader = asyncio.create_task(_drain(ws))
    try:
        # the page may go away while a frame is on its way: then the push just ends
        with while_open or nullcontext(), contextlib.suppress(ConnectionError):
            await push(ws, client, reader)
    finally:
        hub.disconnect(client)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the page sends, so closes and pings are seen."""
    async for message in ws:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break
