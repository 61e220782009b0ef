"""What the live edge asks of the distributor, as values: one command per change.

The distributor is deterministic: the same commands applied at the same times to the same
state give the same events and offers, in any process (no wall clock, no hash-ordered
iteration, its random strategy seeded). So a change is a value that can be applied here and
now (one node) or put in a shared, ordered log and applied by every node's copy at the time
the log gives it (several nodes sharing one ACD: ``center.acd_cluster``). ``apply`` returns
the offers the change made and raises what the distributor raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from acd.agent_events import AgentEvent
from acd.calls import IncomingCall
from acd.distributor import AgentProfile, CallDistributor, QueueSetup
from acd.offer import Offer
from acd.priority import PriorityWeights

__all__ = [
    "AgentAction",
    "CallArrived",
    "CallerHungUp",
    "CallerLeft",
    "Command",
    "DesktopLost",
    "MoveCall",
    "RaisePriority",
    "Reconcile",
    "Reconfigure",
    "TaskAccepted",
    "TaskDone",
    "TaskRejected",
    "TaskTransferred",
    "TaskWrapped",
    "Tick",
]


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A call (or a digital task) queued."""

    call: IncomingCall

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.call_arrived(self.call)


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    call_id: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        if d.call_state(self.call_id) is None:
            return []
        return d.caller_hung_up(self.call_id)


@dataclass(frozen=True, slots=True)
class CallerLeft:
    call_id: str
    reason: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        if d.call_state(self.call_id) is None:
            return []
        return d.caller_left(self.call_id, self.reason)


@dataclass(frozen=True, slots=True)
class RaisePriority:
    call_id: str
    by: float
    actor: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.raise_priority(self.call_id, self.by, self.actor)


@dataclass(frozen=True, slots=True)
class MoveCall:
    call_id: str
    queue: str
    actor: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.move_call(self.call_id, self.queue, self.actor)


@dataclass(frozen=True, slots=True)
class AgentAction:
    """An agent's own action, a supervisor's, or a telephony fact about their phone."""

    event: AgentEvent

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.agent_event(self.event)


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: wrap-ups end, reservations expire, skills relax, priorities age.
    ``due``: the time it was asked for (``next_wakeup``), which a shared log's tick is
    applied at even if the log's clock, counting whole milliseconds, says a little less."""

    due: float | None = None

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.tick()


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Offers, calls and callers whose channels are not in ``live_channels`` are cleared."""

    live_channels: frozenset[str]

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.reconcile(self.live_channels)


@dataclass(frozen=True, slots=True)
class TaskAccepted:
    agent_id: str
    task_id: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.task_accepted(self.agent_id, self.task_id)


@dataclass(frozen=True, slots=True)
class TaskRejected:
    agent_id: str
    task_id: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.task_rejected(self.agent_id, self.task_id)


@dataclass(frozen=True, slots=True)
class TaskDone:
    agent_id: str
    task_id: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.task_done(self.agent_id, self.task_id)


@dataclass(frozen=True, slots=True)
class TaskWrapped:
    agent_id: str
    task_id: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.task_wrapped(self.agent_id, self.task_id)


@dataclass(frozen=True, slots=True)
class TaskTransferred:
    agent_id: str
    task_id: str
    queue: str | None = None
    to_agent: str | None = None

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.task_transferred(
            self.agent_id, self.task_id, queue=self.queue, to_agent=self.to_agent
        )


@dataclass(frozen=True, slots=True)
class DesktopLost:
    agent_id: str

    def apply(self, d: CallDistributor) -> list[Offer]:
        return d.desktop_lost(self.agent_id)


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """A config reload's agents, then its queues and priority weights."""

    agents: Sequence[AgentProfile]
    queues: Sequence[QueueSetup]
    priority: PriorityWeights

    def apply(self, d: CallDistributor) -> list[Offer]:
        d.update_roster(self.agents)
        return d.update_queues(self.queues, self.priority)


Command = (
    CallArrived
    | CallerHungUp
    | CallerLeft
    | RaisePriority
    | MoveCall
    | AgentAction
    | Tick
    | Reconcile
    | TaskAccepted
    | TaskRejected
    | TaskDone
    | TaskWrapped
    | TaskTransferred
    | DesktopLost
    | Reconfigure
)
