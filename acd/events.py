"""The ACD's append-only event log: every change of a call or an agent, in order.

Records carry a monotonic sequence number and the clock's time. KPIs, the supervisor's
live view and replays are all computed from records alone. The store behind the log is
an ``EventSink``: in memory here; the history store persists it (same protocol).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from acd.contacts import VOICE

__all__ = [
    "AcdEvent",
    "AgentStateChanged",
    "AgentTaskChanged",
    "CallAbandoned",
    "CallAnswered",
    "CallEnded",
    "CallHoldChanged",
    "CallMoved",
    "CallOffered",
    "CallPriorityChanged",
    "CallQueued",
    "CallRequeued",
    "CallbackSettled",
    "EventRecord",
    "EventRejected",
    "EventSink",
    "InMemoryEventSink",
    "PauseCounted",
    "PriorityWeightsUpdated",
    "QueueUpdated",
]


@dataclass(frozen=True, slots=True)
class CallQueued:
    call_id: str
    queue: str
    #: Original entry time (a callback or a transfer keeps its place).
    entry_time: float
    priority: float
    call_type: str | None = None
    tier: str | None = None
    #: The task's channel (``acd.contacts``): every ``Call*`` event is about a task of any
    #: channel; a call is a voice task.
    channel: str = VOICE


@dataclass(frozen=True, slots=True)
class CallOffered:
    call_id: str
    agent_id: str
    queue: str
    priority: float
    step: int
    explanation: str


@dataclass(frozen=True, slots=True)
class CallRequeued:
    """The offer failed; the call is back in line with its original entry time."""

    call_id: str
    agent_id: str
    queue: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallPriorityChanged:
    """A supervisor (``actor``) raised a waiting call's base priority by ``by`` points;
    ``priority`` is the new base (aging keeps counting from the original entry time)."""

    call_id: str
    queue: str
    by: float
    priority: float
    actor: str


@dataclass(frozen=True, slots=True)
class CallMoved:
    """A supervisor (``actor``) moved a waiting call to ``queue``, with that queue's skills
    and its original entry time."""

    call_id: str
    from_queue: str
    queue: str
    actor: str


@dataclass(frozen=True, slots=True)
class QueueUpdated:
    """A config reload changed a queue, live. ``change`` is ``added`` (it takes calls from
    now on), ``changed`` (its calls are routed by its new rules at once) or ``removed`` (it
    takes no new calls, but serves the calls in it until they leave: it drains).
    ``calls_reprofiled``: its calls that took new skills (each keeps its entry time)."""

    queue: str
    change: str
    calls_reprofiled: int = 0


@dataclass(frozen=True, slots=True)
class PriorityWeightsUpdated:
    """A config reload changed the priority weights, live: ``calls_rescored`` calls took a
    new base priority (a supervisor's raise kept, aging still from the entry time)."""

    calls_rescored: int


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: str
    agent_id: str
    queue: str


@dataclass(frozen=True, slots=True)
class CallHoldChanged:
    call_id: str
    agent_id: str
    on_hold: bool


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    agent_id: str
    queue: str
    reason: str = "hung up"


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The call left the queue before being answered: the caller hung up (or vanished,
    found by a reconcile), or the ACD routed it elsewhere (``reason``)."""

    call_id: str
    queue: str
    during_offer: bool
    reason: str = "caller hung up"

    @property
    def by_caller(self) -> bool:
        """True for a real abandon; False for a deliberate exit (callback, overflow, no
        agent): those are counted apart and kept out of service level and abandonment."""
        return self.reason in CALLER_GONE_REASONS


#: ``CallAbandoned.reason`` values that mean the caller went away.
CALLER_GONE_REASONS = frozenset(
    {"caller hung up", "reconciled: caller channel gone", "session ended"}
)


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent_id: str
    before: str
    after: str
    event: str
    reason: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class AgentTaskChanged:
    """A digital task (chat, e-mail, voicemail...) changed phase in an agent's hands
    (``acd.workload``: ``reserved``, ``active``, ``wrap_up``; "" before it came or after it
    left): the counterpart of ``AgentStateChanged`` for the voice seat."""

    agent_id: str
    call_id: str
    channel: str
    before: str
    after: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallbackSettled:
    """How a callback attempt (a virtual call of the dialler) ended for the customer:
    ``outcome`` is ``callback_completed`` (an agent talked to them) or ``callback_failed``
    (not reached: busy, no answer), the names of ``history.outcomes.Outcome``. The ACD's
    own events cannot tell: its call is the agent's leg, answered before the customer is
    dialled."""

    call_id: str
    outcome: str
    result: str = ""


@dataclass(frozen=True, slots=True)
class PauseCounted:
    """An agent's own pause of ``reason`` counted against the reason's daily limit
    (``acd.agent_day``, ``acd.desk_rules``): in the event log, a day's counts outlive a
    restart."""

    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class EventRejected:
    """An input the ACD refused (unknown agent, illegal transition, stale telephony fact):
    kept so that nothing that happened is lost."""

    subject: str
    event: str
    reason: str


AcdEvent = (
    CallQueued
    | CallOffered
    | CallRequeued
    | CallPriorityChanged
    | CallMoved
    | CallAnswered
    | CallHoldChanged
    | CallEnded
    | CallAbandoned
    | AgentStateChanged
    | AgentTaskChanged
    | CallbackSettled
    | PauseCounted
    | QueueUpdated
    | PriorityWeightsUpdated
    | EventRejected
)


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    at: float
    event: AcdEvent


class EventSink(Protocol):
    """Where the ACD appends its events."""

    def append(self, at: float, event: AcdEvent) -> EventRecord: ...


class InMemoryEventSink:
    """Keeps records in a list (``keep=False``: only numbers and forwards them) and tells
    listeners about each one as it is appended."""

    def __init__(self, *, keep: bool = True) -> None:
        self._records: list[EventRecord] = []
        self._keep = keep
        self._listeners: list[Callable[[EventRecord], None]] = []
        self.last_seq = 0

    def append(self, at: float, event: AcdEvent) -> EventRecord:
        self.last_seq += 1
        record = EventRecord(self.last_seq, at, event)
        if self._keep:
            self._records.append(record)
        for listener in self._listeners:
            listener(record)
        return record

    def subscribe(self, listener: Callable[[EventRecord], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def records(self, after_seq: int = 0) -> Sequence[EventRecord]:
        if not after_seq:
            return self._records
        first = self._records[0].seq if self._records else 1
        return self._records[max(0, after_seq - first + 1) :]

    def __len__(self) -> int:
        return len(self._records)
