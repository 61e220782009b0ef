"""The conversation desk: chats, e-mails and messaging apps as tasks of the one ACD.

Every channel adapter (the web chat hub, the SMTP server, the messaging API) and the agent's
desktop go through this one object:

* a customer's message is stored first (``history.conversations``: nothing is routed that
  is not kept), then, if no task of its conversation is in the ACD, the conversation is
  queued as a task (``center.conversation_routing``: its intent, the customer's tier and
  history, the queue its call type names);
* the ACD's offer is a reservation the agent accepts or declines on the desktop; the
  conversation's interaction follows the task (queue, intent, agent, wait, handle time,
  outcome) and the agent's close sets its status (resolved, postponed);
* an agent's message is stored (``queued``), handed to the channel's *outlet* (the chat hub
  pushes it to the customer's page, e-mail sends it to the relay, a messaging module hears it
  by webhook), and marked ``sent`` or ``failed`` by what the outlet said
  (``center.desk_outlets``);
* every step is told to subscribers (``DeskEvent``): the desktop, the supervisor's page, the
  chat hub, webhooks (``center.desk_events``, with the ACD's events followed onto the
  interaction).

A conversation has at most one task in the ACD at a time (``<channel>-<conversation>.<n>``);
a customer writing again after a postponement queues the next one. The desk is the
``history.conversations.ConversationIntake`` of the REST API too.

Some channels carry *work* rather than a conversation (``register_work_channel``: a
voicemail to listen to, a callback that failed to follow up): their task waits in the queue,
with the intent and call type, its conversation was opened with (the call's, kept), and an
agent cannot answer them in writing (``DeskError``): they call back or note what they did.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from acd.agent_events import AgentState
from acd.calls import IncomingCall
from acd.contacts import CUSTOMER_LEFT
from acd.router import RoutingError
from acd.workload import StaleTask, TaskPhase
from center.conversation_routing import ConversationRouting, KeptRouting, task_of
from center.desk_events import DeskEvent, DeskEvents
from center.desk_outlets import DeskOutlets, Outlet
from center.service import AcdService
from history.attachments import AttachmentData
from history.conversations import Conversations
from history.inputs import (
    AuthorKind,
    Channel,
    Direction,
    IdentityIn,
    InteractionUpdate,
    NewConversation,
    NewMessage,
    NewNote,
    Status,
)
from history.records import Interaction, Message
from ivr.callers import CallerProfile, HistoryDirectory
from ivr.flow.ports import IntentResult

log = logging.getLogger(__name__)

__all__ = ["ConversationDesk", "DeskError"]

#: Writes a change of a conversation's interaction (``HistoryWriter.update_interaction``).
UpdateInteraction = Callable[[int, InteractionUpdate], Awaitable[object]]
#: Classifies a customer's text in a language (``IntentClassifier.classify``).
Classify = Callable[[str, str], IntentResult]


#: A conversation's task id: ``<channel>-<conversation>.<n>`` (``_route``).
_TASK_ID = re.compile(r"(?P<channel>[a-z_]+)-(?P<conversation>\d{1,18})\.(?P<made>\d{1,9})")


class DeskError(Exception):
    """An action the desk refuses (an agent writing in a conversation that is not theirs,
    an unknown conversation); nothing was changed."""


@dataclass(slots=True)
class _Live:
    """A conversation with a task in the ACD."""

    conversation_id: int
    channel: str
    task_id: str
    queued_at: dt.datetime
    customer_id: int | None = None
    answered_at: dt.datetime | None = None
    agent_id: str | None = None
    #: the last transfer: (the agent who handed it on, to whom: "agent 1002", "queue billing")
    transferred: tuple[str, str] | None = None
    #: what the interaction takes when the task is queued (its queue, intent, status
    #: open), written then by the node whose arrival the ACD applied (``AcdService.owns``:
    #: of two nodes handing in one task, the one the shared log took), None once told
    opening: InteractionUpdate | None = None


class ConversationDesk(DeskEvents, DeskOutlets):
    def __init__(
        self,
        conversations: Conversations,
        acd: AcdService,
        routing: ConversationRouting,
        *,
        directory: HistoryDirectory | None = None,
        classify: Classify | None = None,
        updates: UpdateInteraction | None = None,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        """``updates`` writes the conversations' interactions as their tasks move (the
        service's spooling ``HistoryWriter``: group-committed, kept on disk while the store
        is down); the repository's ``update_interaction`` when not given."""
        self._store = conversations
        self._acd = acd
        self.routing = routing
        self._directory = directory
        self._classify = classify
        self._wall = wall
        self._updates = updates or conversations.repository.update_interaction
        self._outlets: dict[str, Outlet] = {}
        self._module_channels: set[str] = set()
        self._work_channels: set[str] = set()
        self._message_ids: dict[str, Callable[[], str]] = {}
        self._subscribers: list[Callable[[DeskEvent], None]] = []
        #: those that hear other nodes' conversations too (``subscribe(everywhere=True)``)
        self._everywhere: list[Callable[[DeskEvent], None]] = []
        self._live: dict[int, _Live] = {}  # conversation -> its task
        self._by_task: dict[str, _Live] = {}
        self._tasks_made: dict[int, int] = {}
        #: conversations being routed (between the message and the task's arrival)
        self._routing: set[int] = set()
        #: the last background write of each conversation (writes of one run in order)
        self._writes: dict[int, asyncio.Task[None]] = {}
        self._unsubscribe = (
            acd.on_task(self._acd_event),
            acd.on_task_refused(self._task_refused),
        )

    # wiring ----------------------------------------------------------------------------
    def register_work_channel(self, channel: str) -> None:
        """``channel`` carries work, not a conversation (see the module's doc): its tasks
        keep the queue and intent their conversation was opened with, and take no written
        reply."""
        self._work_channels.add(channel)

    def is_work_channel(self, channel: str) -> bool:
        return channel in self._work_channels

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        await self.flush()

    # views -----------------------------------------------------------------------------
    def task_of(self, conversation_id: int) -> str | None:
        live = self._live.get(conversation_id)
        return None if live is None else live.task_id

    def conversation_of(self, task_id: str) -> int | None:
        live = self._by_task.get(task_id)
        return None if live is None else live.conversation_id

    def holder(self, conversation_id: int) -> str | None:
        """The agent the conversation's task is with (reserved or accepted), if any."""
        live = self._live.get(conversation_id)
        return None if live is None else self._acd.distributor.workload.holder(live.task_id)

    # customers -------------------------------------------------------------------------
    async def customer_wrote(
        self,
        channel: str,
        body: str,
        *,
        identity: IdentityIn | None = None,
        customer_id: int | None = None,
        conversation_id: int | None = None,
        author_name: str | None = None,
        subject: str | None = None,
        external_id: str | None = None,
        in_reply_to: str | None = None,
        references: str | None = None,
        attachments: Sequence[AttachmentData] = (),
    ) -> Message:
        """Store a customer's message (in ``conversation_id``, else their open conversation
        on ``channel``, else a new one) and route the conversation if no task of it waits
        or is with an agent. Idempotent by ``external_id``."""
        if conversation_id is None:
            opened = await self._store.open_conversation(
                NewConversation(
                    channel=Channel(channel), identity=identity, customer_id=customer_id
                )
            )
            conversation = opened.conversation
        else:
            conversation = await self._store.get_conversation(conversation_id)
        appended = await self._store.append_message(
            NewMessage(
                conversation_id=conversation.id,
                direction=Direction.IN,
                author_kind=AuthorKind.CUSTOMER,
                author_name=author_name,
                body=body,
                subject=subject,
                external_id=external_id,
                in_reply_to=in_reply_to,
                references=references,
            ),
            attachments=attachments,
        )
        if appended.created:
            await self._heard(conversation, appended.message)
        return appended.message

    async def customer_left(self, conversation_id: int, reason: str = CUSTOMER_LEFT) -> None:
        """The customer ended the conversation (closed the chat): a waiting task is
        abandoned, an accepted one is over for the agent."""
        live = self._live.get(conversation_id)
        if live is not None:
            self._acd.caller_left(live.task_id, reason)

    async def resume(self) -> int:
        """At start: route again the conversations a stopped service had queued or given
        to an agent (open, no outcome), each placed by when it began (not those a shared
        ACD holds already: another node's, or kept while this node was away). Returns how
        many."""
        for task in self._acd.tasks():
            self._learned(task)
        resumed = 0
        for conversation in await self._store.unfinished():
            if conversation.id in self._live:
                continue
            page = await self._store.thread(conversation.id, limit=20)
            said = [m for m in page.messages if m.direction is Direction.IN]
            if not said:
                continue
            waited = (self._wall() - conversation.started_at).total_seconds()
            await self._route(conversation, said[-1], entry=self._acd.now() - max(waited, 0.0))
            resumed += 1
        if resumed:
            log.info("%d conversations queued again after a restart", resumed)
        return resumed

    # the REST API's intake (history.conversations.ConversationIntake) ------------------
    async def conversation_opened(self, conversation: Interaction, first: Message | None) -> None:
        if first is not None:
            await self._heard(conversation, first)

    async def message_appended(self, conversation: Interaction, message: Message) -> None:
        await self._heard(conversation, message)

    async def delivery_changed(self, conversation: Interaction, message: Message) -> None:
        self._tell(DeskEvent("delivery", conversation.id, conversation.channel, message=message))

    # agents ----------------------------------------------------------------------------
    async def accept(self, agent_id: str, conversation_id: int) -> None:
        """The agent takes the conversation they are offered: returns once it is theirs
        on this node's copy of the ACD (a shared ACD's log gave the accept back), so they
        can write at once. Raises ``StaleTask`` if it is not offered to them now (or the
        offer ended before the accept came to the log), ``DeskError`` if the shared ACD
        did not answer in time (the accept may still land: the desk hears of it)."""
        task_id = self._task(conversation_id)
        self._acd.task_accepted(agent_id, task_id)
        await self._settled("accept")
        if not self._with(agent_id, task_id):
            raise StaleTask(agent_id, f"conversation {conversation_id} is no longer offered")

    def decline(self, agent_id: str, conversation_id: int) -> None:
        self._acd.task_rejected(agent_id, self._task(conversation_id))

    async def agent_wrote(
        self,
        agent_id: str,
        conversation_id: int,
        body: str,
        *,
        subject: str | None = None,
        attachments: Sequence[AttachmentData] = (),
        external_id: str | None = None,
    ) -> Message:
        """Store the agent's message and deliver it on the conversation's channel; only
        the agent the conversation is with (accepted) may write."""
        live = self._live.get(conversation_id)
        held = None if live is None else self._acd.distributor.workload.task(live.task_id)
        if live is None or held is None or held.phase is not TaskPhase.ACTIVE:
            raise DeskError(f"conversation {conversation_id} is not open with an agent")
        if self._acd.distributor.workload.holder(live.task_id) != agent_id:
            raise DeskError(f"conversation {conversation_id} is not agent {agent_id}'s")
        if live.channel in self._work_channels:
            raise DeskError(
                f"a {live.channel} task takes no written reply: call the customer back"
                " or add a note"
            )
        if external_id is None and (make := self._message_ids.get(live.channel)) is not None:
            external_id = make()
        appended = await self._store.append_message(
            NewMessage(
                conversation_id=conversation_id,
                direction=Direction.OUT,
                author_kind=AuthorKind.AGENT,
                author_id=agent_id,
                body=body,
                subject=subject,
                external_id=external_id,
            ),
            attachments=attachments,
        )
        message = appended.message
        if not appended.created:
            return message
        conversation = await self._store.get_conversation(conversation_id)
        said = DeskEvent("message", conversation_id, live.channel, live.task_id, agent_id, message)
        self._tell(said)
        return await self._deliver(conversation, message)

    def finish(
        self,
        agent_id: str,
        conversation_id: int,
        *,
        status: Status = Status.RESOLVED,
        disposition: str | None = None,
    ) -> None:
        """The agent is done with the conversation: its task leaves the ACD (wrap-up per
        agents.yaml) and the interaction takes ``status`` (resolved, or postponed: the
        customer's next message queues it again)."""
        if status is Status.OPEN:
            raise DeskError("a conversation is closed resolved or postponed")
        live = self._live.get(conversation_id)
        if live is None:
            raise DeskError(f"conversation {conversation_id} has no task")
        self._acd.task_done(agent_id, live.task_id)  # StaleTask unless it is theirs
        self._update(conversation_id, InteractionUpdate(status=status, disposition=disposition))
        self._tell(
            DeskEvent(
                "status",
                conversation_id,
                live.channel,
                live.task_id,
                agent_id,
                reason=status.value,
                customer_id=live.customer_id,
            )
        )

    async def transfer(
        self,
        agent_id: str,
        conversation_id: int,
        *,
        queue: str | None = None,
        to_agent: str | None = None,
    ) -> str:
        """The agent hands the conversation they accepted on, to ``queue`` or to a logged-in
        colleague ``to_agent`` who takes its channel: its task goes back to the ACD with its
        place kept (``AcdService.task_transferred``; to a colleague it is directed: theirs
        alone), the thread goes with it, and the interaction gets a note of who transferred
        it to whom. Returns the target ("agent 1002", "queue billing"); raises
        ``DeskError`` (nothing changed) when it cannot be made."""
        live = self._live.get(conversation_id)
        held = None if live is None else self._acd.distributor.workload.task(live.task_id)
        if live is None or held is None or held.phase is not TaskPhase.ACTIVE:
            raise DeskError(f"conversation {conversation_id} is not open with an agent")
        if self._acd.distributor.workload.holder(live.task_id) != agent_id:
            raise DeskError(f"conversation {conversation_id} is not agent {agent_id}'s")
        if (queue is None) == (to_agent is None):
            raise DeskError("name a queue or a colleague")
        agents = self._acd.distributor.agents
        if to_agent is not None:
            profile = agents.get(to_agent)
            if to_agent == agent_id or profile is None:
                raise DeskError(f"no colleague {to_agent!r}")
            if self._acd.distributor.book.view(to_agent).state is AgentState.LOGGED_OUT:
                raise DeskError(f"{profile.name or to_agent} is not logged in")
            if not profile.capacity.digital.get(live.channel):
                raise DeskError(f"{profile.name or to_agent} does not take {live.channel}")
        elif queue not in self._acd.queue_names:
            raise DeskError(f"no queue {queue!r}")
        try:
            self._acd.task_transferred(agent_id, live.task_id, queue=queue, to_agent=to_agent)
        except (StaleTask, RoutingError) as error:
            raise DeskError(str(error)) from error
        await self._settled("transfer")
        if self._with(agent_id, live.task_id):  # refused when the log came to it
            raise DeskError(f"conversation {conversation_id} could not be transferred")
        target = f"agent {to_agent}" if to_agent is not None else f"queue {queue}"
        live.transferred = (agent_id, target)
        if queue is not None:
            self._update(conversation_id, InteractionUpdate(queue=queue))
        by = agents[agent_id].name or agent_id if agent_id in agents else agent_id
        to = (agents[to_agent].name or to_agent) if to_agent is not None else f"queue {queue}"
        try:
            await self._store.repository.add_note(
                NewNote(
                    author=f"agent:{agent_id}",
                    body=f"Transferred by {by} to {to}",
                    interaction_id=conversation_id,
                )
            )
        except Exception as error:  # noqa: BLE001 (the transfer is made; the note is lost)
            log.warning("conversation %s: transfer note not kept (%s)", conversation_id, error)
        return target

    def transferred(self, conversation_id: int) -> tuple[str, str] | None:
        """Who last transferred the conversation's task, and to whom (None: nobody)."""
        live = self._live.get(conversation_id)
        return None if live is None else live.transferred

    # internals -------------------------------------------------------------------------
    async def _settled(self, action: str) -> None:
        """The agent's action is applied on this node's copy of the ACD (a shared ACD's log
        gave it back), so what it became can be read; ``DeskError`` if that takes too long
        (it may still land: the desk hears of it)."""
        if not await self._acd.settled():
            raise DeskError(f"the shared ACD has not confirmed the {action} yet: try again")

    def _with(self, agent_id: str, task_id: str) -> bool:
        """The task is the agent's, accepted (on this node's copy of the ACD)."""
        workload = self._acd.distributor.workload
        held = workload.task(task_id)
        active = held is not None and held.phase is TaskPhase.ACTIVE
        return active and workload.holder(task_id) == agent_id

    def _task(self, conversation_id: int) -> str:
        live = self._live.get(conversation_id)
        if live is None:
            raise StaleTask("?", f"conversation {conversation_id} has no task")
        return live.task_id

    async def _heard(self, conversation: Interaction, message: Message) -> None:
        live = self._live.get(conversation.id)
        self._tell(
            DeskEvent(
                "message",
                conversation.id,
                conversation.channel,
                None if live is None else live.task_id,
                None if live is None else live.agent_id,
                message,
                customer_id=conversation.customer_id,
            )
        )
        routing = self._routing
        # a work channel's task may be brought by hotline itself (a failed callback)
        work = str(conversation.channel) in self._work_channels
        brought = message.direction is Direction.IN and work
        if live is None and (message.author_kind is AuthorKind.CUSTOMER or brought):
            if conversation.id in routing:  # another message of it is being routed now
                return
            routing.add(conversation.id)
            try:
                await self._route(conversation, message)
            finally:
                routing.discard(conversation.id)

    async def _route(
        self, conversation: Interaction, message: Message, *, entry: float | None = None
    ) -> None:
        channel = str(conversation.channel)
        profile = await self._profile(conversation)
        language = (profile.language if profile is not None else None) or self.routing.language
        text = "\n".join(t for t in (message.subject, message.body) if t)
        kept = self._kept(conversation)
        classify = self._classify if kept is None else None
        match = classify(text, language) if classify and text.strip() else None
        made = self._tasks_made.get(conversation.id, 0) + 1
        self._tasks_made[conversation.id] = made
        task = task_of(
            f"{channel}-{conversation.id}.{made}",
            channel,
            text=text,
            routing=self.routing,
            match=match,
            profile=profile,
            who=message.author_name,
            now=self._wall(),
            kept=kept,
        )
        if entry is not None:
            task = replace(task, entry_time=entry)
        # a resolved or postponed conversation the customer wrote in again is open again,
        # its outcome and end the next task's (written when the task is queued, by the
        # node whose arrival the ACD took: ``DeskEvents._acd_event``)
        opening = InteractionUpdate(
            queue=task.queue,
            intent=task.facts.intent,
            call_type=task.facts.call_type,
            status=Status.OPEN,
            outcome=None,
            ended_at=None,
        )
        live = _Live(
            conversation.id,
            channel,
            task.call_id,
            self._wall(),
            conversation.customer_id,
            opening=opening,
        )
        self._live[conversation.id] = live
        self._by_task[task.call_id] = live
        try:
            self._acd.task_arrived(task)
        except RoutingError as error:  # the message is kept; the config names no queue
            log.error("conversation %s not routed: %s", conversation.id, error)
            self._forget(live)

    def _kept(self, conversation: Interaction) -> KeptRouting | None:
        """A work channel's routing, as its conversation was opened (a queue that is gone
        from the config leaves the choice to the routing)."""
        if str(conversation.channel) not in self._work_channels:
            return None
        queue = conversation.queue
        if queue is not None and queue not in self._acd.queue_names:
            log.warning(
                "conversation %s: queue %r is gone; routed by its call type",
                conversation.id,
                queue,
            )
            queue = None
        return KeptRouting(queue, conversation.intent, conversation.call_type)

    async def _profile(self, conversation: Interaction) -> CallerProfile | None:
        if self._directory is None or conversation.customer_id is None:
            return None
        return await self._directory.find_by_customer(conversation.customer_id)

    def _learned(self, task: IncomingCall) -> _Live | None:
        """A conversation's task another node of a shared ACD routed (its id names the
        conversation), known here from now on: its agent may be connected to this node."""
        known = self._by_task.get(task.call_id)
        match = _TASK_ID.fullmatch(task.call_id)
        if known is not None or match is None or match["channel"] != task.channel:
            return known
        conversation_id, made = int(match["conversation"]), int(match["made"])
        if conversation_id in self._live:
            return None
        said = task.caller.customer_id
        customer = int(said) if said is not None and said.isdigit() else None
        live = _Live(conversation_id, task.channel, task.call_id, self._wall(), customer)
        held = self._acd.distributor.workload.task(task.call_id)
        if held is not None and held.phase is TaskPhase.ACTIVE:  # accepted before
            live.agent_id = self._acd.distributor.workload.holder(task.call_id)
            ago = max(0.0, self._acd.now() - held.since)
            live.answered_at = self._wall() - dt.timedelta(seconds=ago)
        self._live[conversation_id] = live
        self._by_task[task.call_id] = live
        self._tasks_made[conversation_id] = max(self._tasks_made.get(conversation_id, 0), made)
        return live

    def _task_refused(self, task_id: str) -> None:
        """The shared ACD's log refused this node's task and holds none of that id: the
        conversation has no task (its customer's next message routes it)."""
        live = self._by_task.get(task_id)
        if live is not None:
            log.warning("conversation %s: task %s refused", live.conversation_id, task_id)
            self._forget(live)

    def _forget(self, live: _Live) -> None:
        self._live.pop(live.conversation_id, None)
        self._by_task.pop(live.task_id, None)
