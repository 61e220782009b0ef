"""The thread as a visitor's page sees it: each message, and the replay after a reconnect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from history.conversations import Conversations
from history.inputs import AuthorKind, Direction
from history.records import Message
from hotline.web.chat import protocol as wire
from hotline.web.chat.visitors import Connection

__all__ = ["MAX_REPLAY", "replay", "visible"]

#: Messages replayed to a page at most (the newest when it has none), and a frame's worth.
MAX_REPLAY = 500
REPLAY_PAGE = 100

AgentName = Callable[[str | None], str | None]


def visible(message: Message, agent_name: AgentName) -> dict[str, Any]:
    """A message as the visitor's page shows it: the agent by name, never by id; the page's
    own message id on the visitor's messages (so a resent one is matched)."""
    mine = message.author_kind is AuthorKind.CUSTOMER
    if mine:
        author, name = "customer", message.author_name
    elif message.author_kind is AuthorKind.AGENT:
        author, name = "agent", agent_name(message.author_id)
    else:
        author, name = "system", None
    return {
        "id": message.id,
        "from": author,
        "name": name,
        "text": message.body,
        "at": message.sent_at.isoformat(),
        "delivery": message.delivery.value,
        "ref": message.external_id if mine else None,
    }


async def replay(
    store: Conversations,
    connection: Connection,
    conversation_id: int,
    last: int,
    agent_name: AgentName,
) -> list[int]:
    """Send the thread after message ``last`` (the newest ``MAX_REPLAY`` when the page has
    none), oldest first, in ``replay`` frames; the ids of the agents' messages among them.
    Store errors are the caller's."""
    sent, outbound = 0, list[int]()
    after: int | None = last or None
    while sent < MAX_REPLAY:
        if after is None:
            page = await store.thread(conversation_id, limit=MAX_REPLAY)
        else:
            page = await store.thread(conversation_id, after=after, limit=REPLAY_PAGE)
        if not page.messages:
            return outbound
        outbound += [m.id for m in page.messages if m.direction is Direction.OUT]
        for start in range(0, len(page.messages), REPLAY_PAGE):
            chunk = page.messages[start : start + REPLAY_PAGE]
            shown = [visible(m, agent_name) for m in chunk]
            connection.send(wire.dump({"type": wire.REPLAY, "messages": shown}))
        sent += len(page.messages)
        if after is None or page.newer is None:
            return outbound
        after = page.messages[-1].id
    return outbound
