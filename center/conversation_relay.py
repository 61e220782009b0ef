"""Several hotline nodes, one conversation: what a conversation's pages need carried from the
node where it happened to the node where they are connected.

With a shared ACD (``center.acd_cluster``) a chat's customer may be connected to node A (the
chat WebSocket) and its agent to node B (the desktop's). Every node's desk knows every
conversation's task (the ACD's log tells them all); what the log does not carry is what
happens at the edges, and this relay does, over Redis pub/sub on the cluster's Redis:

* what a desk tells of a conversation (a message kept, a delivery state moved on, a status
  given: ``DeskEvent``) goes to every other node's desk (``ConversationDesk.relayed``), whose
  pages connected there show it (the chat hub, the agent's desk panel);
* typing, either side (``TypingRelay``);
* an agent's message for a customer whose page is on another node: the channel's outlet
  here does not hold the customer, so the relay asks the other nodes; the one whose outlet
  takes it answers, and the message is ``sent``; nobody within ``answer_s``: ``failed``.

Why pub/sub and not the ACD's stream: these are notices to pages, not changes every copy
must apply in order; a stream would keep them, trim them and replay them to nodes that
start, and put chat traffic in the ACD's snapshots' way. Why not PostgreSQL LISTEN/NOTIFY:
the nodes already share Redis for the ACD, and a NOTIFY payload is capped at 8000 bytes
(a message with its text and attachments' names may be longer).

Nothing is lost with a notice: every message is in the shared history before it is told
(``ConversationDesk``: stored first), a chat page that reconnects is replayed the thread
after its last message, and an agent's page gets the thread in its snapshot. A notice
missed (a node cut off from Redis for a moment) is shown at the page's next reconnect.
Notices are signed like the ACD's records (``LogCodec``: HMAC-SHA256, checked before
loading); one with a wrong signature is refused, counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from center.acd_cluster import AcdCluster
from center.acd_cluster_figures import RelayFigures
from center.acd_log_codec import LogCodec, TamperedRecord
from center.desk_events import DeskEvent
from center.desk_outlets import Outlet
from history.records import Interaction, Message

log = logging.getLogger(__name__)

__all__ = ["ConversationRelay", "NotDelivered", "RelayedKinds", "put_back"]

#: The desk's events other nodes need: those of the ACD (queued, offered, accepted...) every
#: node tells itself, from its copy.
RelayedKinds = frozenset({"message", "delivery", "status"})
#: Notices waiting to go out while Redis cannot be reached; beyond, the oldest are dropped.
_OUTBOX = 10_000
#: Notices published in one round trip (a pipeline), in order.
_BATCH = 256
_RETRY_S = 0.2


def put_back(outbox: deque[bytes], batch: list[bytes]) -> int:
    """A batch that could not go back in front of ``outbox``, in order; when the outbox
    filled up meanwhile, the oldest are dropped, as ``_post`` drops them. Returns how many
    were dropped."""
    room = (outbox.maxlen or len(outbox) + len(batch)) - len(outbox)
    dropped = max(0, len(batch) - room)
    outbox.extendleft(reversed(batch[dropped:]))
    return dropped


class NotDelivered(Exception):
    """No node's outlet took the agent's message (the customer is on none of them)."""


class _Desk(Protocol):
    def subscribe(
        self, listener: Callable[[DeskEvent], None], *, everywhere: bool = False
    ) -> Callable[[], None]: ...

    def relayed(self, event: DeskEvent) -> None: ...

    def register_outlet(
        self, channel: str, outlet: Outlet, *, message_ids: Callable[[], str] | None = None
    ) -> None: ...


class _Typing(Protocol):
    def relay_to(self, send: Callable[[str, str, int, bool], None]) -> None: ...

    def customer_typing(self, conversation_id: int, on: bool, *, relayed: bool = False) -> None: ...

    def agent_typing(
        self, channel: str, conversation_id: int, on: bool, *, relayed: bool = False
    ) -> None: ...


class ConversationRelay:
    def __init__(
        self,
        redis_url: str,
        channel: str,
        member: str,
        key: bytes,
        *,
        answer_s: float = 2.0,
    ) -> None:
        """``channel``: the pub/sub channel every node of the cluster uses; ``member``: this
        node's name in it; ``key``: signs the notices (every node has the same)."""
        self._channel = channel
        self.member = member
        self._codec = LogCodec(key, {})
        self._answer_s = answer_s
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        self._outbox: deque[bytes] = deque(maxlen=_OUTBOX)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._desk: _Desk | None = None
        self._typing: _Typing | None = None
        self._unsubscribe: Callable[[], None] | None = None
        #: channel -> this node's own outlet (which raises when the customer is not here)
        self._outlets: dict[str, Outlet] = {}
        self._asked: dict[str, asyncio.Future[None]] = {}
        self._refs = itertools.count(1)
        self._listening = asyncio.Event()
        #: figures: notices sent, heard from other nodes, refused (bad signature), dropped
        #: (the outbox full: ``_post``, ``put_back``)
        self.sent = 0
        self.heard = 0
        self.refused = 0
        self.dropped = 0

    def figures(self) -> RelayFigures:
        """The relay's counts (``/metrics``)."""
        return RelayFigures(self.sent, self.heard, self.refused, self.dropped, len(self._outbox))

    @classmethod
    def joining(cls, cluster: AcdCluster, key: bytes) -> ConversationRelay:
        """The relay of ``cluster``'s node, on its Redis."""
        settings = cluster.settings
        return cls(settings.redis_url, f"{settings.prefix}:desk", cluster.member, key)

    # wiring ----------------------------------------------------------------------------
    def carry(self, desk: _Desk, typing: _Typing) -> None:
        """Relay what ``desk`` tells and typing both ways; other nodes' notices to them."""
        self._desk = desk
        self._typing = typing
        self._unsubscribe = desk.subscribe(self._told)
        typing.relay_to(self._typed)

    def outlet(self, desk: _Desk, channel: str, local: Outlet, *, absent: type[Exception]) -> None:
        """``desk``'s outlet for ``channel``: ``local`` first; when it raises ``absent``
        (the customer is not connected here) the node that has them delivers it."""
        self._outlets[channel] = local

        async def deliver(conversation: Interaction, message: Message) -> None:
            try:
                await local(conversation, message)
            except absent:
                await self._ask(conversation, message)

        desk.register_outlet(channel, deliver)

    # lifecycle -------------------------------------------------------------------------
    async def start(self, *, timeout_s: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._listen(), name="conversation-relay-listen"))
        self._tasks.append(loop.create_task(self._send(), name="conversation-relay-send"))
        async with asyncio.timeout(timeout_s):
            await self._listening.wait()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1.0)
        self._tasks.clear()
        for waiting in self._asked.values():
            waiting.cancel()
        await self._redis.aclose()

    # out -------------------------------------------------------------------------------
    def _told(self, event: DeskEvent) -> None:
        if event.kind in RelayedKinds:
            self._post(("event", event))

    def _typed(self, side: str, channel: str, conversation_id: int, on: bool) -> None:
        self._post(("typing", side, channel, conversation_id, on))

    async def _ask(self, conversation: Interaction, message: Message) -> None:
        ref = f"{self.member}:{next(self._refs)}"
        answer = asyncio.get_running_loop().create_future()
        self._asked[ref] = answer
        try:
            self._post(("deliver", ref, conversation, message))
            async with asyncio.timeout(self._answer_s):
                await answer
        except TimeoutError:
            raise NotDelivered(
                f"conversation {conversation.id}: the customer is on no node's"
                f" {conversation.channel}"
            ) from None
        finally:
            del self._asked[ref]

    def _post(self, notice: tuple[Any, ...]) -> None:
        if len(self._outbox) == self._outbox.maxlen:
            self.dropped += 1
        self._outbox.append(self._codec.dumps((self.member, *notice)))
        self._wake.set()

    async def _send(self) -> None:
        held = False
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and not self._closed:
                batch = [self._outbox.popleft() for _ in range(min(_BATCH, len(self._outbox)))]
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for data in batch:
                            pipe.publish(self._channel, data)
                        await pipe.execute()
                except (RedisError, OSError) as error:
                    self.dropped += put_back(self._outbox, batch)
                    if not held:
                        log.warning("conversation notices wait: %s", error)
                        held = True
                    await asyncio.sleep(_RETRY_S)
                    continue
                held = False
                self.sent += len(batch)

    # in --------------------------------------------------------------------------------
    async def _listen(self) -> None:
        while not self._closed:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._listening.set()
                while not self._closed:
                    got = await pubsub.get_message(timeout=1.0)
                    if got is not None and got.get("type") == "message":
                        await self._heard(got["data"])
            except (RedisError, OSError) as error:
                log.warning("conversation notices unheard: %s", error)
                await asyncio.sleep(_RETRY_S)
            finally:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await pubsub.aclose()

    async def _heard(self, data: bytes) -> None:
        try:
            notice = self._codec.loads(data)
        except TamperedRecord:
            self.refused += 1
            log.error("conversation notice with a wrong signature refused")
            return
        if not isinstance(notice, tuple) or not notice or notice[0] == self.member:
            return  # this node's own
        self.heard += 1
        try:
            await self._act(notice[1:])
        except Exception:  # one notice's fault must not stop the node's listening
            log.exception("conversation notice %r failed", notice[1])

    async def _act(self, notice: tuple[Any, ...]) -> None:
        kind = notice[0]
        if kind == "event" and self._desk is not None:
            self._desk.relayed(notice[1])
        elif kind == "typing" and self._typing is not None:
            _, side, channel, conversation_id, on = notice
            if side == "customer":
                self._typing.customer_typing(conversation_id, on, relayed=True)
            else:
                self._typing.agent_typing(channel, conversation_id, on, relayed=True)
        elif kind == "deliver":
            _, ref, conversation, message = notice
            local = self._outlets.get(str(conversation.channel))
            if local is None:
                return
            try:
                await local(conversation, message)
            except Exception:  # noqa: BLE001 (not here: another node may have the customer)
                return
            self._post(("delivered", ref))
        elif kind == "delivered":
            waiting = self._asked.get(notice[1])
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
