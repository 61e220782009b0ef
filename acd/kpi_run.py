"""One run's state in the running KPIs (``acd.kpi_aggregate``): its tasks in progress, a
bounded memory of those over (until their wrap-up ends, a callback attempt until settled)
and of those that left a queue (queued again under the same id: an overflow), its agents'
work (``acd.kpi_work``) and its backlog (``acd.kpi_backlog``); and the folds of the events
that need nothing but the run."""

from __future__ import annotations

import math
from collections import OrderedDict

from acd.events import CallHoldChanged, CallOffered
from acd.kpi_backlog import Backlog
from acd.kpi_tally import Tally
from acd.kpi_work import AgentWork

__all__ = ["REMEMBERED_EXITS", "Run", "Task", "end_hold", "held", "offered", "remember"]

#: Tasks over or that left a queue, remembered (each memory holds at most this many).
REMEMBERED_EXITS = 5000


class Task:
    """A task in progress (or just over) and the cells it counts in."""

    __slots__ = (
        "agent_id",
        "agent_s",
        "answered_at",
        "cells",
        "channel",
        "entry",
        "exit",
        "hold_s",
        "hold_since",
        "offered_at",
        "queue",
    )

    def __init__(self, queue: str, channel: str, entry: float, cells: tuple[Tally, ...]) -> None:
        self.queue, self.channel, self.entry, self.cells = queue, channel, entry, cells
        self.offered_at: float | None = None
        self.answered_at: float | None = None
        self.agent_id: str | None = None
        self.hold_s = 0.0
        self.hold_since: float | None = None
        #: The agent's time it took so far (``acd.kpi``'s agent time), until it ends.
        self.agent_s = 0.0
        #: The outcome of its exit from the queue, if it left without an agent.
        self.exit: str | None = None


class Run:
    __slots__ = ("agents", "backlog", "calls", "ended", "last", "left", "next_edge")

    def __init__(self) -> None:
        self.calls: dict[str, Task] = {}
        self.agents: dict[str, AgentWork] = {}
        #: Tasks over, until their agent's wrap-up ends (and callback attempts until settled).
        self.ended: OrderedDict[str, Task] = OrderedDict()
        self.left: OrderedDict[str, Task] = OrderedDict()
        self.backlog = Backlog()
        #: The next interval edge at which the run's backlog is to be taken.
        self.next_edge = math.inf
        self.last = -math.inf

    def give(self, task_id: str, seconds: float) -> None:
        """``seconds`` of an agent's time to a task they handle (to its cells once over)."""
        c = self.calls.get(task_id)
        if c is not None:
            c.agent_s += seconds
        elif (c := self.ended.get(task_id)) is not None:
            for cell in c.cells:
                cell.agent_sum += seconds


def offered(run: Run, e: CallOffered, at: float) -> None:
    c = run.calls.get(e.call_id)
    if c is not None and c.offered_at is None:
        c.offered_at = at


def held(run: Run, e: CallHoldChanged, at: float) -> None:
    c = run.calls.get(e.call_id)
    if c is None:
        return
    if e.on_hold:
        c.hold_since = at if c.hold_since is None else c.hold_since
    else:
        end_hold(c, at)


def end_hold(c: Task, at: float) -> None:
    if c.hold_since is not None:
        c.hold_s += at - c.hold_since
        c.hold_since = None


def remember(memory: OrderedDict[str, Task], call_id: str, c: Task) -> None:
    memory[call_id] = c
    if len(memory) > REMEMBERED_EXITS:
        memory.popitem(last=False)
