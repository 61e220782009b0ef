"""A visitor (one browser) and their pages' connections, as the chat hub holds them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from history.records import Interaction
from hotline.web.chat import protocol as wire
from hotline.web.chat.limits import TokenBucket

__all__ = ["GOING_AWAY", "MAX_PAGES", "OUTBOX", "TOO_SLOW", "Connection", "Visitor"]

#: Frames waiting for a slow page before it is closed.
OUTBOX = 256
#: Pages one visitor may have open at once.
MAX_PAGES = 8
#: Agent messages remembered per visitor, for their receipts.
MAX_OUTBOUND = 1000
#: WebSocket close codes: the page did not keep up (try again), the service stops.
TOO_SLOW = 1013
GOING_AWAY = 1001


@dataclass(eq=False, slots=True)
class Connection:
    """One page's socket, as the hub sees it: an outbox the socket's writer drains (None
    ends it) and the page's buckets."""

    messages: TokenBucket
    frames: TokenBucket
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    visitor: Visitor | None = None
    closed: bool = False
    #: the WebSocket close code when the hub or the protocol ends the page
    close_code: int = 1000
    #: frames refused so far (many mean a client that does not speak the protocol)
    refused: int = 0

    def send(self, text: str) -> None:
        if self.closed:
            return
        if self.outbox.qsize() >= OUTBOX:
            self.end(code=TOO_SLOW)
            return
        self.outbox.put_nowait(text)

    def end(self, last: str | None = None, *, code: int = 1000) -> None:
        """Close the page after ``last`` (the socket's writer stops at the None); what was
        still waiting for a page too slow to take it is dropped (it catches up later)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        if last is None or self.outbox.qsize() >= OUTBOX:
            while not self.outbox.empty():
                self.outbox.get_nowait()
            if last is not None:
                self.outbox.put_nowait(last)
        else:
            self.outbox.put_nowait(last)
        self.outbox.put_nowait(None)


@dataclass(eq=False, slots=True)
class Visitor:
    id: str
    connections: set[Connection] = field(default_factory=set)
    #: a visitor's messages are stored one at a time (and so routed once)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    conversation: Interaction | None = None
    looked_up: bool = False
    #: the visitor ended their last chat: the next message opens a new conversation
    fresh: bool = False
    name: str | None = None
    email: str | None = None
    grace: asyncio.TimerHandle | None = None
    told: tuple[str, int | None, str | None] | None = None
    #: the agent's messages sent to the visitor's pages (their receipts need no lookup)
    outbound: dict[int, None] = field(default_factory=dict)

    def sent(self, message_id: int) -> None:
        self.outbound[message_id] = None
        if len(self.outbound) > MAX_OUTBOUND:
            del self.outbound[next(iter(self.outbound))]

    def broadcast(self, frame: dict[str, Any]) -> None:
        text = wire.dump(frame)
        for connection in list(self.connections):
            connection.send(text)
