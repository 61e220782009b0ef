"""A live page's pushes: the WebSocket loop every feed (supervisor, agent, agent desk) runs."""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web

__all__ = ["Pushed", "push"]


class Pushed(Protocol):
    """A connected page as its hub keeps it: the frames waiting for it, and whether the hub
    dropped it (it fell behind)."""

    @property
    def queue(self) -> asyncio.Queue[str]: ...
    @property
    def dropped(self) -> asyncio.Event: ...


async def push(ws: web.WebSocketResponse, client: Pushed, reader: asyncio.Task[None]) -> None:
    """The client's frames to the page until the page goes (``reader``, the task reading
    it, ends) or the hub drops the client."""
    while not ws.closed:
        get = asyncio.create_task(client.queue.get())
        dropped = asyncio.create_task(client.dropped.wait())
        done, pending = await asyncio.wait(
            {get, dropped, reader}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending - {reader}:
            task.cancel()
        if get in done:
            await ws.send_str(get.result())
        if dropped in done or reader in done:
            break
