"""The live ACD's digital tasks (chat, e-mail, voicemail...): queued as handed in by the
channel adapters (``task_arrived``), each event about one told to the listeners (``on_task``:
the desk, the adapters, the agent's desktop; with a shared ACD, those other nodes handed in
too), and the agents' answers from their desktop
(accepted, rejected, done, wrapped up, transferred; a desktop lost in ``desktop_lost``).
A digital task has no session: its offer is a reservation the agent answers.

A part of ``center.service.AcdService``, which holds the state and hands out the offers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from acd.calls import IncomingCall
from acd.commands import (
    CallArrived,
    Command,
    DesktopLost,
    TaskAccepted,
    TaskDone,
    TaskRejected,
    TaskTransferred,
    TaskWrapped,
)
from acd.contacts import VOICE_SEAT
from acd.events import CallAbandoned, CallEnded, EventRecord
from acd.router import RoutingError

if TYPE_CHECKING:
    from acd.distributor import CallDistributor

__all__ = ["DigitalTasks", "TaskListener"]

#: Every event about a digital task (queued, offered, answered, requeued, ended...), with
#: the task as it was handed in; called inside the distributor: no calls back into it.
TaskListener = Callable[[EventRecord, IncomingCall], None]


class DigitalTasks:
    if TYPE_CHECKING:  # the service's state and steps these use
        distributor: CallDistributor
        _digital: dict[str, IncomingCall]
        _task_listeners: list[TaskListener]
        _refusal_listeners: list[Callable[[str], None]]

        def _submit(self, command: Command) -> None: ...

    def task_arrived(self, task: IncomingCall) -> None:
        """Queue a digital task; raises ``RoutingError`` (unknown queue, an id already
        queued) and ``ValueError`` for a voice-seat channel (calls come with a session)."""
        if task.channel in VOICE_SEAT:
            raise ValueError(f"task {task.call_id}: {task.channel} comes as a call, not a task")
        self._digital[task.call_id] = task  # before: its events are told from inside
        try:
            self._submit(CallArrived(task))
        except RoutingError:
            del self._digital[task.call_id]
            raise

    def task(self, task_id: str) -> IncomingCall | None:
        """A digital task the ACD holds, as it was handed in."""
        return self._digital.get(task_id)

    def tasks(self) -> list[IncomingCall]:
        """Every digital task the ACD holds (a shared ACD: those of every node)."""
        return list(self._digital.values())

    def on_task(self, listener: TaskListener) -> Callable[[], None]:
        self._task_listeners.append(listener)
        return lambda: self._task_listeners.remove(listener)

    def on_task_refused(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """``listener`` hears the id of a task this node handed in that the shared ACD's
        log refused when it came to apply it, and that the ACD does not hold."""
        self._refusal_listeners.append(listener)
        return lambda: self._refusal_listeners.remove(listener)

    # Each raises ``StaleTask`` when the agent does not hold the task in that phase.
    def task_accepted(self, agent_id: str, task_id: str) -> None:
        self._submit(TaskAccepted(agent_id, task_id))

    def task_rejected(self, agent_id: str, task_id: str) -> None:
        self._submit(TaskRejected(agent_id, task_id))

    def task_done(self, agent_id: str, task_id: str) -> None:
        self._submit(TaskDone(agent_id, task_id))

    def task_wrapped(self, agent_id: str, task_id: str) -> None:
        self._submit(TaskWrapped(agent_id, task_id))

    def task_transferred(
        self, agent_id: str, task_id: str, *, queue: str | None = None, to_agent: str | None = None
    ) -> None:
        """The agent hands their accepted task on (``CallDistributor.task_transferred``):
        raises ``StaleTask`` and ``RoutingError`` as it does."""
        self._submit(TaskTransferred(agent_id, task_id, queue, to_agent))

    def desktop_lost(self, agent_id: str) -> None:
        """The agent's desktop went away and did not come back in time: their chats and
        e-mails go back in line, place kept, and they are paused "disconnected"
        (``CallDistributor.desktop_lost``); raises ``UnknownAgent``."""
        self._submit(DesktopLost(agent_id))

    # internals -------------------------------------------------------------------------
    def _learn(self, task: IncomingCall) -> bool:
        """A task arriving in the ACD (applied, before its events): one another node of a
        shared ACD handed in is known here too, so its events are told on every node.
        True if it was not known."""
        if task.channel in VOICE_SEAT or task.call_id in self._digital:
            return False
        self._digital[task.call_id] = task
        return True

    def _transferred(self, command: TaskTransferred) -> None:
        """The task as handed in follows its transfer (applied, before its offers)."""
        task = self._digital.get(command.task_id)
        if task is not None:
            self._digital[command.task_id] = replace(
                task,
                queue=command.queue or task.queue,
                preferred_agent=command.to_agent,
                directed=command.to_agent is not None,
            )

    def _told(self, record: EventRecord) -> None:
        """A record the distributor appended, told to the listeners if it is about a
        digital task (called inside the distributor: no calls back into it)."""
        event = record.event
        task = self._digital.get(getattr(event, "call_id", ""))
        if task is not None:
            for listener in list(self._task_listeners):
                listener(record, task)
            if isinstance(event, CallAbandoned | CallEnded):
                del self._digital[task.call_id]
