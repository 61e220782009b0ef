"""The agent's digital tasks, live: what the desk offers them, the conversations they hold.

Channel-agnostic: a chat, an e-mail or a messaging-app conversation is the same card (its
channel, customer, subject, thread); only the chat's typing comes through a channel's relay.
Each agent's pages (``/ws/agent/desk``) have a bounded mailbox; a page that does not keep up
is dropped and reconnects to a fresh snapshot. Desk events (some from inside the ACD) are
queued and turned into frames by the panel's own task, which reads what it needs (threads,
the customer) from the history there, never on the ACD's path; what it reads is checked
against the ACD again then (an offer already gone is not shown).

Frames to the page: ``snapshot`` (every task the agent holds now), ``offered`` (a card
with the reservation's seconds left), ``accepted`` (the card with its thread), ``gone``
(an offer declined, expired or withdrawn), ``ended`` (the customer left a conversation the
agent still has to close), ``closed``, ``message``, ``delivery``, ``typing``. From the
page: ``typing`` and ``read`` (the agent saw the customer's messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from acd.contacts import TASK_DONE
from acd.workload import HeldTask, TaskPhase
from center.conversations import ConversationDesk
from center.desk_events import DeskEvent
from center.service import AcdService
from history.conversations import Conversations
from history.errors import HistoryError, UnknownMessage
from history.identities import IdentityKind
from history.inputs import AuthorKind, Delivery, DeliveryUpdate, Direction
from history.records import Interaction, Message
from hotline.web.chat.hub import EMAIL_FIELD
from hotline.web.typing_relay import TypingRelay

log = logging.getLogger(__name__)

__all__ = ["DeskPanel", "PanelClient"]

#: Frames waiting for a slow page before it is dropped.
MAILBOX = 512
#: Messages an offer's card shows (the newest), and an accepted conversation's.
PREVIEW_MESSAGES = 10
THREAD_MESSAGES = 200
#: Conversations a customer ended that the agent has not closed yet, kept per agent.
MAX_ENDED = 50
#: Pages one agent may have open at once.
MAX_PAGES = 8
_STORE_ERRORS = (HistoryError, SQLAlchemyError, OSError)


#: Told which customers' data a page was sent, and as what (the access log: ``note_read``).
Shown = Callable[[list[int | None], str], None]


@dataclass(eq=False, slots=True)
class PanelClient:
    agent_id: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=MAILBOX))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    shown: Shown | None = None


class DeskPanel:
    def __init__(
        self,
        desk: ConversationDesk,
        acd: AcdService,
        conversations: Conversations,
        *,
        typing: TypingRelay | None = None,
    ) -> None:
        self._desk = desk
        self._acd = acd
        self.acd = acd
        self._store = conversations
        self._typing = typing
        self._clients: dict[str, set[PanelClient]] = {}
        self._events: deque[DeskEvent] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        #: conversation -> the agent it is offered to (an abandon names no agent)
        self._offered_to: dict[int, str] = {}
        #: agent -> conversation -> why it ended: the customer left, the agent closes it
        self._ended: dict[str, dict[int, str]] = {}
        if typing is not None:
            typing.on_customer_typing(self.customer_typing)

    async def start(self) -> None:
        if self._task is None:
            self._unsubscribe = self._desk.subscribe(self._heard, everywhere=True)
            self._task = asyncio.create_task(self._run(), name="desk-panel")

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for clients in self._clients.values():
            for client in clients:
                client.dropped.set()
        self._clients.clear()

    # pages -------------------------------------------------------------------------------
    async def connect(self, agent_id: str, *, shown: Shown | None = None) -> PanelClient | None:
        """A page's mailbox, primed with the agent's tasks now; None: too many pages.
        ``shown`` is told of every customer whose card (who, the thread) the page is sent."""
        clients = self._clients.setdefault(agent_id, set())
        if len(clients) >= MAX_PAGES:
            return None
        client = PanelClient(agent_id, shown=shown)
        clients.add(client)  # before the snapshot is read: nothing said meanwhile is lost
        tasks = await self.snapshot(agent_id)
        client.queue.put_nowait(_dump({"type": "snapshot", "tasks": tasks}))
        if shown is not None and tasks:
            shown([card["customer"]["id"] for card in tasks], "agent desk")
        return client

    def disconnect(self, client: PanelClient) -> None:
        clients = self._clients.get(client.agent_id)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[client.agent_id]

    async def snapshot(self, agent_id: str) -> list[dict[str, Any]]:
        cards = []
        for held in self._acd.distributor.tasks_of(agent_id):
            conversation_id = self._desk.conversation_of(held.task_id)
            if conversation_id is None or held.phase is TaskPhase.WRAP_UP:
                continue
            card = await self._card(conversation_id, held)
            if card is not None:
                cards.append(card)
        for conversation_id, reason in list(self._ended.get(agent_id, {}).items()):
            card = await self._card(conversation_id, None, ended=reason)
            if card is not None:
                cards.append(card)
        return cards

    # what the page does --------------------------------------------------------------------
    def agent_typing(self, agent_id: str, conversation_id: int, on: bool) -> None:
        held = self._held_by(agent_id, conversation_id)
        if held is not None and held.phase is TaskPhase.ACTIVE and self._typing is not None:
            self._typing.agent_typing(held.channel, conversation_id, on)

    async def read(self, agent_id: str, conversation_id: int, ids: list[int]) -> None:
        """The agent's page showed these customer messages: read (the customer sees it)."""
        if self._held_by(agent_id, conversation_id) is None:
            return
        try:
            conversation: Interaction | None = None
            for message_id in ids:
                try:
                    message = await self._store.get_message(conversation_id, message_id)
                except UnknownMessage:
                    continue
                if message.direction is not Direction.IN:
                    continue
                done = await self._store.set_delivery(
                    conversation_id, message_id, DeliveryUpdate(delivery=Delivery.READ)
                )
                if done.changed:
                    conversation = conversation or await self._store.get_conversation(
                        conversation_id
                    )
                    await self._desk.delivery_changed(conversation, done.message)
        except _STORE_ERRORS as error:
            log.warning("read receipt not stored: %s", type(error).__name__)

    def ended_by_customer(self, agent_id: str, conversation_id: int) -> bool:
        return conversation_id in self._ended.get(agent_id, {})

    def closed(self, agent_id: str, conversation_id: int) -> None:
        """The agent closed a conversation the customer had ended."""
        self._ended.get(agent_id, {}).pop(conversation_id, None)
        self._send(agent_id, {"type": "closed", "conversation": conversation_id})

    # the desk's side -----------------------------------------------------------------------
    def customer_typing(self, conversation_id: int, on: bool) -> None:
        agent_id = self._desk.holder(conversation_id)
        if agent_id is not None:
            self._send(agent_id, {"type": "typing", "conversation": conversation_id, "on": on})

    def _heard(self, event: DeskEvent) -> None:
        self._events.append(event)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._events:
                event = self._events.popleft()
                try:
                    await self._handle(event)
                except _STORE_ERRORS as error:
                    log.warning(
                        "desk panel: %s of conversation %s not shown (%s)",
                        event.kind,
                        event.conversation_id,
                        type(error).__name__,
                    )

    async def _handle(self, event: DeskEvent) -> None:
        conversation_id, agent_id = event.conversation_id, event.agent_id
        if event.kind == "message" and event.message is not None:
            holder = self._desk.holder(conversation_id)
            if holder is not None:
                frame = {"type": "message", "conversation": conversation_id}
                self._send(holder, frame | {"message": shown(event.message)})
        elif event.kind == "delivery" and event.message is not None:
            message = event.message
            holder = self._desk.holder(conversation_id) or message.author_id
            if holder is not None and message.direction is Direction.OUT:
                frame = {"type": "delivery", "conversation": conversation_id, "id": message.id}
                self._send(holder, frame | {"state": message.delivery.value})
        elif event.kind == "offered" and agent_id is not None:
            self._offered_to[conversation_id] = agent_id
            held = self._held_by(agent_id, conversation_id)
            if held is not None and held.phase is TaskPhase.RESERVED and self._wanted(agent_id):
                card = await self._card(conversation_id, held)
                if card is not None and self._held_by(agent_id, conversation_id) is not None:
                    self._send(agent_id, {"type": "offered", "task": card})
        elif event.kind == "accepted" and agent_id is not None:
            self._offered_to.pop(conversation_id, None)
            held = self._held_by(agent_id, conversation_id)
            if held is not None and self._wanted(agent_id):
                card = await self._card(conversation_id, held)
                if card is not None:
                    self._send(agent_id, {"type": "accepted", "task": card})
        elif event.kind == "requeued" and agent_id is not None:
            self._offered_to.pop(conversation_id, None)
            self._gone(agent_id, conversation_id, event.reason)
        elif event.kind == "abandoned":
            offered = self._offered_to.pop(conversation_id, None)
            if offered is not None:
                self._gone(offered, conversation_id, event.reason)
        elif event.kind == "closed" and agent_id is not None:
            if event.reason == TASK_DONE:
                self._send(agent_id, {"type": "closed", "conversation": conversation_id})
            else:  # the customer left: the agent still closes it (resolved or postponed)
                ended = self._ended.setdefault(agent_id, {})
                ended[conversation_id] = event.reason
                while len(ended) > MAX_ENDED:
                    del ended[next(iter(ended))]
                frame = {"type": "ended", "conversation": conversation_id}
                self._send(agent_id, frame | {"reason": event.reason})

    # internals -----------------------------------------------------------------------------
    def _held_by(self, agent_id: str, conversation_id: int) -> HeldTask | None:
        task_id = self._desk.task_of(conversation_id)
        if task_id is None or self._desk.holder(conversation_id) != agent_id:
            return None
        return self._acd.distributor.workload.task(task_id)

    def _wanted(self, agent_id: str) -> bool:
        return bool(self._clients.get(agent_id))

    def _gone(self, agent_id: str, conversation_id: int, reason: str) -> None:
        frame = {"type": "gone", "conversation": conversation_id, "reason": reason}
        self._send(agent_id, frame)

    def _send(self, agent_id: str, frame: dict[str, Any]) -> None:
        clients = self._clients.get(agent_id)
        if not clients:
            return
        text = _dump(frame)
        card = frame.get("task")
        for client in list(clients):
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                clients.discard(client)
                client.dropped.set()
                log.warning("agent %s's desk page dropped: it did not keep up", agent_id)
                continue
            if card is not None and client.shown is not None:
                client.shown([card["customer"]["id"]], "agent desk")

    async def _card(
        self, conversation_id: int, held: HeldTask | None, *, ended: str | None = None
    ) -> dict[str, Any] | None:
        """What the agent's page shows of a conversation: who, about what, the thread."""
        try:
            conversation = await self._store.get_conversation(conversation_id)
        except _STORE_ERRORS:
            return None
        reserved = held is not None and held.phase is TaskPhase.RESERVED
        limit = PREVIEW_MESSAGES if reserved else THREAD_MESSAGES
        page = await self._store.thread(conversation_id, limit=limit)
        messages = page.messages
        subject = next((m.subject for m in reversed(messages) if m.subject), None)
        # the ACD's task says where it waits now (the interaction learns it a moment later)
        task = None if held is None else self._acd.task(held.task_id)
        card: dict[str, Any] = {
            "conversation": conversation_id,
            "channel": str(conversation.channel),
            "phase": "ended" if ended is not None else (held.phase.value if held else "ended"),
            "subject": subject,
            "queue": conversation.queue if task is None else task.queue,
            "intent": conversation.intent if task is None else task.facts.intent,
            "customer": await self._customer(conversation, messages),
            "thread": [shown(m) for m in messages],
            "older": page.older is not None,
            # a voicemail or a follow-up: no written reply; a callback or a note instead
            "work": self._desk.is_work_channel(str(conversation.channel)),
        }
        holder = self._desk.holder(conversation_id)
        agents = self._acd.distributor.agents
        transferred = self._desk.transferred(conversation_id)
        if transferred is not None:
            by, target = transferred
            card["transferred_by"] = agents[by].name or by if by in agents else by
            card["transferred_to"] = target
        # canned replies in the customer's language, filled for this conversation
        card["canned"] = self._acd.setup.desk.canned_for(
            None if task is None else task.facts.language,
            {
                "customer_name": card["customer"].get("name"),
                "agent_name": (agents[holder].name or holder)
                if holder is not None and holder in agents
                else None,
                "queue": card["queue"],
            },
        )
        card["dispositions"] = list(self._acd.setup.desk.dispositions_for(card["queue"]))
        if ended is not None:
            card["reason"] = ended
        if reserved and held is not None and held.deadline is not None:
            card["deadline_s"] = max(0.0, round(held.deadline - self._acd.now(), 1))
        return card

    async def _customer(
        self, conversation: Interaction, messages: tuple[Message, ...]
    ) -> dict[str, Any]:
        said = next((m.author_name for m in messages if m.author_name), None)
        who: dict[str, Any] = {"id": conversation.customer_id, "name": said, "email": None}
        if conversation.customer_id is None:
            return who
        customer = await self._store.repository.get_customer(conversation.customer_id)
        who["name"] = customer.name or said
        who["tier"] = customer.tier
        emails = [i.value for i in customer.identities if i.kind is IdentityKind.EMAIL]
        given = customer.custom_fields.get(EMAIL_FIELD)
        who["email"] = emails[0] if emails else (given if isinstance(given, str) else None)
        return who


def shown(message: Message) -> dict[str, Any]:
    """A message as the agent's page shows it."""
    author = {AuthorKind.CUSTOMER: "customer", AuthorKind.AGENT: "agent"}.get(
        message.author_kind, "system"
    )
    return {
        "id": message.id,
        "from": author,
        "name": message.author_name,
        "author_id": message.author_id,
        "subject": message.subject,
        "text": message.body,
        "at": message.sent_at.isoformat(),
        "delivery": message.delivery.value,
        "attachments": [
            {
                "id": a.id,
                "name": a.filename,
                "size": a.size,
                "type": a.content_type,
                "url": f"/page-api/agent/conversations/{message.conversation_id}"
                f"/messages/{message.id}/attachments/{a.id}",
            }
            for a in message.attachments
        ],
    }


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
