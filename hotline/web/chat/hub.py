"""The chat hub: visitors' pages on one side, the conversation desk on the other.

A *visitor* is a browser (its id kept in the page's storage, the ``chat`` identity of the
customer the history makes for it); it may have several pages open (*connections*), each
with a bounded outbox (a page that does not keep up is closed: it reconnects and catches up
from the history). What a visitor writes is stored by the desk before it is acknowledged
(``ack``), one message at a time per visitor, idempotent by the page's message id; what the
agent writes comes back through :meth:`ChatHub.deliver`, the desk's outlet for ``chat``.

A page that reconnects says the last message it has; the hub replays the thread after it
from the history, so nothing said while it was away is lost. A visitor whose pages all
dropped and who is not back within ``reconnect_grace_s`` has left: their waiting chat is
abandoned, an accepted one ends for the agent (``ConversationDesk.customer_left``), as when
they end the chat themselves. While no agent has accepted, the visitor is told their place
in the queue (every few seconds, when it changes).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from acd.contacts import TASK_DONE
from acd.workload import TaskPhase
from center.conversations import ConversationDesk
from center.desk_events import DeskEvent
from center.service import AcdService
from history.conversations import Conversations
from history.errors import HistoryError, UnknownMessage
from history.identities import IdentityKind
from history.inputs import (
    Channel,
    CustomerUpdate,
    Delivery,
    DeliveryUpdate,
    Direction,
    IdentityIn,
    NewConversation,
    Status,
)
from history.records import Interaction, Message
from hotline.config_models import ChatSettings
from hotline.web.chat import protocol as wire
from hotline.web.chat.limits import TokenBucket
from hotline.web.chat.positions import positions
from hotline.web.chat.thread import replay, visible
from hotline.web.chat.visitors import GOING_AWAY, MAX_PAGES, Connection, Visitor
from hotline.web.typing_relay import TypingRelay

log = logging.getLogger(__name__)

__all__ = ["CHANNEL", "ChatHub", "Connection", "CustomerGone"]

CHANNEL = "chat"
POSITION_EVERY_S = 3.0
#: Any frame (typing, receipts...): a page over this is not a person typing; it is closed.
FRAME_BURST = 60
FRAMES_PER_S = 10.0
#: Delivery receipts being written to the store at once.
RECEIPT_WRITERS = 4
#: The custom field a visitor's pre-chat e-mail is kept in (unverified: not an identity).
EMAIL_FIELD = "chat_email"
CUSTOMER_LEFT = "customer left"
CUSTOMER_GONE = "customer disconnected"
_STORE_ERRORS = (HistoryError, SQLAlchemyError, OSError, ValidationError)


class CustomerGone(Exception):
    """The outlet's refusal: nobody is on the chat to receive the agent's message."""


class ChatHub:
    def __init__(
        self,
        desk: ConversationDesk,
        conversations: Conversations,
        acd: AcdService,
        settings: ChatSettings,
        *,
        typing: TypingRelay | None = None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.settings = settings
        self._desk = desk
        self._store = conversations
        self._acd = acd
        self._typing = typing
        self._clock = clock
        self._visitors: dict[str, Visitor] = {}
        self._by_conversation: dict[int, Visitor] = {}
        self._connections: set[Connection] = set()
        self._events: deque[DeskEvent] = deque()
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._closing = False
        #: receipts written at once: the rest wait here, so they never hold up messages
        self._receipts = asyncio.Semaphore(RECEIPT_WRITERS)
        if typing is not None:
            typing.on_agent_typing(CHANNEL, self.agent_typing)

    # lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._closing = False
        if self._unsubscribe is None:
            self._unsubscribe = self._desk.subscribe(self._heard, everywhere=True)
            self._ticker = asyncio.create_task(self._tell_positions(), name="chat-positions")

    async def close(self) -> None:
        """Stop: pages are closed (they reconnect to the next run); nobody is taken as gone."""
        self._closing = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = [t for t in (self._ticker, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._ticker = None
        for visitor in self._visitors.values():
            if visitor.grace is not None:
                visitor.grace.cancel()
        for connection in list(self._connections):
            connection.end(code=GOING_AWAY)

    @property
    def connected(self) -> int:
        return len(self._connections)

    # pages -------------------------------------------------------------------------------
    def connect(self) -> Connection | None:
        """A new page's connection; None when the service holds as many as configured."""
        if len(self._connections) >= self.settings.max_connections:
            return None
        limit = self.settings.rate_limit
        connection = Connection(
            messages=TokenBucket(limit.burst, limit.messages_per_minute / 60, self._clock),
            frames=TokenBucket(FRAME_BURST, FRAMES_PER_S, self._clock),
        )
        self._connections.add(connection)
        return connection

    def disconnected(self, connection: Connection) -> None:
        """The page's socket closed (whatever the reason); a visitor with no page left and
        a chat under way gets the grace period to come back."""
        connection.end()
        self._connections.discard(connection)
        visitor = connection.visitor
        if visitor is None:
            return
        visitor.connections.discard(connection)
        if visitor.connections or self._closing:
            return
        conversation = visitor.conversation
        if conversation is None or self._desk.task_of(conversation.id) is None:
            self._forget(visitor)
            return
        self._typing_off(visitor)
        grace = self.settings.reconnect_grace_s
        loop = asyncio.get_running_loop()
        visitor.grace = loop.call_later(grace, self._grace_over, visitor)

    async def hello(self, connection: Connection, hello: wire.Hello) -> None:
        if connection.visitor is not None:
            raise wire.FrameError(wire.MALFORMED, "hello comes once, first")
        visitor_id = hello.visitor or secrets.token_urlsafe(16)
        visitor = self._visitors.get(visitor_id)
        if visitor is None:
            visitor = self._visitors[visitor_id] = Visitor(visitor_id)
        if len(visitor.connections) >= MAX_PAGES:
            raise wire.FrameError(wire.MALFORMED, "too many pages open", fatal=True)
        visitor.name = hello.name or visitor.name
        visitor.email = hello.email or visitor.email
        if visitor.grace is not None:
            visitor.grace.cancel()
            visitor.grace = None
        # attached before the replay: a message said meanwhile may come twice (the page
        # keeps one), never
        visitor.connections.add(connection)
        connection.visitor = visitor
        async with visitor.lock:
            if not visitor.looked_up:
                await self._resume(visitor)
            conversation = visitor.conversation
            connection.send(
                wire.dump(
                    {
                        "type": wire.WELCOME,
                        "visitor": visitor.id,
                        "conversation": None if conversation is None else conversation.id,
                        "max_chars": self.settings.max_message_chars,
                    }
                )
            )
            if conversation is not None:
                await self._replay(connection, visitor, conversation.id, hello.last)
        status = self._status(visitor)
        if status is not None:
            connection.send(wire.dump(status))

    async def said(self, connection: Connection, said: wire.Said) -> None:
        visitor = self._visitor(connection)
        if not connection.messages.take():
            wait = round(connection.messages.retry_after_s(), 1)
            raise wire.FrameError(
                wire.RATE_LIMITED, f"too many messages: wait {wait} s", ref=said.client_id
            )
        async with visitor.lock:
            try:
                conversation = await self._conversation(visitor)
                message = await self._desk.customer_wrote(
                    CHANNEL,
                    said.text,
                    conversation_id=conversation.id,
                    author_name=visitor.name,
                    external_id=said.client_id,
                )
            except _STORE_ERRORS as error:
                log.warning("chat message not stored: %s", type(error).__name__)
                raise wire.FrameError(
                    wire.NOT_STORED, "not stored: send it again", ref=said.client_id
                ) from None
        shown = self._shown(message)
        connection.send(wire.dump({"type": wire.ACK, "ref": said.client_id, "message": shown}))
        echo = wire.dump({"type": wire.MESSAGE, "message": shown})
        for other in visitor.connections - {connection}:
            other.send(echo)
        self._tell_status(visitor)

    def typing(self, connection: Connection, typing: wire.Typing) -> None:
        conversation = self._visitor(connection).conversation
        if conversation is not None and self._typing is not None:
            self._typing.customer_typing(conversation.id, typing.on)

    async def receipt(self, connection: Connection, receipt: wire.Receipt) -> None:
        """The page received (or showed) the agent's messages: their delivery moves on."""
        visitor = self._visitor(connection)
        conversation = visitor.conversation
        if conversation is None:
            return
        state = Delivery(receipt.state)
        try:
            for message_id in receipt.ids:
                if message_id not in visitor.outbound:  # sent before a restart, say
                    try:
                        message = await self._store.get_message(conversation.id, message_id)
                    except UnknownMessage:
                        continue
                    if message.direction is not Direction.OUT:
                        continue  # a customer does not report their own messages read
                async with self._receipts:
                    done = await self._store.set_delivery(
                        conversation.id, message_id, DeliveryUpdate(delivery=state)
                    )
                if done.changed:
                    await self._desk.delivery_changed(conversation, done.message)
        except _STORE_ERRORS as error:
            log.warning("chat receipt not stored: %s", type(error).__name__)

    async def leave(self, connection: Connection) -> None:
        """The visitor ended the chat (on any of their pages)."""
        visitor = self._visitor(connection)
        async with visitor.lock:
            await self._left(visitor, CUSTOMER_LEFT)
        visitor.broadcast({"type": wire.STATUS, "state": wire.LEFT})

    # the desk's side ---------------------------------------------------------------------
    async def deliver(self, conversation: Interaction, message: Message) -> None:
        """The desk's outlet for ``chat``: the agent's message to the visitor's pages. With
        none open right now (a reconnect under way) it is kept and replayed on return."""
        visitor = self._by_conversation.get(conversation.id)
        if visitor is None:
            raise CustomerGone(f"conversation {conversation.id}: the visitor is not on the chat")
        visitor.sent(message.id)
        visitor.broadcast({"type": wire.MESSAGE, "message": self._shown(message)})

    def agent_typing(self, conversation_id: int, on: bool) -> None:
        visitor = self._by_conversation.get(conversation_id)
        if visitor is not None:
            visitor.broadcast({"type": wire.TYPING, "on": on})

    def _heard(self, event: DeskEvent) -> None:
        """A desk event (maybe from inside the ACD): handled once the ACD is done."""
        if event.channel != CHANNEL or event.conversation_id not in self._by_conversation:
            return
        self._events.append(event)
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._draining = False
        while self._events:
            event = self._events.popleft()
            visitor = self._by_conversation.get(event.conversation_id)
            if visitor is None:
                continue
            if event.kind == "delivery" and event.message is not None:
                if event.message.direction is Direction.IN:  # the agent read it
                    visitor.broadcast(
                        {
                            "type": wire.DELIVERY,
                            "id": event.message.id,
                            "state": event.message.delivery.value,
                        }
                    )
            elif event.kind in ("accepted", "requeued", "offered"):
                self._tell_status(visitor)
            elif event.kind in ("closed", "abandoned"):
                by_agent = event.kind == "closed" and event.reason == TASK_DONE
                self._ended(visitor)
                visitor.told = None
                state = wire.CLOSED if by_agent else wire.LEFT
                visitor.broadcast({"type": wire.STATUS, "state": state})
                if not by_agent:
                    visitor.fresh = True
                if not visitor.connections:
                    self._forget(visitor)

    # internals ---------------------------------------------------------------------------
    def _visitor(self, connection: Connection) -> Visitor:
        if connection.visitor is None:
            raise wire.FrameError(wire.HELLO_FIRST, "say hello first", fatal=True)
        return connection.visitor

    def _identity(self, visitor: Visitor) -> IdentityIn:
        return IdentityIn(kind=IdentityKind.CHAT, value=visitor.id)

    async def _resume(self, visitor: Visitor) -> None:
        """The visitor's conversation still under way (or postponed), if any; none after
        the visitor ended their chat (the next message opens a new one)."""
        if visitor.fresh:
            visitor.looked_up = True
            return
        try:
            found = await self._store.find_open_conversation(
                Channel.CHAT, identity=self._identity(visitor)
            )
        except _STORE_ERRORS as error:
            log.warning("chat: open conversation not looked up: %s", type(error).__name__)
            return
        visitor.looked_up = True
        if found is None:
            return
        live = self._desk.task_of(found.id) is not None
        if live or found.status is Status.POSTPONED or found.ended_at is None:
            self._attach(visitor, found)

    async def _conversation(self, visitor: Visitor) -> Interaction:
        """The visitor's conversation, opened (or their postponed one continued) at the
        first message; the pre-chat name and e-mail go to a new customer's record."""
        if visitor.conversation is not None:
            return visitor.conversation
        opened = await self._store.open_conversation(
            NewConversation(
                channel=Channel.CHAT, identity=self._identity(visitor), reuse=not visitor.fresh
            )
        )
        visitor.fresh = False
        visitor.looked_up = True
        self._attach(visitor, opened.conversation)
        if opened.created and (visitor.name or visitor.email):
            await self._note_prechat(visitor, opened.conversation.customer_id)
        return opened.conversation

    def _attach(self, visitor: Visitor, conversation: Interaction) -> None:
        visitor.conversation = conversation
        self._by_conversation[conversation.id] = visitor

    def _ended(self, visitor: Visitor) -> None:
        """The conversation's task is over: a page that comes back looks again (a
        postponed conversation is shown; a resolved or abandoned one is not)."""
        if visitor.conversation is not None:
            self._by_conversation.pop(visitor.conversation.id, None)
        visitor.conversation = None
        visitor.looked_up = False

    async def _note_prechat(self, visitor: Visitor, customer_id: int | None) -> None:
        if customer_id is None:
            return
        repository = self._store.repository
        try:
            customer = await repository.get_customer(customer_id)
            change: dict[str, Any] = {}
            if visitor.name and not customer.name:
                change["name"] = visitor.name
            if visitor.email:
                change["custom_fields"] = {**customer.custom_fields, EMAIL_FIELD: visitor.email}
            if change:
                await repository.update_customer(customer_id, CustomerUpdate(**change))
        except _STORE_ERRORS as error:
            log.warning("chat: pre-chat details not kept: %s", type(error).__name__)

    async def _replay(
        self, connection: Connection, visitor: Visitor, conversation_id: int, last: int
    ) -> None:
        try:
            agents = await replay(self._store, connection, conversation_id, last, self._agent_name)
        except _STORE_ERRORS as error:
            log.warning("chat replay incomplete: %s", type(error).__name__)
            connection.send(wire.dump(wire.error(wire.NOT_STORED, "the thread could not be read")))
            return
        for message_id in agents:
            visitor.sent(message_id)

    async def _left(self, visitor: Visitor, reason: str) -> None:
        conversation = visitor.conversation
        self._ended(visitor)
        visitor.fresh = True
        visitor.told = None
        if conversation is None:
            return
        self._typing_off(visitor, conversation.id)
        log.info("chat conversation %s: %s", conversation.id, reason)
        await self._desk.customer_left(conversation.id, reason)

    def _grace_over(self, visitor: Visitor) -> None:
        self._spawn(self._gone(visitor), "chat-gone")

    async def _gone(self, visitor: Visitor) -> None:
        """The grace period is over and no page came back."""
        async with visitor.lock:
            visitor.grace = None
            if visitor.connections:
                return
            await self._left(visitor, CUSTOMER_GONE)
            self._forget(visitor)

    def _forget(self, visitor: Visitor) -> None:
        if visitor.connections or visitor.grace is not None:
            return
        self._visitors.pop(visitor.id, None)
        if visitor.conversation is not None:
            self._by_conversation.pop(visitor.conversation.id, None)

    def _typing_off(self, visitor: Visitor, conversation_id: int | None = None) -> None:
        talk = conversation_id or (visitor.conversation.id if visitor.conversation else None)
        if talk is not None and self._typing is not None:
            self._typing.customer_typing(talk, False)

    def _status(self, visitor: Visitor, place: int | None = None) -> dict[str, Any] | None:
        """Where the visitor's chat stands: waiting (and their place), or with an agent."""
        conversation = visitor.conversation
        task_id = None if conversation is None else self._desk.task_of(conversation.id)
        if task_id is None:
            return None
        workload = self._acd.distributor.workload
        held = workload.task(task_id)
        if held is not None and held.phase is TaskPhase.ACTIVE:
            agent = self._agent_name(workload.holder(task_id))
            return {"type": wire.STATUS, "state": wire.CONNECTED, "agent": agent}
        if place is None:
            place = positions(self._acd, {task_id}).get(task_id)
        return {"type": wire.STATUS, "state": wire.WAITING, "position": place}

    def _tell_status(self, visitor: Visitor, place: int | None = None) -> None:
        status = self._status(visitor, place)
        if status is None:
            return
        key = (status["state"], status.get("position"), status.get("agent"))
        if key != visitor.told:
            visitor.told = key
            visitor.broadcast(status)

    async def _tell_positions(self) -> None:
        while True:
            await asyncio.sleep(POSITION_EVERY_S)
            waiting: dict[str, Visitor] = {}
            for conversation_id, visitor in self._by_conversation.items():
                task_id = self._desk.task_of(conversation_id)
                told = visitor.told
                if task_id is not None and visitor.connections and told and told[0] == wire.WAITING:
                    waiting[task_id] = visitor
            for task_id, place in positions(self._acd, waiting.keys()).items():
                self._tell_status(waiting[task_id], place)

    def _agent_name(self, agent_id: str | None) -> str | None:
        profile = self._acd.distributor.agents.get(agent_id or "")
        if profile is None:
            return None
        return profile.name or None

    def _shown(self, message: Message) -> dict[str, Any]:
        return visible(message, self._agent_name)

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("chat task %s failed", task.get_name(), exc_info=task.exception())
