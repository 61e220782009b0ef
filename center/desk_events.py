"""The conversation desk's events: what it tells its subscribers (``DeskEvent``: the
desktop, the supervisor's page, the chat hub, webhooks; ``subscribe``, ``_tell``), and the
ACD's events about a conversation's task, followed onto the conversation's interaction
(``_acd_event``: the agent, the wait, the handle time, the outcome) and written in the
background, each conversation's writes in order (``_update``, ``flush``).

A part of ``center.conversations.ConversationDesk``, which holds the state and the tasks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from acd.calls import IncomingCall
from acd.events import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    CallRequeued,
    EventRecord,
)
from history.inputs import InteractionUpdate
from history.outcomes import Outcome
from history.records import Message

if TYPE_CHECKING:
    from center.conversations import UpdateInteraction, _Live
    from center.service import AcdService

log = logging.getLogger(__name__)

__all__ = ["DeskEvent", "DeskEventKind", "DeskEvents"]

DeskEventKind = Literal[
    "message",  # a message was kept (either side)
    "delivery",  # a message's delivery state moved on
    "queued",  # the conversation became a task waiting for an agent
    "offered",  # the task was offered to an agent (a reservation)
    "accepted",
    "requeued",  # declined or not answered in time: back in line, place kept
    "closed",  # the agent finished the task
    "abandoned",  # the customer left before an agent took it
    "status",  # the agent closed the conversation resolved or postponed (``reason``)
]

#: ACD events the desk turns into desk events, by kind.
_TASK_KINDS: dict[type, DeskEventKind] = {
    CallQueued: "queued",
    CallOffered: "offered",
    CallAnswered: "accepted",
    CallRequeued: "requeued",
    CallEnded: "closed",
    CallAbandoned: "abandoned",
}


@dataclass(frozen=True, slots=True)
class DeskEvent:
    kind: DeskEventKind
    conversation_id: int
    channel: str
    #: the conversation's task in the ACD, if any, and the agent it concerns
    task_id: str | None = None
    agent_id: str | None = None
    message: Message | None = None
    reason: str = ""
    #: the conversation's customer (None: not known yet), for webhooks and erasure
    customer_id: int | None = None


class DeskEvents:
    if TYPE_CHECKING:  # the desk's state and steps these use
        _wall: Callable[[], dt.datetime]
        _acd: AcdService
        _updates: UpdateInteraction
        _subscribers: list[Callable[[DeskEvent], None]]
        _everywhere: list[Callable[[DeskEvent], None]]
        _by_task: dict[str, _Live]
        _writes: dict[int, asyncio.Task[None]]

        def _forget(self, live: _Live) -> None: ...
        def _learned(self, task: IncomingCall) -> _Live | None: ...

    def subscribe(
        self, listener: Callable[[DeskEvent], None], *, everywhere: bool = False
    ) -> Callable[[], None]:
        """``listener`` hears what this node's desk does; ``everywhere``: also what other
        nodes of a shared ACD do (``relayed``; the ACD's events about their conversations),
        for the pages connected here (the chat hub, the agents' desk panel)."""
        self._subscribers.append(listener)
        if everywhere:
            self._everywhere.append(listener)

        def unsubscribe() -> None:
            self._subscribers.remove(listener)
            if everywhere:
                self._everywhere.remove(listener)

        return unsubscribe

    def relayed(self, event: DeskEvent) -> None:
        """What another node's desk told (``center.conversation_relay``): to the listeners
        that hear everywhere."""
        self._tell(event, mine=False)

    async def flush(self) -> None:
        """Until every background write of the interactions is done."""
        while self._writes:
            await asyncio.gather(*self._writes.values(), return_exceptions=True)

    def _acd_event(self, record: EventRecord, task: IncomingCall) -> None:
        """The ACD told something about a task (called inside it: no calls back)."""
        event = record.event
        kind = _TASK_KINDS.get(type(event))
        live = self._by_task.get(task.call_id)
        if live is None and kind is not None and kind not in ("closed", "abandoned"):
            live = self._learned(task)  # another node's conversation, in the shared ACD
        if live is None or kind is None:
            return
        now = self._wall()
        agent = getattr(event, "agent_id", None)
        # this node writes the interaction and tells its webhooks: the ACD applied its
        # arrival, or it took the task over from a node lost (``AcdService.owns``)
        mine = self._acd.owns(task.call_id)
        if isinstance(event, CallQueued) and live.opening is not None:
            if mine:  # the other node, refused, lets it be
                self._update(live.conversation_id, live.opening)
            live.opening = None
        if isinstance(event, CallAnswered):
            live.answered_at, live.agent_id = now, event.agent_id
            wait = (now - live.queued_at).total_seconds()
            if mine:
                self._update(
                    live.conversation_id, InteractionUpdate(agent=event.agent_id, wait_s=wait)
                )
        elif isinstance(event, CallRequeued):  # back in line (the agent may have had it)
            live.agent_id = None
        elif isinstance(event, CallEnded):
            handled = (now - (live.answered_at or now)).total_seconds()
            if mine:
                self._update(
                    live.conversation_id,
                    InteractionUpdate(ended_at=now, talk_s=handled, outcome=Outcome.ANSWERED),
                )
            self._forget(live)
        elif isinstance(event, CallAbandoned):
            wait = (now - live.queued_at).total_seconds()
            if mine:
                self._update(
                    live.conversation_id,
                    InteractionUpdate(ended_at=now, wait_s=wait, outcome=Outcome.ABANDONED_QUEUE),
                )
            self._forget(live)
        reason = event.queue if isinstance(event, CallQueued) else getattr(event, "reason", "")
        told = DeskEvent(
            kind,
            live.conversation_id,
            live.channel,
            live.task_id,
            agent,
            reason=reason,
            customer_id=live.customer_id,
        )
        self._tell(told, mine=mine)

    def _update(self, conversation_id: int, change: InteractionUpdate) -> None:
        """Write the interaction's change in the background (ACD events arrive inside the
        distributor, which must not wait); a failure is logged with what was lost."""

        before = self._writes.get(conversation_id)

        async def write() -> None:
            if before is not None:
                await asyncio.gather(before, return_exceptions=True)
            try:
                await self._updates(conversation_id, change)
            except Exception:
                log.exception(
                    "conversation %s: update %s not written", conversation_id, change.changes()
                )

        task = asyncio.get_running_loop().create_task(
            write(), name=f"conversation-{conversation_id}"
        )
        self._writes[conversation_id] = task

        def done(_: asyncio.Task[None]) -> None:
            if self._writes.get(conversation_id) is task:
                del self._writes[conversation_id]

        task.add_done_callback(done)

    def _tell(self, event: DeskEvent, *, mine: bool = True) -> None:
        """To every listener (``mine``: this node's desk did it), else to those that hear
        everywhere."""
        for listener in list(self._subscribers if mine else self._everywhere):
            try:
                listener(event)
            except Exception:  # one subscriber's fault is not the desk's
                log.exception("desk subscriber failed on %s", event.kind)
