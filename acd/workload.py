"""The digital tasks each agent holds (chats, e-mails, voicemails, messaging), beside the
voice seat that ``acd.agents`` runs.

    (offer) --> reserved --accept--> active --finish--> wrap_up --(timer | done)--> gone
    reserved --reject | no answer by the deadline | task withdrawn--> gone

A reservation is the digital ring: the agent accepts or rejects it on the desktop before
its deadline; unanswered, it expires like a ring with no answer. A task in wrap-up still
counts against the agent's capacity (after-contact work). Pure; time from the injected
clock; the distributor turns what happens here into the event log and routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from heapq import heappop, heappush
from types import MappingProxyType

from acd.agent_events import AgentError
from acd.clock import Clock

__all__ = ["HeldTask", "StaleTask", "TaskPhase", "Workload"]

#: the load of an agent who holds no digital task
_NONE: Mapping[str, int] = MappingProxyType({})


class TaskPhase(StrEnum):
    RESERVED = "reserved"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"


class StaleTask(AgentError):
    """An action on a task the agent does not hold in that phase (a late accept, a second
    reject, a task already given to someone else)."""


@dataclass(frozen=True, slots=True)
class HeldTask:
    task_id: str
    channel: str
    phase: TaskPhase
    #: when the task entered this phase
    since: float
    #: a reservation's answer deadline, a timed wrap-up's end; None: none
    deadline: float | None = None


class Workload:
    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._held: dict[str, dict[str, HeldTask]] = {}  # agent -> task id -> task
        self._holder: dict[str, str] = {}  # task id -> agent
        self._deadlines: list[tuple[float, int, str, HeldTask]] = []
        self._pushed = 0  # heap entries never tie

    # queries ---------------------------------------------------------------------------
    def held(self, agent_id: str) -> tuple[HeldTask, ...]:
        return tuple(self._held.get(agent_id, {}).values())

    def load(self, agent_id: str) -> Mapping[str, int]:
        """Tasks held by channel (every phase counts)."""
        held = self._held.get(agent_id)
        if not held:
            return _NONE
        counts: dict[str, int] = {}
        for task in held.values():
            counts[task.channel] = counts.get(task.channel, 0) + 1
        return counts

    def holder(self, task_id: str) -> str | None:
        return self._holder.get(task_id)

    def task(self, task_id: str) -> HeldTask | None:
        agent_id = self._holder.get(task_id)
        return None if agent_id is None else self._held[agent_id][task_id]

    # changes ---------------------------------------------------------------------------
    def reserve(self, agent_id: str, task_id: str, channel: str, timeout_s: float) -> HeldTask:
        if task_id in self._holder:
            raise StaleTask(agent_id, f"task {task_id} is already held by {self._holder[task_id]}")
        now = self._clock()
        task = HeldTask(task_id, channel, TaskPhase.RESERVED, now, now + timeout_s)
        self._put(agent_id, task)
        return task

    def accept(self, agent_id: str, task_id: str) -> HeldTask:
        task = self._expect(agent_id, task_id, TaskPhase.RESERVED, "accept")
        return self._put(
            agent_id, replace(task, phase=TaskPhase.ACTIVE, since=self._clock(), deadline=None)
        )

    def finish(self, agent_id: str, task_id: str, wrap_up_s: float | None) -> HeldTask | None:
        """The agent closed the task: into wrap-up (``wrap_up_s`` seconds; None: until done),
        or gone at once with no wrap-up (0). Returns the task as it now is (None: gone)."""
        task = self._expect(agent_id, task_id, TaskPhase.ACTIVE, "finish")
        if wrap_up_s == 0:
            self.drop(agent_id, task_id)
            return None
        now = self._clock()
        deadline = None if wrap_up_s is None else now + wrap_up_s
        return self._put(
            agent_id, replace(task, phase=TaskPhase.WRAP_UP, since=now, deadline=deadline)
        )

    def wrapped(self, agent_id: str, task_id: str) -> HeldTask:
        self._expect(agent_id, task_id, TaskPhase.WRAP_UP, "end the wrap-up of")
        return self.drop(agent_id, task_id)

    def drop(self, agent_id: str, task_id: str) -> HeldTask:
        """The task leaves the agent, whatever its phase (rejected, expired, withdrawn,
        wrapped up, or taken back when the agent logged out)."""
        tasks = self._held.get(agent_id, {})
        task = tasks.pop(task_id, None)
        if task is None:
            raise StaleTask(agent_id, f"does not hold task {task_id}")
        del self._holder[task_id]
        if not tasks:
            del self._held[agent_id]
        return task

    # time ------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        heap = self._deadlines
        while heap and not self._live(heap[0]):
            heappop(heap)
        return heap[0][0] if heap else None

    def due(self) -> list[tuple[str, HeldTask]]:
        """(agent, task) whose reservation or timed wrap-up is over by now, in order; they
        are still held: the caller drops them (and says why)."""
        now, heap, out = self._clock(), self._deadlines, []
        while heap and heap[0][0] <= now:
            entry = heappop(heap)
            if self._live(entry):
                out.append((entry[2], entry[3]))
        return out

    # internals -------------------------------------------------------------------------
    def _put(self, agent_id: str, task: HeldTask) -> HeldTask:
        self._held.setdefault(agent_id, {})[task.task_id] = task
        self._holder[task.task_id] = agent_id
        if task.deadline is not None:
            self._pushed += 1
            heappush(self._deadlines, (task.deadline, self._pushed, agent_id, task))
        return task

    def _live(self, entry: tuple[float, int, str, HeldTask]) -> bool:
        return self._held.get(entry[2], {}).get(entry[3].task_id) is entry[3]

    def _expect(self, agent_id: str, task_id: str, phase: TaskPhase, action: str) -> HeldTask:
        task = self._held.get(agent_id, {}).get(task_id)
        if task is None or task.phase is not phase:
            where = "does not hold it" if task is None else f"it is {task.phase.value}"
            raise StaleTask(agent_id, f"cannot {action} task {task_id}: {where}")
        return task
